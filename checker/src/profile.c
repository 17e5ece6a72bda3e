// SPDX-License-Identifier: MIT
/*
 * Our hyp's components and locks (profile.h), as format/HYPERCALLS.md
 * "Locks and components" and hyp/src say:
 *
 * - host stage-2, under host_s2: the host's tables, and the pages tracing
 *   pinned. The pins are written by TRACE_LOAD with trace, host_s2 and
 *   hyp_s1 held and read by UNSHARE_HYP under host_s2 (hyp/src/tracing.c,
 *   tracing_pinned), so host_s2 is the lock a reader of them holds.
 * - hyp stage-1, under hyp_s1: the hyp's tables.
 * - the table pool, under pool: the allocator (no state the spec reads;
 *   the lock discipline rule keeps its own account of it).
 * - tracing, under trace: whether tracing is loaded and its configuration,
 *   read by TRACE_LOAD under trace.
 *
 * A piece of state's change takes effect when the trap that changed it
 * lets its component's lock go, and a trap reads it as it was when it took
 * that lock: every change of it is made under that lock.
 */
#include "profile.h"

#include <stddef.h>

#include <pkvm/abi.h>

static const struct profile_component profile_components[] = {
	{ "host stage-2", PKVM_LOCK_HOST_S2, PKVM_COMP_HOST_S2, true },
	{ "hyp stage-1", PKVM_LOCK_HYP_S1, PKVM_COMP_HYP_S1, true },
	{ "table pool", PKVM_LOCK_POOL, PKVM_COMP_NONE, false },
	{ "tracing", PKVM_LOCK_TRACE, PKVM_COMP_NONE, true },
};

#define PROFILE_COUNT                                                          \
	(sizeof(profile_components) / sizeof(profile_components[0]))

/* The lock of each piece of state: the one map of state to locks. */
static const unsigned profile_state_lock[PROFILE_STATE_COUNT] = {
	[PROFILE_HOST_S2_TABLES] = PKVM_LOCK_HOST_S2,
	[PROFILE_HYP_S1_TABLES] = PKVM_LOCK_HYP_S1,
	[PROFILE_TRACE_PINS] = PKVM_LOCK_HOST_S2,
	[PROFILE_TRACE_LOADED] = PKVM_LOCK_TRACE,
	[PROFILE_TRACE_CONFIG] = PKVM_LOCK_TRACE,
};

unsigned profile_lock_of(enum profile_state s)
{
	return profile_state_lock[s];
}

const struct profile_component *profile_component_of(unsigned id)
{
	for (size_t i = 0; i < PROFILE_COUNT; i++)
		if (profile_components[i].lock == id)
			return &profile_components[i];
	return NULL;
}

unsigned profile_spec_locks(void)
{
	unsigned mask = 0;

	for (size_t i = 0; i < PROFILE_COUNT; i++)
		if (profile_components[i].spec)
			mask |= 1u << profile_components[i].lock;
	return mask;
}
