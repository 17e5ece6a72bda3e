/* SPDX-License-Identifier: MIT */
/*
 * pkvm-check's core: record source -> events -> linearisation on lock
 * order -> machine model -> specification -> findings. No file I/O and no
 * output of its own: the command (main.c, report.c) and the unit tests
 * drive it through a record source and a finding sink.
 */
#ifndef PKVM_CHECKER_H
#define PKVM_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pkvm/record.h>
#include <pkvm/trace.h>

/** CPUs the checker replays at most. */
#define CK_MAX_CPUS 8u

/** pkvm-check exit codes (checker/README.md "Exit codes"). */
enum ck_exit {
	CK_EXIT_OK = 0,
	CK_EXIT_FINDINGS = 1,
	CK_EXIT_USAGE = 2,
	CK_EXIT_CORRUPT = 3,
	CK_EXIT_INCONCLUSIVE = 4,
	CK_EXIT_INTERNAL = 70,
};

/**
 * The checker itself is confused (never the trace's fault): print where and
 * exit 70. Findings about the implementation never go through this.
 */
#define CK_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond))                                                   \
			ck_internal_error(__FILE__, __LINE__, #cond);          \
	} while (0)

_Noreturn void ck_internal_error(const char *file, int line, const char *what);

/**
 * How a recording ended and what its end says of each CPU's stream, as a
 * source knows once every stream has ended (ck_source.end). verdict.c
 * turns it into the reasons a trace is not a whole run (DESIGN.md 9).
 */
struct ck_end {
	/* The trace stops short of its end: where its bytes stop, and a
	 * phrase for where that is ("inside the end summary"). */
	bool truncated;
	uint64_t cut_offset;
	const char *cut_where;
	/* The recorder's statement about the run (FORMAT.md 5.3). */
	bool has_summary;
	/* Its format records the outcome and the producers' counters
	 * (4.0); if not, the version that does not. */
	bool has_outcome;
	unsigned version_major, version_minor;
	uint32_t outcome; /* enum trace_outcome */
	char why[128];
	/* Per CPU: the extended sequence numbers of its first and last
	 * records (if it has any), and the records its producer made, or
	 * TRACE_COUNT_UNKNOWN (pkvm/trace.h) if not known. */
	uint64_t records[CK_MAX_CPUS];
	uint64_t first_seq[CK_MAX_CPUS];
	uint64_t last_seq[CK_MAX_CPUS];
	uint64_t produced[CK_MAX_CPUS];
};

/**
 * Per-CPU streams of records in sequence order. The format library's
 * reader in pkvm-check, an in-memory array in the unit tests.
 */
struct ck_source {
	unsigned cpu_count;
	/*
	 * What the source is called in messages (the file's path, "-" for
	 * stdin), and what its file header says: the system that recorded
	 * it (picks the profile), the producer's ABI version and the
	 * counter's frequency (0: the source has no header to compare the
	 * BOOT record with). Offsets in messages are the source's.
	 */
	const char *name;
	const char *system;
	unsigned version_major; /* the format's: sites exist from 5 on */
	uint32_t abi_version;
	uint64_t counter_freq;
	uint64_t data_offset; /* where its records begin (after the header) */
	/*
	 * The next records of `cpu`, as many as the source has together:
	 * points `*recs` at them and returns how many (1 or more), 0 at the
	 * end of that CPU, -1 on error (`error`). They stay valid until the
	 * next call for `cpu`. Handing out runs rather than single records
	 * keeps the source's own per-call work off the per-record path.
	 */
	int (*next)(struct ck_source *s, unsigned cpu,
		    const struct pkvm_record **recs);
	/*
	 * Set by `next` beside each run it returns: true if the run is plain
	 * throughout (trace_reader_run_plain: no seq gap in it, each record
	 * a known kind's good head or the next continuation due), so the
	 * reading need not check its events' records again (read.c,
	 * ck_read_plain). A source that never sets it leaves it false.
	 */
	bool run_plain;
	/* True if the stream ended early (truncated file): may be NULL. */
	bool (*truncated)(struct ck_source *s);
	/*
	 * Called once every CPU's stream has ended, or the replay stopped
	 * early: read and check whatever of the source is left (so that
	 * the verdict rests on all of it) and describe its end. Returns 0,
	 * or -1 if the source is corrupt (`error`). NULL: a source that
	 * cannot tell, so no run is proven whole.
	 */
	int (*end)(struct ck_source *s, struct ck_end *end);
	/*
	 * Where in the source the records last returned lie (the file offset
	 * of their frame), or NULL: the scheduler prefers events that come
	 * first in the source, so a reader can let go of what it decoded.
	 */
	uint64_t (*position)(struct ck_source *s);
	/*
	 * Whether `next` for `cpu` would answer from what the source holds
	 * already, without reading further into it (NULL: always). A CPU
	 * that is not ready has been quiet: its next records lie beyond
	 * everything read so far, so the replay reads the others first
	 * rather than hold their records for it (replay.c, "Quiet CPUs").
	 */
	bool (*ready)(struct ck_source *s, unsigned cpu);
	/* Read further into the source (for `ready`): 1, 0 at its end, -1
	 * on error (the next `next` reports it). NULL with `ready`. */
	int (*more)(struct ck_source *s);
	char error[512];
};

