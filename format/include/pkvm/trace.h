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

/** What the file header holds (FORMAT.md "File header"). */
struct trace_info {
	uint16_t version_major;
	uint16_t version_minor;
	uint32_t cpu_count;
	uint64_t counter_freq; /* Hz of the `ts` counter */
	uint32_t abi_version;  /* PKVM_ABI_VERSION of the producer */
	/*
	 * Free-form identity, "key=value" lines separated by '\n' (seed, ops,
	 * mode, hyp commit, QEMU command ...). NUL-terminated; may be empty.
	 */
	char identity[4096];
};

/** Per-CPU end summary (FORMAT.md "End summary"). */
struct trace_cpu_summary {
	uint64_t records;  /* records written to the file for this CPU */
	uint64_t lost;	   /* records lost (sum of LOST counts) */
	uint64_t last_seq; /* extended (64-bit) sequence of the last record */
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

/** Offset in the file of the frame holding the last record returned. */
uint64_t trace_reader_offset(const struct trace_reader *r);

/**
 * True once the end of the data has been reached and the file ended
 * without an end summary/seek table, or in the middle of a frame: the
 * records read are the valid prefix. `*valid_end` gets the offset where
 * valid data ends.
 */
bool trace_reader_truncated(const struct trace_reader *r, uint64_t *valid_end);

/** The end summary, or NULL if the file has none (truncated). */
const struct trace_cpu_summary *
trace_reader_summary(const struct trace_reader *r, unsigned cpu);

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

#endif /* PKVM_TRACE_H */
