/* SPDX-License-Identifier: MIT */
/*
 * Human-readable rendering of records: one event a line, descriptors
 * decoded, times in seconds. Used by `pkvm-check dump` and by the
 * checker's reports. Host only.
 */
#ifndef PKVM_DUMP_H
#define PKVM_DUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pkvm/record.h>
#include <pkvm/trace.h>

/**
 * Filters and rendering for trace_dump; a zeroed struct plus cpu = -1
 * means "all, as text, times in seconds". Filters combine: an event is
 * printed only if it passes every one that is set.
 */
struct trace_dump_opts {
	int cpu;	  /* only this CPU, or -1 */
	unsigned kind;	  /* only this kind, or 0 */
	uint64_t from_ts; /* first timestamp shown (counter ticks) */
	uint64_t to_ts;	  /* last timestamp shown (UINT64_MAX: no limit) */
	/* Only the events of traps of this hypercall id, from the entry to
	 * the exit on that CPU; 0: all. */
	unsigned hcall;
	/* Only events of this lock id (LOCK_*, the pairs naming it, and
	 * the fused exit of an entry that took it); 0: all. */
	unsigned lock;
	/* Only events that touch page `pfn` (section "Page filter" in
	 * FORMAT.md 10). */
	bool has_page;
	uint64_t pfn;
	/* Only records of `cpu` whose sequence number is in
	 * [seq_from, seq_to] (modulo 2^32); the one at `mark_seq` is
	 * marked with "->" (text) or "marked" (JSON). */
	bool has_seq;
	uint32_t seq_from, seq_to;
	bool mark;
	uint32_t mark_seq;
	bool json;  /* one JSON object a line (doc/pkvm-check.schema.json) */
	bool ticks; /* times as counter ticks instead of seconds */
	/* Names a site's code address ("site=pgtable.c:252"), false if it
	 * cannot: the dump shows "pc=+0x1234" then. NULL: never. */
	bool (*site_name)(const void *ctx, uint64_t pc, char *buf, size_t len);
	const void *site_ctx;
};

/**
 * Where a descriptor is stored, as far as the reader knows: the table's
 * translation (stage 1 of the hyp or stage 2 of the host), its level and
 * the input address the entry translates. Zero: unknown.
 */
struct trace_desc_where {
	unsigned stage; /* 0 unknown, 1 hyp stage-1, 2 host stage-2 */
	int level;	/* 0 unknown, else 1..3 */
	bool has_ia;
	uint64_t ia; /* input address (IPA or VA) of the entry */
};

/**
 * Decode a descriptor `value` (abi.h's conventions: 4 KiB granule, page
 * state in bits 56:55, owner annotation in an invalid stage-2 one) into
 * words, e.g. "valid page L3 ia=0x40801000 oa=0x40801000 normal-wb
 * sh=inner rw xn af state=shared-borrowed" or "invalid owner=hyp". What
 * `where` does not know is left out or said to be unknown. Returns the
 * length (truncated to len - 1).
 */
int trace_format_desc(char *buf, size_t len, uint64_t value,
		      const struct trace_desc_where *where);

/**
 * A timestamp for people: seconds since the counter started, from its
 * frequency, to the nanosecond ("12.000001968s"), or the raw ticks
 * ("ticks=123") when `ticks` is set or the frequency is unknown (0).
 * Pure integer arithmetic: the same ticks give the same text anywhere.
 */
int trace_format_time(char *buf, size_t len, uint64_t ts, uint64_t freq,
		      bool ticks);

/** How trace_format_event_at renders a line. */
struct trace_fmt {
	uint64_t counter_freq; /* Hz of `ts`; 0: print ticks */
	bool ticks;	       /* print ticks even with a frequency */
	/* For a pte_write: what is known of its table (NULL: nothing; the
	 * descriptor is still decoded). */
	const struct trace_desc_where *where;
	bool marked; /* JSON: the event a --event asked for */
	/* Whose tables name hypercalls and BOOT flags (trace_system_of of
	 * the header's `system`); 0 is our hyp's. */
	enum trace_system system;
	/* The event's site as shown after its words, e.g. "pc=+0x1234" or
	 * "site=pgtable.c:252" (trace_sites); NULL or "": none. */
	const char *site;
};

