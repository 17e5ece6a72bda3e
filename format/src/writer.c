/* SPDX-License-Identifier: MIT */
/*
 * Trace writer (FORMAT.md "File container"). Records arrive per CPU; each
 * CPU fills its own 4 KiB page; full pages are appended to the frame being
 * built, and a full frame is compressed and written at once, so the file on
 * disk is always a readable prefix. Memory is one page per CPU, one frame,
 * its compressed copy, and 16 bytes of index per frame written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include <pkvm/trace.h>

#include "internal.h"

/** One CPU's open page and running totals for the summary. */
struct trace_wcpu {
	uint8_t page[TRACE_PAGE_SIZE];
	unsigned count;	      /* records in `page` */
	uint32_t page_seq;    /* number of the open page */
	uint64_t lost_before; /* LOST counts in pages already closed */
	uint64_t lost;	      /* LOST counts so far, open page included */
	uint64_t records;
	uint64_t last_seq;  /* extended */
	uint64_t first_ext; /* extended seq of the open page's first record */
	uint64_t min_ts;    /* timestamp range of the open page */
	uint64_t max_ts;
	uint64_t pages;
	uint64_t produced; /* the producer's counters (set_producer) */
	uint64_t dropped;
	size_t page_frame; /* frames written when the open page began */
	unsigned pending;  /* continuations the last head still expects */
};

/** Where each written frame is and the timestamps it covers. */
struct trace_wframe {
	uint32_t csize;
	uint32_t dsize;
	uint64_t first_ts;
	uint64_t last_ts;
};

struct trace_writer {
	int fd;
	uint64_t offset; /* bytes written so far */
	unsigned cpu_count;
	struct trace_wcpu *cpus;
	ZSTD_CCtx *cctx;
	uint8_t *frame; /* TRACE_FRAME_PAGES pages being gathered */
	unsigned frame_pages;
	uint64_t frame_first_ts;
	uint64_t frame_last_ts;
	uint8_t *cbuf; /* compressed frame */
	size_t cbuf_size;
	struct trace_wframe *frames; /* index, entry 0 is the header frame */
	size_t frame_count;
	size_t frame_cap;
	struct trace_run run; /* for the end summary (set_outcome) */
};

static int write_all(struct trace_writer *w, const void *buf, size_t len,
		     struct trace_error *err)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			trace_set_error(err, TRACE_E_IO, w->offset,
					"write failed: %s", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
		w->offset += (uint64_t)n;
	}
	return 0;
}

static int index_push(struct trace_writer *w, uint32_t csize, uint32_t dsize,
		      struct trace_error *err)
{
	if (w->frame_count == w->frame_cap) {
		size_t cap = w->frame_cap ? w->frame_cap * 2 : 64;
		struct trace_wframe *f = realloc(w->frames, cap * sizeof(*f));

		if (!f) {
			trace_set_error(err, TRACE_E_NOMEM, w->offset,
					"no memory for the frame index");
			return -1;
		}
		w->frames = f;
		w->frame_cap = cap;
	}
	w->frames[w->frame_count++] = (struct trace_wframe){
		.csize = csize,
		.dsize = dsize,
		.first_ts = w->frame_first_ts,
		.last_ts = w->frame_last_ts,
	};
	return 0;
}

/* Write a skippable frame with `magic` around `payload`. */
static int write_skippable(struct trace_writer *w, uint32_t magic,
			   const uint8_t *payload, size_t len,
			   struct trace_error *err)
{
	uint8_t head[8];

	trace_put32(head, magic);
	trace_put32(head + 4, (uint32_t)len);
	if (write_all(w, head, sizeof(head), err) < 0)
		return -1;
	return write_all(w, payload, len, err);
}

static size_t header_size(const struct trace_info *info)
{
	return TRACE_HEADER_FIXED + PKVM_EV_MAX_KNOWN * TRACE_EVENT_ENTRY +
	       strnlen(info->identity, sizeof(info->identity) - 1);
}

