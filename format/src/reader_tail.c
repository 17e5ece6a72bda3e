/* SPDX-License-Identifier: MIT */
/*
 * The end of a trace file: the seek table (zstd's seekable layout) and the
 * end summary it points at, read at open from a regular file, checked
 * against the frames as the stream passes them, and used to seek to a time.
 *
 * Both tables have an entry per data frame, so they stay in the file: open
 * checks them in windows of TRACE_TAIL_WINDOW entries, and later reads go
 * through the same window (reader_entry, reader_frame_find). A seek table
 * entry's offset is the sum of the compressed sizes before it: the window
 * carries it forward as the stream advances, and a jump backwards sums
 * again from the start of the table (a few preads of 8 bytes per frame,
 * small next to decoding the frames).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

/** Check a data frame against the seek table, or remember it (stdin). */
int reader_check_frame(struct trace_reader *r, uint32_t csize, uint32_t dsize,
		       uint64_t offset)
{
	size_t idx = (size_t)r->data_index + 1;

	if (r->have_table) {
		const struct rentry *e;

		if (idx + 1 >= r->entry_count)
			return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
				    "zstd frame at offset %llu is not in the "
				    "seek table (it lists %zu data frames)",
				    (unsigned long long)offset,
				    r->entry_count - 2);
		e = reader_entry(r, idx);
		if (!e)
			return -1;
		if (e->offset != offset || e->csize != csize ||
		    e->dsize != dsize)
			return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
				    "seek table entry %zu (offset %llu, %u/%u "
				    "bytes) disagrees with the frame at offset "
				    "%llu (%u/%u bytes)",
				    idx, (unsigned long long)e->offset,
				    e->csize, e->dsize,
				    (unsigned long long)offset, csize, dsize);
		return 0;
	}
	return reader_chain_add(r, &r->seen_sizes,
				(uint64_t)csize | (uint64_t)dsize << 32, 0,
				offset);
}

/* Read `n` entries of `size` bytes at `pos` into r->raw. */
static int raw_read(struct trace_reader *r, uint64_t pos, size_t n, size_t size,
		    int code, uint64_t off, const char *what)
{
	ssize_t got = reader_pread(r, r->raw, n * size, pos);

	if (got < 0)
		return -1;
	if ((size_t)got != n * size)
		return FAIL(r, code, off, "%s", what);
	return 0;
}

/* Read frame index entries [first, first + n) into r->raw. */
static int frame_ts_read(struct trace_reader *r, size_t first, size_t n,
			 uint64_t offset)
{
	return raw_read(r,
			r->frame_ts_pos + (uint64_t)first * TRACE_SUMMARY_FRAME,
			n, TRACE_SUMMARY_FRAME, TRACE_E_TRUNCATED, offset,
			"end summary cut short");
}

/* Check the summary's frame index of `count` entries, a window at a time. */
static int summary_frames(struct trace_reader *r, uint32_t count,
			  uint64_t offset)
{
	for (uint32_t at = 0; at < count;) {
		uint32_t n = count - at < TRACE_TAIL_WINDOW ? count - at
							    : TRACE_TAIL_WINDOW;

		if (frame_ts_read(r, at, n, offset) < 0)
			return -1;
		for (uint32_t k = 0; k < n; k++) {
			const uint8_t *p =
				r->raw + (size_t)k * TRACE_SUMMARY_FRAME;
			uint64_t first = trace_le64(p),
				 last = trace_le64(p + 8);

			if (first > last)
				return FAIL(
					r, TRACE_E_BAD_SUMMARY, offset,
					"end summary: frame %u ends "
					"(t=%llu) before it starts (t=%llu)",
					at + k, (unsigned long long)last,
					(unsigned long long)first);
		}
		at += n;
	}
	r->frame_ts_count = count;
	r->have_frame_ts = true;
	return 0;
}

/**
 * The first data frame whose last timestamp is `ts` or later (FORMAT.md
 * 5.3), scanning the frame index on disk a window at a time; the scan is
 * linear, not a binary search, so a non-monotonic index gives the same
 * frame as ever. Sets *index (frame_ts_count if none); -1 on error.
 */
int reader_frame_find(struct trace_reader *r, uint64_t ts, uint64_t *index)
{
	for (size_t at = 0; at < r->frame_ts_count;) {
		size_t n = r->frame_ts_count - at < TRACE_TAIL_WINDOW
				   ? r->frame_ts_count - at
				   : TRACE_TAIL_WINDOW;

		if (frame_ts_read(r, at, n, r->frame_ts_pos) < 0)
			return -1;
		for (size_t k = 0; k < n; k++)
			if (trace_le64(r->raw + k * TRACE_SUMMARY_FRAME + 8) >=
			    ts) {
				*index = at + k;
				return 0;
			}
		at += n;
	}
	*index = r->frame_ts_count;
	return 0;
}