/**
 * Render one event (its head record and `n - 1` continuations) into `buf`
 * as one line without a trailing newline, e.g.
 *   "cpu1 seq=42 t=0.001975360s trap_entry esr=0x5a000000 ..."
 * The record's own number is `seq=`: reports number events `#N` in the
 * checker's replay order, and the two must not be confused. Payload words
 * are named from events.def and decoded where an enum applies (hypercall,
 * lock and errno names); a pte_write's descriptor is decoded after it in
 * brackets. A compact event is shown as recorded, not expanded:
 * "lock_acquire2 locks=host_s2,hyp_s1 tickets=3,5",
 * "tlbi +dsb_ishst op=... operand=... +dsb_ish +isb".
 * Returns the length (truncated to len - 1).
 */
int trace_format_event_at(char *buf, size_t len, const struct pkvm_record *recs,
			  unsigned n, const struct trace_fmt *fmt);

/** trace_format_event_at with times in ticks and nothing known. */
int trace_format_event(char *buf, size_t len, const struct pkvm_record *recs,
		       unsigned n);

/**
 * Print one event as a JSON object without a newline:
 * {"type":"event","cpu":..,"seq":..,"ts":..,"time":..,"kind":"..",
 *  "fields":{"name":"value",...},"desc":"..." (pte_write),"text":".."}.
 */
void trace_json_event(FILE *out, const struct pkvm_record *recs, unsigned n,
		      const struct trace_fmt *fmt);

/** Write `s` as a JSON string (quoted, escaped) to `out`. */
void trace_json_str(FILE *out, const char *s);

/**
 * The tables a reader has seen installed, so that a descriptor store can
 * be placed: the roots from the BOOT record (level 1, our hyp's walks),
 * then every table descriptor stored into a known table. A store into a
 * table installed later in the file than the store (CPUs' pages are
 * interleaved) stays unknown. Opaque; NULL-safe.
 */
struct trace_tables;

struct trace_tables *trace_tables_new(void);
void trace_tables_free(struct trace_tables *t);
/** Learn from one event (BOOT, pte_write); ignore the rest. */
void trace_tables_learn(struct trace_tables *t, const struct pkvm_record *recs,
			unsigned n);
/** Where a pte_write at `pa` stores, as far as known. */
struct trace_desc_where trace_tables_where(const struct trace_tables *t,
					   uint64_t pa);

/**
 * Sites (FORMAT.md "Sites"): whether a file-order or per-CPU walk of a
 * trace has seen a BOOT that says its records carry them, and where the
 * hyp's text starts. Every tool that reads records itself keeps one and
 * passes each whole event through trace_sites_take() before it looks at
 * the words, so that no site bit is ever taken for part of a PA, an op or
 * a lock id.
 */
struct trace_sites {
	enum trace_system system; /* sites exist only on our hyp's */
	bool on;		  /* BOOT had PKVM_BOOT_F_SITES */
	uint64_t hyp_start;	  /* BOOT `hyp_start`: what sites count from */
	bool format_has; /* format 5.0 or later: the bits may be sites */
};

/**
 * Start a walk of a trace of `system` (trace_system_of) in format
 * `version_major` (a 4.x file's high bits are never sites: FORMAT.md 6).
 */
void trace_sites_init(struct trace_sites *s, enum trace_system system,
		      unsigned version_major);

/**
 * One whole event: a BOOT turns sites on or off; for a kind with a site,
 * if they are on, the site bits are cleared from `recs[0].a` and the
 * site's code address (hyp_start + 4 * site) returned. 0: none.
 */
uint64_t trace_sites_take(struct trace_sites *s, struct pkvm_record *recs,
			  unsigned n);

/** "pc=+0x1234" (the offset from hyp_start) for `pc`, or "" for 0. */
void trace_sites_pc_text(const struct trace_sites *s, uint64_t pc, char *buf,
			 size_t len);

/**
 * Print every event of `path` that passes `opts` to `out`, one a line, and
 * errors (naming the file and offset) to `err` (and, for JSON, as an
 * {"type":"error"} object to `out`). Returns a pkvm-check exit code: 0 on
 * success, 3 if the trace is unreadable or corrupt.
 */
int trace_dump(FILE *out, FILE *err, const char *path,
	       const struct trace_dump_opts *opts);

struct trace_reader;

/**
 * trace_dump of a reader the caller opened (and closes), named `path` in
 * messages: a caller can look at the header first (CPU count, counter
 * frequency), even of a pipe.
 */
int trace_dump_reader(FILE *out, FILE *err, const char *path,
		      struct trace_reader *r,
		      const struct trace_dump_opts *opts);

#endif /* PKVM_DUMP_H */
