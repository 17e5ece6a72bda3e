/* SPDX-License-Identifier: MIT */
/*
 * The fake machine's test interface: RAM is a native array, each thread
 * plays one CPU, and traps are function calls. Used by tests/hyp and by
 * native trace generators.
 */
#ifndef ARCH_FAKE_H
#define ARCH_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <hyp/trap.h>

/** What the fake arch saw (for tests): operations are recorded, not done. */
struct fake_stats {
	uint64_t tlbi;
	uint64_t barrier;
	uint64_t sysreg[16]; /* last value written, by PKVM_SYSREG_* */
	uint64_t vbar_el1;   /* what arch_read_vbar_el1() returns */
	uint64_t sctlr_el1;  /* what arch_read_sctlr_el1() returns */
	bool system_off;
};
extern struct fake_stats fake_stats;

/**
 * Boot the core on a fake machine of `cpu_count` CPUs with a pool of
 * `pool_pages` pages (from 0x40400000). RAM is reset to zero.
 */
void fake_boot(unsigned cpu_count, unsigned pool_pages);

/** Make the calling thread CPU `cpu`. */
void fake_set_cpu(unsigned cpu);

/** Pointer into fake RAM for `pa`. */
void *fake_mem(uint64_t pa);

/** Host hypercall `id` with arguments; returns x0, x1 in *x1 if non-NULL. */
uint64_t fake_hvc(uint64_t id, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t *x1);

/** fake_hvc() made with `hvc #imm` (the host's calls use #0). */
uint64_t fake_hvc_imm(uint16_t imm, uint64_t id, uint64_t a1, uint64_t a2,
		      uint64_t a3, uint64_t *x1);

/**
 * Host data abort at `ipa` (stage-2 fault, ELR 0x41000100). Returns true if
 * an abort was injected into the host.
 */
bool fake_abort(uint64_t ipa);

/** A host stage-2 abort at `ipa` with syndrome `esr` (EC, FSC, ...). */
bool fake_abort_esr(uint64_t ipa, uint64_t esr);

/** The same, from a host in the mode of `spsr` (fake_abort_esr: EL1h). */
bool fake_abort_from(uint64_t ipa, uint64_t esr, uint64_t spsr);

/* Syndromes for fake_abort_esr(): EC, IL, and the fault status code. */
#define FAKE_ESR_DABT(fsc) ((0x24ull << 26) | (1ull << 25) | (fsc))
#define FAKE_ESR_IABT(fsc) ((0x20ull << 26) | (1ull << 25) | (fsc))
#define FAKE_FSC_TRANSLATION_L3 0x07u
#define FAKE_FSC_PERMISSION_L3 0x0Fu
#define FAKE_FSC_ACCESS_FLAG_L3 0x0Bu

/** Host SMC with function id `fid`; returns x0. */
uint64_t fake_smc(uint64_t fid);

/** Exit status of a process whose CPU parked (panic). */
#define FAKE_PARK_EXIT 86

#endif /* ARCH_FAKE_H */
