/* SPDX-License-Identifier: MIT */
/*
 * libpkvmtrace: write and read trace files (format/FORMAT.md). Host only.
 *
 * Writer: streaming, bounded memory. Records are handed over per CPU in
 * sequence order; the writer packs them into per-CPU pages, groups pages
 * into independent zstd frames, and on close writes the end summary and the
 * seek table.
 *
 * Reader: streaming. Records come out per CPU in sequence order through a
 * per-CPU cursor (trace_reader_next); pages of other CPUs decoded on the way
 * are queued, so memory is bounded by how far apart the CPUs are in the file.
 * Every error names the file offset.
 */
#ifndef PKVM_TRACE_H
#define PKVM_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pkvm/record.h>

/** Errors the library reports; FORMAT.md "Errors" documents each. */
#define TRACE_ERROR_LIST(X)                                                    \
	X(OK, "ok")                                                            \
	X(IO, "I/O error")                                                     \
	X(NOMEM, "out of memory")                                              \
	X(TRUNCATED, "truncated file")                                         \
	X(BAD_MAGIC, "not a pkvm trace (bad magic)")                           \
	X(BAD_VERSION, "unsupported format version")                           \
	X(BAD_HEADER, "malformed file header")                                 \
	X(ZSTD, "zstd frame cannot be decoded")                                \
	X(CHECKSUM, "zstd frame checksum mismatch")                            \
	X(BAD_PAGE, "malformed page")                                          \
	X(PAGE_ORDER, "pages out of order")                                    \
	X(SEQ_BACKWARDS, "sequence number goes backwards")                     \
	X(RESERVED_BITS, "record has reserved bits set")                       \
	X(BAD_RECORD, "malformed record")                                      \
	X(BAD_SUMMARY, "malformed end summary")                                \
	X(BAD_SEEK_TABLE, "malformed seek table")                              \
	X(SKEW, "CPUs too far apart in the file to read in bounded memory")    \
	X(USAGE, "invalid argument")

enum trace_error_code {
#define TRACE_ERR_ENUM(name, str) TRACE_E_##name,
	TRACE_ERROR_LIST(TRACE_ERR_ENUM)
#undef TRACE_ERR_ENUM
};

/** A reader or writer error: what, where, and a sentence for a human. */
struct trace_error {
	enum trace_error_code code;
	uint64_t offset; /* byte offset in the file where it was detected */
	char message[256];
};

/** Short stable name of an error code ("TRUNCATED"). */
const char *trace_error_name(enum trace_error_code code);

/** Length of the header's `system` name, its NUL not counted. */
#define TRACE_SYSTEM_NAME_MAX 16

/**
 * The system our own hyp records as (FORMAT.md 5.1); files of formats 1.x
 * to 3.x, which have no `system` field, read as this one.
 */
#define TRACE_SYSTEM_HYP "pkvm-check-hyp"

/** What the file header holds (FORMAT.md "File header"). */
struct trace_info {
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t cpu_count;
	uint64_t counter_freq; /* Hz of the `ts` counter */
	uint32_t abi_version;  /* the producer's ABI version, per system */
	/*
	 * The system that produced the records ("pkvm-check-hyp",
	 * "linux-6.12"): it picks the checker's profile and gives
	 * `abi_version` its meaning. NUL-terminated; a writer given an empty
	 * name writes TRACE_SYSTEM_HYP.
	 */
	char system[TRACE_SYSTEM_NAME_MAX + 1];
	/*
	 * Free-form identity, "key=value" lines separated by '\n' (seed, ops,
	 * mode, hyp commit, QEMU command ...). NUL-terminated; may be empty.
	 */
	char identity[4096];
};

/**
 * How the recorded run ended (FORMAT.md 5.3), as the recorder saw it. Only
 * CLEAN describes a whole run; every other outcome leaves the trace a
 * prefix of what happened.
 */
#define TRACE_OUTCOME_LIST(X)                                                  \
	X(UNKNOWN, 0, "unknown", "the trace does not say how the run ended")   \
	X(CLEAN, 1, "clean", "the machine powered off")                        \
	X(PANIC, 2, "hyp-panic", "the hypervisor panicked")                    \
	X(TIMEOUT, 3, "timeout", "the recording timed out")                    \
	X(INTERRUPTED, 4, "interrupted", "the recording was interrupted")      \
	X(QEMU, 5, "qemu-failed", "QEMU failed or was killed")                 \
	X(RECORDER, 6, "recorder-failed",                                      \
	  "the recorder could not read or write everything")                   \
	X(RUNNING, 7, "running",                                               \
	  "the records were taken while the machine still ran")