static void header_fill(uint8_t *p, const struct trace_info *info)
{
	size_t idlen = strnlen(info->identity, sizeof(info->identity) - 1);
	uint8_t *e = p + TRACE_HEADER_FIXED;

	size_t slen = strnlen(info->system, TRACE_SYSTEM_NAME_MAX);

	memcpy(p, TRACE_HEADER_MAGIC, TRACE_MAGIC_LEN);
	trace_put16(p + 8, TRACE_VERSION_MAJOR);
	trace_put16(p + 10, TRACE_VERSION_MINOR);
	trace_put32(p + 12, info->cpu_count);
	trace_put64(p + 16, info->counter_freq);
	trace_put32(p + 24, info->abi_version);
	trace_put32(p + 28, TRACE_PAGE_SIZE);
	trace_put32(p + 32, TRACE_FRAME_PAGES);
	trace_put32(p + 36, PKVM_EV_MAX_KNOWN);
	trace_put32(p + 40, (uint32_t)idlen);
	/* 44: reserved. 48: the system, NUL-padded (calloc'd). */
	if (slen)
		memcpy(p + 48, info->system, slen);
	else
		memcpy(p + 48, TRACE_SYSTEM_HYP, strlen(TRACE_SYSTEM_HYP));
		/* The event table lets a tool name kinds it was not built with.
		 */
#define PKVM_EVENT(name, value, ncont, str, fields)                            \
	e[0] = value;                                                          \
	e[1] = ncont;                                                          \
	strncpy((char *)e + 8, str, TRACE_EVENT_NAME_LEN);                     \
	e += TRACE_EVENT_ENTRY;
#include <pkvm/events.def>
	memcpy(e, info->identity, idlen);
}

static int writer_header(struct trace_writer *w, const struct trace_info *info,
			 struct trace_error *err)
{
	size_t len = header_size(info);
	uint8_t *p = calloc(1, len);
	int rc;

	if (!p) {
		trace_set_error(err, TRACE_E_NOMEM, 0, "no memory for header");
		return -1;
	}
	header_fill(p, info);
	rc = write_skippable(w, TRACE_SKIP_HEADER, p, len, err);
	free(p);
	if (rc == 0)
		rc = index_push(w, (uint32_t)(len + 8), 0, err);
	return rc;
}

static int writer_alloc(struct trace_writer *w, unsigned cpus)
{
	w->cpus = calloc(cpus, sizeof(*w->cpus));
	w->cctx = ZSTD_createCCtx();
	w->frame = malloc((size_t)TRACE_FRAME_PAGES * TRACE_PAGE_SIZE);
	w->cbuf_size = ZSTD_compressBound(TRACE_FRAME_PAGES * TRACE_PAGE_SIZE);
	w->cbuf = malloc(w->cbuf_size);
	if (!w->cpus || !w->cctx || !w->frame || !w->cbuf)
		return -1;
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel,
			       TRACE_ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
	return 0;
}

static void writer_free(struct trace_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	ZSTD_freeCCtx(w->cctx);
	free(w->cpus);
	free(w->frame);
	free(w->cbuf);
	free(w->frames);
	free(w);
}

/** See trace.h. */
struct trace_writer *trace_writer_open(const char *path,
				       const struct trace_info *info,
				       struct trace_error *err)
{
	struct trace_writer *w;

	if (!path || !info || info->cpu_count == 0 ||
	    info->cpu_count > TRACE_MAX_CPUS) {
		trace_set_error(err, TRACE_E_USAGE, 0,
				"trace_writer_open: need a path and 1..%u CPUs",
				TRACE_MAX_CPUS);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		trace_set_error(err, TRACE_E_NOMEM, 0, "no memory for writer");
		return NULL;
	}
	w->fd = -1;
	w->cpu_count = info->cpu_count;
	if (writer_alloc(w, info->cpu_count) < 0) {
		trace_set_error(err, TRACE_E_NOMEM, 0, "no memory for writer");
		writer_free(w);
		return NULL;
	}
	for (unsigned i = 0; i < w->cpu_count; i++)
		w->cpus[i].produced = w->cpus[i].dropped = TRACE_COUNT_UNKNOWN;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		trace_set_error(err, TRACE_E_IO, 0, "cannot create %s: %s",
				path, strerror(errno));
		writer_free(w);
		return NULL;
	}
	if (writer_header(w, info, err) < 0) {
		writer_free(w);
		return NULL;
	}
	return w;
}

