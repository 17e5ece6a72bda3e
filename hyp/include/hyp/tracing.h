/* SPDX-License-Identifier: MIT */
/*
 * The tracing setup hypercall and the pages it pins (format/HYPERCALLS.md
 * trace_load): the control page and every ring page stay shared with the
 * hyp for good, so UNSHARE_HYP refuses them with -EBUSY.
 */
#ifndef HYP_TRACING_H
#define HYP_TRACING_H

#include <stdbool.h>
#include <stdint.h>

#include <hyp/htrace.h>
#include <hyp/pgtable.h>

/** TRACE_LOAD(ctrl_pfn): 0 or -PKVM_E*. */
int64_t tracing_load(uint64_t ctrl_pfn);

/** True if `pfn` is pinned by tracing; caller holds host_s2 (witness). */
bool tracing_pinned(struct pgtable_locked host, uint64_t pfn);

/** Set up the per-CPU early buffers (boot, before the first record). */
void tracing_boot(unsigned cpu_count);

/**
 * First thing of every trap (producer_enter()). Returns true if the CPU is
 * in its ring for good; pass that to tracing_cpu_leave().
 */
static inline bool tracing_cpu_enter(void)
{
#if HYP_TRACE
	return producer_enter(htrace_cpu());
#else
	return true;
#endif
}

/**
 * Last thing before returning to the host (producer_leave()): publish this
 * trap's records; until the CPU is in its ring, also a sync point.
 * `in_ring` is what tracing_cpu_enter() returned.
 */
static inline void tracing_cpu_leave(bool in_ring)
{
#if HYP_TRACE
	producer_leave(&hyp_producer, htrace_cpu(), in_ring);
#else
	(void)in_ring;
#endif
}

/** From now on the calling CPU never waits for the consumer (a panic). */
static inline void tracing_no_wait(void)
{
#if HYP_TRACE
	producer_no_wait(htrace_cpu());
#endif
}

/** Copy the early buffers of every other CPU that is in the host. */
void tracing_flush_others(void);

/** Publish the final ring state (STOPPED or PANIC). */
void tracing_stop(uint32_t state, uint64_t code, uint64_t addr);

#endif /* HYP_TRACING_H */