/* Frame index entry `i` (< frame_ts_count) through a window of them. */
static int frame_ts_entry(struct trace_reader *r, size_t i, uint64_t *first,
			  uint64_t *last)
{
	if (i < r->ts_base || i >= r->ts_base + r->ts_len) {
		size_t n = r->frame_ts_count - i < TRACE_TAIL_WINDOW
				   ? r->frame_ts_count - i
				   : TRACE_TAIL_WINDOW;

		if (!r->ts_win) {
			r->ts_win = malloc(2 * TRACE_TAIL_WINDOW *
					   sizeof(*r->ts_win));
			if (!r->ts_win)
				return FAIL(r, TRACE_E_NOMEM, r->frame_ts_pos,
					    "no memory for the frame index");
		}
		r->ts_len = 0;
		if (frame_ts_read(r, i, n, r->frame_ts_pos) < 0)
			return -1;
		for (size_t k = 0; k < 2 * n; k++)
			r->ts_win[k] = trace_le64(r->raw + 8 * k);
		r->ts_base = i;
		r->ts_len = n;
	}
	*first = r->ts_win[2 * (i - r->ts_base)];
	*last = r->ts_win[2 * (i - r->ts_base) + 1];
	return 0;
}

/**
 * A data frame was decoded (the data_index-th): its records' time range
 * must be the one the summary's frame index gives it (FORMAT.md 5.3; 0
 * and 0 for a frame without records). With the index read at open, it is
 * compared at once; reading a pipe, it goes into a chain to compare the
 * index with when it comes (reader_summary_times).
 */
int reader_check_frame_ts(struct trace_reader *r, const struct rframe *f)
{
	uint64_t first, last;

	if (!r->have_frame_ts)
		return r->seeked ? 0
				 : reader_chain_add(r, &r->seen_times, f->ts_lo,
						    f->ts_hi, f->offset);
	if (r->data_index >= r->frame_ts_count)
		return 0; /* more frames than listed: the seek table says so */
	if (frame_ts_entry(r, (size_t)r->data_index, &first, &last) < 0)
		return -1;
	if (first != f->ts_lo || last != f->ts_hi)
		return FAIL(r, TRACE_E_BAD_SUMMARY, f->offset,
			    "end summary gives data frame %llu (offset %llu) "
			    "the time range t=%llu..%llu, its records span "
			    "t=%llu..%llu",
			    (unsigned long long)r->data_index,
			    (unsigned long long)f->offset,
			    (unsigned long long)first, (unsigned long long)last,
			    (unsigned long long)f->ts_lo,
			    (unsigned long long)f->ts_hi);
	return 0;
}

static void index_at(const void *ctx, uint64_t t, uint64_t *a, uint64_t *b)
{
	const uint8_t *e = (const uint8_t *)ctx + (t - 1) * TRACE_SUMMARY_FRAME;

	*a = trace_le64(e);
	*b = trace_le64(e + 8);
}

/**
 * The frame index of a summary met in the stream, `frames` entries at
 * `index` (in memory), against the time ranges of the frames read.
 */
int reader_summary_times(struct trace_reader *r, const uint8_t *index,
			 uint32_t frames, uint64_t offset)
{
	uint64_t lo, hi;

	if (frames != r->seen_times.count ||
	    reader_chain_check(&r->seen_times, index_at, index, &lo, &hi))
		return 0;
	if (lo == hi)
		return FAIL(r, TRACE_E_BAD_SUMMARY, offset,
			    "end summary at offset %llu: the time range of "
			    "data frame %llu disagrees with its records",
			    (unsigned long long)offset,
			    (unsigned long long)lo - 1);
	return FAIL(r, TRACE_E_BAD_SUMMARY, offset,
		    "end summary at offset %llu: the time range of a data "
		    "frame among %llu..%llu disagrees with its records",
		    (unsigned long long)offset, (unsigned long long)lo - 1,
		    (unsigned long long)hi - 1);
}

/**
 * Parse an end summary payload of `len` bytes at file offset `offset`.
 * `p` holds the whole payload if `with_frames`, else only the fixed and
 * per-CPU parts (the stream reader skips the frame index).
 */