/**
 * One event as the replay sees it: a canonical kind (format 1.x's) and its
 * payload words in order, with the records it was read from. A compact
 * record (formats 2.0 and 3.0: HCALL_ENTRY, LOCK_ACQUIRE2, a TLBI with
 * barrier flags, HCALL_ENTRY_LOCK2 ...) is expanded (pkvm/expand.h) into
 * `parts` events that share its records, ts and seq; reports show the
 * records once.
 */
struct ck_event {
	uint64_t index; /* position in the replay (global, 0-based) */
	uint64_t ts;
	uint32_t seq;
	uint16_t cpu;
	uint8_t kind;  /* canonical kind */
	uint8_t kbits; /* its head's kind-specific flag bits (the source) */
	uint8_t nrec;  /* records in `recs` */
	uint8_t part;  /* this is event `part` (0-based) of `parts` ... */
	uint8_t parts; /* ... the records expand into (1: not compact) */
	/* HCALL_EXIT(_UNLOCK2) with no entry to take x2, x3 and elr (and
	 * the locks) from: lost. */
	bool incomplete;
	/* Written where the format forbids it (pkvm/expand.h `invalid`). */
	bool invalid;
	/* Where in the hyp's code it was made (FORMAT.md "Sites"): the code
	 * address, 0 if the trace does not say. Its bits are cleared from
	 * `recs` and `w`. */
	uint64_t site;
	uint64_t w[2 * PKVM_EVENT_MAX_RECORDS]; /* canonical payload words */
	struct pkvm_record recs[PKVM_EVENT_MAX_RECORDS]; /* as read */
};

/** One finding, valid for the duration of the sink call. */
struct ck_finding {
	const char *check; /* stable name, e.g. "hcall-return" */
	char text[1024];   /* what the spec expected, what happened */
	uint64_t addr;	   /* grouping key: PA/IPA concerned, or 0 */
	const struct ck_event *event; /* the offending event */
	const struct ck_event *trap;  /* the trap's entry, or NULL */
	/* The earlier event that explains the state, if any. */
	bool has_explain;
	uint64_t explain_index;
	unsigned explain_cpu;
	/* Events before `event` on its CPU, oldest first. */
	const struct ck_event *const *history;
	unsigned history_count;
};

struct ck_sink {
	void *ctx;
	void (*finding)(void *ctx, const struct ck_finding *f);
};

struct ck_options {
	uint64_t max_findings; /* stop after this many; 0: no limit */
	unsigned context;      /* events kept per CPU for reports */
	/* Stop after replaying event `capture_index` and copy it out. */
	bool capture;
	uint64_t capture_index;
};

/* Reasons a trace is not a whole run, at most (ck_summary.incomplete). */
#define CK_MAX_REASONS 24u

struct ck_summary {
	uint64_t events;
	uint64_t traps_checked;
	uint64_t findings;
	uint64_t inconclusive;
	/* Records lost: LOST counts, sequence gaps (from 0 for a CPU's
	 * first record) and tail losses (the producer's count past the
	 * last record in the trace). */
	uint64_t lost;
	/* Why the trace is not a whole run (truncated, interrupted, a
	 * stream not proven complete ...): any makes the verdict
	 * inconclusive unless there are findings (verdict.c). */
	char incomplete[CK_MAX_REASONS][200];
	unsigned incomplete_count;
	bool stopped; /* max_findings reached, or inconsistent */
	char first_inconclusive[256]; /* what could not be checked first */
	/* Checks not judged on this trace, each with why ("table-not-zeroed
	 * (ABI 1 records no page zeroing), ..."): "" when all were. */
	char not_judged[1024];
	/* The profile judges only part of what its system promises: why a
	 * run without findings is inconclusive (profile.h), or NULL. */
	const char *unjudged;
	char error[600];   /* CK_EXIT_CORRUPT: the reason */
	bool has_captured; /* ck_options.capture: the event was seen */
	struct ck_event captured;
};

/**
 * Replay `src` against the spec; every finding goes to `sink`. Returns an
 * enum ck_exit: OK, FINDINGS, CORRUPT (summary.error), INCONCLUSIVE.
 */
int ck_run(struct ck_source *src, const struct ck_options *opt,
	   const struct ck_sink *sink, struct ck_summary *sum);

/* ---- in-memory record source (unit tests, generators) ---------------- */

struct ck_memsrc {
	struct ck_source src;
	const struct pkvm_record *recs[CK_MAX_CPUS];
	size_t count[CK_MAX_CPUS];
	size_t pos[CK_MAX_CPUS];
	bool truncated;
	/*
	 * The arrays are a whole run: it ended cleanly and each CPU's
	 * producer made exactly the records up to its last one. Without
	 * it, the source says nothing of the run's end (as a trace whose
	 * format does not record it), and no verdict is 0.
	 */
	bool complete;
};

/**
 * Records of each CPU given as arrays (kept by the caller); set
 * `complete` to say they are a whole run.
 */
void ck_memsrc_init(struct ck_memsrc *m, unsigned cpu_count);
void ck_memsrc_set(struct ck_memsrc *m, unsigned cpu,
		   const struct pkvm_record *recs, size_t count);

/* ---- names ----------------------------------------------------------- */

const char *ck_hcall_name(uint64_t id);
/**
 * A trap entry `t` in words ("hypercall __pkvm_host_share_hyp(x1=0x4a)",
 * "host stage-2 data abort at IPA ..."), its hypercalls named from
 * `sys`'s table.
 */
void ck_trap_text(const struct ck_event *t, enum trace_system sys, char *buf,
		  size_t len);
const char *ck_errno_name(int64_t v);

#endif /* PKVM_CHECKER_H */
