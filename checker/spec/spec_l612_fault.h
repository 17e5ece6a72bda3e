/* SPDX-License-Identifier: MIT */
/*
 * linux-6.12's host stage-2 faults (format/LINUX-6.12.md 9.1) as pure
 * functions: from the faulting address, the RAM regions and the host
 * stage-2 entry that covers the address before the fault takes
 * host_mmu.lock, what the hyp may do; and whether one leaf it made is one
 * of those it may make. Neither looks at a trace.
 */
#ifndef PKVM_CHECKER_SPEC_L612_FAULT_H
#define PKVM_CHECKER_SPEC_L612_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* HPFAR_EL2.FIPA, bits 47:4: IPA bits 51:12 (HPFAR_MASK). */
#define L612_HPFAR_MASK 0x0000fffffffffff0ull

/** The RAM regions of `region ram` records (LINUX-6.12.md 1), sorted. */
struct l612_mem {
	const uint64_t (*reg)[2]; /* base, size */
	unsigned count;
	bool lpa2; /* VTCR_EL2.DS: the output address bits of 3.4 */
};

/** What a host stage-2 fault may do (9.1), by the entry it found. */
enum l612_fault_kind {
	L612_FAULT_RETRY, /* case 1: the entry is valid: no change */
	L612_FAULT_PANIC, /* case 2: annotated: BUG(), nothing else */
	L612_FAULT_MAP,	  /* case 3: zero: an identity mapping */
};

/** The spec's answer for one fault. */
struct l612_fault {
	enum l612_fault_kind kind;
	uint64_t ipa; /* the faulting page */
	bool memory;  /* in a RAM region: PKVM_HOST_MEM_PROT */
};

/**
 * The region (`true`: RAM) or the gap between regions containing `addr`,
 * as [*start, *end) (find_mem_range).
 */
bool l612_mem_range(const struct l612_mem *mem, uint64_t addr, uint64_t *start,
		    uint64_t *end);

/** True if [base, base + size) lies wholly outside every RAM region. */
bool l612_mem_is_mmio(const struct l612_mem *mem, uint64_t base, uint64_t size);

/**
 * A host stage-2 fault with HPFAR_EL2 `hpfar`, whose host stage-2 leaf or
 * invalid entry covering the address was `desc` at `level` (0-3; -1 for
 * an LPA2 root) when the fault took host_mmu.lock.
 */
void l612_host_fault(const struct l612_mem *mem, uint64_t hpfar, uint64_t desc,
		     int level, struct l612_fault *out);

/**
 * Why the valid leaf `d` at `level`, translating [in, in + its size), is
 * not one the fault `f` may make, or NULL: identity, within the RAM
 * region (or MMIO gap) of the faulting address, a block only at levels 1
 * and 2, AF, RW, normal write-back (either encoding: FWB or not),
 * executable for memory and XN for MMIO (PKVM_HOST_MMIO_PROT is RW:
 * normal attributes, the host's stage-1 makes it device), state bits 00.
 * Which granule host_stage2_adjust_range would pick is not asked
 * (LINUX-6.12.md 12: loose); that the leaf replaced an empty entry, so
 * maps only pages the host owns, is the caller's to check.
 */
const char *l612_fault_leaf_wrong(const struct l612_mem *mem,
				  const struct l612_fault *f, uint64_t in,
				  int level, uint64_t d);

/** The output address of the valid leaf `d` at `level` (3.4). */
uint64_t l612_leaf_oa(const struct l612_mem *mem, uint64_t d, int level);

#endif /* PKVM_CHECKER_SPEC_L612_FAULT_H */
