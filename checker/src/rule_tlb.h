/* SPDX-License-Identifier: MIT */
/*
 * The first architectural rule: TLB invalidation after an unmap (check
 * `tlbi-after-unmap`; rule_tlb.c says what it requires and why). What
 * other rules may read of it: the unmaps each CPU has waiting for their
 * TLB maintenance (break-before-make, rule_bbm.c, builds on them).
 */
#ifndef PKVM_CHECKER_RULE_TLB_H
#define PKVM_CHECKER_RULE_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "rules.h"

/* Unmaps one CPU may have waiting for their TLB maintenance at once. */
#define TLB_MAX_PENDING 64u

/** What an unmap waits for next (rule_tlb.c, "The sequence"). */
enum tlb_step {
	TLB_STEP_DSB_BEFORE, /* a DSB ordering the store */
	TLB_STEP_TLBI,	     /* a TLBI covering the range */
	TLB_STEP_DSB_MID,    /* stage 2: a DSB completing the ipas2e1is */
	TLB_STEP_S1_TLBI,    /* stage 2: the combined entries' vmalle1is */
	TLB_STEP_DSB_AFTER,  /* a DSB completing the last TLBI */
	TLB_STEP_DONE,
};

/** One descriptor store that unmapped a range, not yet invalidated. */
struct tlb_pending {
	uint64_t base, size; /* input range the old descriptor mapped */
	uint64_t write;	     /* index of the PTE_WRITE event */
	uint64_t pa;	     /* where the descriptor lives */
	uint64_t old, value; /* the valid descriptor and what replaced it */
	uint8_t comp;	     /* enum pkvm_component */
	int8_t level;	     /* level of the descriptor, -1..3 */
	uint8_t step;	     /* enum tlb_step */
	bool table;	     /* the old descriptor was a table descriptor */
	bool locked;	     /* the writer held the component's lock */
	bool unsure;	     /* records lost in the window, or before it */
	bool early_tlbi;     /* a covering TLBI before any ordering DSB */
	bool early_s1;	     /* vmalle1is before the ipas2e1is completed */
	bool other_tlbi;     /* TLBIs of the right kind for other addresses */
};

extern const struct ck_rule rule_tlb;

/**
 * The unmap of descriptor `pa` by `cpu` that still waits for its TLB
 * maintenance (the last one, if several), or NULL; `tlb` is rule_tlb's
 * state (rules_self).
 */
const struct tlb_pending *tlb_open_break(const void *tlb, unsigned cpu,
					 uint64_t pa);

#endif /* PKVM_CHECKER_RULE_TLB_H */
