/* SPDX-License-Identifier: MIT */
/*
 * The end of a trace file: the seek table (zstd's seekable layout) and the
 * end summary it points at, read at open from a regular file, checked
 * against the frames as the stream passes them, and used to seek to a time.
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

	if (r->entries) {
		const struct rentry *e = &r->entries[idx];

		if (idx + 1 >= r->entry_count)
			return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
				    "zstd frame at offset %llu is not in the "
				    "seek table (it lists %zu data frames)",
				    (unsigned long long)offset,
				    r->entry_count - 2);
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
	if (r->seen_len + 2 > r->seen_cap) {
		size_t cap = r->seen_cap ? 2 * r->seen_cap : 256;
		uint32_t *p = realloc(r->seen, cap * sizeof(*p));

		if (!p)
			return FAIL(r, TRACE_E_NOMEM, offset,
				    "no memory for the frame list");
		r->seen = p;
		r->seen_cap = cap;
	}
	r->seen[r->seen_len++] = csize;
	r->seen[r->seen_len++] = dsize;
	return 0;
}

static int summary_frames(struct trace_reader *r, const uint8_t *p,
			  uint32_t count, uint64_t offset)
{
	r->frame_ts = malloc(((size_t)count + 1) * 2 * sizeof(uint64_t));
	if (!r->frame_ts)
		return FAIL(r, TRACE_E_NOMEM, offset,
			    "no memory for the frame index");
	for (uint32_t i = 0; i < count; i++, p += TRACE_SUMMARY_FRAME) {
		r->frame_ts[2 * i] = trace_le64(p);
		r->frame_ts[2 * i + 1] = trace_le64(p + 8);
		if (r->frame_ts[2 * i] > r->frame_ts[2 * i + 1])
			return FAIL(r, TRACE_E_BAD_SUMMARY, offset,
				    "end summary: frame %u ends (t=%llu) "
				    "before it starts (t=%llu)",
				    i,
				    (unsigned long long)r->frame_ts[2 * i + 1],
				    (unsigned long long)r->frame_ts[2 * i]);
	}
	r->frame_ts_count = count;
	return 0;
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
	uint64_t want = TRACE_SUMMARY_FIXED +
			(uint64_t)cpus * TRACE_SUMMARY_CPU +
			(uint64_t)frames * TRACE_SUMMARY_FRAME;
	uint64_t seen = r->entries ? r->entry_count - 2 : r->data_index;

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
	r->summary = calloc(cpus, sizeof(*r->summary));
	if (!r->summary)
		return FAIL(r, TRACE_E_NOMEM, offset,
			    "no memory for the summary");
	p += TRACE_SUMMARY_FIXED;
	for (uint32_t i = 0; i < cpus; i++, p += TRACE_SUMMARY_CPU) {
		r->summary[i].records = trace_le64(p);
		r->summary[i].lost = trace_le64(p + 8);
		r->summary[i].last_seq = trace_le64(p + 16);
	}
	r->have_summary = true;
	return with_frames ? summary_frames(r, p, frames, offset) : 0;
}

/**
 * Check a seek table met in the stream (stdin) against the frames read.
 * `p` is the skippable frame's payload of `len` bytes at `offset`.
 */
int reader_check_seek_table(struct trace_reader *r, const uint8_t *p,
			    uint32_t len, uint64_t offset)
{
	const uint8_t *foot = p + len - TRACE_SEEK_FOOTER_SIZE;
	uint32_t n, esize;

	if (len < TRACE_SEEK_FOOTER_SIZE ||
	    trace_le32(foot + 5) != TRACE_SEEKABLE_MAGIC || (foot[4] & 0x7C))
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
			    "seek table at offset %llu has a bad footer",
			    (unsigned long long)offset);
	if (r->entries || r->seeked)
		return 0; /* checked at open, frame by frame */
	n = trace_le32(foot);
	esize = (foot[4] & 0x80) ? 12 : 8;
	if ((uint64_t)n * esize + TRACE_SEEK_FOOTER_SIZE != len ||
	    n != r->seen_len / 2 + 2)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
			    "seek table at offset %llu lists %u frames, the "
			    "file has %zu",
			    (unsigned long long)offset, n, r->seen_len / 2 + 2);
	for (uint32_t i = 1; i + 1 < n; i++) {
		const uint8_t *e = p + (size_t)i * esize;

		if (trace_le32(e) != r->seen[2 * (i - 1)] ||
		    trace_le32(e + 4) != r->seen[2 * (i - 1) + 1])
			return FAIL(r, TRACE_E_BAD_SEEK_TABLE, offset,
				    "seek table entry %u disagrees with the "
				    "frame it lists",
				    i);
	}
	return 0;
}