int reader_summary_parse(struct trace_reader *r, const uint8_t *p, uint32_t len,
			 uint64_t offset, bool with_frames)
{
	uint32_t cpus = trace_le32(p + 8), frames = trace_le32(p + 12);
	uint64_t want = r->summary_fixed + (uint64_t)cpus * r->summary_cpu +
			(uint64_t)frames * TRACE_SUMMARY_FRAME;
	bool v4 = r->summary_fixed == TRACE_SUMMARY_FIXED;
	uint64_t seen = r->have_table ? r->entry_count - 2 : r->data_index;

	if (memcmp(p, TRACE_SUMMARY_MAGIC, TRACE_MAGIC_LEN) != 0 ||
	    cpus != r->info.cpu_count || want != len)
		return FAIL(r, TRACE_E_BAD_SUMMARY, offset,
			    "end summary at offset %llu is malformed (%u CPUs, "
			    "%u frames in %u bytes; header says %u CPUs)",
			    (unsigned long long)offset, cpus, frames, len,
			    r->info.cpu_count);
	if (frames != seen && !r->seeked)
		return FAIL(r, TRACE_E_BAD_SUMMARY, offset,
			    "end summary lists %u data frames, the file has "
			    "%llu",
			    frames, (unsigned long long)seen);
	if (v4 &&
	    (!trace_outcome_name(trace_le32(p + 16)) ||
	     trace_le32(p + 20) != 0 || p[24 + TRACE_SUMMARY_WHY - 1] != 0))
		return FAIL(r, TRACE_E_BAD_SUMMARY, offset,
			    "end summary at offset %llu gives the run an "
			    "unknown outcome %u, or nonzero reserved bytes",
			    (unsigned long long)offset, trace_le32(p + 16));
	r->summary = calloc(cpus, sizeof(*r->summary));
	if (!r->summary)
		return FAIL(r, TRACE_E_NOMEM, offset,
			    "no memory for the summary");
	memset(&r->run, 0, sizeof(r->run));
	if (v4) {
		r->run.outcome = trace_le32(p + 16);
		memcpy(r->run.why, p + 24, TRACE_SUMMARY_WHY);
	}
	p += r->summary_fixed;
	for (uint32_t i = 0; i < cpus; i++, p += r->summary_cpu) {
		struct trace_cpu_summary *s = &r->summary[i];

		s->records = trace_le64(p);
		s->lost = trace_le64(p + 8);
		s->last_seq = trace_le64(p + 16);
		s->pages = trace_le64(p + 24);
		s->produced = v4 ? trace_le64(p + 32) : TRACE_COUNT_UNKNOWN;
		s->dropped = v4 ? trace_le64(p + 40) : TRACE_COUNT_UNKNOWN;
	}
	r->have_summary = true;
	return with_frames ? summary_frames(r, frames, offset) : 0;
}

/**
 * Check the footer of a seek table met in the stream (at offset `offset`);
 * `foot` is NULL if the table is too short to hold one.
 */
int reader_check_seek_footer(struct trace_reader *r, const uint8_t *foot,
			     uint64_t offset)
{
	if (!foot || trace_le32(foot + 5) != TRACE_SEEKABLE_MAGIC ||
	    (foot[4] & 0x7C))
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
			    "seek table at offset %llu has a bad footer",
			    (unsigned long long)offset);
	return 0;
}

/* A seek table in memory, for reader_chain_check: data frame t's sizes. */
struct table_view {
	const uint8_t *p;
	uint32_t esize;
};

static void table_at(const void *ctx, uint64_t t, uint64_t *a, uint64_t *b)
{
	const struct table_view *v = ctx;
	const uint8_t *e = v->p + (size_t)t * v->esize;

	*a = (uint64_t)trace_le32(e) | (uint64_t)trace_le32(e + 4) << 32;
	*b = 0;
}

/**
 * Check a seek table met in the stream (stdin) against the frames read:
 * entry 0 the file header, then every data frame, then the end summary
 * just read, and nothing else. `p` is the skippable frame's payload of
 * `len` bytes at `offset`.
 */
