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
 * Per-CPU streams of records in sequence order. The format library's
 * reader in pkvm-check, an in-memory array in the unit tests.
 */
struct ck_source {
	unsigned cpu_count;
	/*
	 * The next records of `cpu`, as many as the source has together:
	 * points `*recs` at them and returns how many (1 or more), 0 at the
	 * end of that CPU, -1 on error (`error`). They stay valid until the
	 * next call for `cpu`. Handing out runs rather than single records
	 * keeps the source's own per-call work off the per-record path.
	 */
	int (*next)(struct ck_source *s, unsigned cpu,
		    const struct pkvm_record **recs);
	/* True if the stream ended early (truncated file): may be NULL. */
	bool (*truncated)(struct ck_source *s);
	/*
	 * Where in the source the records last returned lie (the file offset
	 * of their frame), or NULL: the scheduler prefers events that come
	 * first in the source, so a reader can let go of what it decoded.
	 */
	uint64_t (*position)(struct ck_source *s);
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

struct ck_summary {
	uint64_t events;
	uint64_t traps_checked;
	uint64_t findings;
	uint64_t inconclusive;
	uint64_t lost;
	bool stopped; /* max_findings reached, or inconsistent */
	char first_inconclusive[256]; /* what could not be checked first */
	char error[600];	      /* CK_EXIT_CORRUPT: the reason */
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
	const struct pkvm_record *recs[8];
	size_t count[8];
	size_t pos[8];
	bool truncated;
};

/** Records of each CPU given as arrays (kept by the caller). */
void ck_memsrc_init(struct ck_memsrc *m, unsigned cpu_count);
void ck_memsrc_set(struct ck_memsrc *m, unsigned cpu,
		   const struct pkvm_record *recs, size_t count);

/* ---- names ----------------------------------------------------------- */

const char *ck_hcall_name(uint64_t id);
const char *ck_errno_name(int64_t v);

#endif /* PKVM_CHECKER_H */
