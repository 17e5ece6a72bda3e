/* SPDX-License-Identifier: MIT */
/*
 * Page decoding and page summaries (FORMAT.md 7): the record checks of the
 * common case, split between the two threads. Most of what the per-CPU
 * cursor checks of a record (reader_records.c, run_fast) is a pure
 * function of its page: that it names the page's CPU, that its seq is one
 * step on from the record before it, that it is a known kind's good head
 * or the expected continuation of the head before it. So where a frame is
 * decoded (the prefetch thread, or the caller's thread without one, or a
 * dropped frame read again), reader_pages_decode sums each page up in the
 * same pass as it decodes its records, while they are at hand; the cursor,
 * when it begins a page in its plain state, needs only check the junction
 * of the page with what came before (reader_pagesum_take) to hand the
 * whole page out at once, with the state changes run_fast would have made.
 *
 * A page that is not plainly good throughout, or a junction that does not
 * hold, goes the per-record way, which finds and reports its error exactly
 * as before: the summary never decides an error, only that there is none.
 */
#include <stddef.h>
#include <string.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

#define PAGESUM_SHAPE (PKVM_REC_F_KIND_MASK | PKVM_REC_F_NCONT_MASK)

/*
 * Decoding a page's records in place (FORMAT.md "Page encoding"): the
 * running `ts` and `seq` sums of the page so far, whether a `ts` sum
 * wrapped in it, and the smallest and largest `ts` of the frame so far.
 * A page's `ts` do not go down unless a sum wraps, so without a wrap its
 * first and last are its smallest and largest (dec_page), and a record
 * costs one carry, not two comparisons.
 */
struct page_dec {
	uint64_t ts, lo, hi;
	uint32_t seq;
	bool wrap;
};

static inline void dec_take(struct page_dec *d, struct pkvm_record *x)
{
	d->wrap |= __builtin_add_overflow(d->ts, x->ts, &d->ts);
	d->seq += x->seq;
	x->ts = d->ts;
	x->seq = d->seq;
}

/* Fold the `n` records (1 or more) of a page just decoded into the
 * frame's time range. */
static void dec_page(struct page_dec *d, const struct pkvm_record *rec,
		     unsigned n)
{
	unsigned from = d->wrap ? 0 : n - 1;

	/* Without a wrap, the first is the smallest and the last the
	 * largest: the loop looks at the last only. */
	if (!d->wrap && rec[0].ts < d->lo)
		d->lo = rec[0].ts;
	for (unsigned i = from; i < n; i++) {
		d->lo = rec[i].ts < d->lo ? rec[i].ts : d->lo;
		d->hi = rec[i].ts > d->hi ? rec[i].ts : d->hi;
	}
}

/*
 * The summing walk over a page's heads and their continuations: the same
 * conditions as rec_walk_take's (reader.h) and the CPU's, but on a
 * record's kind, flags and CPU read as one little-endian word (its bytes 8
 * to 11: kind, flags, cpu), so that a continuation is one comparison with
 * the word it must have.
 */
struct sum_walk {
	uint32_t due;  /* the word of the next continuation due */
	unsigned left; /* continuations still due */
	uint64_t lost;
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "records are read in place as little-endian");
_Static_assert(offsetof(struct pkvm_record, kind) == 8 &&
		       offsetof(struct pkvm_record, flags) == 9 &&
		       offsetof(struct pkvm_record, cpu) == 10,
	       "kind, flags, cpu make one word");

static inline uint32_t rec_word(const struct pkvm_record *x)
{
	uint32_t u;

	memcpy(&u, &x->kind, sizeof(u));
	return u;
}

/*
 * Take record `x`, whose word is `u`, if it plainly follows: the next
 * continuation due, or with none due a known kind's good head (the
 * reader's tables: no continuation bit passes as a head's flags), and in
 * both cases of the CPU `cpu_bits` says (the word's high half).
 */
static inline bool sum_take(struct sum_walk *w, const struct pkvm_record *x,
			    uint32_t u, const uint8_t *head_bits,
			    const uint8_t *head_flags, uint32_t cpu_bits)
{
	unsigned k = u & 0xffu;

	if (w->left) {
		if (u != w->due)
			return false;
		w->due += 1u << 8;
		w->left--;
		return true;
	}
	if ((u & ~((uint32_t)head_bits[k] << 8)) !=
	    (k | (uint32_t)head_flags[k] << 8 | cpu_bits))
		return false;
	w->left = (u >> 8) & PKVM_REC_F_NCONT_MASK;
	w->due = (u & 0xffff00ffu) | (PKVM_REC_F_CONT | 1u) << 8;
	if (k == PKVM_EV_LOST)
		w->lost += x->a;
	return true;
}

/*
 * Decode the `n` records of a page of `cpu` and sum them up into `s` in
 * the same pass, while each record is at hand, leaving s->ok false at the
 * first that is not plainly good (the rest are only decoded). The tables
 * are the reader's (reader_records_setup): for each kind, the flags of a
 * good head once its allowed kind bits are masked off, 0xff for kinds left
 * to the full checks. A record's stored `seq` is its step from the one
 * before it, which is what the sum checks and adds up; the first record's
 * step is the junction's to check (reader_pagesum_take).
 */
static void pagesum_page(const uint8_t *head_bits, const uint8_t *head_flags,
			 struct pkvm_record *rec, unsigned n, unsigned cpu,
			 struct rpagesum *s, struct page_dec *d)
{
	struct pkvm_record *x = rec + 1, *end = rec + n;
	unsigned first = rec[0].flags & PAGESUM_SHAPE;
	bool lead = rec[0].flags & PKVM_REC_F_CONT;
	uint32_t cpu_bits = (uint32_t)cpu << 16;
	struct sum_walk w = { 0, 0, 0 };
	uint64_t span = 0;

