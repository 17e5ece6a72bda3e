/* SPDX-License-Identifier: MIT */
/*
 * The consumer half of the ring protocol (tracer/include/pkvm/ring.h), as a
 * library so that it can be tested without QEMU: find the control block in
 * a mapping of guest RAM, drain every CPU's ring into a trace writer, and
 * save or load raw ring dumps (tracer/README.md "Dump format").
 *
 * Nothing here knows about QEMU; pkvm-record (main.c, qemu.c) wraps it.
 */
#ifndef PKVM_RECORD_CONSUMER_H
#define PKVM_RECORD_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pkvm/record.h>
#include <pkvm/ring.h>
#include <pkvm/trace.h>

/** Size of the control page, in guest RAM and at the start of a dump. */
#define RECORD_CTRL_PAGE 4096u
/* Bounds TRACE_LOAD enforces on nr_records (HYPERCALLS.md, trace_load). */
#define RECORD_MIN_NR_RECORDS 128u
#define RECORD_MAX_NR_RECORDS (1u << 20)

/** A mapping of guest physical memory: PA `pa_base` is at `base`. */
struct record_mem {
	uint8_t *base;
	uint64_t pa_base;
	uint64_t size;
};

/** What the consumer saw on one CPU's ring; all counts are records. */
struct record_cpu_stats {
	uint64_t records;     /* handed to the writer */
	uint64_t lost;	      /* sum of the counts of LOST records */
	uint64_t gaps;	      /* sequence numbers skipped between records */
	uint64_t unexplained; /* of those, skipped before a record that is not
				 LOST (the checker's count of gaps) */
	uint64_t bad;	      /* rejected by validation (not written) */
	uint64_t partial;     /* continuations whose head was not seen */
	unsigned cont_left;   /* continuations the current event still has */
	uint32_t next_seq;    /* sequence number expected next */
	bool seen;	      /* a record arrived: next_seq is meaningful */
	uint64_t first_seq;   /* the first record's (records before it are
				 not in the trace) */
	uint64_t next_seq64;  /* next_seq extended to 64 bits, as the trace
				 writer extends `last_seq` */
	uint64_t last_ts;     /* ts of the last record written */
	uint64_t overruns;    /* times head ran more than a ring ahead */
};

/** State of one consumer attached to one control block. */
struct record_drain {
	struct pkvm_ring_ctrl *ctrl; /* in shared memory; tail written here */
	unsigned cpu_count;
	struct pkvm_record *ring[PKVM_RING_MAX_CPUS];
	uint64_t nr_records[PKVM_RING_MAX_CPUS];
	struct trace_writer *writer;
	struct record_cpu_stats stats[PKVM_RING_MAX_CPUS];
	bool panic_seen;	 /* a PANIC record went by */
	bool system_off_seen;	 /* a MARK system_off went by */
	struct pkvm_record *buf; /* one ring's worth of copied records */
	size_t buf_cap;
	struct trace_error err; /* the writer's error, when a call fails */
	char message[256];	/* a sentence for the user on failure */
};

/**
 * Look for a control block on every page of `mem`: PKVM_RING_MAGIC, version
 * 1, and `cpu_count` equal to `cpus` (or in 1..PKVM_RING_MAX_CPUS when
 * `cpus` is 0). With `accepted`, only one whose `state` is no longer SETUP
 * (the hyp took it; the host may have offered refused ones before).
 * Returns the first, or NULL.
 */
struct pkvm_ring_ctrl *record_find_ctrl(const struct record_mem *mem,
					unsigned cpus, bool accepted);

/**
 * Check the host-written fields of `ctrl` (as TRACE_LOAD does) and resolve
 * every ring's records in `mem`. Returns 0, or -1 with `d->message`.
 * `writer` receives the records; it is not owned by `d`.
 */
int record_drain_attach(struct record_drain *d, struct pkvm_ring_ctrl *ctrl,
			const struct record_mem *mem,
			struct trace_writer *writer);

/**
 * Like record_drain_attach, with the record arrays given directly (a dump,
 * or a test). `rings[i]` holds ctrl->cpu[i].nr_records records.
 */
int record_drain_attach_rings(struct record_drain *d,
			      struct pkvm_ring_ctrl *ctrl,
			      struct pkvm_record *const *rings,
			      struct trace_writer *writer);

/**
 * One pass over every ring: copy the published records, give the space
 * back to the producer, validate and write them. Returns the number of
 * records taken from the rings, or -1 when the writer failed
 * (`d->message`, `d->err`).
 */
long record_drain_once(struct record_drain *d);

/** Drain until every ring is empty. Same returns as record_drain_once. */
long record_drain_all(struct record_drain *d);

/**
 * Set `d` up for `cpus` CPUs and no rings (tracing never started, so there
 * is nothing to drain): record_drain_add() can still write records
 * salvaged from elsewhere. Returns 0, or -1 with `d->message`.
 */
int record_drain_attach_none(struct record_drain *d, unsigned cpus,
			     struct trace_writer *writer);

