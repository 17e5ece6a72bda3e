/* SPDX-License-Identifier: MIT */
/*
 * The reader's state, shared by its parts: reader.c (input, header,
 * frame loop), reader_pool.c (the decoded frames held), reader_tail.c
 * (seek table and end summary), reader_records.c (record checks, the two
 * cursors, seeking), reader_pagesum.c (the pages' decoding, and what a
 * page's records say of themselves, for the cursor to take it whole),
 * reader_chain.c (what a pipe reader remembers of the frames) and
 * reader_prefetch.c (the optional decompression thread).
 */
#ifndef PKVM_FORMAT_READER_H
#define PKVM_FORMAT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include <zstd.h>

#include <pkvm/trace.h>

#include "internal.h"

/*
 * Decoded frames the reader may hold at once (the per-CPU cursor keeps
 * frames whose pages other CPUs have not read yet). 48 MiB of frames keeps
 * the reader's peak RSS under 64 MiB whatever the file's length.
 */
#define TRACE_SKEW_LIMIT (48u << 20)

/*
 * Decoded bytes of frames a seekable reader keeps at most while CPUs are
 * far apart (reader_pool.c): past it, frames waiting for a CPU that lags
 * are dropped, to be read and decoded again when it gets there. So the
 * reader's memory stays the same whatever the trace's length, while the
 * skew limit above keeps its meaning.
 */
#define TRACE_RESIDENT_LIMIT (12u << 20)

/**
 * What a page's records say of themselves, computed where its frame is
 * decoded (on the prefetch thread when there is one) and independent of
 * the cursor's state (reader_pagesum.c): whether every record is plainly
 * good relative to the one before it, by run_fast's conditions
 * (reader_records.c), and how the page starts and ends. The cursor then
 * joins it to its state in O(1) instead of walking the records.
 */
struct rpagesum {
	uint64_t seq_span;  /* sum of the seq steps after the first record */
	uint64_t lost;	    /* sum of the LOST counts of its heads */
	uint32_t first_seq; /* the first record's 32-bit seq */
	uint8_t records;    /* records in the page (at most 127) */
	bool ok;	    /* every record plainly good; else none of this */
	bool head;	    /* a head record is among them */
	/* Its leading continuation records: how many, their kind and the
	 * first one's index (its flags' kind and count bits). */
	uint8_t lead_count, lead_kind, lead_first;
	/* After its last record, if a head was seen: the continuations
	 * still open, the next one's index, their kind. */
	uint8_t end_left, end_next, end_kind;
};

/*
 * A frame buffer of `cap` decoded bytes (a whole number of pages) holds a
 * struct rpagesum per page after them, so the summaries move with the
 * buffer (reader_pool.c) and the memory stays bounded with it (1% more).
 */
static inline size_t reader_buffer_bytes(size_t cap)
{
	return cap + cap / TRACE_PAGE_SIZE * sizeof(struct rpagesum);
}

static inline struct rpagesum *reader_buffer_sums(uint8_t *data, size_t cap)
{
	return (struct rpagesum *)(void *)(data + cap);
}

/*
 * The records a decoded page holds by its header's `used`, or -1 if that
 * is out of bounds (not a whole number of records, or past the page):
 * page_check rejects such a page, and what runs before it leaves it alone.
 */
static inline int reader_page_records(const uint8_t *page)
{
	uint32_t used = trace_le32(page + 12);

	if (used % PKVM_RECORD_SIZE ||
	    used > TRACE_PAGE_SIZE - TRACE_PAGE_HEADER)
		return -1;
	return (int)(used / PKVM_RECORD_SIZE);
}

/** One decoded zstd frame of pages. */
struct rframe {
	uint8_t *data;
	size_t cap;
	size_t size;	 /* decoded bytes, a whole number of pages */
	unsigned refs;	 /* pages of it still queued or being read */
	uint64_t offset; /* file offset of the zstd frame */
	/* The smallest and largest `ts` of its records, 0 and 0 if it has
	 * none (for the summary's frame index, FORMAT.md 5.3). */
	uint64_t ts_lo, ts_hi;
	uint32_t csize; /* its compressed bytes, to read it again */
	/* A sum of its page headers as checked (reader_pages_sum): a frame
	 * read again must have the same, since its pages are not checked
	 * again (reader_pool.c). */
	uint64_t hdr_sum;
	bool busy;
	bool dropped; /* busy, its buffer given to another (reader_pool.c) */
};

/** A page waiting in a CPU's queue: which frame, which page of it. */
struct rpage {
	uint32_t frame;
	uint32_t index;
};

