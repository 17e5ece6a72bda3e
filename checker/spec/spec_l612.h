/* SPDX-License-Identifier: MIT */
/*
 * The linux-6.12 profile's specification (format/LINUX-6.12.md) as pure
 * functions, the counterpart of spec.h for pKVM in Linux 6.12.
 *
 * Two layers. The page state of a descriptor (LINUX-6.12.md 3: the host
 * stage-2's owner annotations and the software bits of both tables), read
 * from raw descriptor values; and the host hypercalls this checker
 * specifies so far, one function per id of the profile's hypercall table
 * (LINUX-6.12.md 6), over an abstract machine that gives each page's two
 * sides. Neither looks at a trace.
 */
#ifndef PKVM_CHECKER_SPEC_L612_H
#define PKVM_CHECKER_SPEC_L612_H

#include <stdbool.h>
#include <stdint.h>

#include "spec.h"

/* LINUX-6.12.md 3.2-3.3: the bits the page state is encoded in. */
#define L612_PTE_SW_SHIFT 55 /* KVM_PGTABLE_PROT_SW0 (bit 55), SW1 (56) */
#define L612_PTE_SW_MASK (3ull << L612_PTE_SW_SHIFT)
#define L612_PTE_OWNER_SHIFT 2 /* KVM_INVALID_PTE_OWNER_MASK, bits 9:2 */
#define L612_PTE_OWNER_MASK (0xffull << L612_PTE_OWNER_SHIFT)
#define L612_PTE_LOCKED 0x400ull /* KVM_INVALID_PTE_LOCKED */
#define L612_OWNER_HYP 1u	 /* enum pkvm_component_id */

/** Errno values of LINUX-6.12.md 1. */
#define L612_EPERM 1
#define L612_EBUSY 16
#define L612_ERANGE 34

/** True if `d` at `level` (0-3; -1 for an LPA2 root) is a valid leaf. */
bool l612_is_leaf(uint64_t d, int level);
/** True if `d` at `level` is a table descriptor. */
bool l612_is_table(uint64_t d, int level);

/**
 * The host side of a page (LINUX-6.12.md 3.3) whose host stage-2 leaf or
 * invalid entry is `d` at `level`; `memory`: the page is allowed memory
 * (RAM, not NOMAP). SPEC_ST_BAD for state bits 11.
 */
unsigned l612_host_state(uint64_t d, int level, bool memory);
/** The hyp side of a RAM page whose linear-map entry is `d` at `level`. */
unsigned l612_hyp_state(uint64_t d, int level);

/** The abstract machine a linux-6.12 spec function reads. */
struct l612_machine {
	uint64_t ram_base, ram_size; /* allowed memory */
	unsigned ia_bits;	     /* host stage-2 input range (VTCR_EL2) */
	bool el2_debug;		     /* CONFIG_NVHE_EL2_DEBUG: the hyp checks */
	const void *ctx;
	struct spec_page (*page)(const void *ctx, uint64_t pfn);
	/* Whether the hyp holds a pin on the page (LINUX-6.12.md 7.1):
	 * L612_PIN_*. MAYBE: a call that takes or drops one is in flight,
	 * or the pins are not known; an unshare that passes every other
	 * check may then answer -EBUSY. */
	unsigned (*pin)(const void *ctx, uint64_t pfn);
};

enum l612_pin { L612_PIN_NO, L612_PIN_YES, L612_PIN_MAYBE };

/** What the spec allows for one host hypercall. */
struct l612_outcome {
	bool specified; /* false: this id has no spec function yet */
	int64_t x1;	/* the result */
	bool may_ebusy; /* -EBUSY, no change, is allowed too (a pin maybe) */
	bool unknown;	/* a state it depends on is unknown */
	/* On success: the page whose states change, and to what. */
	bool has_effect;
	struct spec_effect effect;
};

/* One function per specified id (LINUX-6.12.md 6.1, 6.2). */
void l612_share_hyp(const struct l612_machine *m, uint64_t pfn,
		    struct l612_outcome *out);
void l612_unshare_hyp(const struct l612_machine *m, uint64_t pfn,
		      struct l612_outcome *out);

/**
 * A dispatched host hypercall `id` with arguments x1-x3: its function in
 * the profile's hypercall table, or `specified` false.
 */
void l612_hcall(const struct l612_machine *m, unsigned id, const uint64_t x[3],
		struct l612_outcome *out);
/** Whether id has a function in the table (what the checker judges). */
bool l612_hcall_specified(unsigned id);

#endif /* PKVM_CHECKER_SPEC_L612_H */
