/* SPDX-License-Identifier: MIT */
/*
 * Human-readable rendering of records: one event a line. Used by
 * `pkvm-check dump` and by the checker's reports. Host only.
 */
#ifndef PKVM_DUMP_H
#define PKVM_DUMP_H

#include <stdint.h>
#include <stdio.h>

#include <pkvm/record.h>

/** Filters for trace_dump; a zeroed struct plus cpu = -1 means "all". */
struct trace_dump_opts {
	int cpu;	  /* only this CPU, or -1 */
	unsigned kind;	  /* only this kind, or 0 */
	uint64_t from_ts; /* first timestamp shown */
	uint64_t to_ts;	  /* last timestamp shown (UINT64_MAX: no limit) */
};

/**
 * Render one event (its head record and `n - 1` continuations) into `buf`
 * as one line without a trailing newline, e.g.
 *   "cpu1 #42 t=123456 trap_entry esr=0x5a000000 elr=0x41000abc ..."
 * Payload words are named from events.def and decoded where an enum
 * applies (hypercall names, lock names, errno names). A compact event is
 * shown as recorded, not expanded: "lock_acquire2 locks=host_s2,hyp_s1
 * tickets=3,5", "tlbi +dsb_ishst op=... operand=... +dsb_ish +isb".
 * Returns the length (truncated to len - 1).
 */
int trace_format_event(char *buf, size_t len, const struct pkvm_record *recs,
		       unsigned n);

/**
 * Print every event of `path` that passes `opts` to `out`, one a line, and
 * errors (naming the file and offset) to `err`. Returns a pkvm-check exit
 * code: 0 on success, 3 if the trace is unreadable or corrupt.
 */
int trace_dump(FILE *out, FILE *err, const char *path,
	       const struct trace_dump_opts *opts);

#endif /* PKVM_DUMP_H */
