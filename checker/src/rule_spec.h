/* SPDX-License-Identifier: MIT */
/*
 * The spec rule's own types, shared by its two files: rule_spec.c (a
 * trap's life: its critical sections, the pre-state the spec reads, the
 * ghost state) and rule_spec_judge.c (a trap's exit against the spec's
 * outcome). Private to them.
 */
#ifndef PKVM_CHECKER_RULE_SPEC_H
#define PKVM_CHECKER_RULE_SPEC_H

#include "rules.h"

#define TRAP_HOST PKVM_COMP_HOST_S2
#define TRAP_HYP PKVM_COMP_HYP_S1
#define TRAP_MAX_READS 128u
/* Critical sections of one trap the rule follows (the hyp makes one). */
#define TRAP_MAX_SECTIONS 4u

enum trap_type {
	TRAP_HVC,   /* hvc #0: a hypercall */
	TRAP_SMC,   /* PSCI */
	TRAP_ABORT, /* host stage-2 abort */
	TRAP_OTHER, /* anything else: no state change */
};

/**
 * What the spec says of one critical section of a trap: its outcome on
 * the state the section locked, and what the section left of the pages
 * that outcome names.
 */
struct spec_section {
	bool evaluated;
	struct spec_outcome expect;
	enum spec_abort_kind abort;
	struct spec_page pre_page; /* the x1 page when the spec read it */
	uint64_t pre_last;	   /* the event that last changed it */
	uint64_t eff_last[PKVM_DONATE_MAX_PAGES];
	struct model_side eff_post[PKVM_DONATE_MAX_PAGES][MODEL_COMP_COUNT];
	/* Aborts: the faulting page's host side before and after, and, for
	 * MMIO (not in the model's page arrays), as it was before the
	 * section's first own store. */
	struct model_side focus_pre, focus_post, focus_mmio;
	bool focus_mmio_known;
	uint64_t focus_last;
};

/** One CPU's trap, as the spec judges it. */
struct spec_trap {
	unsigned cpu;
	bool active;
	const struct ck_event *entry; /* the view's, while the trap lasts */
	enum trap_type type;
	uint64_t ipa; /* aborts */
	bool is_load; /* trace_load */
	bool alloc_failed, panicked, panic_expected, system_off;
	unsigned sections; /* sections ended; the current one is next */
	unsigned ready;	   /* sections made ready (rule_spec.c) */
	struct spec_section section[TRAP_MAX_SECTIONS];
	struct spec_host_reads reads;
	uint64_t read_addr[TRAP_MAX_READS];
	unsigned read_count;
};

/**
 * The spec's ghost state: what it reads that no page table shows. Each
 * piece belongs to a component (profile.h): the pins to host stage-2,
 * whether tracing is loaded to tracing. A change takes effect when the
 * trap that made it lets that component's lock go.
 */
struct spec_ghost {
	bool trace_loaded;
	/* Records were lost while tracing could still be loaded: whether it
	 * is, and what it pinned, are unknown. */
	bool trace_unknown;
	struct spec_pin pins[1 + PKVM_RING_MAX_CPUS];
	unsigned pin_count;
};

/** The rule's state: the ghost state, and each CPU's trap. */
struct spec_rule {
	unsigned spec_locks; /* bit per lock id (profile_spec_locks) */
	struct spec_ghost ghost;
	struct spec_trap trap[CK_MAX_CPUS];
	/* What a trace_load committed before its exit (to take back if its
	 * exit says it failed), per CPU. */
	struct spec_ghost before[CK_MAX_CPUS];
	bool committed[CK_MAX_CPUS];
};

static inline uint64_t trap_hcall_id(const struct spec_trap *t)
{
	uint64_t x0 = t->entry->w[4];

	if ((x0 & ~(uint64_t)PKVM_HC_ID_MASK) != PKVM_HC_BASE)
		return 0;
	return x0 & PKVM_HC_ID_MASK;
}

static inline bool trap_is_load(const struct spec_trap *t)
{
	return t->type == TRAP_HVC && trap_hcall_id(t) == PKVM_HC_TRACE_LOAD;
}

/* rule_spec_judge.c */

/**
 * Judge trap `t` at its exit `ev` against section `d` (the one whose state
 * decided it), and the changes of every other section, which the spec
 * does not allow.
 */
void judge_trap(const struct ck_env *env, struct spec_trap *t, unsigned d,
		const struct ck_event *ev);
/** The exit `ev` is what section `s`'s outcome says (no effect judged). */
bool judge_agrees(const struct spec_trap *t, const struct spec_section *s,
		  const struct ck_event *ev);

#endif /* PKVM_CHECKER_RULE_SPEC_H */
