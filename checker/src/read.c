// SPDX-License-Identifier: MIT
/*
 * Reading: each CPU's records become events. A head record and its
 * continuations make one event; a compact record of formats 2.0 and 3.0
 * is expanded (pkvm/expand.h) into the canonical events it stands for,
 * handed out one at a time, so that everything after this file sees the
 * kinds of format 1.x only. A gap in a CPU's sequence numbers is a loss
 * (replay.c). Each CPU's events are read into a small ring that is also
 * the history reports show: nothing but the records is copied per event.
 */
#include <string.h>

#include <pkvm/abi.h>

#include "read.h"

/* Count records lost before `seq` on `cpu` (a gap in the sequence). */
static void ck_seq(struct ck *ck, unsigned cpu, const struct pkvm_record *r,
		   bool *gap)
{
	struct ck_cpu *c = &ck->cpu[cpu];

	*gap = c->seq_started && r->seq != c->expect_seq;
	if (*gap && r->kind != PKVM_EV_LOST)
		ck->sum->lost += (uint32_t)(r->seq - c->expect_seq);
	/* Records before the first are lost too, unless it says so. */
	if (!c->seq_started && r->kind == PKVM_EV_LOST &&
	    !(r->flags & PKVM_REC_F_CONT))
		c->first_lost = r->a;
	c->seq_started = true;
	c->expect_seq = r->seq + 1;
}

/* The next record of `cpu` into `r`: 1, 0 at its end, -1 if corrupt. */
static int ck_read(struct ck *ck, unsigned cpu, struct pkvm_record *r)
{
	struct ck_cpu *c = &ck->cpu[cpu];

	if (c->run_left == 0) {
		int rc = ck->src->next(ck->src, cpu, &c->run);

		if (rc < 0)
			ck_corrupt_source(ck);
		if (rc <= 0)
			return rc;
		c->run_left = (unsigned)rc;
		c->run_plain = ck->src->run_plain;
		c->run_pos = ck->src->position ? ck->src->position(ck->src) : 0;
	}
	*r = *c->run++;
	c->run_left--;
	ck->read_pos = c->run_pos;
	return 1;
}

/* The kind and payload words of `ev`: those of canonical records `recs`. */
static void ck_words(struct ck_event *ev, const struct pkvm_record *recs,
		     unsigned nrec)
{
	ev->kind = recs[0].kind;
	ev->kbits = recs[0].flags & PKVM_REC_F_KIND_MASK;
	/* Nearly every event is one or two records: their four words are
	 * copied as they stand, without a loop (`recs` has room for them;
	 * the second record of a one-record event is an older event's, and
	 * nothing reads the words past `nrec`). Longer events' others
	 * follow. */
	ev->w[0] = recs[0].a;
	ev->w[1] = recs[0].b;
	ev->w[2] = recs[1].a;
	ev->w[3] = recs[1].b;
	for (unsigned k = 2; k < nrec; k++) {
		ev->w[2 * k] = recs[k].a;
		ev->w[2 * k + 1] = recs[k].b;
	}
}

/* The head `h` and its `ncont` continuations are taken from `c`'s run. */
static inline __attribute__((always_inline)) void
ck_run_take(struct ck *ck, struct ck_cpu *c, const struct pkvm_record *h,
	    unsigned ncont)
{
	c->expect_seq = h->seq + ncont + 1;
	c->run += ncont + 1;
	c->run_left -= ncont + 1;
	ck->read_pos = c->run_pos;
}

/* `ev`'s header, from the `nrec` records of `cpu` read into it. */
static inline __attribute__((always_inline)) void
ck_event_head(struct ck_event *ev, unsigned cpu, unsigned nrec)
{
	ev->ts = ev->recs[0].ts;
	ev->seq = ev->recs[0].seq;
	ev->cpu = (uint16_t)cpu;
	ev->nrec = (uint8_t)nrec;
}

/* `ev`, read into `c`'s lookahead, stands for itself (it is canonical). */
static inline __attribute__((always_inline)) void
ck_event_canonical(struct ck_cpu *c, struct ck_event *ev, unsigned nrec)
{
	ck_words(ev, ev->recs, nrec);
	ev->part = 0;
	ev->parts = 1;
	ev->incomplete = ev->invalid = false;
	c->part_count = c->part_next = 0;
}

