/* SPDX-License-Identifier: MIT */
/*
 * Page summaries (FORMAT.md 7): the record checks of the common case,
 * split between the two threads. Most of what the per-CPU cursor checks of
 * a record (reader_records.c, run_fast) is a pure function of its page:
 * that it names the page's CPU, that its seq is one step on from the
 * record before it, that it is a known kind's good head or the expected
 * continuation of the head before it. So where a frame is decoded (the
 * prefetch thread, or the caller's thread without one, or a dropped frame
 * read again), reader_pagesum_frame sums each page up; the cursor, when it
 * begins a page in its plain state, needs only check the junction of the
 * page with what came before (reader_pagesum_take) to hand the whole page
 * out at once, with the state changes run_fast would have made.
 *
 * A page that is not plainly good throughout, or a junction that does not
 * hold, goes the per-record way, which finds and reports its error exactly
 * as before: the summary never decides an error, only that there is none.
 */
#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

#define PAGESUM_SHAPE (PKVM_REC_F_KIND_MASK | PKVM_REC_F_NCONT_MASK)

/*
 * Sum up the `n` records of a page of `cpu` into `s`, leaving s->ok false
 * at the first that is not plainly good. The tables are the reader's
 * (reader_records_setup): for each kind, the flags of a good head once its
 * allowed kind bits are masked off, 0xff for kinds left to the full checks.
 */
static void pagesum_page(const uint8_t *head_bits, const uint8_t *head_flags,
			 const struct pkvm_record *rec, unsigned n,
			 unsigned cpu, struct rpagesum *s)
{
	const struct pkvm_record *x = rec, *end = rec + n;
	unsigned first = rec[0].flags & PAGESUM_SHAPE;
	struct rec_walk w = { 0, 0, 0, 0 };
	/* The first record's step from the one before it is the junction's
	 * to check: take it as one here, and leave it out of the span. */
	uint32_t prev = rec[0].seq - 1;
	uint64_t span = 0;

	/* Leading continuations: of the event the previous page left
	 * open, which the junction checks. */
	for (; x < end && (x->flags & PKVM_REC_F_CONT); x++) {
		uint32_t delta = x->seq - prev;

		if (x->cpu != cpu || delta - 1 >= 0x7fffffffu ||
		    x->kind != rec[0].kind ||
		    (x->flags & PAGESUM_SHAPE) != first + (unsigned)(x - rec))
			return;
		span += delta;
		prev = x->seq;
	}
	s->lead_count = (uint8_t)(x - rec);
	s->head = x < end;
	/* Then run_fast's loop from a head with no continuation open. */
	for (; x < end; x++) {
		uint32_t delta = x->seq - prev;

		if (x->cpu != cpu || delta - 1 >= 0x7fffffffu ||
		    !rec_walk_take(&w, x, head_bits, head_flags))
			return;
		span += delta;
		prev = x->seq;
	}
	s->seq_span = span - 1;
	s->lost = w.lost;
	s->first_seq = rec[0].seq;
	s->lead_kind = rec[0].kind;
	s->lead_first = (uint8_t)first;
	s->end_left = (uint8_t)w.left;
	s->end_next = (uint8_t)w.next;
	s->end_kind = (uint8_t)w.kind;
	s->ok = true;
}

/**
 * Sum up every page of a frame whose records were just decoded
 * (reader_pages_decode), one struct rpagesum per page in `sums`. Pure, so
 * the prefetch thread runs it; a page whose `used` is out of bounds, or
 * that has no records, gets none (page_check rejects the first kind).
 */
void reader_pagesum_frame(const uint8_t *head_bits, const uint8_t *head_flags,
			  const uint8_t *data, size_t size,
			  struct rpagesum *sums)
{
	for (size_t i = 0; i < size / TRACE_PAGE_SIZE; i++) {
		const uint8_t *p = data + i * TRACE_PAGE_SIZE;
		int n = reader_page_records(p);
		struct rpagesum *s = &sums[i];

		s->ok = false;
		s->records = 0;
		if (n <= 0)
			continue;
		s->records = (uint8_t)n;
		pagesum_page(head_bits, head_flags,
			     (const struct pkvm_record
				      *)(const void *)(p + TRACE_PAGE_HEADER),
			     s->records, trace_le16(p + 4), s);
	}
}

/**
 * Hand out the whole current page of `c` at once if its summary allows:
 * nothing of it read yet, the cursor in its plain state (its seq started,
 * no unknown kind being skipped), the page plainly good throughout, and
 * its junction with the cursor's state good: its first record one step on
 * in sequence, its leading continuations those of the event left open,
 * none left open before its first head. Moves the cursor past the page
 * with run_fast's state changes and returns its records, or returns 0 and
 * changes nothing.
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