int reader_check_seek_table(struct trace_reader *r, const uint8_t *p,
			    uint32_t len, uint64_t offset)
{
	const uint8_t *foot, *last;
	struct table_view v = { p, 8 };
	uint64_t data = r->seen_sizes.count, lo, hi;
	uint32_t n;

	if (reader_check_seek_footer(r,
				     len < TRACE_SEEK_FOOTER_SIZE
					     ? NULL
					     : p + len - TRACE_SEEK_FOOTER_SIZE,
				     offset) < 0)
		return -1;
	if (r->have_table || r->seeked)
		return 0; /* checked at open, frame by frame */
	if (!r->stream_summary)
		return FAIL(r, TRACE_E_BAD_SUMMARY, offset,
			    "no end summary before the seek table at offset "
			    "%llu",
			    (unsigned long long)offset);
	foot = p + len - TRACE_SEEK_FOOTER_SIZE;
	n = trace_le32(foot);
	v.esize = (foot[4] & 0x80) ? 12 : 8;
	if ((uint64_t)n * v.esize + TRACE_SEEK_FOOTER_SIZE != len ||
	    n != data + 2)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
			    "seek table at offset %llu lists %u frames, the "
			    "file has %llu",
			    (unsigned long long)offset, n,
			    (unsigned long long)data + 2);
	last = p + (size_t)(n - 1) * v.esize;
	if (trace_le32(p) != r->header_size || trace_le32(p + 4) != 0 ||
	    trace_le32(last) != r->summary_size || trace_le32(last + 4) != 0)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
			    "seek table at offset %llu gives the file header "
			    "or the end summary another size",
			    (unsigned long long)offset);
	if (reader_chain_check(&r->seen_sizes, table_at, &v, &lo, &hi))
		return 0;
	if (lo == hi)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
			    "seek table entry %llu disagrees with the frame "
			    "it lists",
			    (unsigned long long)lo);
	return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
		    "a seek table entry among %llu..%llu disagrees with the "
		    "frame it lists",
		    (unsigned long long)lo, (unsigned long long)hi);
}

/* Read seek table entries [first, first + n) into r->raw. */
static int entries_read(struct trace_reader *r, size_t first, size_t n)
{
	uint64_t table_off = r->table_pos - 8;

	return raw_read(r, r->table_pos + (uint64_t)first * r->entry_size, n,
			r->entry_size, TRACE_E_IO, table_off,
			"cannot read seek table");
}

/*
 * Make entry `i` (< entry_count) the window's, reading TRACE_TAIL_WINDOW
 * entries from it on. The offset of entry `i` is summed from the nearest
 * point known: the window's end when reading forward, else entry 0.
 */
static int window_load(struct trace_reader *r, size_t i)
{
	size_t at = 0, n;
	uint64_t off = 0;

	if (r->win_len && i >= r->win_base + r->win_len) {
		const struct rentry *last = &r->win[r->win_len - 1];

		at = r->win_base + r->win_len;
		off = last->offset + last->csize;
	}
	while (at < i) {
		n = i - at < TRACE_TAIL_WINDOW ? i - at : TRACE_TAIL_WINDOW;
		if (entries_read(r, at, n) < 0)
			return -1;
		for (size_t k = 0; k < n; k++)
			off += trace_le32(r->raw + k * r->entry_size);
		at += n;
	}
	n = r->entry_count - i < TRACE_TAIL_WINDOW ? r->entry_count - i
						   : TRACE_TAIL_WINDOW;
	r->win_len = 0;
	if (entries_read(r, i, n) < 0)
		return -1;
	for (size_t k = 0; k < n; k++) {
		const uint8_t *p = r->raw + k * r->entry_size;

		r->win[k].csize = trace_le32(p);
		r->win[k].dsize = trace_le32(p + 4);
		r->win[k].offset = off;
		off += r->win[k].csize;
	}
	r->win_base = i;
	r->win_len = n;
	return 0;
}

/** Seek table entry `i` (< entry_count), or NULL on error (r->err). */
const struct rentry *reader_entry(struct trace_reader *r, size_t i)
{
	if (i < r->win_base || i >= r->win_base + r->win_len)
		if (window_load(r, i) < 0)
			return NULL;
	return &r->win[i - r->win_base];
}

/*
 * Check the whole table of `n` entries, a window at a time, as it was
 * checked when it was read into memory. Sets *last to the offset of the
 * last frame (the summary).
 */
static int entries_check(struct trace_reader *r, uint32_t n, uint64_t table_off,
			 uint64_t *last)
{
	uint64_t off = 0;
	uint32_t first_csize = 0;

	for (uint32_t at = 0; at < n;) {
		uint32_t m =
			n - at < TRACE_TAIL_WINDOW ? n - at : TRACE_TAIL_WINDOW;

		if (entries_read(r, at, m) < 0)
			return -1;
		for (uint32_t k = 0; k < m; k++) {
			const uint8_t *p = r->raw + (size_t)k * r->entry_size;
			uint32_t i = at + k, csize = trace_le32(p);
			uint32_t dsize = trace_le32(p + 4);
			bool skip = i == 0 || i + 1 == n;

			if (i == 0)
				first_csize = csize;
			*last = off;
			off += csize;
			if (skip ? dsize != 0
				 : (dsize == 0 || dsize % TRACE_PAGE_SIZE ||
				    dsize > TRACE_MAX_FRAME_BYTES ||
				    csize == 0))
				return FAIL(r, TRACE_E_BAD_SEEK_TABLE,
					    table_off,
					    "seek table entry %u (%u/%u bytes) "
					    "is not a valid frame",
					    i, csize, dsize);
		}
		at += m;
	}
	if (off != table_off || first_csize != r->header_size)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, table_off,
			    "seek table frames add up to %llu bytes, the table "
			    "is at offset %llu",
			    (unsigned long long)off,
			    (unsigned long long)table_off);
	return 0;
}