/* `ev` is a compact record expanded into `count` canonical events: the
 * first now, the others to follow. */
static inline __attribute__((always_inline)) void
ck_event_compact(struct ck_cpu *c, struct ck_event *ev, unsigned count)
{
	c->part_count = count;
	c->part_next = 1;
	ck_part(c, ev, 0);
}

/*
 * The records of CPU `c`'s next event into `ev->recs`, when the event lies
 * whole in the run at hand and is plainly well formed: a known kind, its
 * continuations all there, every record in sequence after the one before.
 * Nearly all events are; for them one look at each record does instead of
 * ck_read's bookkeeping per record, and what ck_read_checked would do
 * with them comes to the same. In a run the source says is plain (nearly
 * every run of a good trace), the reader has looked already: a record
 * that is no continuation is a known kind's head with its kind's count of
 * continuations, and those that follow it in the run are its own, in
 * sequence. Returns the count of continuations, or -1, having taken
 * nothing, for anything else: ck_read_checked reads it.
 */
static int ck_read_plain(struct ck *ck, struct ck_cpu *c, struct ck_event *ev)
{
	const struct pkvm_record *h = c->run;
	unsigned ncont;

	if (c->run_left == 0 || !c->seq_started || h->seq != c->expect_seq)
		return -1;
	/* A continuation bit on the head makes `ncont` match no kind. */
	ncont = h->flags & (PKVM_REC_F_CONT | PKVM_REC_F_NCONT_MASK);
	if (c->run_plain) {
		if ((ncont & PKVM_REC_F_CONT) || ncont >= c->run_left)
			return -1;
		ev->recs[0] = h[0];
		for (unsigned i = 1; i <= ncont; i++)
			ev->recs[i] = h[i];
	} else {
		if (h->kind == 0 || h->kind > PKVM_EV_MAX_KNOWN ||
		    ncont != pkvm_event_ncont(h->kind) || ncont >= c->run_left)
			return -1;
		/* Each continuation is copied as it is checked: if one is
		 * not as it should be, ck_read_checked reads the event
		 * again over these copies. */
		ev->recs[0] = h[0];
		for (unsigned i = 1; i <= ncont; i++) {
			if ((h[i].flags &
			     (PKVM_REC_F_CONT | PKVM_REC_F_NCONT_MASK)) !=
				    (PKVM_REC_F_CONT | i) ||
			    h[i].kind != h->kind || h[i].seq != h->seq + i)
				return -1;
			ev->recs[i] = h[i];
		}
	}
	ck_run_take(ck, c, h, ncont);
	return (int)ncont;
}

/*
 * The records of `cpu`'s next event into `ev->recs`, one at a time, with
 * every check on them and the loss a sequence gap shows (`loss`). Returns
 * 1 and the count of continuations in `ncont` (which may be too many to
 * keep for an unknown kind), 0 at the end of that CPU, -1 if corrupt.
 */
static int ck_read_checked(struct ck *ck, unsigned cpu, struct ck_event *ev,
			   bool *loss, int *ncont_out)
{
	struct pkvm_record *h = &ev->recs[0];
	bool gap;
	unsigned ncont;
	int rc;

	rc = ck_read(ck, cpu, h);
	if (rc <= 0)
		return rc;
	if (h->flags & PKVM_REC_F_CONT) {
		ck_corrupt_at(ck, ck->read_pos,
			      "cpu%u seq %u: continuation record without a "
			      "head",
			      cpu, h->seq);
		return -1;
	}
	ck_seq(ck, cpu, h, &gap);
	*loss |= gap;
	ncont = h->flags & PKVM_REC_F_NCONT_MASK;
	if (h->kind != 0 && h->kind <= PKVM_EV_MAX_KNOWN &&
	    ncont != pkvm_event_ncont(h->kind)) {
		ck_corrupt_at(ck, ck->read_pos,
			      "cpu%u seq %u: %u continuation records, kind %u "
			      "has %u",
			      cpu, h->seq, ncont, h->kind,
			      pkvm_event_ncont(h->kind));
		return -1;
	}
	for (unsigned i = 1; i <= ncont; i++) {
		/* An unknown kind may announce more records than fit. */
		struct pkvm_record spare,
			*r = i < PKVM_EVENT_MAX_RECORDS ? &ev->recs[i] : &spare;

		rc = ck_read(ck, cpu, r);
		if (rc <= 0 || !(r->flags & PKVM_REC_F_CONT) ||
		    (r->flags & PKVM_REC_F_NCONT_MASK) != i ||
		    r->kind != h->kind) {
			if (rc >= 0)
				ck_corrupt_at(ck, ck->read_pos,
					      "cpu%u seq %u: event cut short: "
					      "continuation %u missing",
					      cpu, h->seq, i);
			return -1;
		}
		ck_seq(ck, cpu, r, &gap);
		*loss |= gap;
	}
	*ncont_out = (int)ncont;
	return 1;
}