/**
 * Validate and write records of `cpu` that did not come through its ring
 * (salvage.c), exactly as drained ones are: same checks, same statistics.
 * Returns 0, or -1 when the writer failed.
 */
int record_drain_add(struct record_drain *d, unsigned cpu,
		     const struct pkvm_record *recs, size_t count);

/** Sum of a statistic over every CPU. */
uint64_t record_drain_total(const struct record_drain *d, size_t field_offset);
#define RECORD_TOTAL(d, field)                                                 \
	record_drain_total((d), offsetof(struct record_cpu_stats, field))

/** Sum over CPUs of the hyp's own `dropped` and `wait_ticks` counters. */
uint64_t record_ctrl_dropped(const struct record_drain *d);
uint64_t record_ctrl_wait_ticks(const struct record_drain *d);

/** Free what attach allocated (not the writer, not the mapping). */
void record_drain_release(struct record_drain *d);

/**
 * Poll loop: drain; when a pass found nothing, call `poll(arg)` and sleep
 * `idle_us` microseconds. `poll` is also called at least every 50 ms while
 * records flow. Stops when `poll` returns non-zero and returns that value,
 * or returns -1 when the writer failed.
 */
int record_drain_loop(struct record_drain *d, int (*poll)(void *arg), void *arg,
		      unsigned idle_us);

/* ---- accounting (tracer/README.md "Every record accounted for") ------- */

/**
 * One CPU at the end of a run: what its producer says it made, checked
 * against what the consumer got.
 */
struct record_account {
	uint64_t produced; /* records made (the next sequence number), or
			      TRACE_COUNT_UNKNOWN: not read, or contradicted */
	uint64_t dropped; /* records its ring dropped, or TRACE_COUNT_UNKNOWN */
	uint64_t head;	  /* records before the first one in the trace */
	uint64_t tail;	  /* records made after the last one in the trace */
	uint64_t lost;	  /* LOST counts + unexplained gaps + head + tail */
	bool contradicts; /* the counters contradict the records */
	char why[192];	  /* what contradicts what, when it does */
};

/**
 * Account for `cpu`, given its producer's counters as read at the end
 * (TRACE_COUNT_UNKNOWN for either when they could not be read). A counter
 * that contradicts the records (fewer produced than the records show,
 * more dropped than produced, more dropped than are missing) is not
 * trusted: both become TRACE_COUNT_UNKNOWN and `contradicts` says why.
 */
void record_account_cpu(const struct record_drain *d, unsigned cpu,
			uint64_t produced, uint64_t dropped,
			struct record_account *a);

/** Every CPU's accounting, totalled. */
struct record_totals {
	struct record_account cpu[PKVM_RING_MAX_CPUS];
	uint64_t lost;		 /* the run's loss: sum of the CPUs' `lost` */
	uint64_t lost_counts;	 /* of it: counts of LOST records */
	uint64_t tail;		 /* of it: tail losses */
	uint64_t dropped;	 /* the producers' ring drops (known ones) */
	unsigned contradictions; /* CPUs whose counters were not trusted */
	unsigned unknown;	 /* CPUs whose counters are unknown */
};

/**
 * Account for every CPU of `d` given its producer's counters (`produced`
 * and `dropped`, one per CPU, TRACE_COUNT_UNKNOWN when not read), store the
 * trusted ones in the trace's end summary (trace_writer_set_producer) and
 * total the losses. Each contradiction is printed to `log`, never silent.
 * Returns 0, or -1 when the writer refused (`d->message`).
 */
int record_account_all(struct record_drain *d, const uint64_t *produced,
		       const uint64_t *dropped, struct record_totals *t,
		       FILE *log);

/* ---- dumps (tracer/README.md "Dump format") --------------------------- */

/**
 * Write a dump of the rings `d` is attached to: the control page, then each
 * CPU's record array. When `keep_all` is set, `tail` in the saved control
 * page is moved back to the oldest record still present in the ring, so a
 * dump taken after draining still carries the last records. Returns 0, or
 * -1 with a message in `msg`.
 */
int record_dump_save(const struct record_drain *d, const char *path,
		     bool keep_all, char *msg, size_t msg_len);

/** A dump loaded into memory. */
struct record_dump {
	struct pkvm_ring_ctrl *ctrl; /* heap copy of the control page */
	struct pkvm_record *rings[PKVM_RING_MAX_CPUS];
	uint8_t *data; /* the whole file */
	size_t size;
};

/**
 * Read and validate a dump. Returns 0, or -1 with a message naming the file
 * and the byte offset of the problem.
 */
int record_dump_load(struct record_dump *dump, const char *path, char *msg,
		     size_t msg_len);

void record_dump_free(struct record_dump *dump);

/**
 * How the run behind a dump ended, from its ring `state`: the hyp's own
 * word (STOPPED at power-off: clean; PANIC), or RUNNING for a machine
 * that still ran when the dump was taken (or never started tracing). The
 * sentence for the end summary goes to `why`.
 */
enum trace_outcome record_dump_outcome(uint32_t state, const char *path,
				       char *why, size_t why_len);

#endif /* PKVM_RECORD_CONSUMER_H */