/* Fill r->entries from a table of `n` entries of `esize` bytes. */
static int entries_parse(struct trace_reader *r, const uint8_t *p, uint32_t n,
			 uint32_t esize, uint64_t table_off)
{
	uint64_t off = 0;

	for (uint32_t i = 0; i < n; i++, p += esize) {
		struct rentry *e = &r->entries[i];
		bool skip = i == 0 || i + 1 == n;

		e->csize = trace_le32(p);
		e->dsize = trace_le32(p + 4);
		e->offset = off;
		off += e->csize;
		if (skip ? e->dsize != 0
			 : (e->dsize == 0 || e->dsize % TRACE_PAGE_SIZE ||
			    e->dsize > TRACE_MAX_FRAME_BYTES || e->csize == 0))
			return FAIL(r, TRACE_E_BAD_SEEK_TABLE, table_off,
				    "seek table entry %u (%u/%u bytes) is not "
				    "a valid frame",
				    i, e->csize, e->dsize);
	}
	if (off != table_off || r->entries[0].csize != r->header_size)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, table_off,
			    "seek table frames add up to %llu bytes, the table "
			    "is at offset %llu",
			    (unsigned long long)off,
			    (unsigned long long)table_off);
	r->entry_count = n;
	return 0;
}

static int tail_summary(struct trace_reader *r)
{
	const struct rentry *e = &r->entries[r->entry_count - 1];
	uint8_t head[8], *p;
	int rc = 0;

	if (reader_pread(r, head, 8, e->offset) != 8 || e->csize < 8 ||
	    trace_le32(head) != TRACE_SKIP_SUMMARY ||
	    trace_le32(head + 4) != e->csize - 8 ||
	    e->csize - 8 < TRACE_SUMMARY_FIXED)
		return FAIL(r, TRACE_E_BAD_SUMMARY, e->offset,
			    "no end summary at offset %llu where the seek "
			    "table puts it",
			    (unsigned long long)e->offset);
	p = malloc(e->csize - 8);
	if (!p)
		return FAIL(r, TRACE_E_NOMEM, e->offset,
			    "no memory for the summary");
	if (reader_pread(r, p, e->csize - 8, e->offset + 8) !=
	    (ssize_t)(e->csize - 8))
		rc = FAIL(r, TRACE_E_TRUNCATED, e->offset,
			  "end summary cut short");
	if (rc == 0)
		rc = reader_summary_parse(r, p, e->csize - 8, e->offset, true);
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
	uint8_t foot[TRACE_SEEK_FOOTER_SIZE], head[8], *p;
	uint64_t size = (uint64_t)lseek(r->fd, 0, SEEK_END), table_off;
	uint32_t n, esize;
	int rc;

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
	p = malloc((size_t)n * esize);
	r->entries = calloc(n, sizeof(*r->entries));
	if (!p || !r->entries) {
		free(p);
		return FAIL(r, TRACE_E_NOMEM, table_off,
			    "no memory for the seek table");
	}
	rc = reader_pread(r, p, (size_t)n * esize, table_off + 8) ==
			     (ssize_t)((size_t)n * esize)
		     ? entries_parse(r, p, n, esize, table_off)
		     : FAIL(r, TRACE_E_IO, table_off, "cannot read seek table");
	free(p);
	if (rc < 0) {
		free(r->entries);
		r->entries = NULL;
		return -1;
	}
	return tail_summary(r);
}
