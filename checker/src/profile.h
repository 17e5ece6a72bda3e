/* SPDX-License-Identifier: MIT */
/*
 * The profile of the hypervisor the trace came from (DESIGN.md 11): what
 * the checker must know of it beyond the format. Today one profile, our
 * hyp (pkvm-check-hyp); pKVM in Linux is the next.
 *
 * Here: which component each piece of state the spec talks about belongs
 * to, and which lock protects each component (format/HYPERCALLS.md "Locks
 * and components"). The rest of the checker asks this file; nothing else
 * names a lock for a piece of state.
 */
#ifndef PKVM_CHECKER_PROFILE_H
#define PKVM_CHECKER_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <pkvm/abi.h>

/** Every piece of state the spec talks about, page tables and ghost. */
enum profile_state {
	PROFILE_HOST_S2_TABLES, /* host stage-2: the host side of each page */
	PROFILE_HYP_S1_TABLES,	/* hyp stage-1: the hyp side of each page */
	PROFILE_TRACE_PINS,	/* the pages tracing pinned (unshare: -EBUSY) */
	PROFILE_TRACE_LOADED,	/* tracing is loaded (trace_load: -EBUSY) */
	PROFILE_TRACE_CONFIG,	/* its control page and rings */
	PROFILE_STATE_COUNT,
};

/** A component: state under one lock. */
struct profile_component {
	const char *name;
	unsigned lock;	 /* enum pkvm_lock_id */
	unsigned tables; /* enum pkvm_component of its page tables, or 0 */
	/* Holds state the spec reads: a trap's critical section is the
	 * time it holds one of these locks (checker/README.md "Per trap"). */
	bool spec;
};

/* ---- the profiles -------------------------------------------------- */

/** How a profile's traces name their locks. */
enum profile_lock_naming {
	/* Small ids, each a lock of abi.h's PKVM_LOCK_LIST (our hyp). */
	PROFILE_LOCKS_BY_ID,
	/* Addresses (FORMAT.md 3, `lock_acquire`), named by `lock_info`
	 * records: the role says the component (linux-6.12). */
	PROFILE_LOCKS_BY_INFO,
};

/** Where the page-table roots come from. */
enum profile_roots {
	PROFILE_ROOTS_BOOT,   /* BOOT's host_s2_root and hyp_s1_root */
	PROFILE_ROOTS_SYSREG, /* the first TTBR0_EL2 write, and the first
				 VTTBR_EL2 write with VMID 0 (its VTCR_EL2
				 says the level and concatenation) */
};

/*
 * A lock's class, for the lock order: for PROFILE_LOCKS_BY_ID its id, for
 * PROFILE_LOCKS_BY_INFO its role (PKVM_LOCK_ROLE_*), a pool's role plus
 * the component it feeds (PROFILE_CLASS_POOL + enum pkvm_component).
 */
#define PROFILE_CLASS_POOL 8u
#define PROFILE_CLASS_COUNT 16u

/** One step of a lock order: `outer` may be held when `inner` is taken. */
struct profile_order_pair {
	unsigned char outer, inner;
};

/**
 * A profile (DESIGN.md 11): what the checker knows of one system besides
 * the format. A new kernel is a new entry in profile.c, not new branches
 * in the rules.
 */
