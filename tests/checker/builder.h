/* SPDX-License-Identifier: MIT */
/*
 * A tiny trace builder for the checker's unit tests: a BOOT record of a
 * small machine (16 MiB of RAM), the boot-time page tables a correct hyp
 * builds, and helpers for traps, locks and descriptor stores, so that a
 * test reads like the trace it builds.
 */
#ifndef PKVM_TESTS_CHECKER_BUILDER_H
#define PKVM_TESTS_CHECKER_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pkvm/abi.h>
#include <pkvm/record.h>

#include "checker.h"

#define TB_RAM_BASE 0x40000000ull
#define TB_RAM_SIZE 0x01000000ull /* 16 MiB */
#define TB_HYP_START 0x40200000ull
#define TB_HYP_END 0x40400000ull
#define TB_POOL_START 0x40300000ull
#define TB_POOL_END 0x40400000ull
#define TB_HOST_ROOT 0x40300000ull
#define TB_HYP_ROOT 0x40301000ull
#define TB_HOST_PFN(i) ((TB_RAM_BASE >> 12) + 0x800 + (i)) /* host memory */
#define TB_HYP_PFN (TB_HYP_START >> 12)			   /* hyp memory */
#define TB_MMIO_PFN 0x9000ull				   /* the UART */

#define TB_ESR_HVC 0x5a000000ull  /* EC 0x16, IL */
#define TB_ESR_SMC 0x5e000000ull  /* EC 0x17, IL */
#define TB_ESR_DABT 0x92000047ull /* EC 0x24, IL, translation fault L3 */
/* The same with the same-EL class (EC 0x25): what a host at EL1 is given
 * from ABI 3 (HYPERCALLS.md "Stage-2 abort" rule 1). */
#define TB_ESR_DABT_SAME 0x96000047ull
#define TB_VBAR 0x41000800ull
#define TB_ELR 0x41000100ull /* every trap entry's elr */
/* The EL2 registers every CPU writes at boot (HYPERCALLS.md "System
 * registers"): the hyp's values. */
#define TB_VTCR_EL2 0x80023560ull
#define TB_TCR_EL2 0x80823520ull
#define TB_SCTLR_EL2 0x30cd183dull
#define TB_HCR_EL2 0x80081003ull
#define TB_VBAR_EL2 (TB_HYP_START + 0x800)
/* The host's PSTATE at a trap: EL1h, Z and C set (SPSR_EL2, as the hyp
 * passes it on in SPSR_EL1 when it injects). */
#define TB_HOST_SPSR 0x60000005ull
/* The host's SCTLR_EL1 an injection reads from ABI 3 (QEMU's reset value
 * for a Cortex-A72: SPAN set, DSSBS clear). */
#define TB_SCTLR_EL1 0x00c50838ull

struct tb {
	unsigned ncpu;
	uint64_t boot_flags; /* BOOT's, written by tb_boot (0: production) */
	struct pkvm_record *recs[8];
	size_t count[8], cap[8];
	uint32_t seq[8];
	uint64_t ts;
	uint64_t ticket[5];
	uint64_t next_pool;
	/* Installed tables the builder knows: L2 of each component and L3s. */
	uint64_t l2[3], l2_low[3]; /* L1 slots 1 (RAM) and 0 (MMIO) */
	uint64_t l3_pa[3][8];
	unsigned l3_idx[3][8];
	unsigned l3_count[3];
	bool alloc_fail; /* the next tb_table allocation fails */
	/*
	 * Descriptors stored so far (PA, last value), so that the correct
	 * hypercall bodies know when a store unmaps a page and follow it
	 * with the TLB maintenance the hyp does (tb_two_sided).
	 */
	uint64_t pte_pa[256], pte_val[256];
	unsigned pte_count;
	/*
	 * Write the compact forms of format 2.0 where the hyp did:
	 * HCALL_ENTRY for hvc, HCALL_EXIT for tb_exit and a resolved abort,
	 * LOCK_ACQUIRE2/LOCK_RELEASE2 for a hypercall's two table locks, TLBI
	 * with barrier flags. Off: the canonical kinds of format 1.x.
	 */
	bool compact;
	/*
	 * With `compact`, also the fused forms of format 3.0 where the hyp
	 * now writes them: HCALL_ENTRY_LOCK2 for tb_hvc_lock2 (an ownership
	 * hypercall's entry with its two table locks), HCALL_EXIT_UNLOCK2
	 * for tb_unlock2_exit.
	 */
	bool fused;
	/*
	 * Per CPU, the trap open: an SMC (its exit moves elr past the SMC,
	 * so even the compact forms write a full TRAP_EXIT then), and the x2
	 * a canonical exit returns as it was.
	 */
	bool smc[8];
	uint64_t entry_x2[8];
	uint64_t entry_x3[8]; /* x3 of the entry (an exit keeps it) */
	/*
	 * The ABI the BOOT record gives (0: PKVM_ABI_VERSION). From ABI 2 on
	 * the builder writes what that ABI promises: MARK text_end and
	 * rodata_end after BOOT when a test sets `text_end` or `rodata_end`
	 * (the other 0: hyp_start; neither set: no layout marks, so the
	 * attribute rule sees no text or rodata and VBAR_EL2, at
	 * TB_VBAR_EL2, is judged against the whole image), a MARK page_zeroed
	 * for each root and each page the pool hands out, and the boot tables
	 * built under the pair.
	 */
	unsigned abi;
	/* The file header's system (NULL: our hyp's, TRACE_SYSTEM_HYP). */
	const char *system;
	uint64_t text_end, rodata_end;
	/*
	 * Per CPU, the components (bit per id) where it made an entry valid
	 * since its last DSB: releasing a table lock first writes the `dsb
	 * ishst` (and, for the hyp stage-1, the `isb`) a correct hyp issues
	 * (HYPERCALLS.md "Barriers after making an entry valid"), unless
	 * `no_sync` is set.
	 */
	unsigned unsynced[8];
	bool no_sync;
	/*
	 * Mistakes for the tests of the ABI-2 rules: boot writes the hyp
	 * stage-1 under hyp_s1 alone (after host_s2), the MARK page_zeroed
	 * the builder leaves out (TB_NO_ZERO_*), and the descriptor of the
	 * hyp stage-1 block over [hyp_start, hyp_end) (0: read-write,
	 * execute-never).
	 */
	bool boot_hyp_alone;
	unsigned no_zero;
	uint64_t hyp_s1_block;
	/*
	 * MAIR_EL2 every CPU writes (0: 0x04ff, index 0 Normal Write-Back,
	 * index 1 Device-nGnRE); with `mair_late`, cpu0 writes it after the
	 * boot tables, as the hyp does, rather than before them.
	 */
	uint64_t mair;
	bool mair_late;
};