	s->ok = false;
	dec_take(d, rec);
	if (lead ? rec[0].cpu != cpu
		 : !sum_take(&w, rec, rec_word(rec), head_bits, head_flags,
			     cpu_bits))
		goto rest;
	/* Leading continuations: of the event the previous page left
	 * open, which the junction checks. */
	for (; lead && x < end && (x->flags & PKVM_REC_F_CONT); x++) {
		uint32_t delta = x->seq;

		dec_take(d, x);
		if (x->cpu != cpu || delta - 1 >= 0x7fffffffu ||
		    x->kind != rec[0].kind ||
		    (x->flags & PAGESUM_SHAPE) != first + (unsigned)(x - rec)) {
			x++;
			goto rest;
		}
		span += delta;
	}
	s->lead_count = lead ? (uint8_t)(x - rec) : 0;
	s->head = !lead || x < end;
	/* Then run_fast's loop from a head with no continuation open. */
	for (; x < end; x++) {
		uint32_t delta = x->seq, u = rec_word(x);

		dec_take(d, x);
		if (delta - 1 >= 0x7fffffffu ||
		    !sum_take(&w, x, u, head_bits, head_flags, cpu_bits)) {
			x++;
			goto rest;
		}
		span += delta;
	}
	s->seq_span = span;
	s->lost = w.lost;
	s->first_seq = rec[0].seq;
	s->lead_kind = rec[0].kind;
	s->lead_first = (uint8_t)first;
	s->end_left = (uint8_t)w.left;
	s->end_next = (uint8_t)((w.due >> 8) & PAGESUM_SHAPE);
	s->end_kind = (uint8_t)w.due;
	s->ok = true;
	return;
rest:
	for (; x < end; x++)
		dec_take(d, x);
}

/**
 * Decode every page's records in place (FORMAT.md "Page encoding") and
 * give the frame's time range: the smallest and largest `ts`, 0 and 0 if
 * it has no records. With `sums`, also sum each page up in the same pass
 * (pagesum_page), one struct rpagesum per page; the tables are the
 * reader's (reader_records_setup). Pure, so the prefetch thread runs it
 * too; a page whose `used` is out of bounds is left alone and, like a page
 * with no records, gets no summary (page_check rejects the first kind).
 */
void reader_pages_decode(uint8_t *data, size_t size, uint64_t *ts_lo,
			 uint64_t *ts_hi, const uint8_t *head_bits,
			 const uint8_t *head_flags, struct rpagesum *sums)
{
	struct page_dec d = { 0, UINT64_MAX, 0, 0, false };
	bool any = false;

	for (size_t i = 0; i < size / TRACE_PAGE_SIZE; i++) {
		uint8_t *p = data + i * TRACE_PAGE_SIZE;
		struct pkvm_record *rec =
			(struct pkvm_record *)(void *)(p + TRACE_PAGE_HEADER);
		int used = reader_page_records(p);
		unsigned n = used < 0 ? 0 : (unsigned)used;

		d.ts = 0;
		d.seq = 0;
		d.wrap = false;
		if (sums) {
			sums[i].ok = false;
			sums[i].records = (uint8_t)n;
		}
		if (n == 0)
			continue;
		any = true;
		if (sums) {
			pagesum_page(head_bits, head_flags, rec, n,
				     trace_le16(p + 4), &sums[i], &d);
		} else {
			for (unsigned k = 0; k < n; k++)
				dec_take(&d, &rec[k]);
		}
		dec_page(&d, rec, n);
	}
	*ts_lo = any ? d.lo : 0;
	*ts_hi = d.hi;
}

/**
 * Hand out the whole current page of `c` at once if its summary allows:
 * nothing of it read yet, the cursor in its plain state (its seq started,
 * no unknown kind being skipped), the page plainly good throughout, and
 * its junction with the cursor's state good: its first record one step on
 * in sequence, its leading continuations those of the event left open,
 * none left open before its first head. Moves the cursor past the page
 * with run_fast's state changes, says whether the page has no seq gap
 * (c->run_plain, trace_reader_run_plain) and returns its records, or
 * returns 0 and changes nothing.
 */
unsigned reader_pagesum_take(const struct trace_reader *r, struct rcpu *c)
{
	const struct rframe *f = &r->frames[c->cur_frame];
	const struct rpagesum *s =
		&reader_buffer_sums(f->data, f->cap)[c->cur_page];
	uint32_t delta = s->first_seq - (uint32_t)c->ext_seq;
	unsigned n = c->left;

	if (!s->ok || s->records != n || !c->seq_started || c->skipping ||
	    delta - 1 >= 0x7fffffffu)
		return 0;
	if (s->lead_count &&
	    (c->cont_left < s->lead_count || c->cont_kind != s->lead_kind ||
	     c->cont_next != s->lead_first))
		return 0;
	if (s->head && c->cont_left != s->lead_count)
		return 0;
	/* Each step 1 or more: all 1 if their sum is one less than the
	 * records. */
	c->run_plain = s->seq_span == n - 1u;
	c->rec += n;
	c->left = 0;
	c->records += n;
	c->ext_seq += (uint64_t)delta + s->seq_span;
	c->lost += s->lost;
	if (s->head) {
		c->cont_left = s->end_left;
		c->cont_next = s->end_next;
		c->cont_kind = s->end_kind;
		c->syncing = false;
	} else {
		c->cont_left -= n;
		c->cont_next += n;
	}
	return n;
}