/*
 * The end summary at `off`, `csize` bytes with its frame header: its
 * fixed and per-CPU parts are read into memory, its frame index is only
 * checked (summary_frames) and left in the file.
 */
static int tail_summary(struct trace_reader *r, uint64_t off, uint32_t csize)
{
	size_t head = reader_summary_head(r);
	uint8_t hdr[8], *p;
	uint32_t len;
	int rc = 0;

	if (reader_pread(r, hdr, 8, off) != 8 || csize < 8 ||
	    trace_le32(hdr) != TRACE_SKIP_SUMMARY ||
	    trace_le32(hdr + 4) != csize - 8 || csize - 8 < r->summary_fixed)
		return FAIL(r, TRACE_E_BAD_SUMMARY, off,
			    "no end summary at offset %llu where the seek "
			    "table puts it",
			    (unsigned long long)off);
	len = csize - 8;
	/* A shorter payload fails reader_summary_parse before its CPUs. */
	if (head > len)
		head = len;
	p = malloc(head);
	if (!p)
		return FAIL(r, TRACE_E_NOMEM, off, "no memory for the summary");
	if (reader_pread(r, p, head, off + 8) != (ssize_t)head)
		rc = FAIL(r, TRACE_E_TRUNCATED, off, "end summary cut short");
	r->frame_ts_pos = off + 8 + reader_summary_head(r);
	if (rc == 0)
		rc = reader_summary_parse(r, p, len, off, true);
	free(p);
	return rc;
}

/**
 * Read the seek table and end summary from the end of a regular file. A
 * file without the seekable footer has no tail (it may be truncated); one
 * with the footer must have a consistent table.
 */
int reader_tail_load(struct trace_reader *r)
{
	uint8_t foot[TRACE_SEEK_FOOTER_SIZE], head[8];
	uint64_t size = (uint64_t)lseek(r->fd, 0, SEEK_END), table_off;
	uint64_t last = 0;
	uint32_t n, esize;

	lseek(r->fd, (off_t)(r->in_off + r->in_len), SEEK_SET);
	if (size < r->header_size + 8 + TRACE_SEEK_FOOTER_SIZE ||
	    reader_pread(r, foot, sizeof(foot), size - sizeof(foot)) !=
		    (ssize_t)sizeof(foot) ||
	    trace_le32(foot + 5) != TRACE_SEEKABLE_MAGIC)
		return r->failed ? -1 : 0;
	n = trace_le32(foot);
	esize = (foot[4] & 0x80) ? 12 : 8;
	table_off = size - 8 - (uint64_t)n * esize - TRACE_SEEK_FOOTER_SIZE;
	if ((foot[4] & 0x7C) || n < 2 ||
	    8 + (uint64_t)n * esize + TRACE_SEEK_FOOTER_SIZE > size ||
	    reader_pread(r, head, 8, table_off) != 8 ||
	    trace_le32(head) != TRACE_SKIP_SEEK ||
	    trace_le32(head + 4) !=
		    (uint64_t)n * esize + TRACE_SEEK_FOOTER_SIZE)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, size - sizeof(foot),
			    "seek table footer at offset %llu does not match "
			    "a seek table of %u frames",
			    (unsigned long long)(size - sizeof(foot)), n);
	r->raw = malloc((size_t)TRACE_TAIL_WINDOW * TRACE_SUMMARY_FRAME);
	r->win = calloc(TRACE_TAIL_WINDOW, sizeof(*r->win));
	if (!r->raw || !r->win)
		return FAIL(r, TRACE_E_NOMEM, table_off,
			    "no memory for the seek table");
	r->table_pos = table_off + 8;
	r->entry_size = esize;
	r->entry_count = n;
	if (entries_check(r, n, table_off, &last) < 0)
		return -1;
	r->have_table = true;
	return tail_summary(r, last, (uint32_t)(table_off - last));
}