#define TB_NO_ZERO_ROOTS 1u /* no MARK page_zeroed for the roots */
#define TB_NO_ZERO_POOL 2u  /* ... nor for the pages the pool hands out */

/** How a scenario is written: what `compact` and `fused` select. */
enum tb_form {
	TB_CANONICAL, /* format 1.x's kinds only */
	TB_COMPACT,   /* format 2.0's compact kinds */
	TB_FUSED,     /* format 3.0's: the compact kinds and the fused ones */
};

void tb_init(struct tb *b, unsigned ncpu);
/** Write what follows in `form` (sets `compact` and `fused`). */
void tb_set_form(struct tb *b, enum tb_form form);
void tb_free(struct tb *b);
/** Append one event (head + continuations) for `cpu`. */
void tb_event(struct tb *b, unsigned cpu, unsigned kind, const uint64_t *w,
	      unsigned nwords);
void tb_boot(struct tb *b); /* BOOT, tables, MARK host_enter everywhere */
/* BOOT, MAIR_EL2 on CPU 0 and the tables only: no CPU enters the host. */
void tb_boot_tables(struct tb *b);
/* A SYSREG_WRITE; the eight EL2 registers a CPU writes before the host. */
void tb_sysreg(struct tb *b, unsigned cpu, unsigned reg, uint64_t value);
void tb_sysregs(struct tb *b, unsigned cpu, bool mair);
void tb_lock(struct tb *b, unsigned cpu, unsigned lock);
void tb_unlock(struct tb *b, unsigned cpu, unsigned lock);
/* Two locks in a row: one LOCK_ACQUIRE2/LOCK_RELEASE2 if compact. */
void tb_lock2(struct tb *b, unsigned cpu, unsigned first, unsigned second);
void tb_unlock2(struct tb *b, unsigned cpu, unsigned first, unsigned second);
/* The ABI the builder writes (b->abi, or PKVM_ABI_VERSION). */
unsigned tb_abi(const struct tb *b);
/*
 * The barriers after making entries valid that `cpu` still owes: `dsb
 * ishst`, and `isb` if one was in the hyp stage-1 (nothing if none).
 */
void tb_sync(struct tb *b, unsigned cpu);
/* One BARRIER record. */
void tb_barrier(struct tb *b, unsigned cpu, unsigned op);
/*
 * One TLBI with the barriers of `flags` (PKVM_REC_F_TLBI_*) around it: as
 * flag bits of the TLBI record if compact, else as BARRIER records.
 */
void tb_tlbi(struct tb *b, unsigned cpu, unsigned op, uint64_t operand,
	     unsigned flags);
/* The TLB maintenance after unmapping (hyp/README.md), stage 2 or 1. */
void tb_tlb_flush(struct tb *b, unsigned cpu, bool stage2, uint64_t addr);
void tb_pte(struct tb *b, unsigned cpu, uint64_t pa, uint64_t val);
void tb_nondet(struct tb *b, unsigned cpu, unsigned what, uint64_t value,
	       uint64_t addr, uint64_t aux);
void tb_mark(struct tb *b, unsigned cpu, unsigned what, uint64_t arg);
void tb_entry(struct tb *b, unsigned cpu, uint64_t esr, uint64_t far,
	      uint64_t hpfar, uint64_t x0, uint64_t x1, uint64_t x2);
