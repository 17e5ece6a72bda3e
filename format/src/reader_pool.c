/* SPDX-License-Identifier: MIT */
/*
 * The reader's pool of decoded frames (FORMAT.md "Reading"). A frame stays
 * while pages of it wait in a CPU's queue or are being read; the per-CPU
 * cursor may so hold frames far apart in the file when one CPU's records
 * come much later than the others'. Two limits:
 *
 * - TRACE_SKEW_LIMIT on the decoded bytes of every frame held, the dropped
 *   ones below included: past it the file cannot be read per CPU (SKEW).
 * - TRACE_RESIDENT_LIMIT on the decoded bytes kept in memory, for a file
 *   read from a path: past it, the held frame furthest in the file that no
 *   cursor is reading is dropped, its buffer given to the new frame, and it
 *   is read and decoded again (reader_frame_keep) when a CPU reaches its
 *   pages, which are then near. Its pages were checked when first decoded;
 *   the second decoding must give the same frame (size, time range and a
 *   sum of its page headers).
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

/* True if a cursor reads `frame` or a caller holds it by hand. */
static bool frame_pinned(const struct trace_reader *r, size_t frame)
{
	if ((int)frame == r->pin_frame || (int)frame == r->any_frame)
		return true;
	for (unsigned i = 0; i < r->info.cpu_count; i++)
		if (r->cpus[i].cur_frame == (int)frame)
			return true;
	return false;
}

/*
 * The frame to drop for a buffer of `dsize` bytes, other than `keep`: the
 * held one furthest in the file that only queued pages need. -1 if none.
 */
static int frame_victim(const struct trace_reader *r, size_t dsize, int keep)
{
	int best = -1;

	for (size_t i = 0; i < r->frame_slots; i++) {
		const struct rframe *f = &r->frames[i];

		if (!f->busy || f->dropped || !f->refs || f->cap < dsize ||
		    (int)i == keep || frame_pinned(r, i))
			continue;
		if (best < 0 || f->offset > r->frames[best].offset)
			best = (int)i;
	}
	return best;
}

/* Move frame `from`'s buffer to `to`, whose own buffer is freed. */
static void buffer_move(struct trace_reader *r, int from, int to)
{
	struct rframe *src = &r->frames[from], *dst = &r->frames[to];

	free(dst->data);
	r->pool_bytes -= dst->cap;
	dst->data = src->data;
	dst->cap = src->cap;
	src->data = NULL;
	src->cap = 0;
}

/*
 * Decoded bytes of the frames queued for the prefetch thread and not yet
 * collected (reader_prefetch.c): a bounded allowance (TRACE_PREFETCH_DEPTH
 * frames) on top of both limits, which are about the frames the cursors
 * hold. Counted in them, a deep queue would make the pool drop held frames
 * (each read and decoded again on the caller's thread) and would shrink
 * the skew a file may have.
 */
static size_t prefetch_bytes(const struct trace_reader *r)
{
	const struct rjob *j = &r->job;
	size_t n = 0;

	for (unsigned i = 0; i < j->count; i++)
		n += r->frames[j->f[(j->head + i) % TRACE_PREFETCH_DEPTH].slot]
			     .cap;
	return n;
}

/*
 * Give frame `to` a buffer of `dsize` bytes by dropping another frame, if
 * the resident limit says so and there is one to drop. Returns true if so.
 */
static bool buffer_from_victim(struct trace_reader *r, int to, size_t dsize,
			       size_t allow)
{
	int v;

	if (!r->seekable || r->pool_bytes - r->frames[to].cap + dsize <=
				    TRACE_RESIDENT_LIMIT + allow)
		return false;
	v = frame_victim(r, dsize, to);
	if (v < 0)
		return false;
	r->frames[v].dropped = true;
	r->dropped_bytes += r->frames[v].size;
	buffer_move(r, v, to);
	return true;
}

/* A frame entry not in use, preferring one with a big enough buffer;
 * -1 without memory for a new entry. */
static int slot_free(struct trace_reader *r, size_t dsize)
{
	struct rframe *f;
	size_t i, any = r->frame_slots;

	for (i = 0; i < r->frame_slots; i++) {
		if (r->frames[i].busy)
			continue;
		if (r->frames[i].cap >= dsize)
			return (int)i;
		if (any == r->frame_slots)
			any = i;
	}
	if (any < r->frame_slots)
		return (int)any;
	f = realloc(r->frames, (i + 1) * sizeof(*f));
	if (!f)
		return -1;
	r->frames = f;
	memset(&f[i], 0, sizeof(*f));
	r->frame_slots++;
	return (int)i;
}

/*
 * A free slot able to hold `dsize` decoded bytes. Holding more than
 * TRACE_SKEW_LIMIT means the caller wants pages too far apart in the file.
 * `quiet`: for the prefetch queue (within its allowance), and -1 without
 * an error when there is no room.
 */