/** Per-CPU cursor and the checks that follow a CPU's stream. */
struct rcpu {
	struct rpage *q; /* ring of queued pages */
	size_t qcap, qhead, qlen;
	const struct pkvm_record *rec; /* next record of the current page */
	unsigned left;		       /* records left in the current page */
	int cur_frame;		       /* frame of the current page, or -1 */
	uint64_t cur_offset;	       /* its file offset */
	unsigned cur_page;	       /* its index in the frame */
	bool page_started;	       /* a page of this CPU was seen */
	bool page_fresh; /* nothing of the current page was read yet */
	uint32_t next_page_seq;
	uint32_t page_seq_hi; /* seq_hi of the current page */
	bool seq_started;
	uint64_t ext_seq;   /* extended seq of the last record */
	uint64_t first_seq; /* ... and of the first */
	unsigned cont_left, cont_next;
	uint8_t cont_kind;
	bool skipping; /* continuations of an unknown kind */
	bool syncing;  /* after a seek: drop leading continuations */
	uint64_t records;
	uint64_t lost;	/* sum of the LOST counts read */
	uint64_t pages; /* pages of this CPU begun */
	bool ended;
	/* The run page_run last handed out is a page taken whole with no
	 * seq gap in it (trace_reader_run_plain). */
	bool run_plain;
	/* A bad record met after a run of good ones: its error, for when
	 * the caller asks for it (reader_records.c, page_run). */
	bool bad;
	struct trace_error bad_err;
};

/*
 * Frames the prefetch thread may decode ahead of the caller: a constant
 * (8 MiB of 256 KiB frames, beside the limits above: reader_pool.c),
 * whatever the trace's length. The caller tops the queue up only once half
 * of it is collected, so a worker that is ahead is woken once per
 * TRACE_PREFETCH_DEPTH / 2 frames, not per frame. The depth is for bursts:
 * when a quiet CPU's records are far ahead, the per-CPU cursor collects
 * tens of frames at once, and what the worker has not decoded by then the
 * caller decodes itself. With 4, the caller decoded 18% of the frames of a
 * 57M-record linux-6.12 trace (1,226 of 6,900); with 32, 2% (135; 4-5%
 * since the worker also sums the pages up), at 10 MiB more peak RSS on
 * long and short traces alike; with 64, 0.4%, but the long trace's peak
 * grew 12% over the short one's.
 */
#define TRACE_PREFETCH_DEPTH 32u

/** One frame handed to the prefetch thread. */
struct rjob_frame {
	int state;    /* JOB_* (reader_prefetch.c), under the job's lock */
	uint8_t *src; /* copy of the compressed frame */
	size_t src_cap, csize;
	uint8_t *dst; /* the slot's buffer */
	size_t dst_cap, dsize, result;
	struct rpagesum *sums; /* the buffer's page summaries, or NULL */
	int slot;
	uint64_t offset;       /* file offset of the frame */
	uint64_t ts_lo, ts_hi; /* reader_pages_decode's time range */
};

/**
 * The prefetch thread (design section 8): while the caller walks records,
 * it decompresses the next frames into reserved pool slots and decodes
 * their pages' deltas (reader_pages_decode), both pure. Every check and
 * every change to the reader's state stays on the caller's thread, in
 * file order. When the caller needs a frame the worker is still on, it
 * decodes a later queued one itself meanwhile (bursts of frames, as when
 * a quiet CPU's records are far ahead, then run on both cores).
 */
struct rjob {
	pthread_t thread;
	bool wanted; /* trace_reader_prefetch: on unless the environment says */
	bool started, disabled;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	bool worker_idle, caller_waiting, quit; /* under `lock` */
	ZSTD_DCtx *dctx;
	/* The reader's tables for reader_pages_decode's summaries, read-only
	 * once the header is read, so the worker may read them too. */
	const uint8_t *head_bits, *head_flags;
	struct rjob_frame f[TRACE_PREFETCH_DEPTH];
	unsigned head, count; /* submitted, not collected (caller's) */
};

/*
 * Seek table or frame index entries read from the file at once. 1024 keeps
 * the window at 16 KiB parsed plus 16 KiB raw, and a whole 50M-record trace
 * (12,000 frames) in a dozen preads per pass.
 */
#define TRACE_TAIL_WINDOW 1024u

/*
 * What a pipe reader remembers of the data frames, to check a table that
 * only comes at the end (the seek table, the summary's frame index)
 * against them in bounded memory: a hash chain of one pair of values per
 * frame, with checkpoints of it every `stride` frames (reader_chain.c).
 */
