/* SPDX-License-Identifier: MIT */
/*
 * Decompression on a second core (design section 8). After the reader hands
 * out a frame, it looks at the next bytes of the input: while they hold
 * whole zstd frames of pages, it copies the compressed bytes, reserves a
 * pool slot for each and queues them, up to TRACE_PREFETCH_DEPTH, for a
 * worker thread that decompresses them and decodes their pages' deltas
 * while the caller walks records. The next reader_load_frame collects the
 * first and makes every check there, so errors, truncation and the seek
 * table checks come out exactly as without the thread.
 *
 * Anything unusual (a skippable frame next, an incomplete or odd frame, no
 * memory, the skew limit) simply leaves the work to the synchronous path
 * once the queue is collected.
 *
 * The thread is off unless the caller asks for it (trace_reader_prefetch)
 * or PKVM_TRACE_THREAD=1 is in the environment, which overrides the
 * caller either way. It pays when the caller does much more per record
 * than decompressing it, as pkvm-check does. It also makes fork() after
 * open unsafe.
 */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

enum { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

/*
 * Decompress one queued frame, decode its pages and sum them up
 * (reader_pagesum.c): no reader state but its read-only tables.
 */
static void job_run(const struct rjob *j, ZSTD_DCtx *dctx, struct rjob_frame *f)
{
	f->result =
		ZSTD_decompressDCtx(dctx, f->dst, f->dst_cap, f->src, f->csize);
	f->ts_lo = f->ts_hi = 0;
	if (ZSTD_isError(f->result) || f->result != f->dsize)
		return;
	reader_pages_decode(f->dst, f->dsize, &f->ts_lo, &f->ts_hi,
			    j->head_bits, j->head_flags, f->sums);
}

/* The first queued frame in queue order, or NULL; under the lock. */
static struct rjob_frame *job_queued(struct rjob *j, unsigned from)
{
	for (unsigned i = from; i < j->count; i++) {
		struct rjob_frame *f =
			&j->f[(j->head + i) % TRACE_PREFETCH_DEPTH];

		if (f->state == JOB_QUEUED)
			return f;
	}
	return NULL;
}

/* Wait on `cond` under the job's lock, saying so in `*waiting` (the other
 * thread signals only a waiter). */
static void job_sleep(struct rjob *j, pthread_cond_t *cond, bool *waiting)
{
	*waiting = true;
	pthread_cond_wait(cond, &j->lock);
	*waiting = false;
}

/*
 * Run queued frame `f` on this thread (the worker, or the caller while it
 * waits): called and returning under the job's lock, which it lets go
 * meanwhile. Only the thread that marked it running touches its buffers.
 */
static void job_take(struct rjob *j, ZSTD_DCtx *dctx, struct rjob_frame *f)
{
	f->state = JOB_RUNNING;
	pthread_mutex_unlock(&j->lock);
	job_run(j, dctx, f);
	pthread_mutex_lock(&j->lock);
	f->state = JOB_DONE;
}

static void *prefetch_main(void *arg)
{
	struct rjob *j = arg;

	pthread_mutex_lock(&j->lock);
	while (!j->quit) {
		struct rjob_frame *f = job_queued(j, 0);

		if (!f) {
			job_sleep(j, &j->work, &j->worker_idle);
			continue;
		}
		job_take(j, j->dctx, f);
		if (j->caller_waiting)
			pthread_cond_signal(&j->done);
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
	j->head_bits = r->head_bits;
	j->head_flags = r->head_flags;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->work, NULL);
	pthread_cond_init(&j->done, NULL);
	if (pthread_create(&j->thread, NULL, prefetch_main, j) != 0) {
		pthread_cond_destroy(&j->work);
		pthread_cond_destroy(&j->done);
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

/* Queue the whole data frame at the input position; false if not. */
static bool prefetch_one(struct trace_reader *r)
{
	struct rjob *j = &r->job;
	struct rjob_frame *f =
		&j->f[(j->head + j->count) % TRACE_PREFETCH_DEPTH];
	size_t dsize, csize;
	uint64_t offset = r->in_off + r->in_pos;
	int slot;

	if (!peek_frame(r, &dsize, &csize))
		return false;
	if (f->src_cap < csize) {
		uint8_t *p = realloc(f->src, csize);

		if (!p)
			return false;
		f->src = p;
		f->src_cap = csize;
	}
	slot = reader_slot_get(r, dsize, offset, true);
	if (slot < 0)
		return false;
	memcpy(f->src, r->in + r->in_pos, csize);
	r->in_pos += csize;
	f->csize = csize;
	f->dsize = dsize;
	f->slot = slot;
	f->offset = offset;
	f->dst = r->frames[slot].data;
	f->dst_cap = r->frames[slot].cap;
	f->sums = reader_pagesum_wanted(r)
			  ? reader_buffer_sums(f->dst, f->dst_cap)
			  : NULL;
	pthread_mutex_lock(&j->lock);
	f->state = JOB_QUEUED;
	j->count++;
	pthread_mutex_unlock(&j->lock);
	return true;
}

/**
 * Queue the next data frames, if they are whole, for the worker: once half
 * the queue is collected, fill it, and wake the worker if it sleeps.
 */
void reader_prefetch_next(struct trace_reader *r)
{
	struct rjob *j = &r->job;
	bool queued = false;

	if (r->failed || r->at_end || j->count > TRACE_PREFETCH_DEPTH / 2 ||
	    !prefetch_start(r))
		return;
	while (j->count < TRACE_PREFETCH_DEPTH && prefetch_one(r))
		queued = true;
	if (!queued)
		return;
	pthread_mutex_lock(&j->lock);
	if (j->worker_idle)
		pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->lock);
}

/*
 * Wait until the first queued frame is decoded; meanwhile decode it, or a
 * later one the worker has not begun, on this thread. Under the lock.
 */
static void prefetch_wait(struct trace_reader *r)
{
	struct rjob *j = &r->job;
	struct rjob_frame *first = &j->f[j->head];

	while (first->state != JOB_DONE) {
		struct rjob_frame *f =
			first->state == JOB_QUEUED ? first : job_queued(j, 1);

		if (!f) {
			job_sleep(j, &j->done, &j->caller_waiting);
			continue;
		}
		job_take(j, r->dctx, f);
	}
}

/**
 * Take the first prefetched frame and check it exactly as the synchronous
 * path does. Returns its slot, or -1 with r->err.
 */
int reader_prefetch_collect(struct trace_reader *r)
{
	struct rjob *j = &r->job;
	struct rjob_frame *jf = &j->f[j->head];
	struct rframe *f;

	pthread_mutex_lock(&j->lock);
	prefetch_wait(r);
	jf->state = JOB_FREE;
	j->head = (j->head + 1) % TRACE_PREFETCH_DEPTH;
	j->count--;
	pthread_mutex_unlock(&j->lock);
	f = &r->frames[jf->slot];
	if (reader_check_frame(r, (uint32_t)jf->csize, (uint32_t)jf->dsize,
			       jf->offset) < 0)
		return -1;
	if (ZSTD_isError(jf->result) &&
	    ZSTD_getErrorCode(jf->result) == ZSTD_error_checksum_wrong)
		return FAIL(r, TRACE_E_CHECKSUM, jf->offset,
			    "zstd frame at offset %llu fails its content "
			    "checksum",
			    (unsigned long long)jf->offset);
	if (ZSTD_isError(jf->result) || jf->result != jf->dsize)
		return FAIL(r, TRACE_E_ZSTD, jf->offset,
			    "zstd frame at offset %llu cannot be decoded: %s",
			    (unsigned long long)jf->offset,
			    ZSTD_isError(jf->result)
				    ? ZSTD_getErrorName(jf->result)
				    : "wrong decoded size");
	f->size = jf->dsize;
	f->ts_lo = jf->ts_lo;
	f->ts_hi = jf->ts_hi;
	if (reader_pages_check(r, jf->slot) < 0)
		return -1;
	return reader_frame_done(r, jf->slot, jf->csize);
}

/* Wait until the worker holds no queued frame; under the lock. */
static void prefetch_quiesce(struct rjob *j)
{
	for (;;) {
		bool running = false;

		for (unsigned i = 0; i < TRACE_PREFETCH_DEPTH; i++) {
			/* Queued frames are withdrawn before the worker
			 * takes them. */
			if (j->f[i].state == JOB_QUEUED)
				j->f[i].state = JOB_FREE;
			running |= j->f[i].state == JOB_RUNNING;
		}
		if (!running)
			return;
		job_sleep(j, &j->done, &j->caller_waiting);
	}
}

/** Drop the prefetched frames (before a seek): wait, free their slots. */
void reader_prefetch_cancel(struct trace_reader *r)
{
	struct rjob *j = &r->job;

	if (!j->count)
		return;
	pthread_mutex_lock(&j->lock);
	prefetch_quiesce(j);
	for (unsigned i = 0; i < j->count; i++) {
		struct rjob_frame *f =
			&j->f[(j->head + i) % TRACE_PREFETCH_DEPTH];

		r->frames[f->slot].busy = false;
		r->frames[f->slot].refs = 0;
		f->state = JOB_FREE;
	}
	j->head = j->count = 0;
	pthread_mutex_unlock(&j->lock);
}

/** Stop the worker and free what it used (reader close). */
void reader_prefetch_stop(struct trace_reader *r)
{
	struct rjob *j = &r->job;

	if (j->started) {
		pthread_mutex_lock(&j->lock);
		prefetch_quiesce(j);
		j->quit = true;
		pthread_cond_signal(&j->work);
		pthread_mutex_unlock(&j->lock);
		pthread_join(j->thread, NULL);
		pthread_cond_destroy(&j->work);
		pthread_cond_destroy(&j->done);
		pthread_mutex_destroy(&j->lock);
		j->started = false;
	}
	ZSTD_freeDCtx(j->dctx);
	j->dctx = NULL;
	for (unsigned i = 0; i < TRACE_PREFETCH_DEPTH; i++) {
		free(j->f[i].src);
		j->f[i].src = NULL;
	}
}
