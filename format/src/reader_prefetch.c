/* SPDX-License-Identifier: MIT */
/*
 * Decompression on a second core (design section 8). After the reader hands
 * out a frame, it looks at the next bytes of the input: if they hold a whole
 * zstd frame of pages, it copies the compressed bytes, reserves a pool slot
 * and lets a worker thread decompress them while the caller walks the
 * current frame's records. The next reader_load_frame collects the result
 * and makes every check there, so errors, truncation and the seek table
 * checks come out exactly as without the thread.
 *
 * Anything unusual (a skippable frame next, an incomplete or odd frame, no
 * memory, the skew limit) simply leaves the work to the synchronous path.
 *
 * The thread is off unless the caller asks for it (trace_reader_prefetch)
 * or PKVM_TRACE_THREAD=1 is in the environment, which overrides the
 * caller either way. It pays when the caller does much more per record
 * than decompressing it, as pkvm-check does: replaying a 50M-record trace
 * it takes decompression (about a third of the time) off the critical
 * path. A caller that only walks the records gains little, since the
 * hand-offs cost about as much as the walk when the second core is busy.
 * It also makes fork() after open unsafe.
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

static void *prefetch_main(void *arg)
{
	struct rjob *j = arg;
	size_t res;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->running && !j->quit)
			pthread_cond_wait(&j->cond, &j->lock);
		if (j->quit)
			break;
		pthread_mutex_unlock(&j->lock);
		/* Only the worker touches src, dst and dctx while running. */
		res = ZSTD_decompressDCtx(j->dctx, j->dst, j->dst_cap, j->src,
					  j->csize);
		pthread_mutex_lock(&j->lock);
		j->result = res;
		j->running = false;
		pthread_cond_broadcast(&j->cond);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/** See trace.h. */
void trace_reader_prefetch(struct trace_reader *r, bool on)
{
	if (r)
		r->job.wanted = on;
}

/* Start the worker on first use; false if there is none to be had. */
static bool prefetch_start(struct trace_reader *r)
{
	struct rjob *j = &r->job;
	const char *env = getenv("PKVM_TRACE_THREAD");

	if (j->started || j->disabled)
		return j->started;
	j->disabled = true;
	if (env ? strcmp(env, "1") != 0 : !j->wanted)
		return false;
	j->dctx = ZSTD_createDCtx();
	if (!j->dctx)
		return false;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	if (pthread_create(&j->thread, NULL, prefetch_main, j) != 0) {
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->lock);
		ZSTD_freeDCtx(j->dctx);
		j->dctx = NULL;
		return false;
	}
	j->disabled = false;
	j->started = true;
	return true;
}

/*
 * Sizes of the whole, plausible zstd frame at the input position, or false
 * (nothing is reported: the synchronous path will look again).
 */
static bool peek_frame(struct trace_reader *r, size_t *dsize, size_t *csize)
{
	size_t limit = ZSTD_compressBound(TRACE_MAX_FRAME_BYTES) + 64;
	size_t want = 128u << 10;
	ssize_t avail = reader_in_fill(r, TRACE_ZSTD_HEADER_MAX, true);
	unsigned long long ds;

	if (avail < 4 || trace_le32(r->in + r->in_pos) != TRACE_ZSTD_MAGIC)
		return false;
	ds = ZSTD_getFrameContentSize(r->in + r->in_pos, (size_t)avail);
	if (ds == ZSTD_CONTENTSIZE_ERROR || ds == ZSTD_CONTENTSIZE_UNKNOWN ||
	    ds == 0 || ds % TRACE_PAGE_SIZE || ds > TRACE_MAX_FRAME_BYTES)
		return false;
	for (;;) {
		size_t cs;

		avail = reader_in_fill(r, want, true);
		if (avail < 0)
			return false;
		cs = ZSTD_findFrameCompressedSize(r->in + r->in_pos,
						  (size_t)avail);
		if (!ZSTD_isError(cs)) {
			*dsize = (size_t)ds;
			*csize = cs;
			return true;
		}
		if (ZSTD_getErrorCode(cs) != ZSTD_error_srcSize_wrong ||
		    (size_t)avail < want || want >= limit)
			return false;
		want = want * 2 < limit ? want * 2 : limit;
	}
}