/*
 * The canonical event the records just read into `ev` stand for, or the
 * first of those a compact record expands into (the others wait in
 * `c->parts`). Returns false for a kind of a newer minor version, which
 * stands for nothing this checker knows: skip it.
 *
 * Inlined into read_refill by force (and so is read_fetch): as calls of
 * their own, their entries and exits alone cost 3% of the replay's
 * instructions, once per event.
 */
static inline __attribute__((always_inline)) bool
ck_expand(struct ck *ck, struct ck_cpu *c, struct ck_event *ev, unsigned cpu,
	  unsigned nrec)
{
	unsigned count;

	/* Sites first: no rule may take a site's bits for a word's. */
	ev->site = 0;
	if (ck->sites.on || ev->recs[0].kind == PKVM_EV_BOOT)
		ev->site = trace_sites_take(&ck->sites, ev->recs, nrec);
	ck_event_head(ev, cpu, nrec);
	if (trace_expand_follow(&c->expand, ev->recs, nrec)) {
		/* Canonical already (most events): its own words. */
		ck_event_canonical(c, ev, nrec);
		return true;
	}
	count = trace_expand_words(&c->expand, ev->recs, nrec, c->parts);
	if (count == 0) {
		c->part_count = 0;
		return false;
	}
	ck_event_compact(c, ev, count);
	return true;
}

/*
 * Read the next event of `cpu` into its lookahead. Returns 1, 0 at the end
 * of that CPU, -1 if the stream is corrupt. Unknown kinds are skipped. A
 * canonical event is used as read (trace_expand_follow); a compact record
 * is expanded once (pkvm/expand.h) and its canonical events are handed out
 * one a call, each with the records read.
 */
static int ck_fetch(struct ck *ck, unsigned cpu, bool *loss)
{
	struct ck_cpu *c = &ck->cpu[cpu];
	struct ck_event *ev = ck_next(c);
	int ncont, rc;

	if (c->part_next < c->part_count) {
		ck_part(c, ev, c->part_next++);
		return 1;
	}
	/* A plain event (nearly all): a known kind, nothing lost. */
	ncont = ck_read_plain(ck, c, ev);
	if (ncont >= 0 && ck_expand(ck, c, ev, cpu, (unsigned)ncont + 1))
		return 1;
	for (;;) {
		rc = ck_read_checked(ck, cpu, ev, loss, &ncont);
		if (rc <= 0)
			return rc;
		/* An exit after lost records must not close an older entry. */
		if (*loss)
			trace_expand_loss(&c->expand);
		if (ncont < (int)PKVM_EVENT_MAX_RECORDS &&
		    ck_expand(ck, c, ev, cpu, (unsigned)ncont + 1))
			return 1;
		/* Else a kind of a newer minor version: skip it. */
	}
}

/*
 * Quiet CPUs. A CPU that records nothing for a while (idle in the host,
 * a long guest run) has its next records far ahead in the source, after
 * everything the other CPUs record meanwhile. Reading its lookahead at
 * once would make the reader decode all of that and hold it (the skew
 * limit, FORMAT.md "Reading"). So when the source says the CPU's next
 * records are not read yet (ck_source.ready), its lookahead waits: the
 * CPU is quiet and the scheduler cannot pick it. It wakes when reading
 * the others has brought its records in (checked whenever a CPU starts a
 * new run of records), or when no other CPU can run: then the source
 * reads on, in file order, only until the first quiet CPU's records
 * come. Since the schedule
 * only has to respect each CPU's order and each lock's tickets
 * (linearise.c), this changes no verdict, only what the reader holds.
 */