struct rchain {
	uint64_t count; /* values added */
	uint64_t hash;
	uint64_t stride;
	uint64_t *ck; /* at most TRACE_TAIL_WINDOW checkpoints */
	size_t ck_len;
};

/** Seek table entry, with the offset it implies. */
struct rentry {
	uint32_t csize;
	uint32_t dsize;
	uint64_t offset;
};

struct trace_reader {
	int fd;
	bool seekable;
	struct trace_info info;
	uint64_t header_size;
	/* What the file's major version defines: its last kind and the last
	 * minor this reader knows entirely (reader.c, header_read). */
	unsigned max_kind, known_minor;
	/* For each kind, what a good head record's flags are once its
	 * allowed kind bits are masked off (its continuation count), or
	 * 0xff for a kind the common path leaves to the full checks, and
	 * those bits (reader_records.c, run_fast). */
	uint8_t head_flags[256], head_bits[256];
	/* Its layout: fixed header bytes, fixed and per-CPU summary bytes. */
	uint32_t header_fixed, summary_fixed, summary_cpu;

	/* Input buffer: bytes [in_pos, in_len) are unread; in[0] is at
	 * file offset in_off. */
	uint8_t *in;
	size_t in_cap, in_pos, in_len;
	uint64_t in_off;
	bool in_eof;

	ZSTD_DCtx *dctx;
	struct rframe *frames;
	size_t frame_slots;
	size_t pool_bytes;    /* decoded buffers allocated */
	size_t dropped_bytes; /* decoded bytes of the dropped frames */
	int pin_frame;	      /* a frame that must stay, or -1 */
	uint8_t *reload;      /* compressed bytes of a dropped frame */
	size_t reload_cap;
	struct rcpu *cpus;
	int mode;	   /* 0 unset, 1 per CPU, 2 file order */
	int any_frame;	   /* file-order cursor: frame being read */
	unsigned any_page; /* its next page */
	unsigned any_cpu;  /* CPU of the page being read */
	bool any_cpu_valid;

	/* Frame loop. */
	uint64_t data_index; /* number of the next data frame */
	/* Data frames read from a pipe, to check its seek table and the
	 * summary's frame index against (reader_tail.c): their sizes and
	 * their records' time ranges. */
	struct rchain seen_sizes, seen_times;
	/* Skippable frames of other magics met, and the first one's offset:
	 * a seek table lists every frame, so a file with one has none. */
	uint64_t other_frames, other_offset;
	bool at_end, truncated, stream_summary;
	uint64_t summary_size; /* bytes of the summary frame read in it */
	uint64_t valid_end;
	/* How a truncated file ends (trace_reader_cut): where, and the
	 * offset of its last byte + 1. */
	enum trace_cut cut;
	uint64_t file_end;
	uint64_t frames_decoded;
	uint64_t last_offset;

	/*
	 * Tail of a regular file, checked at open but left on disk: the seek
	 * table and the summary's frame index grow with the trace, so they
	 * are read through a window of TRACE_TAIL_WINDOW entries
	 * (reader_tail.c) and the reader's memory stays independent of the
	 * trace's length.
	 */
	bool have_table;
	uint64_t table_pos; /* file offset of seek table entry 0 */
	uint32_t entry_size;
	size_t entry_count;
	struct rentry *win; /* entries [win_base, win_base + win_len) */
	size_t win_base, win_len;
	uint8_t *raw; /* pread buffer, TRACE_TAIL_WINDOW 16-byte entries */
	struct trace_cpu_summary *summary;
	struct trace_run run; /* from the summary */
	bool have_summary;
	bool have_frame_ts;
	uint64_t frame_ts_pos; /* file offset of the summary's frame index */
	size_t frame_ts_count;
	/* Frame index entries [ts_base, ts_base + ts_len) (first, last). */
	uint64_t *ts_win;
	size_t ts_base, ts_len;
	bool seeked;

	struct rjob job;

	bool failed;
	struct trace_error err;
};

/* reader.c */
#define FAIL(r, code, off, ...)                                                \
	(trace_set_error(&(r)->err, (code), (off), __VA_ARGS__),               \
	 (r)->failed = true, -1)
int reader_load_frame(struct trace_reader *r);
ssize_t reader_in_fill(struct trace_reader *r, size_t n, bool quiet);
int reader_pages_check(struct trace_reader *r, int slot);
/** The sum of a decoded frame's page headers, or 0 if one's `used` is out
 * of bounds (no frame that passed reader_pages_check has 0). */
uint64_t reader_pages_sum(const uint8_t *data, size_t size);
int reader_frame_done(struct trace_reader *r, int slot, uint64_t csize);
int reader_in_seek(struct trace_reader *r, uint64_t offset);
ssize_t reader_pread(struct trace_reader *r, void *buf, size_t len,
		     uint64_t offset);