enum trace_outcome {
#define TRACE_OUTCOME_ENUM(name, value, str, text) TRACE_OUTCOME_##name = value,
	TRACE_OUTCOME_LIST(TRACE_OUTCOME_ENUM)
#undef TRACE_OUTCOME_ENUM
};

/** Stable short name of an outcome ("hyp-panic"), or NULL if unknown. */
const char *trace_outcome_name(unsigned outcome);
/** A sentence saying what an outcome means, or NULL if unknown. */
const char *trace_outcome_text(unsigned outcome);

/**
 * Where a truncated file ends (FORMAT.md 7): after which frame, or inside
 * which. The sentence completes "the trace ends at offset N, ...".
 */
#define TRACE_CUT_LIST(X)                                                      \
	X(NONE, "where it should")                                             \
	X(NO_SUMMARY, "after its last whole data frame, with no end summary")  \
	X(NO_SEEK_TABLE, "after the end summary, with no seek table")          \
	X(FRAME_HEADER, "inside a frame's header")                             \
	X(DATA_FRAME, "inside a data frame")                                   \
	X(SUMMARY, "inside the end summary")                                   \
	X(SEEK_TABLE, "inside the seek table")                                 \
	X(SKIPPABLE, "inside a skippable frame")

enum trace_cut {
#define TRACE_CUT_ENUM(name, text) TRACE_CUT_##name,
	TRACE_CUT_LIST(TRACE_CUT_ENUM)
#undef TRACE_CUT_ENUM
};

/** The sentence for a cut ("inside the end summary"). */
const char *trace_cut_text(enum trace_cut cut);

/** A producer counter the recorder could not read (FORMAT.md 5.3). */
#define TRACE_COUNT_UNKNOWN UINT64_MAX

/** Per-CPU end summary (FORMAT.md "End summary"). */
struct trace_cpu_summary {
	uint64_t records;  /* records written to the file for this CPU */
	uint64_t lost;	   /* records lost (sum of LOST counts) */
	uint64_t last_seq; /* extended (64-bit) sequence of the last record */
	uint64_t pages;	   /* this CPU's pages in the file */
	/*
	 * 4.0: the producer's own counters at the end of the run, as the
	 * recorder read them: records it produced (dropped ones and its own
	 * LOST records included: the next sequence number) and records it
	 * dropped. TRACE_COUNT_UNKNOWN when not known (older formats, or the
	 * recorder could not read them).
	 */
	uint64_t produced;
	uint64_t dropped;
};

/** The run as the end summary describes it (4.0). */
struct trace_run {
	uint32_t outcome; /* enum trace_outcome */
	char why[128];	  /* the recorder's sentence, NUL-terminated */
};

/* ---- writer ---------------------------------------------------------- */

struct trace_writer;

/**
 * Create `path` and write the header. Returns NULL and fills `err` on
 * failure. The writer flushes each frame to the file as it fills, so a
 * killed process leaves a readable prefix.
 */
struct trace_writer *trace_writer_open(const char *path,
				       const struct trace_info *info,
				       struct trace_error *err);

/**
 * Append `count` records of `cpu`, in that CPU's sequence order (the
 * continuation records of an event included). Returns 0 or -1 with `err`.
 */
int trace_writer_add(struct trace_writer *w, unsigned cpu,
		     const struct pkvm_record *recs, size_t count,
		     struct trace_error *err);

/**
 * How the run ended, for the end summary (FORMAT.md 5.3): an outcome and
 * the recorder's sentence (may be NULL; cut at 127 bytes). A writer that is
 * never told writes TRACE_OUTCOME_UNKNOWN, which no reader takes for a
 * whole run.
 */
void trace_writer_set_outcome(struct trace_writer *w,
			      enum trace_outcome outcome, const char *why);

/**
 * The producer's own counters for `cpu` at the end of the run (records
 * produced, records dropped; TRACE_COUNT_UNKNOWN for either if not known),
 * stored in the end summary. Returns 0 or -1 with `err` (CPU out of range).
 */
int trace_writer_set_producer(struct trace_writer *w, unsigned cpu,
			      uint64_t produced, uint64_t dropped,
			      struct trace_error *err);