int reader_slot_get(struct trace_reader *r, size_t dsize, uint64_t offset,
		    bool quiet)
{
	int i = slot_free(r, dsize);
	size_t allow = prefetch_bytes(r) + (quiet ? dsize : 0);
	struct rframe *f;

	if (i < 0)
		return quiet ? -1
			     : FAIL(r, TRACE_E_NOMEM, offset,
				    "no memory for frame slots");
	f = &r->frames[i];
	if (f->cap < dsize) {
		uint8_t *p;

		if (r->pool_bytes + r->dropped_bytes - f->cap + dsize >
		    TRACE_SKEW_LIMIT + allow)
			return quiet ? -1
				     : FAIL(r, TRACE_E_SKEW, offset,
					    "reading one CPU would hold more "
					    "than %u MiB of other CPUs' pages; "
					    "read in file order instead",
					    TRACE_SKEW_LIMIT >> 20);
		if (!buffer_from_victim(r, i, dsize, allow)) {
			p = realloc(f->data, reader_buffer_bytes(dsize));
			if (!p)
				return quiet ? -1
					     : FAIL(r, TRACE_E_NOMEM, offset,
						    "no memory for a decoded "
						    "frame");
			r->pool_bytes += dsize - f->cap;
			f->data = p;
			f->cap = dsize;
		}
	}
	f->busy = true;
	f->dropped = false;
	f->refs = 0;
	f->size = 0;
	f->offset = offset;
	return i;
}

/** Drop one reference to a frame; the last one frees the slot. */
void reader_release(struct trace_reader *r, int frame)
{
	struct rframe *f = &r->frames[frame];

	if (f->refs > 0)
		f->refs--;
	if (f->refs == 0) {
		f->busy = false;
		if (f->dropped)
			r->dropped_bytes -= f->size;
		f->dropped = false;
	}
}

/* Read and decode a dropped frame again into its (new) buffer. */
static int frame_reload(struct trace_reader *r, int frame)
{
	struct rframe *f = &r->frames[frame];
	uint64_t lo, hi;
	ssize_t got;
	size_t size;

	if (r->reload_cap < f->csize) {
		uint8_t *p = realloc(r->reload, f->csize);

		if (!p)
			return FAIL(r, TRACE_E_NOMEM, f->offset,
				    "no memory to read a frame again");
		r->reload = p;
		r->reload_cap = f->csize;
	}
	got = reader_pread(r, r->reload, f->csize, f->offset);
	if (got < 0)
		return -1;
	size = (size_t)got < f->csize
		       ? 0
		       : ZSTD_decompressDCtx(r->dctx, f->data, f->cap,
					     r->reload, f->csize);
	if (!ZSTD_isError(size) && size == f->size) {
		reader_pages_decode(
			f->data, f->size, &lo, &hi, r->head_bits, r->head_flags,
			reader_pagesum_wanted(r)
				? reader_buffer_sums(f->data, f->cap)
				: NULL);
		/* Its pages are read on unchecked: their headers must be
		 * those page_check passed (and `used` in bounds). */
		if (lo == f->ts_lo && hi == f->ts_hi &&
		    reader_pages_sum(f->data, f->size) == f->hdr_sum)
			return 0;
	}
	return FAIL(r, TRACE_E_IO, f->offset,
		    "zstd frame at offset %llu reads differently the second "
		    "time: the file changed while it was read",
		    (unsigned long long)f->offset);
}

/**
 * Make sure a held frame's pages are in memory: a dropped one gets a
 * buffer (a free one, a new one within the resident limit, or another
 * frame's) and is read again. Returns 0, or -1 with r->err.
 */
int reader_frame_keep(struct trace_reader *r, int frame)
{
	struct rframe *f = &r->frames[frame];
	size_t size = f->size;
	int j;

	if (!f->dropped)
		return 0;
	for (j = 0; j < (int)r->frame_slots; j++)
		if (!r->frames[j].busy && r->frames[j].cap >= size)
			break;
	if (j < (int)r->frame_slots) {
		buffer_move(r, j, frame);
	} else if (!buffer_from_victim(r, frame, size, prefetch_bytes(r))) {
		f->data = malloc(reader_buffer_bytes(size));
		if (!f->data)
			return FAIL(r, TRACE_E_NOMEM, f->offset,
				    "no memory for a decoded frame");
		f->cap = size;
		r->pool_bytes += size;
	}
	f->dropped = false;
	r->dropped_bytes -= size;
	return frame_reload(r, frame);
}

/** Forget every frame held (a seek): the buffers stay for reuse. */
void reader_pool_reset(struct trace_reader *r)
{
	for (size_t i = 0; i < r->frame_slots; i++) {
		r->frames[i].busy = false;
		r->frames[i].dropped = false;
		r->frames[i].refs = 0;
	}
	r->dropped_bytes = 0;
	r->pin_frame = -1;
}