/** Hand the next data frame, if it is whole, to the worker. */
void reader_prefetch_next(struct trace_reader *r)
{
	struct rjob *j = &r->job;
	size_t dsize, csize;
	uint64_t offset = r->in_off + r->in_pos;
	int slot;

	if (r->failed || r->at_end || j->pending || !prefetch_start(r) ||
	    !peek_frame(r, &dsize, &csize))
		return;
	if (j->src_cap < csize) {
		uint8_t *p = realloc(j->src, csize);

		if (!p)
			return;
		j->src = p;
		j->src_cap = csize;
	}
	slot = reader_slot_get(r, dsize, offset, true);
	if (slot < 0)
		return;
	memcpy(j->src, r->in + r->in_pos, csize);
	r->in_pos += csize;
	j->csize = csize;
	j->dsize = dsize;
	j->slot = slot;
	j->offset = offset;
	j->dst = r->frames[slot].data;
	j->dst_cap = r->frames[slot].cap;
	j->pending = true;
	pthread_mutex_lock(&j->lock);
	j->running = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void prefetch_wait(struct rjob *j)
{
	pthread_mutex_lock(&j->lock);
	while (j->running)
		pthread_cond_wait(&j->cond, &j->lock);
	pthread_mutex_unlock(&j->lock);
	j->pending = false;
}

/**
 * Wait for the prefetched frame and check it exactly as the synchronous
 * path does. Returns its slot, or -1 with r->err.
 */
int reader_prefetch_collect(struct trace_reader *r)
{
	struct rjob *j = &r->job;
	struct rframe *f;

	prefetch_wait(j);
	f = &r->frames[j->slot];
	if (reader_check_frame(r, (uint32_t)j->csize, (uint32_t)j->dsize,
			       j->offset) < 0)
		return -1;
	if (ZSTD_isError(j->result) &&
	    ZSTD_getErrorCode(j->result) == ZSTD_error_checksum_wrong)
		return FAIL(r, TRACE_E_CHECKSUM, j->offset,
			    "zstd frame at offset %llu fails its content "
			    "checksum",
			    (unsigned long long)j->offset);
	if (ZSTD_isError(j->result) || j->result != j->dsize)
		return FAIL(r, TRACE_E_ZSTD, j->offset,
			    "zstd frame at offset %llu cannot be decoded: %s",
			    (unsigned long long)j->offset,
			    ZSTD_isError(j->result)
				    ? ZSTD_getErrorName(j->result)
				    : "wrong decoded size");
	f->size = j->dsize;
	if (reader_pages_check(r, j->slot) < 0)
		return -1;
	return reader_frame_done(r, j->slot, j->csize);
}

/** Drop a prefetched frame (before a seek): wait, free its slot. */
void reader_prefetch_cancel(struct trace_reader *r)
{
	struct rjob *j = &r->job;

	if (!j->pending)
		return;
	prefetch_wait(j);
	r->frames[j->slot].busy = false;
	r->frames[j->slot].refs = 0;
}

/** Stop the worker and free what it used (reader close). */
void reader_prefetch_stop(struct trace_reader *r)
{
	struct rjob *j = &r->job;

	if (j->started) {
		pthread_mutex_lock(&j->lock);
		while (j->running)
			pthread_cond_wait(&j->cond, &j->lock);
		j->quit = true;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->thread, NULL);
		pthread_cond_destroy(&j->cond);
		pthread_mutex_destroy(&j->lock);
		j->started = false;
	}
	ZSTD_freeDCtx(j->dctx);
	j->dctx = NULL;
	free(j->src);
	j->src = NULL;
}