/** Close every open page and frame and write them. */
int trace_writer_flush(struct trace_writer *w, struct trace_error *err);

/**
 * Flush, write the end summary and the seek table, close the file, free
 * `w` (also on error). Returns 0 or -1 with `err`.
 */
int trace_writer_close(struct trace_writer *w, struct trace_error *err);

/* ---- reader ---------------------------------------------------------- */

struct trace_reader;

/** Open `path` ("-" for stdin: no seeking). NULL and `err` on failure. */
struct trace_reader *trace_reader_open(const char *path,
				       struct trace_error *err);

const struct trace_info *trace_reader_info(const struct trace_reader *r);

/**
 * Next record of `cpu` in sequence order. Returns 1 with a record, 0 at the
 * end of that CPU's stream, -1 on error (`err`; the records returned before
 * it stay valid). Unknown kinds of a newer minor version are skipped.
 */
int trace_reader_next(struct trace_reader *r, unsigned cpu,
		      struct pkvm_record *out, struct trace_error *err);

/**
 * Decompress the next frame on a second thread while the caller walks the
 * current one (FORMAT.md "Reading"): `on` or off; call before the first
 * record is read. Off by default. PKVM_TRACE_THREAD in the environment
 * overrides the choice: 1 turns the thread on, 0 (or anything else) off.
 * Records, checks and errors are the same either way. With the thread
 * running, fork() is unsafe until trace_reader_close.
 */
void trace_reader_prefetch(struct trace_reader *r, bool on);

/**
 * The next records of `cpu` in sequence order, where they lie in the
 * decoded frame, without copying them: points `*recs` at the first and
 * returns how many follow it there (1 or more: the rest of a page, up to a
 * record the reader skips), 0 at the end of that CPU's stream, -1 on error
 * (`err`). They have passed every check trace_reader_next makes, and stay
 * valid until the next call that reads `cpu` (or a seek, or close). Records
 * and errors come out in the same order as from trace_reader_next: a bad
 * record is reported when it is asked for, after the good ones before it.
 * The caller, not the reader, copies them.
 */
int trace_reader_next_run(struct trace_reader *r, unsigned cpu,
			  const struct pkvm_record **recs,
			  struct trace_error *err);

/**
 * Whether the run trace_reader_next_run last handed out for `cpu` is plain
 * throughout, beyond passing the reader's checks: each record's seq one
 * more than the one before it in the run (no loss inside it), each a head
 * of a kind the file's version defines, with the continuation count that
 * kind has and only its allowed flag bits, or the next continuation due
 * (its head's kind, its index, no other flag bits), the first ones
 * perhaps continuing an event begun before the run. So a caller that has
 * a head of such a run in hand, and its continuations in the run, need
 * not look at them again. False says nothing: most runs that are not
 * said plain are good too (the reader says it of pages taken whole).
 */
bool trace_reader_run_plain(const struct trace_reader *r, unsigned cpu);

/**
 * Whether trace_reader_next_run(`cpu`) would answer from what is decoded
 * already: the CPU's page has records left, or pages of it are queued, or
 * its stream (or the file) has ended. False when its next record lies in
 * frames not decoded yet: a reader that keeps several CPUs in step can
 * read the others first, instead of decoding ahead and holding their pages
 * for a CPU that has been quiet (the skew limit).
 */
bool trace_reader_cpu_ready(const struct trace_reader *r, unsigned cpu);

/**
 * Decode the next frame of the per-CPU cursor's stream, queueing its pages
 * on their CPUs, so that trace_reader_cpu_ready can be asked again: 1, 0
 * at the end of the data, -1 on error (`err`).
 */
int trace_reader_decode_more(struct trace_reader *r, struct trace_error *err);

/**
 * Next record of any CPU, in file order (dump, stats). Same returns.
 */
int trace_reader_next_any(struct trace_reader *r, struct pkvm_record *out,
			  struct trace_error *err);

/**
 * Position every cursor at the first frame that may hold records with
 * ts >= `ts`, using the seek table (no decompression of earlier frames).
 * Records before `ts` in that frame are still returned: callers filter.
 * Returns 0, or -1 with `err` (e.g. no seek table, stdin).
 */
int trace_reader_seek_time(struct trace_reader *r, uint64_t ts,
			   struct trace_error *err);

