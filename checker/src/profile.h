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

/** The lock that protects piece of state `s`. */
unsigned profile_lock_of(enum profile_state s);
/** The component lock `id` protects, or NULL for a lock of no component. */
const struct profile_component *profile_component_of(unsigned id);
/** Bit per lock id: the locks of components the spec reads. */
unsigned profile_spec_locks(void);

#endif /* PKVM_CHECKER_PROFILE_H */
