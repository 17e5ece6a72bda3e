/* SPDX-License-Identifier: MIT */
/*
 * A pipe cannot be read twice, yet two tables that describe every data
 * frame come only at its end: the end summary's frame index (each frame's
 * time range) and the seek table (each frame's sizes). Keeping a pair of
 * values per frame until then would grow with the trace; instead they go
 * into a hash chain, h = mix(mix(h ^ a) ^ b), whose value is kept every
 * `stride` frames, in at most TRACE_TAIL_WINDOW checkpoints (the stride
 * doubles, dropping every other one, when they are full). mix is a
 * bijection, so a table that differs from the frames in one entry always
 * changes every later value of the chain: the first differing entry is
 * found exactly while the file has at most TRACE_TAIL_WINDOW data frames
 * (stride 1), and to within a stride beyond. Only several differences
 * that cancel out (chance 2^-64) could go unseen.
 */
#include <stdlib.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

static uint64_t chain_mix(uint64_t h, uint64_t v)
{
	/* The MurmurHash3 64-bit finalizer: invertible, well mixed. */
	h ^= v;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/** Add the values of the next frame to `c`; -1 (r->err) without memory. */
int reader_chain_add(struct trace_reader *r, struct rchain *c, uint64_t a,
		     uint64_t b, uint64_t offset)
{
	if (!c->ck) {
		c->ck = malloc(TRACE_TAIL_WINDOW * sizeof(*c->ck));
		if (!c->ck)
			return FAIL(r, TRACE_E_NOMEM, offset,
				    "no memory for the frame list");
		c->stride = 1;
	}
	c->hash = chain_mix(chain_mix(c->hash, a), b);
	c->count++;
	if (c->count % c->stride)
		return 0;
	if (c->ck_len == TRACE_TAIL_WINDOW) {
		/* Keep the checkpoints at multiples of twice the stride. */
		for (size_t i = 0; i < TRACE_TAIL_WINDOW / 2; i++)
			c->ck[i] = c->ck[2 * i + 1];
		c->ck_len = TRACE_TAIL_WINDOW / 2;
		c->stride *= 2;
		if (c->count % c->stride)
			return 0;
	}
	c->ck[c->ck_len++] = c->hash;
	return 0;
}

/**
 * Replay `c` over a table's values for frames t = 1 .. c->count, which
 * `at` gives. True if they are the values added; otherwise false with the
 * frames among which the first difference lies, [*lo, *hi] (1-based; one
 * frame while the stride is 1).
 */
bool reader_chain_check(const struct rchain *c,
			void (*at)(const void *ctx, uint64_t t, uint64_t *a,
				   uint64_t *b),
			const void *ctx, uint64_t *lo, uint64_t *hi)
{
	uint64_t h = 0, want, a, b;
	size_t k = 0;

	for (uint64_t t = 1; t <= c->count; t++) {
		at(ctx, t, &a, &b);
		h = chain_mix(chain_mix(h, a), b);
		if (t % c->stride == 0 && k < c->ck_len)
			want = c->ck[k++];
		else if (t == c->count)
			want = c->hash;
		else
			continue;
		if (h == want)
			continue;
		*lo = t - (t - 1) % c->stride;
		*hi = t;
		return false;
	}
	return true;
}

/** Free what `c` holds. */
void reader_chain_free(struct rchain *c)
{
	free(c->ck);
	c->ck = NULL;
}
