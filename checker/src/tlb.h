/* SPDX-License-Identifier: MIT */
/*
 * The first architectural rule: TLB invalidation after an unmap (check
 * `tlbi-after-unmap`; tlb.c says what it requires and why). Private to
 * checker/src: the replay (check.c) calls these hooks at descriptor stores,
 * TLBI and BARRIER events, component lock releases, trap exits and loss.
 */
#ifndef PKVM_CHECKER_TLB_H
#define PKVM_CHECKER_TLB_H

#include <stdbool.h>
#include <stdint.h>

struct ck;
struct ck_event;

/* Unmaps one CPU may have waiting for their TLB maintenance at once. */
#define TLB_MAX_PENDING 64u

/** What an unmap waits for next (tlb.c, "The sequence"). */
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
	uint8_t level;	     /* level of the descriptor, 1..3 */
	uint8_t step;	     /* enum tlb_step */
	bool table;	     /* the old descriptor was a table descriptor */
	bool locked;	     /* the writer held the component's lock */
	bool unsure;	     /* records lost in the window, or before it */
	bool early_tlbi;     /* a covering TLBI before any ordering DSB */
	bool early_s1;	     /* vmalle1is before the ipas2e1is completed */
	bool other_tlbi;     /* TLBIs of the right kind for other addresses */
};

/** Per CPU: its unmaps waiting for TLB maintenance, oldest first. */
struct tlb_cpu {
	struct tlb_pending pend[TLB_MAX_PENDING];
	unsigned count;
};

/** A PTE_WRITE, before the model applies it (it needs the old value). */
void tlb_pte_write(struct ck *ck, const struct ck_event *ev);
/** A TLBI or BARRIER event. */
void tlb_maintenance(struct ck *ck, const struct ck_event *ev);
/** A LOCK_RELEASE, before the lock is let go: judges that component. */
void tlb_release(struct ck *ck, const struct ck_event *ev);
/** A TRAP_EXIT: judges the unmaps made without the component's lock. */
void tlb_trap_exit(struct ck *ck, const struct ck_event *ev);
/** Records of `cpu` were lost: its waiting unmaps cannot be judged. */
void tlb_loss(struct ck *ck, unsigned cpu);
/**
 * Could the shadow's descriptors for [base, base + size) of `comp` be
 * wrong? Only after lost records made some of its pages unknown.
 */
bool tlb_shadow_unsure(const struct ck *ck, unsigned comp, uint64_t base,
		       uint64_t size);

#endif /* PKVM_CHECKER_TLB_H */