void tb_hvc(struct tb *b, unsigned cpu, unsigned id, uint64_t a1, uint64_t a2);
/*
 * The exit of a trap that changed no register but x0 and x1 (elr moves
 * past an SMC): HCALL_EXIT if compact, unless an SMC; else TRAP_EXIT.
 */
void tb_exit(struct tb *b, unsigned cpu, uint64_t x0, uint64_t x1);
/*
 * A hypercall's entry with the locks `first` then `second` taken right
 * after it (one HCALL_ENTRY_LOCK2 if fused, else tb_hvc then tb_lock2),
 * and the matching end: `second` then `first` let go, then the exit (one
 * HCALL_EXIT_UNLOCK2 if fused, else tb_unlock2 then tb_exit).
 */
void tb_hvc_lock2(struct tb *b, unsigned cpu, unsigned id, uint64_t a1,
		  uint64_t a2, unsigned first, unsigned second);
void tb_unlock2_exit(struct tb *b, unsigned cpu, unsigned first,
		     unsigned second, uint64_t x0, uint64_t x1);
/* A TRAP_EXIT; x2 and x3 as the trap's entry had them. */
void tb_exit_full(struct tb *b, unsigned cpu, uint64_t x0, uint64_t x1,
		  uint64_t inject_esr, uint64_t inject_far, uint64_t elr,
		  uint64_t spsr);

/* Descriptors (abi.h conventions). */
uint64_t tb_s2_page(uint64_t pa, uint64_t state);
uint64_t tb_s2_device(uint64_t pa);
uint64_t tb_s1_page(uint64_t pa, uint64_t state);
uint64_t tb_s2_owner_hyp(void);

/**
 * PA of the level-3 descriptor for `pfn` in component `comp`; installs an
 * L3 table first (alloc_page + table store) if there is none yet. The
 * caller holds the component's lock.
 */
uint64_t tb_l3(struct tb *b, unsigned cpu, unsigned comp, uint64_t pfn);

/* Correct hypercall bodies (locks, stores, exit) for the happy paths. */
void tb_two_sided(struct tb *b, unsigned cpu, unsigned id, uint64_t pfn,
		  uint64_t host, uint64_t hyp);
void tb_share(struct tb *b, unsigned cpu, uint64_t pfn);
void tb_unshare(struct tb *b, unsigned cpu, uint64_t pfn);
void tb_donate(struct tb *b, unsigned cpu, uint64_t pfn);
void tb_reclaim(struct tb *b, unsigned cpu, uint64_t pfn);
void tb_refuse(struct tb *b, unsigned cpu, unsigned id, uint64_t a1,
	       uint64_t a2, int64_t err);
void tb_abort_map(struct tb *b, unsigned cpu, uint64_t pfn);
void tb_abort_inject(struct tb *b, unsigned cpu, uint64_t pfn);
/*
 * The ESR_EL1 an injection gives a host in `spsr`'s mode for a trap with
 * ESR_EL2 `esr`, at the builder's ABI: from ABI 3, for a host at EL1 (EL1t,
 * EL1h), a lower-EL abort class (0x20, 0x24) becomes the same-EL one (0x21,
 * 0x25); otherwise `esr` as it is.
 */
uint64_t tb_inject_esr(const struct tb *b, uint64_t esr, uint64_t spsr);
/*
 * The SPSR an injection returns with for a host whose PSTATE was `spsr`,
 * SCTLR_EL1 TB_SCTLR_EL1, at the builder's ABI: EL1h with DAIF masked
 * (0x3c5), from ABI 3 with N, Z, C, V, DIT and PAN of `spsr` kept.
 */
uint64_t tb_inject_spsr(const struct tb *b, uint64_t spsr);
/* An injection's NONDET VBAR_EL1 (and from ABI 3 SCTLR_EL1, as
 * TB_SCTLR_EL1) and its four EL1 register writes. */
void tb_inject_regs(struct tb *b, unsigned cpu, uint64_t esr, uint64_t far,
		    uint64_t elr, uint64_t spsr);

/** The result of checking a built trace. */
struct tb_result {
	int exit;
	unsigned count;
	char checks[16][48];
	struct ck_summary sum;
	/* tb_check_focus(): the findings named `focus`, and the first one. */
	unsigned focus_count;
	unsigned kind; /* kind of its event */
	uint64_t addr;
	bool has_explain;
	uint64_t explain; /* index of the event that explains it */
	char text[1024];
};

void tb_check(struct tb *b, struct tb_result *r);
/**
 * tb_check(), also keeping the first finding named `focus` (may be NULL).
 * With `capture`, the replay stops at event `index`: returns its kind (or
 * -1 if there is none).
 */
int tb_check_focus(struct tb *b, struct tb_result *r, const char *focus,
		   bool capture, uint64_t index);
/** True if exactly `n` findings were reported, all named `check`. */
bool tb_only(const struct tb_result *r, const char *check, unsigned n);

#endif /* PKVM_TESTS_CHECKER_BUILDER_H */