static void read_fetch(struct ck *ck, unsigned cpu);

/* Wake the quiet CPUs whose records the source holds now. */
static void read_wake_ready(struct ck *ck)
{
	for (unsigned m = ck->sched_quiet; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);

		if (ck->src->ready(ck->src, i)) {
			ck->sched_quiet &= ~(1u << i);
			read_fetch(ck, i);
		}
	}
}

/* read_refill for all but its common case (a call of its own: see there). */
static __attribute__((noinline)) void read_refill_full(struct ck *ck,
						       unsigned cpu)
{
	struct ck_cpu *c = &ck->cpu[cpu];
	bool new_run = c->run_left == 0 && c->part_next >= c->part_count;

	if (new_run && ck->src->ready && ck->src->more && ck->boot_seen &&
	    !ck->src->ready(ck->src, cpu)) {
		c->has_next = false;
		ck_sched_note(ck, cpu, ck_next(c), false);
		ck->sched_quiet |= 1u << cpu;
		return;
	}
	read_fetch(ck, cpu);
	if (new_run && ck->sched_quiet)
		read_wake_ready(ck);
}

/*
 * The records of `c`'s next event, `h` and its `ncont` continuations, are
 * taken from the run at hand into its lookahead `ev` (ck_read_plain) and
 * stand for the canonical events there: `ev`'s header as ck_expand has it.
 */
static inline __attribute__((always_inline)) void
read_take(struct ck *ck, struct ck_cpu *c, struct ck_event *ev, unsigned cpu,
	  const struct pkvm_record *h, unsigned ncont, uint64_t site)
{
	ck_run_take(ck, c, h, ncont);
	ev->site = site;
	ck_event_head(ev, cpu, ncont + 1);
	c->has_next = true;
	c->done = false;
}

/* The end of read_refill_plain for a lock not seen before (see there). */
static __attribute__((noinline)) void
read_refill_lock(struct ck *ck, unsigned cpu, struct ck_event *ev)
{
	lockmap_translate(ck, ev);
	ck_sched_note(ck, cpu, ev, true);
}

/*
 * read_refill_plain for a compact record, copied into `c`'s lookahead
 * already: its first canonical event, the others to follow (ck_expand).
 * A kind this checker does not know expands to nothing, changing nothing:
 * read_refill_full skips it.
 */
static __attribute__((noinline)) void
read_refill_compact(struct ck *ck, unsigned cpu, struct ck_cpu *c,
		    const struct pkvm_record *h, unsigned ncont, uint64_t site)
{
	struct ck_event *ev = ck_next(c);
	unsigned count =
		trace_expand_words(&c->expand, ev->recs, ncont + 1, c->parts);

	if (count == 0) {
		read_refill_full(ck, cpu);
		return;
	}
	read_take(ck, c, ev, cpu, h, ncont, site);
	ck_event_compact(c, ev, count);
	if (ev->kind == PKVM_EV_LOCK_ACQUIRE ||
	    ev->kind == PKVM_EV_LOCK_RELEASE)
		lockmap_translate(ck, ev);
	ck_sched_note(ck, cpu, ev, true);
}

/*
 * The common case of read_refill (see there): `h`, the head of the next
 * event, lies whole in the plain run at hand with `ncont` continuations.
 * This is what read_fetch would do with it, step for step, for an event
 * that stands for itself (trace_expand_follow); a compact record goes to
 * read_refill_compact. What needs calls of its own (those, and
 * read_refill_lock) is called last, so that nothing here is kept across
 * a call.
 */
static inline __attribute__((always_inline)) void
read_refill_plain(struct ck *ck, unsigned cpu, struct ck_cpu *c,
		  const struct pkvm_record *h, unsigned ncont, bool sites)
{
	struct ck_event *ev = ck_next(c);
	unsigned kind = h->kind;
	uint64_t site = 0;

	ev->recs[0] = h[0];
	for (unsigned i = 1; i <= ncont; i++)
		ev->recs[i] = h[i];
	/* Sites first, as in ck_expand. */
	if (sites)
		site = trace_sites_take(&ck->sites, ev->recs, ncont + 1);
	if (!trace_expand_follow(&c->expand, ev->recs, ncont + 1)) {
		read_refill_compact(ck, cpu, c, h, ncont, site);
		return;
	}
	read_take(ck, c, ev, cpu, h, ncont, site);
	ck_event_canonical(c, ev, ncont + 1);
	if ((kind == PKVM_EV_LOCK_ACQUIRE || kind == PKVM_EV_LOCK_RELEASE) &&
	    !lockmap_translate_known(ck, ev)) {
		read_refill_lock(ck, cpu, ev);
		return;
	}
	ck_sched_note(ck, cpu, ev, true);
}