/* reader_pool.c */
int reader_slot_get(struct trace_reader *r, size_t dsize, uint64_t offset,
		    bool quiet);
void reader_release(struct trace_reader *r, int frame);
int reader_frame_keep(struct trace_reader *r, int frame);
void reader_pool_reset(struct trace_reader *r);

/* reader_prefetch.c */
void reader_prefetch_next(struct trace_reader *r);
int reader_prefetch_collect(struct trace_reader *r);
void reader_prefetch_cancel(struct trace_reader *r);
void reader_prefetch_stop(struct trace_reader *r);

/* The summary's fixed and per-CPU bytes for `r`'s version and CPUs. */
static inline size_t reader_summary_head(const struct trace_reader *r)
{
	return r->summary_fixed + (size_t)r->info.cpu_count * r->summary_cpu;
}

/* reader_records.c */
void reader_records_setup(struct trace_reader *r);

/* reader_pagesum.c */
void reader_pages_decode(uint8_t *data, size_t size, uint64_t *ts_lo,
			 uint64_t *ts_hi, const uint8_t *head_bits,
			 const uint8_t *head_flags, struct rpagesum *sums);
unsigned reader_pagesum_take(const struct trace_reader *r, struct rcpu *c);

/*
 * Whether frames decoded now get page summaries: not for the file-order
 * cursor, which reads one record at a time and never takes a page whole
 * (a reader never leaves that mode, so the per-CPU cursor, which takes
 * pages whole only in its own mode, never meets a frame without them).
 */
static inline bool reader_pagesum_wanted(const struct trace_reader *r)
{
	return r->mode != 2;
}

/* reader_tail.c */
int reader_tail_load(struct trace_reader *r);
int reader_summary_parse(struct trace_reader *r, const uint8_t *p, uint32_t len,
			 uint64_t offset, bool with_frames);
int reader_check_seek_footer(struct trace_reader *r, const uint8_t *foot,
			     uint64_t offset);
int reader_check_seek_table(struct trace_reader *r, const uint8_t *p,
			    uint32_t len, uint64_t offset);
int reader_check_frame(struct trace_reader *r, uint32_t csize, uint32_t dsize,
		       uint64_t offset);
const struct rentry *reader_entry(struct trace_reader *r, size_t i);
int reader_frame_find(struct trace_reader *r, uint64_t ts, uint64_t *index);
int reader_check_frame_ts(struct trace_reader *r, const struct rframe *f);
int reader_summary_times(struct trace_reader *r, const uint8_t *index,
			 uint32_t frames, uint64_t offset);

/* reader_chain.c */
int reader_chain_add(struct trace_reader *r, struct rchain *c, uint64_t a,
		     uint64_t b, uint64_t offset);
bool reader_chain_check(const struct rchain *c,
			void (*at)(const void *ctx, uint64_t t, uint64_t *a,
				   uint64_t *b),
			const void *ctx, uint64_t *lo, uint64_t *hi);
void reader_chain_free(struct rchain *c);

/*
 * One step of the plain common case of the record checks, shared by the
 * cursor's run_fast and the page summaries (reader_pagesum.c): the event
 * under way, and the LOST counts its heads added.
 */
struct rec_walk {
	unsigned left; /* its continuations still due */
	unsigned next; /* the index of the next one */
	unsigned kind; /* its head's kind */
	uint64_t lost;
};

/*
 * Take record `x` if it plainly follows: the next continuation due, or,
 * with none due, a known kind's good head (the reader's tables,
 * reader_records_setup). Returns false, changing nothing, otherwise. The
 * record's CPU and sequence number are the caller's to check.
 */
static inline bool rec_walk_take(struct rec_walk *w,
				 const struct pkvm_record *x,
				 const uint8_t *head_bits,
				 const uint8_t *head_flags)
{
	unsigned flags = x->flags, k = x->kind;

	if (flags & PKVM_REC_F_CONT) {
		if (!w->left || k != w->kind ||
		    (flags & (PKVM_REC_F_KIND_MASK | PKVM_REC_F_NCONT_MASK)) !=
			    w->next)
			return false;
		w->next++;
		w->left--;
		return true;
	}
	if (w->left || (flags & ~(unsigned)head_bits[k]) != head_flags[k])
		return false;
	w->kind = k;
	w->next = 1;
	w->left = flags & PKVM_REC_F_NCONT_MASK;
	if (k == PKVM_EV_LOST)
		w->lost += x->a;
	return true;
}

#endif /* PKVM_FORMAT_READER_H */