/* Compress the gathered pages as one frame and write it. */
static int frame_emit(struct trace_writer *w, struct trace_error *err)
{
	size_t dsize = (size_t)w->frame_pages * TRACE_PAGE_SIZE;
	size_t csize;

	if (w->frame_pages == 0)
		return 0;
	csize = ZSTD_compress2(w->cctx, w->cbuf, w->cbuf_size, w->frame, dsize);
	if (ZSTD_isError(csize)) {
		trace_set_error(err, TRACE_E_ZSTD, w->offset,
				"zstd compression failed: %s",
				ZSTD_getErrorName(csize));
		return -1;
	}
	if (index_push(w, (uint32_t)csize, (uint32_t)dsize, err) < 0)
		return -1;
	w->frame_pages = 0;
	return write_all(w, w->cbuf, csize, err);
}

/* Widen the frame's timestamp range by a page's. */
static void frame_note_ts(struct trace_writer *w, uint64_t lo, uint64_t hi)
{
	if (w->frame_pages == 0) {
		w->frame_first_ts = lo;
		w->frame_last_ts = hi;
		return;
	}
	if (lo < w->frame_first_ts)
		w->frame_first_ts = lo;
	if (hi > w->frame_last_ts)
		w->frame_last_ts = hi;
}

/* Close `c`'s open page: stamp its header and move it into the frame. */
static int page_close(struct trace_writer *w, unsigned cpu,
		      struct trace_error *err)
{
	struct trace_wcpu *c = &w->cpus[cpu];
	uint8_t *dst = w->frame + (size_t)w->frame_pages * TRACE_PAGE_SIZE;

	if (c->count == 0)
		return 0;
	frame_note_ts(w, c->min_ts, c->max_ts);
	trace_put32(c->page, TRACE_PAGE_MAGIC);
	trace_put16(c->page + 4, (uint16_t)cpu);
	trace_put16(c->page + 6, 0);
	trace_put32(c->page + 8, c->page_seq);
	trace_put32(c->page + 12, c->count * PKVM_RECORD_SIZE);
	trace_put64(c->page + 16, c->lost_before);
	trace_put32(c->page + 24, (uint32_t)(c->first_ext >> 32));
	trace_put32(c->page + 28, 0);
	memcpy(dst, c->page, TRACE_PAGE_HEADER + c->count * PKVM_RECORD_SIZE);
	trace_page_delta_encode((struct pkvm_record *)(dst + TRACE_PAGE_HEADER),
				c->count);
	memset(dst + TRACE_PAGE_HEADER + c->count * PKVM_RECORD_SIZE, 0,
	       TRACE_PAGE_SIZE - TRACE_PAGE_HEADER -
		       c->count * PKVM_RECORD_SIZE);
	c->count = 0;
	c->page_seq++;
	c->pages++;
	c->lost_before = c->lost;
	if (++w->frame_pages == TRACE_FRAME_PAGES)
		return frame_emit(w, err);
	return 0;
}

/* Append one record to `cpu`'s page, closing the page first if the event
 * the record starts would not fit whole. */
