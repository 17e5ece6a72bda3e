/* SPDX-License-Identifier: MIT */
/*
 * Reading each CPU's events (read.c). What runs for every event replayed
 * is here, inline: handing out the next part of a compact record, and
 * moving a CPU's lookahead on.
 */
#ifndef PKVM_CHECKER_READ_H
#define PKVM_CHECKER_READ_H

#include <string.h>

#include "linearise.h"

/* Records of the longest compact record (HCALL_ENTRY_LOCK2, FORMAT.md 3.1). */
#define READ_PART_RECS 3u

/** Read `cpu`'s next event into its lookahead (a sequence gap is a loss). */
void read_refill(struct ck *ck, unsigned cpu);

/* The event replayed just before a CPU's lookahead. */
static inline const struct ck_event *ck_prev(const struct ck_cpu *c)
{
	return &c->ring[(c->head ? c->head : c->ring_size) - 1];
}

/*
 * Hand out canonical event `i` of the last record read into `ev`. Part 0
 * goes where the records were read; a later part takes them from the
 * event before it, the part before (the ring holds at least two events).
 */
static inline void ck_part(struct ck_cpu *c, struct ck_event *ev, unsigned i)
{
	const struct trace_words *p = &c->parts[i];

	if (i > 0) {
		const struct ck_event *prev = ck_prev(c);

		ev->ts = prev->ts;
		ev->seq = prev->seq;
		ev->site = prev->site;
		ev->cpu = prev->cpu;
		ev->nrec = prev->nrec;
		/* A compact record is at most READ_PART_RECS records:
		 * copied whole, as a few moves, not a loop. */
		if (prev->nrec <= READ_PART_RECS)
			memcpy(ev->recs, prev->recs,
			       READ_PART_RECS * sizeof(ev->recs[0]));
		else
			memcpy(ev->recs, prev->recs,
			       prev->nrec * sizeof(ev->recs[0]));
	}
	ev->kind = p->kind;
	ev->kbits = p->kbits;
	/* Likewise its canonical events' words (a trap entry's at most). */
	if (p->nrec <= READ_PART_RECS + 1)
		memcpy(ev->w, p->w,
		       2 * (READ_PART_RECS + 1) * sizeof(ev->w[0]));
	else
		memcpy(ev->w, p->w, 2 * p->nrec * sizeof(ev->w[0]));
	ev->part = (uint8_t)i;
	ev->parts = (uint8_t)c->part_count;
	ev->incomplete = p->incomplete;
	ev->invalid = p->invalid;
}

/*
 * `cpu`'s lookahead was replayed: it joins the history (up to `context`
 * events) and the next event is read into the slot after it, which holds
 * the oldest event of the history.
 */
static inline void read_advance(struct ck *ck, unsigned cpu)
{
	struct ck_cpu *c = &ck->cpu[cpu];

	if (c->replayed < ck->opt->context)
		c->replayed++;
	if (++c->head == c->ring_size)
		c->head = 0;
	c->next = &c->ring[c->head];
	if (c->part_next < c->part_count) {
		/* The next part of a compact record: nothing to read. */
		ck_part(c, c->next, c->part_next++);
		ck_sched_note(ck, cpu, c->next, true);
		return;
	}
	read_refill(ck, cpu);
}

#endif /* PKVM_CHECKER_READ_H */