/** Offset in the file of the first frame after the file header. */
uint64_t trace_reader_data_offset(const struct trace_reader *r);

/** Offset in the file of the frame holding the last record returned. */
uint64_t trace_reader_offset(const struct trace_reader *r);

/**
 * True once the end of the data has been reached and the file ended
 * without an end summary/seek table, or in the middle of a frame: the
 * records read are the valid prefix. `*valid_end` gets the offset where
 * valid data ends.
 */
bool trace_reader_truncated(const struct trace_reader *r, uint64_t *valid_end);

/**
 * How a truncated file ends: TRACE_CUT_NONE unless trace_reader_truncated
 * says so; `*file_end` (may be NULL) gets the offset just past its last
 * byte.
 */
enum trace_cut trace_reader_cut(const struct trace_reader *r,
				uint64_t *file_end);

/**
 * Read and check the rest of the file, to its end: every record no cursor
 * has returned yet, every frame after the last one any cursor needed (a
 * per-CPU cursor stops reading a CPU when the end summary says it has no
 * more records), the end summary's checks of each CPU, the seek table, and
 * that nothing follows it. After it, trace_reader_truncated and
 * trace_reader_cut tell how the file ends, and a file has passed every
 * check this reader makes whether it was read from a path or a pipe, per
 * CPU or in file order. Returns 0, or -1 with `err`. Not after a seek.
 */
int trace_reader_finish(struct trace_reader *r, struct trace_error *err);

/** The end summary, or NULL if the file has none (truncated). */
const struct trace_cpu_summary *
trace_reader_summary(const struct trace_reader *r, unsigned cpu);

/**
 * How the run ended, from the end summary: NULL if the file has none (yet:
 * reading a pipe, the summary comes at the end). Files before 4.0 give
 * TRACE_OUTCOME_UNKNOWN.
 */
const struct trace_run *trace_reader_run(const struct trace_reader *r);

void trace_reader_close(struct trace_reader *r);

/**
 * Data frames decompressed so far (tests use it to show that a seek skips
 * the frames before the window).
 */
uint64_t trace_reader_frames_decoded(const struct trace_reader *r);

/**
 * Extended (64-bit, never wrapping) sequence number of the last record of
 * `cpu` read so far, or 0.
 */
uint64_t trace_reader_last_seq(const struct trace_reader *r, unsigned cpu);

/**
 * Extended sequence number of the first record of `cpu` read, or 0 (none
 * read). A whole stream starts at 0 (FORMAT.md 5.3).
 */
uint64_t trace_reader_first_seq(const struct trace_reader *r, unsigned cpu);

/* ---- names ----------------------------------------------------------- */

/** Printable name of a kind ("pte_write"), or NULL if unknown. */
const char *trace_kind_name(unsigned kind);
/** Kind for a printable name, or 0. */
unsigned trace_kind_from_name(const char *name);
/** Name of payload word `i` (0-based over head and continuations). */
const char *trace_field_name(unsigned kind, unsigned i);
const char *trace_hcall_name(unsigned id);
const char *trace_lock_name(unsigned id);
const char *trace_sysreg_name(unsigned id);
const char *trace_tlbi_name(unsigned op);
const char *trace_barrier_name(unsigned op);
const char *trace_nondet_name(unsigned what);
const char *trace_mark_name(unsigned what);
const char *trace_errno_name(int64_t value); /* -22 -> "EINVAL" */
const char *trace_region_name(unsigned what);
const char *trace_lock_role_name(unsigned role); /* bits 0-15 of `role` */
const char *trace_component_name(unsigned comp);

/*
 * The systems whose own tables (FORMAT.md 9.1) the names below know:
 * TRACE_SYS_HYP (our hyp, and any system without tables of its own) and
 * TRACE_SYS_LINUX612.
 */
enum trace_system { TRACE_SYS_HYP = 0, TRACE_SYS_LINUX612 = 1 };
/** The tables of the header's `system` name. */
enum trace_system trace_system_of(const char *system);
/** Hypercall `id`'s name as `sys` numbers them, or NULL. */
const char *trace_sys_hcall_name(enum trace_system sys, unsigned id);
/** Name of bit `bit` of BOOT `boot_flags` on `sys`, or NULL. */
const char *trace_sys_boot_flag_name(enum trace_system sys, unsigned bit);

#endif /* PKVM_TRACE_H */