static int add_one(struct trace_writer *w, unsigned cpu,
		   const struct pkvm_record *rec, struct trace_error *err)
{
	struct trace_wcpu *c = &w->cpus[cpu];
	unsigned need = 1;
	uint64_t ext;

	if (!(rec->flags & PKVM_REC_F_CONT))
		need += rec->flags & PKVM_REC_F_NCONT_MASK;
	if (c->count + need > TRACE_PAGE_RECORDS && page_close(w, cpu, err))
		return -1;
	memcpy(c->page + TRACE_PAGE_HEADER + c->count * PKVM_RECORD_SIZE, rec,
	       PKVM_RECORD_SIZE);
	c->count++;
	/* The writer stores what it is given; only the reader judges it. */
	if (c->records == 0)
		ext = rec->seq;
	else if (trace_seq_extend(c->last_seq, rec->seq, &ext) < 0)
		ext = (c->last_seq & ~0xFFFFFFFFull) | rec->seq;
	c->last_seq = ext;
	c->records++;
	if (rec->kind == PKVM_EV_LOST && !(rec->flags & PKVM_REC_F_CONT))
		c->lost += rec->a;
	if (rec->flags & PKVM_REC_F_CONT)
		c->pending -= c->pending > 0;
	else
		c->pending = rec->flags & PKVM_REC_F_NCONT_MASK;
	if (c->count == 1) {
		c->page_frame = w->frame_count;
		c->first_ext = ext;
		c->min_ts = rec->ts;
		c->max_ts = rec->ts;
	}
	if (rec->ts < c->min_ts)
		c->min_ts = rec->ts;
	if (rec->ts > c->max_ts)
		c->max_ts = rec->ts;
	return 0;
}

/*
 * Close the pages of quiet CPUs. A page is written only when it closes, so
 * a CPU that records little would otherwise land far behind the others in
 * the file, and a per-CPU reader would have to queue everything between.
 * Closing any page that has been open for TRACE_PAGE_MAX_AGE frames bounds
 * that distance (FORMAT.md 4). A page waiting for an event's continuations
 * stays open so the event is not split.
 */
static int pages_age(struct trace_writer *w, struct trace_error *err)
{
	for (unsigned cpu = 0; cpu < w->cpu_count; cpu++) {
		struct trace_wcpu *c = &w->cpus[cpu];

		if (c->count && !c->pending &&
		    w->frame_count - c->page_frame >= TRACE_PAGE_MAX_AGE &&
		    page_close(w, cpu, err) < 0)
			return -1;
	}
	return 0;
}

/** See trace.h. */
int trace_writer_add(struct trace_writer *w, unsigned cpu,
		     const struct pkvm_record *recs, size_t count,
		     struct trace_error *err)
{
	if (!w || cpu >= w->cpu_count || (count && !recs)) {
		trace_set_error(err, TRACE_E_USAGE, w ? w->offset : 0,
				"trace_writer_add: CPU %u out of range", cpu);
		return -1;
	}
	for (size_t i = 0; i < count; i++)
		if (add_one(w, cpu, &recs[i], err) < 0)
			return -1;
	return pages_age(w, err);
}

/** See trace.h. */
int trace_writer_flush(struct trace_writer *w, struct trace_error *err)
{
	if (!w) {
		trace_set_error(err, TRACE_E_USAGE, 0, "no writer");
		return -1;
	}
	for (unsigned cpu = 0; cpu < w->cpu_count; cpu++)
		if (page_close(w, cpu, err) < 0)
			return -1;
	return frame_emit(w, err);
}

_Static_assert(sizeof(((struct trace_run *)0)->why) == TRACE_SUMMARY_WHY,
	       "the reason fills the summary's field");

/** See trace.h. */
void trace_writer_set_outcome(struct trace_writer *w,
			      enum trace_outcome outcome, const char *why)
{
	if (!w)
		return;
	w->run.outcome = (uint32_t)outcome;
	memset(w->run.why, 0, sizeof(w->run.why));
	if (why)
		strncpy(w->run.why, why, sizeof(w->run.why) - 1);
}

/** See trace.h. */
int trace_writer_set_producer(struct trace_writer *w, unsigned cpu,
			      uint64_t produced, uint64_t dropped,
			      struct trace_error *err)
{
	if (!w || cpu >= w->cpu_count) {
		trace_set_error(err, TRACE_E_USAGE, w ? w->offset : 0,
				"trace_writer_set_producer: CPU %u out of "
				"range",
				cpu);
		return -1;
	}
	w->cpus[cpu].produced = produced;
	w->cpus[cpu].dropped = dropped;
	return 0;
}