struct ck_profile {
	const char *system; /* the file header's `system` */
	unsigned abi_min, abi_max;
	/* The rules it runs, by name (rules.c's table, in that order); NULL:
	 * every rule but the linux-6.12 profile's own ("l612-*"). */
	const char *const *rules;
	enum profile_lock_naming locks;
	/* PROFILE_LOCKS_BY_INFO: the component of each role (0: none). */
	const unsigned char *role_comp;
	unsigned role_count;
	/* The lock order as pairs of classes (their transitive closure is
	 * the order); NULL: abi.h's PKVM_LOCK_ORDER_LIST. */
	const struct profile_order_pair *order;
	unsigned order_count;
	const char *order_text; /* the order, as the finding states it */
	enum profile_roots roots;
	/* Stores that are no component's lock's business: every store of
	 * the trap BOOT opens (one CPU builds the tables before any other
	 * runs on them). */
	bool boot_trap_unlocked;
	unsigned boot_hcall; /* ... the hypercall id of that trap */
	/* New tables come from BOOT's [pool_start, pool_end): judged
	 * (table-not-from-pool, pool-alloc). */
	bool boot_pool;
	/* A page its pool hands out (NONDET alloc_page) is zero, whatever
	 * the model last saw in it (LINUX-6.12.md 7.3: the pool zeroes a
	 * page when it joins a free list, unrecorded): the model forgets a
	 * detached table's old entries there. */
	bool alloc_zeroed;
	/* The other CPUs start only once cpu0 has built the tables (our
	 * hyp's arch_tables_ready): none of their events may come before
	 * cpu0's boot stores. The replay runs none of theirs while cpu0 can
	 * run, until cpu0 enters the host (linearise.h, sched_pick_full), so
	 * that the boot is judged whole whatever the file order. */
	bool boot_cpu_alone;
	/* A hypercall the host makes only after boot_hcall has returned
	 * (0: none). linux-6.12: __pkvm_prot_finalize, which every CPU calls
	 * once __pkvm_init is done (LINUX-6.12.md 5.2); no lock orders the
	 * two, so the replay holds its entries until boot_hcall's exit, and
	 * the boot state is judged before any CPU's host stage-2 maps. */
	unsigned after_boot_hcall;
	/* The checks it does not judge, and why (NULL-terminated); a
	 * profile with any is never "conforms": a clean whole run is
	 * inconclusive for `unjudged_reason`. */
	const char *const *not_judged;
	const char *not_judged_why;
	const char *unjudged_reason;
};

/* SMCCC's hint bit (ARM_SMCCC_CALL_HINTS), which a caller may set in x0. */
#define PROFILE_HC_HINT (1ull << 16)

/** x0 of a TRAP_ENTRY's words `w` (w[4]) without SMCCC's hint bit. */
static inline uint64_t profile_hc_x0(const uint64_t *w)
{
	return w[4] & ~PROFILE_HC_HINT;
}

/**
 * The hypercall id of a TRAP_ENTRY whose words are `w`: a host HVC with
 * x0 = PKVM_HC_BASE | id (SMCCC's hint bit aside); -1 for any other trap.
 */
static inline int profile_hcall_id(const uint64_t *w)
{
	uint64_t x0 = profile_hc_x0(w);

	if (((w[0] >> 26) & 0x3f) != 0x16 ||
	    (x0 & ~(uint64_t)PKVM_HC_ID_MASK) != PKVM_HC_BASE)
		return -1;
	return (int)(x0 & PKVM_HC_ID_MASK);
}

/** Whether the words of a TRAP_ENTRY, `w`, are a host HVC of hypercall
 * `id`. */
static inline bool profile_is_hcall(const uint64_t *w, unsigned id)
{
	return profile_hcall_id(w) == (int)id;
}

/** The profile of `system`, or NULL. */
const struct ck_profile *profile_find(const char *system);
/** Every profile, for messages ("this checker knows ..."). */
const struct ck_profile *profile_at(unsigned i);
/** Whether `p` runs the rule named `name`. */
bool profile_runs(const struct ck_profile *p, const char *name);
/** The class of a lock of `role` (PKVM_LOCK_ROLE_*) with argument `arg`. */
unsigned profile_role_class(unsigned role, unsigned arg);
/**
 * The component whose tables a lock of `role` (with `arg`) protects under
 * `p`, or 0.
 */
unsigned profile_role_comp(const struct ck_profile *p, unsigned role,
			   unsigned arg);

/* ---- our hyp's components (rule_spec.c) ----------------------------- */

/** The lock that protects piece of state `s`. */
unsigned profile_lock_of(enum profile_state s);
/** The component lock `id` protects, or NULL for a lock of no component. */
const struct profile_component *profile_component_of(unsigned id);
/** Bit per lock id: the locks of components the spec reads. */
unsigned profile_spec_locks(void);

#endif /* PKVM_CHECKER_PROFILE_H */
