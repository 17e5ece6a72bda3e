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

#include <hyp/pgtable.h>

/** TRACE_LOAD(ctrl_pfn): 0 or -PKVM_E*. */
int64_t tracing_load(uint64_t ctrl_pfn);

/** True if `pfn` is pinned by tracing; caller holds host_s2 (witness). */
bool tracing_pinned(struct pgtable_locked host, uint64_t pfn);

/** Set up the per-CPU early buffers (boot, before the first record). */
void tracing_boot(unsigned cpu_count);

/*
 * Where each CPU is, so that early buffers of CPUs that stay in the host can
 * be copied on their behalf (TRACE_LOAD, SYSTEM_OFF). A CPU in the hyp
 * copies its own on its next record.
 */

/** First thing of every trap: this CPU is in the hyp (waits for a flush). */
void tracing_cpu_enter(void);

/**
 * Last thing before returning to the host, after htrace_trap_done() (which
 * makes room for the next trap's records and publishes this one's).
 */
void tracing_cpu_leave(void);

/** Copy the early buffers of every other CPU that is in the host. */
void tracing_flush_others(void);

/** Publish the final ring state (STOPPED or PANIC). */
void tracing_stop(uint32_t state, uint64_t code, uint64_t addr);

#endif /* HYP_TRACING_H */