/*
 * The end summary: how the run ended, per-CPU totals with the producers'
 * counters, then each data frame's time range.
 */
static int write_summary(struct trace_writer *w, struct trace_error *err)
{
	size_t data_frames = w->frame_count - 1;
	size_t len = TRACE_SUMMARY_FIXED + w->cpu_count * TRACE_SUMMARY_CPU +
		     data_frames * TRACE_SUMMARY_FRAME;
	uint8_t *p = calloc(1, len), *q;
	int rc;

	if (!p) {
		trace_set_error(err, TRACE_E_NOMEM, w->offset,
				"no memory for the end summary");
		return -1;
	}
	memcpy(p, TRACE_SUMMARY_MAGIC, TRACE_MAGIC_LEN);
	trace_put32(p + 8, w->cpu_count);
	trace_put32(p + 12, (uint32_t)data_frames);
	trace_put32(p + 16, w->run.outcome);
	/* 20: reserved; 24: the reason, NUL-padded. */
	memcpy(p + 24, w->run.why, strnlen(w->run.why, TRACE_SUMMARY_WHY - 1));
	q = p + TRACE_SUMMARY_FIXED;
	for (unsigned i = 0; i < w->cpu_count; i++, q += TRACE_SUMMARY_CPU) {
		trace_put64(q, w->cpus[i].records);
		trace_put64(q + 8, w->cpus[i].lost);
		trace_put64(q + 16, w->cpus[i].last_seq);
		trace_put64(q + 24, w->cpus[i].pages);
		trace_put64(q + 32, w->cpus[i].produced);
		trace_put64(q + 40, w->cpus[i].dropped);
	}
	for (size_t i = 1; i <= data_frames; i++, q += TRACE_SUMMARY_FRAME) {
		trace_put64(q, w->frames[i].first_ts);
		trace_put64(q + 8, w->frames[i].last_ts);
	}
	rc = write_skippable(w, TRACE_SKIP_SUMMARY, p, len, err);
	free(p);
	if (rc == 0)
		rc = index_push(w, (uint32_t)(len + 8), 0, err);
	return rc;
}

/*
 * The seek table in zstd's seekable layout. Every frame before it is an
 * entry, the header and summary skippable frames included (with a
 * decompressed size of 0), so the entries' compressed sizes add up to the
 * table's own offset, as zstd's seekable decoder expects.
 */
static int write_seek_table(struct trace_writer *w, struct trace_error *err)
{
	size_t len =
		w->frame_count * TRACE_SEEK_ENTRY_SIZE + TRACE_SEEK_FOOTER_SIZE;
	uint8_t *p = malloc(len), *q = p;
	int rc;

	if (!p) {
		trace_set_error(err, TRACE_E_NOMEM, w->offset,
				"no memory for the seek table");
		return -1;
	}
	for (size_t i = 0; i < w->frame_count;
	     i++, q += TRACE_SEEK_ENTRY_SIZE) {
		trace_put32(q, w->frames[i].csize);
		trace_put32(q + 4, w->frames[i].dsize);
	}
	trace_put32(q, (uint32_t)w->frame_count);
	q[4] = 0; /* descriptor: no checksums, reserved bits clear */
	trace_put32(q + 5, TRACE_SEEKABLE_MAGIC);
	rc = write_skippable(w, TRACE_SKIP_SEEK, p, len, err);
	free(p);
	return rc;
}

/** See trace.h. */
int trace_writer_close(struct trace_writer *w, struct trace_error *err)
{
	int rc;

	if (!w) {
		trace_set_error(err, TRACE_E_USAGE, 0, "no writer");
		return -1;
	}
	rc = trace_writer_flush(w, err);
	if (rc == 0)
		rc = write_summary(w, err);
	if (rc == 0)
		rc = write_seek_table(w, err);
	if (rc == 0 && close(w->fd) < 0) {
		trace_set_error(err, TRACE_E_IO, w->offset, "close failed: %s",
				strerror(errno));
		rc = -1;
	}
	w->fd = -1;
	writer_free(w);
	return rc;
}