/* read_refill_plain for records without sites (linux-6.12's, and our
 * hyp's before format 5) and with them: apart, so that the first pays
 * nothing for the second. */
static __attribute__((flatten, noinline)) void
read_refill_bare(struct ck *ck, unsigned cpu, struct ck_cpu *c,
		 const struct pkvm_record *h, unsigned ncont)
{
	read_refill_plain(ck, cpu, c, h, ncont, false);
}

static __attribute__((flatten, noinline)) void
read_refill_sited(struct ck *ck, unsigned cpu, struct ck_cpu *c,
		  const struct pkvm_record *h, unsigned ncont)
{
	read_refill_plain(ck, cpu, c, h, ncont, true);
}

/*
 * Read `cpu`'s next event into its lookahead; a sequence gap is a loss.
 * The caller has handed out every part of the last compact record.
 *
 * Nearly every call finds the next event whole in a plain run at hand
 * (as ck_read_plain takes it), a BOOT aside: such an event goes to
 * read_refill_plain (which takes its site, if the records carry them), a
 * function small enough to need few registers saved; all else to
 * read_refill_full, which is as big as its many cases make it: its entry and
 * exit alone came to 2% of a replay's instructions when every event went there.
 * This one decides which, saving nothing.
 */
void read_refill(struct ck *ck, unsigned cpu)
{
	struct ck_cpu *c = &ck->cpu[cpu];
	const struct pkvm_record *h = c->run;
	unsigned ncont;

	if (c->run_left == 0 || !c->run_plain || !c->seq_started ||
	    h->seq != c->expect_seq) {
		read_refill_full(ck, cpu);
		return;
	}
	ncont = h->flags & (PKVM_REC_F_CONT | PKVM_REC_F_NCONT_MASK);
	if ((ncont & PKVM_REC_F_CONT) || ncont >= c->run_left ||
	    h->kind == PKVM_EV_BOOT) {
		read_refill_full(ck, cpu);
		return;
	}
	if (ck->sites.on)
		read_refill_sited(ck, cpu, c, h, ncont);
	else
		read_refill_bare(ck, cpu, c, h, ncont);
}

/**
 * No CPU can run: wake the lowest quiet CPU whatever the reader must
 * decode for it. Returns false if there is none.
 */
bool read_wake_one(struct ck *ck)
{
	if (!ck->sched_quiet)
		return false;
	/* Read on in file order until the first quiet CPU's records come:
	 * no further than that one needs. */
	for (;;) {
		unsigned before = ck->sched_quiet;

		read_wake_ready(ck);
		if (ck->sched_quiet != before)
			return true;
		if (ck->src->more(ck->src) <= 0)
			break;
	}
	/* The end, or an error the next read reports: wake them all. */
	for (unsigned m = ck->sched_quiet; m; m &= m - 1)
		read_fetch(ck, (unsigned)__builtin_ctz(m));
	ck->sched_quiet = 0;
	return true;
}

/* (Inlined by force: see ck_expand.) */
static inline __attribute__((always_inline)) void read_fetch(struct ck *ck,
							     unsigned cpu)
{
	struct ck_cpu *c = &ck->cpu[cpu];
	bool loss = false;
	int rc = ck_fetch(ck, cpu, &loss);

	c->has_next = rc == 1;
	c->done = rc != 1;
	if (rc == 1 && (ck_next(c)->kind == PKVM_EV_LOCK_ACQUIRE ||
			ck_next(c)->kind == PKVM_EV_LOCK_RELEASE))
		lockmap_translate(ck, ck_next(c));
	ck_sched_note(ck, cpu, ck_next(c), rc == 1);
	if (loss && rc == 1)
		replay_loss(ck, cpu);
}
