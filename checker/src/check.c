// SPDX-License-Identifier: MIT
/*
 * The replay: assemble events from per-CPU record streams, linearise them
 * on lock order, keep the machine model up to date, and hand traps to
 * trap.c. Findings are about the implementation (its trace); anything that
 * means the checker itself is wrong goes through CK_CHECK (exit 70).
 *
 * Linearisation: within a CPU events keep sequence order; an acquisition
 * of a lock with ticket n + 1 is replayed only after the release of ticket
 * n. Among the CPUs whose next event may run, the one earliest in the
 * source goes first, then the earliest in time (ck_sched_before); any
 * schedule that respects both orders gives the same result, because all
 * shared state is written under its lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "internal.h"

_Noreturn void ck_internal_error(const char *file, int line, const char *what)
{
	fprintf(stderr, "pkvm-check: internal error at %s:%d: %s\n", file, line,
		what);
	exit(CK_EXIT_INTERNAL);
}

/* ---- findings and inconclusive checks ------------------------------- */

void ck_finding(struct ck *ck, const char *check, const struct ck_event *ev,
		uint64_t addr, bool has_explain, uint64_t explain,
		const char *fmt, ...)
{
	const struct ck_event *hist[64];
	struct ck_finding f;
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	unsigned n = c->replayed;
	va_list ap;

	if (ck->stop)
		return;
	memset(&f, 0, sizeof(f));
	f.check = check;
	va_start(ap, fmt);
	vsnprintf(f.text, sizeof(f.text), fmt, ap);
	va_end(ap);
	f.addr = addr;
	f.event = ev;
	f.trap = c->trap.active ? &c->trap.entry : NULL;
	f.has_explain = has_explain;
	f.explain_index = explain;
	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++)
		hist[i] = &c->ring[(c->head + c->ring_size - n + i) %
				   c->ring_size];
	f.history = hist;
	f.history_count = n;
	ck->sum->findings++;
	if (ck->sink && ck->sink->finding)
		ck->sink->finding(ck->sink->ctx, &f);
	if (ck->opt->max_findings && ck->sum->findings >= ck->opt->max_findings)
		ck->stop = ck->sum->stopped = true;
}

void ck_inconclusive(struct ck *ck, const char *fmt, ...)
{
	va_list ap;

	if (ck->sum->inconclusive++ == 0) {
		va_start(ap, fmt);
		vsnprintf(ck->sum->first_inconclusive,
			  sizeof(ck->sum->first_inconclusive), fmt, ap);
		va_end(ap);
	}
}

/* ---- the spec's view of the model ----------------------------------- */

struct spec_page ck_page(const struct ck *ck, uint64_t pfn)
{
	struct spec_page p = { SPEC_ST_NOPAGE, SPEC_ST_NOPAGE };
	int64_t i = ck->model ? model_page_index(ck->model, pfn) : -1;

	if (i < 0)
		return p;
	p.host = (uint8_t)model_state(PKVM_COMP_HOST_S2,
				      &ck->model->side[PKVM_COMP_HOST_S2][i]);
	p.hyp = (uint8_t)model_state(PKVM_COMP_HYP_S1,
				     &ck->model->side[PKVM_COMP_HYP_S1][i]);
	if (ck->unknown[i] & (1u << PKVM_COMP_HOST_S2))
		p.host = SPEC_ST_UNKNOWN;
	if (ck->unknown[i] & (1u << PKVM_COMP_HYP_S1))
		p.hyp = SPEC_ST_UNKNOWN;
	return p;
}

static struct spec_page ck_page_cb(const void *ctx, uint64_t pfn)
{
	return ck_page(ctx, pfn);
}

static bool ck_pinned_cb(const void *ctx, uint64_t pfn)
{
	const struct ck *ck = ctx;

	for (unsigned i = 0; i < ck->pin_count; i++)
		if (pfn >= ck->pins[i].first_pfn && pfn <= ck->pins[i].last_pfn)
			return true;
	return false;
}

void ck_spec_machine(const struct ck *ck, struct spec_machine *m)
{
	memset(m, 0, sizeof(*m));
	m->ram_base = ck->ram_base;
	m->ram_size = ck->ram_size;
	m->hyp_start = ck->hyp_start;
	m->hyp_end = ck->hyp_end;
	m->cpu_count = ck->boot_cpus;
	m->trace_loaded = ck->trace_loaded;
	m->test_hcalls = ck->boot_flags & SPEC_BOOT_F_TEST_HCALLS;
	m->ctx = ck;
	m->page = ck_page_cb;
	m->pinned = ck_pinned_cb;
}

/* ---- event assembly ------------------------------------------------- */

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
	for (unsigned k = 0; k < nrec; k++) {
		ev->w[2 * k] = recs[k].a;
		ev->w[2 * k + 1] = recs[k].b;
	}
}

/* The lookahead of a CPU, and the event replayed just before it. */
static struct ck_event *ck_next(const struct ck_cpu *c)
{
	return c->next;
}

static const struct ck_event *ck_prev(const struct ck_cpu *c)
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
		ev->cpu = prev->cpu;
		ev->nrec = prev->nrec;
		/* Compact records that expand into several events are one
		 * record each: no call to memcpy for it. */
		ev->recs[0] = prev->recs[0];
		for (unsigned k = 1; k < prev->nrec; k++)
			ev->recs[k] = prev->recs[k];
	}
	ev->kind = p->kind;
	ev->kbits = p->kbits;
	for (unsigned k = 0; k < p->nrec; k++) {
		ev->w[2 * k] = p->w[2 * k];
		ev->w[2 * k + 1] = p->w[2 * k + 1];
	}
	ev->part = (uint8_t)i;
	ev->parts = (uint8_t)c->part_count;
	ev->incomplete = p->incomplete;
	ev->invalid = p->invalid;
}

/*
 * The records of CPU `c`'s next event into `ev->recs`, when the event lies
 * whole in the run at hand and is plainly well formed: a known kind, its
 * continuations all there, every record in sequence after the one before.
 * Nearly all events are; for them one look at each record does instead of
 * ck_read's bookkeeping per record, and what ck_read_checked would do
 * with them comes to the same. Returns the count of continuations, or -1,
 * having taken nothing, for anything else: ck_read_checked reads it.
 */
static int ck_read_plain(struct ck *ck, struct ck_cpu *c, struct ck_event *ev)
{
	const struct pkvm_record *h = c->run;
	unsigned ncont;

	if (c->run_left == 0 || !c->seq_started || h->seq != c->expect_seq)
		return -1;
	/* A continuation bit on the head makes `ncont` match no kind. */
	ncont = h->flags & (PKVM_REC_F_CONT | PKVM_REC_F_NCONT_MASK);
	if (h->kind == 0 || h->kind > PKVM_EV_MAX_KNOWN ||
	    ncont != pkvm_event_ncont(h->kind) || ncont >= c->run_left)
		return -1;
	for (unsigned i = 1; i <= ncont; i++)
		if ((h[i].flags & (PKVM_REC_F_CONT | PKVM_REC_F_NCONT_MASK)) !=
			    (PKVM_REC_F_CONT | i) ||
		    h[i].kind != h->kind || h[i].seq != h->seq + i)
			return -1;
	ev->recs[0] = h[0];
	for (unsigned i = 1; i <= ncont; i++)
		ev->recs[i] = h[i];
	c->expect_seq = h->seq + ncont + 1;
	c->run += ncont + 1;
	c->run_left -= ncont + 1;
	ck->read_pos = c->run_pos;
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
 */
static bool ck_expand(struct ck_cpu *c, struct ck_event *ev, unsigned cpu,
		      unsigned nrec)
{
	ev->ts = ev->recs[0].ts;
	ev->seq = ev->recs[0].seq;
	ev->cpu = (uint16_t)cpu;
	ev->nrec = (uint8_t)nrec;
	if (trace_expand_follow(&c->expand, ev->recs, nrec)) {
		/* Canonical already (most events): its own words. */
		ck_words(ev, ev->recs, nrec);
		ev->part = 0;
		ev->parts = 1;
		ev->incomplete = ev->invalid = false;
		c->part_count = c->part_next = 0;
		return true;
	}
	c->part_count =
		trace_expand_words(&c->expand, ev->recs, nrec, c->parts);
	if (c->part_count == 0)
		return false;
	c->part_next = 1;
	ck_part(c, ev, 0);
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
	if (ncont >= 0 && ck_expand(c, ev, cpu, (unsigned)ncont + 1))
		return 1;
	for (;;) {
		rc = ck_read_checked(ck, cpu, ev, loss, &ncont);
		if (rc <= 0)
			return rc;
		/* An exit after lost records must not close an older entry. */
		if (*loss)
			trace_expand_loss(&c->expand);
		if (ncont < (int)PKVM_EVENT_MAX_RECORDS &&
		    ck_expand(c, ev, cpu, (unsigned)ncont + 1))
			return 1;
		/* Else a kind of a newer minor version: skip it. */
	}
}

/* ---- loss ----------------------------------------------------------- */

/* Records of `cpu` are missing: what they could have touched is unknown. */
/*
 * A component's state may have changed in records we do not have: every
 * page's side of it becomes unknown (until a store rewrites it), and the
 * traps in progress cannot be judged.
 */
static void ck_unknown_comp(struct ck *ck, unsigned comp, const char *why)
{
	if (!ck->model)
		return;
	for (uint64_t i = 0; i < ck->model->ram_pages; i++)
		ck->unknown[i] |= (uint8_t)(1u << comp);
	for (unsigned i = 0; i < ck->ncpu; i++) {
		struct ck_trap *t = &ck->cpu[i].trap;

		if (t->active && !t->unknown) {
			t->unknown = true;
			snprintf(t->unknown_why, sizeof(t->unknown_why), "%s",
				 why);
		}
	}
}

/*
 * Records of `cpu` are missing. Lock tickets bound what they could have
 * done: a component can only have changed if that CPU held its lock at
 * the gap, or took it in the gap, which shows later as a ticket gap or a
 * release without acquire (ck_deadlock, ck_release). Only those
 * components become unknown.
 */
static void ck_loss(struct ck *ck, unsigned cpu)
{
	struct ck_cpu *c = &ck->cpu[cpu];

	ck->any_loss = true;
	c->lost = true;
	c->entry_maybe_lost = true;
	tlb_loss(ck, cpu);
	ck_inconclusive(ck,
			"records of cpu%u were lost: the events in that "
			"window are not checked",
			cpu);
	if (c->trap.active && !c->trap.unknown) {
		c->trap.unknown = true;
		snprintf(c->trap.unknown_why, sizeof(c->trap.unknown_why),
			 "records of cpu%u were lost during the trap", cpu);
	}
	for (unsigned comp = 1; comp < MODEL_COMP_COUNT; comp++)
		if (c->held & (1u << comp))
			ck_unknown_comp(ck, comp,
					"a component was changed in lost "
					"records");
}

/*
 * May `cpu`'s next event, an acquisition (CK_SCHED_ACQUIRE), run now? Only
 * acquisitions ever wait: for the release of the ticket before theirs.
 */
static bool ck_runnable(const struct ck *ck, unsigned cpu)
{
	const struct ck_lock *l = &ck->lock[ck->sched_lock[cpu]];
	uint64_t ticket = ck->sched_ticket[cpu];

	if (ticket < l->next_ticket)
		return true; /* a repeated ticket: reported when replayed */
	return l->holder < 0 && ticket == l->next_ticket;
}

static void ck_sched_set_ready(struct ck *ck, unsigned cpu, bool ready)
{
	if (ready)
		ck->sched_ready |= 1u << cpu;
	else
		ck->sched_ready &= ~(1u << cpu);
}

/* Lock `id` changed hands or tickets: which of its waiters may run now. */
static void ck_sched_lock(struct ck *ck, unsigned id)
{
	for (unsigned m = ck->sched_waiting[id]; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);

		ck_sched_set_ready(ck, i, ck_runnable(ck, i));
	}
}

/*
 * Keep what ck_pick needs of `cpu`'s lookahead `ev` in the scheduling
 * summary: when it comes, whether it may run now, and the ticket an
 * acquisition waits for.
 */
static inline void ck_sched_note(struct ck *ck, unsigned cpu,
				 const struct ck_event *ev, bool has_next)
{
	unsigned id = (unsigned)ev->w[0];

	if (ck->sched_state[cpu] == CK_SCHED_ACQUIRE)
		ck->sched_waiting[ck->sched_lock[cpu]] &= ~(1u << cpu);
	ck->sched_ts[cpu] = ev->ts;
	/* (For the later parts of a compact record, which read nothing,
	 * the position of whatever record was read last.) */
	ck->sched_pos[cpu] = ck->read_pos;
	ck->sched_state[cpu] = CK_SCHED_READY;
	if (!has_next) {
		ck->sched_state[cpu] = CK_SCHED_NONE;
	} else if (ev->kind == PKVM_EV_LOCK_ACQUIRE && id != 0 &&
		   id < CK_LOCK_COUNT) {
		/* (An unknown lock id never waits: it is reported.) */
		ck->sched_state[cpu] = CK_SCHED_ACQUIRE;
		ck->sched_lock[cpu] = (uint8_t)id;
		ck->sched_ticket[cpu] = ev->w[1];
		ck->sched_waiting[id] |= 1u << cpu;
	}
	ck_sched_set_ready(ck, cpu,
			   ck->sched_state[cpu] == CK_SCHED_READY ||
				   (ck->sched_state[cpu] == CK_SCHED_ACQUIRE &&
				    ck_runnable(ck, cpu)));
}

static void ck_refill(struct ck *ck, unsigned cpu)
{
	struct ck_cpu *c = &ck->cpu[cpu];
	bool loss = false;
	int rc = ck_fetch(ck, cpu, &loss);

	c->has_next = rc == 1;
	c->done = rc != 1;
	ck_sched_note(ck, cpu, ck_next(c), rc == 1);
	if (loss && rc == 1)
		ck_loss(ck, cpu);
}

/* ---- model glue ----------------------------------------------------- */

static void ck_on_change(void *ctx, unsigned comp, uint64_t pfn,
			 const struct model_side *old)
{
	struct ck *ck = ctx;
	int64_t i = model_page_index(ck->model, pfn);
	struct ck_cpu *c = &ck->cpu[ck->cur_cpu];

	CK_CHECK(i >= 0 && comp < MODEL_COMP_COUNT);
	if (c->trap.active && !c->trap.snapped)
		trap_touch(ck, &c->trap, comp, pfn, old);
	else if (!c->trap.active && ck->boot_checked &&
		 ck->outside_count <
			 sizeof(ck->outside) / sizeof(ck->outside[0]))
		ck->outside[ck->outside_count++] = pfn;
	ck->unknown[i] &= (uint8_t) ~(1u << comp);
	ck->last[i] = c->trap.active ? c->trap.entry.index : ck->index;
}

static bool ck_alloc_seen(const struct ck_cpu *c, uint64_t pa)
{
	for (size_t i = 0; i < c->alloc_count; i++)
		if (c->allocs[i] == pa)
			return true;
	return false;
}

/* A table descriptor installed a new page: it must come from the pool. */
static void ck_check_install(struct ck *ck, const struct ck_event *ev,
			     const struct model_write *w)
{
	uint64_t pa = w->child_pa;
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	bool in_pool = pa >= ck->pool_start && pa < ck->pool_end;
	uint64_t pi = (pa - ck->pool_start) >> 12;

	if (w->conflict) {
		ck_finding(ck, "table-reuse", ev, pa, false, 0,
			   "table descriptor points at page 0x%llx, which is "
			   "already a table elsewhere in the page tables; a "
			   "table page belongs to exactly one tree",
			   (unsigned long long)pa);
		return;
	}
	if (!w->installed_new)
		return;
	if (!in_pool || !ck_alloc_seen(c, pa) || (ck->pool[pi] & 2)) {
		if (ck->any_loss) {
			ck_inconclusive(ck,
					"table page 0x%llx: its allocation "
					"may have been lost",
					(unsigned long long)pa);
			return;
		}
		ck_finding(ck, "table-not-from-pool", ev, pa, false, 0,
			   "a new table page must be one handed out by the "
			   "pool [0x%llx, 0x%llx) in the same trap and never "
			   "used before; page 0x%llx %s",
			   (unsigned long long)ck->pool_start,
			   (unsigned long long)ck->pool_end,
			   (unsigned long long)pa,
			   !in_pool ? "is outside the pool"
			   : (ck->pool[pi] & 2)
				   ? "was already installed as a table"
				   : "was not handed out (NONDET alloc_page) "
				     "in this trap");
	}
	if (in_pool)
		ck->pool[pi] |= 2;
}

/*
 * After boot, every descriptor store belongs to a trap, whose effect the
 * spec judges. A store outside any trap has no spec to answer to, so the
 * page invariants are its judge: checked on each page it changed, at once.
 */
static void ck_check_outside(struct ck *ck, const struct ck_event *ev)
{
	char msg[320];

	if (ck->outside_count && ck->cpu[ev->cpu].entry_maybe_lost) {
		/* Likely inside a trap whose entry was lost: not judged. */
		ck_inconclusive(ck,
				"cpu%u stores a descriptor outside any known "
				"trap after its lost records (the trap's "
				"entry may be among them)",
				ev->cpu);
		ck->outside_count = 0;
		return;
	}
	for (unsigned k = 0; k < ck->outside_count; k++) {
		uint64_t pfn = ck->outside[k];
		const char *check = trap_invariant(ck, pfn, msg, sizeof(msg));

		if (check)
			ck_finding(ck, check, ev, pfn << 12, false, 0,
				   "%s (after a descriptor store outside any "
				   "trap)",
				   msg);
	}
	ck->outside_count = 0;
}

static void ck_pte_write(struct ck *ck, const struct ck_event *ev)
{
	struct model_write w;
	uint64_t pa = ev->w[0];
	unsigned lock;

	ck->outside_count = 0;
	tlb_pte_write(ck, ev); /* needs the old descriptor */
	bbm_pte_write(ck, ev); /* ... and tlb.c's open breaks */
	CK_CHECK(model_pte_write(ck->model, pa, ev->w[1], &w) == 0);
	ck_check_outside(ck, ev);
	if (w.table < 0) {
		if (ck->any_loss) {
			ck_inconclusive(ck,
					"descriptor store to 0x%llx "
					"after lost records",
					(unsigned long long)pa);
			return;
		}
		{
			ck_finding(
				ck, "pte-write-not-table", ev, pa, false, 0,
				"descriptor store to 0x%llx, which is not in "
				"any page-table page of host stage-2 or hyp "
				"stage-1",
				(unsigned long long)pa);
			return;
		}
	}
	lock = w.comp; /* component ids equal their lock ids */
	if (ck->lock[lock].holder != (int)ev->cpu) {
		if (ck->cpu[ev->cpu].lost)
			ck_inconclusive(ck,
					"descriptor store by cpu%u after "
					"its lost records",
					ev->cpu);
		else
			ck_finding(ck, "pte-write-without-lock", ev, pa, false,
				   0,
				   "descriptor store to a %s table (0x%llx) by "
				   "cpu%u, which does not hold the %s lock%s",
				   w.comp == PKVM_COMP_HOST_S2 ? "host stage-2"
							       : "hyp stage-1",
				   (unsigned long long)pa, ev->cpu,
				   w.comp == PKVM_COMP_HOST_S2 ? "host_s2"
							       : "hyp_s1",
				   ck->lock[lock].holder >= 0
					   ? " (another CPU holds it)"
					   : "");
	}
	ck_check_install(ck, ev, &w);
}

/* ---- locks ---------------------------------------------------------- */

static bool ck_comp_lock(unsigned id)
{
	return id == PKVM_LOCK_HOST_S2 || id == PKVM_LOCK_HYP_S1;
}

static void ck_inconsistent(struct ck *ck, const struct ck_event *ev,
			    const char *what)
{
	ck_finding(ck, "inconsistent-trace", ev, 0, false, 0, "%s", what);
	ck->stop = ck->sum->stopped = true;
}

static void ck_acquire(struct ck *ck, const struct ck_event *ev)
{
	unsigned id = (unsigned)ev->w[0];
	struct ck_lock *l;
	char msg[200];

	if (id == 0 || id >= CK_LOCK_COUNT) {
		ck_inconsistent(ck, ev,
				"lock_acquire of an unknown "
				"lock id");
		return;
	}
	l = &ck->lock[id];
	if (!ck->cpu[ev->cpu].lost && !ck->any_loss &&
	    (l->holder >= 0 || ev->w[1] != l->next_ticket)) {
		snprintf(msg, sizeof(msg),
			 "cpu%u acquires lock %u with ticket %llu, but %s",
			 ev->cpu, id, (unsigned long long)ev->w[1],
			 l->holder >= 0 ? "the lock is held"
					: "that ticket was already taken");
		{
			ck_inconsistent(ck, ev, msg);
			return;
		}
	}
	if ((l->holder >= 0 || ev->w[1] != l->next_ticket) && ck_comp_lock(id))
		ck_unknown_comp(ck, id,
				"lock tickets were taken in lost "
				"records");
	if (l->holder >= 0 && l->holder != (int)ev->cpu)
		ck->cpu[l->holder].held &= ~(1u << id);
	l->holder = ev->cpu;
	l->ticket = ev->w[1];
	l->next_ticket = ev->w[1] + 1;
	ck_sched_lock(ck, id);
	ck->cpu[ev->cpu].held |= 1u << id;
	if (ck_comp_lock(id) && ck->cpu[ev->cpu].trap.active)
		trap_on_comp_lock(ck, ev->cpu);
}

static void ck_release(struct ck *ck, const struct ck_event *ev)
{
	unsigned id = (unsigned)ev->w[0];
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	struct ck_lock *l;
	char msg[200];

	if (id == 0 || id >= CK_LOCK_COUNT) {
		ck_inconsistent(ck, ev,
				"lock_release of an unknown "
				"lock id");
		return;
	}
	l = &ck->lock[id];
	if ((l->holder != (int)ev->cpu || l->ticket != ev->w[1]) && !c->lost) {
		snprintf(msg, sizeof(msg),
			 "cpu%u releases lock %u ticket %llu, which it does "
			 "not hold",
			 ev->cpu, id, (unsigned long long)ev->w[1]);
		{
			ck_inconsistent(ck, ev, msg);
			return;
		}
	}
	tlb_release(ck, ev); /* unmaps under this lock: TLB maintenance done? */
	if (l->holder != (int)ev->cpu && ck_comp_lock(id))
		ck_unknown_comp(ck, id, "a lock was taken in lost records");
	if (l->holder == (int)ev->cpu) {
		l->holder = -1;
		ck_sched_lock(ck, id);
	}
	c->held &= ~(1u << id);
	if (ck_comp_lock(id) && c->trap.active && c->trap.had_comp_lock &&
	    !(c->held & ((1u << PKVM_LOCK_HOST_S2) | (1u << PKVM_LOCK_HYP_S1))))
		trap_snapshot(ck, ev->cpu);
}

/* No CPU can run: lost records explain it, or the trace is inconsistent. */
static int ck_deadlock(struct ck *ck)
{
	char msg[900];
	size_t n = 0;
	int first = -1;

	for (unsigned i = 0; i < ck->ncpu; i++) {
		const struct ck_event *ev = ck_next(&ck->cpu[i]);

		if (!ck->cpu[i].has_next)
			continue;
		if (first < 0 || ev->ts < ck_next(&ck->cpu[first])->ts)
			first = (int)i;
		n += (size_t)snprintf(
			msg + n, n < sizeof(msg) ? sizeof(msg) - n : 0,
			"%scpu%u waits for lock %u ticket %llu "
			"(next ticket %llu)",
			n ? "; " : "", i, (unsigned)ev->w[0],
			(unsigned long long)ev->w[1],
			(unsigned long long)ck->lock[ev->w[0] % CK_LOCK_COUNT]
				.next_ticket);
		if (n >= sizeof(msg))
			n = sizeof(msg) - 1;
	}
	CK_CHECK(first >= 0);
	if (!ck->boot_seen) {
		ck_corrupt_at(ck, ck->sched_pos[first],
			      "the trace does not start with a BOOT record on "
			      "cpu0");
		return -1;
	}
	if (ck->any_loss) {
		/* Resynchronise: the missing tickets were in lost records. */
		struct ck_event *ev = ck_next(&ck->cpu[first]);
		struct ck_lock *l = &ck->lock[ev->w[0] % CK_LOCK_COUNT];

		ck_inconclusive(ck, "lock order across lost records");
		if (ck_comp_lock((unsigned)(ev->w[0] % CK_LOCK_COUNT)))
			ck_unknown_comp(ck,
					(unsigned)(ev->w[0] % CK_LOCK_COUNT),
					"lock tickets were taken in lost "
					"records");
		if (l->holder >= 0)
			ck->cpu[l->holder].held &=
				~(1u << (ev->w[0] % CK_LOCK_COUNT));
		l->holder = -1;
		l->next_ticket = ev->w[1];
		ck_sched_lock(ck, (unsigned)(ev->w[0] % CK_LOCK_COUNT));
		return first;
	}
	if (ck->src->truncated && ck->src->truncated(ck->src)) {
		ck_inconclusive(ck,
				"the trace is truncated while CPUs wait "
				"for locks: %s",
				msg);
		return -1;
	}
	ck_inconsistent(ck, ck_next(&ck->cpu[first]), msg);
	return -1;
}

/*
 * Among runnable events, the one earliest in the source goes first, then
 * the earliest in time. Any order that keeps each CPU's order and each
 * lock's ticket order is equivalent (see the top of this file), so the
 * choice is free; following the source lets the reader release decoded
 * frames as soon as possible.
 */
static bool ck_sched_before(const struct ck *ck, unsigned a, unsigned b)
{
	if (ck->sched_pos[a] != ck->sched_pos[b])
		return ck->sched_pos[a] < ck->sched_pos[b];
	return ck->sched_ts[a] < ck->sched_ts[b];
}

/*
 * The CPU whose event runs next. Reads only the small summary kept by
 * ck_sched_note and ck_sched_lock (which CPUs may run, positions and
 * timestamps), which stays in cache; the lookahead events themselves are
 * kilobytes apart. Most of the time one CPU runs while the others wait
 * for its locks: then there is nothing to compare.
 *
 * And most of the time the CPU that ran last runs again. Between two
 * picks only that CPU's lookahead changes (ck_advance); the others keep
 * theirs, and so their order among themselves, unless a lock change made
 * one ready or not. So a full choice remembers the best of the others,
 * and while the same others are ready, the next choice is between the
 * last CPU and that runner-up alone.
 */
static int ck_pick(struct ck *ck)
{
	unsigned m = ck->boot_seen ? ck->sched_ready : 0;
	int last = ck->sched_last;

	if (!ck->boot_seen && ck->sched_state[0])
		return 0; /* BOOT comes first, on cpu0 */
	if (last >= 0 && (m & (1u << last)) &&
	    (m & ~(1u << last)) == ck->sched_others) {
		int second = ck->sched_second;

		/* A tie goes to the lower CPU, as in the full choice. */
		if (second < 0 ||
		    ck_sched_before(ck, (unsigned)last, (unsigned)second) ||
		    (last < second &&
		     !ck_sched_before(ck, (unsigned)second, (unsigned)last)))
			return last;
	}
	ck->sched_last = -1;
	if (m) {
		/* The lowest CPU wins a tie: it is looked at first. */
		unsigned best = (unsigned)__builtin_ctz(m);
		int second = -1;

		for (unsigned r = m & (m - 1); r; r &= r - 1) {
			unsigned i = (unsigned)__builtin_ctz(r);

			if (ck_sched_before(ck, i, best)) {
				second = (int)best;
				best = i;
			} else if (second < 0 ||
				   ck_sched_before(ck, i, (unsigned)second)) {
				second = (int)i;
			}
		}
		ck->sched_last = (int)best;
		ck->sched_second = second;
		ck->sched_others = m & ~(1u << best);
		return (int)best;
	}
	for (unsigned i = 0; i < ck->ncpu; i++)
		if (ck->sched_state[i] != CK_SCHED_NONE)
			return ck_deadlock(ck);
	return -1;
}

/* ---- boot ----------------------------------------------------------- */

static int ck_boot(struct ck *ck, const struct ck_event *ev)
{
	ck->boot_cpus = (unsigned)(ev->w[0] >> 32);
	ck->ram_base = ev->w[2];
	ck->ram_size = ev->w[3];
	ck->hyp_start = ev->w[4];
	ck->hyp_end = ev->w[5];
	ck->pool_start = ev->w[6];
	ck->pool_end = ev->w[7];
	ck->boot_flags = ev->w[13];
	if (verdict_boot(ck, ev, ck->cur_pos) < 0)
		return -1;
	ck->model = model_create(ck->ram_base, ck->ram_size);
	ck->unknown = calloc(ck->ram_size >> 12, 1);
	ck->last = malloc((ck->ram_size >> 12) * sizeof(uint64_t));
	ck->pool_pages = (ck->pool_end - ck->pool_start) >> 12;
	ck->pool = calloc(ck->pool_pages ? ck->pool_pages : 1, 1);
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++)
		ck->touch[c] = calloc(ck->ram_size >> 12, sizeof(uint32_t));
	CK_CHECK(ck->model && ck->unknown && ck->last && ck->pool &&
		 ck->touch[1] && ck->touch[2]);
	memset(ck->last, 0xff, (ck->ram_size >> 12) * sizeof(uint64_t));
	ck->model->on_change = ck_on_change;
	ck->model->cb_ctx = ck;
	if (model_set_root(ck->model, PKVM_COMP_HOST_S2, ev->w[8]) ||
	    model_set_root(ck->model, PKVM_COMP_HYP_S1, ev->w[9])) {
		ck_corrupt_at(ck, ck->cur_pos,
			      "the BOOT record gives bad page-table roots");
		return -1;
	}
	ck->boot_seen = true;
	return 0;
}

/* HYPERCALLS.md "Boot state", checked when the host first runs. */
static void ck_boot_state(struct ck *ck, const struct ck_event *ev)
{
	uint64_t bad = 0, first = 0, pages = ck->model->ram_pages;
	char what[200] = "";

	ck->boot_checked = true;
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t pa = ck->ram_base + (i << 12);
		bool hyp = pa >= ck->hyp_start && pa < ck->hyp_end;
		const struct model_side *hs = &ck->model->side[1][i];
		const struct model_side *ys = &ck->model->side[2][i];
		struct spec_page p = ck_page(ck, pa >> 12);
		bool ok;

		if (p.host == SPEC_ST_UNKNOWN || p.hyp == SPEC_ST_UNKNOWN) {
			ck_inconclusive(ck, "boot state: records lost");
			return;
		}
		if (hyp)
			ok = p.host == SPEC_ST_NOPAGE &&
			     hs->owner == PKVM_OWNER_HYP &&
			     p.hyp == SPEC_ST_OWNED && ys->out_pfn == pa >> 12;
		else
			ok = p.host == SPEC_ST_OWNED &&
			     !(hs->flags & MODEL_SIDE_VALID) &&
			     p.hyp == SPEC_ST_NOPAGE;
		if (ok)
			continue;
		if (bad++ == 0) {
			first = pa;
			snprintf(
				what, sizeof(what),
				"page 0x%llx (%s): host side %s%s, hyp side %s",
				(unsigned long long)pa,
				hyp ? "hyp range" : "host memory",
				spec_state_name(p.host),
				hs->flags & MODEL_SIDE_VALID ? " mapped" : "",
				spec_state_name(p.hyp));
		}
	}
	if (bad)
		ck_finding(ck, "boot-state", ev, first, false, 0,
			   "when the host is first entered, [hyp_start, "
			   "hyp_end) must be host NOPAGE (owner hyp) and hyp "
			   "OWNED mapped, every other RAM page host OWNED "
			   "unmapped and hyp NOPAGE; %llu page(s) differ, "
			   "first %s",
			   (unsigned long long)bad, what);
}

/* ---- one event ------------------------------------------------------ */

static void ck_nondet(struct ck *ck, const struct ck_event *ev)
{
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	uint64_t pa = ev->w[1];

	switch (ev->w[0]) {
	case PKVM_NONDET_ALLOC_PAGE:
		if (pa == 0) {
			c->trap.alloc_failed = true;
			return;
		}
		if (pa < ck->pool_start || pa >= ck->pool_end || (pa & 0xfff) ||
		    (ck->pool[(pa - ck->pool_start) >> 12] & 1)) {
			ck_finding(
				ck, "pool-alloc", ev, pa, false, 0,
				"the pool must hand out each page of [0x%llx, "
				"0x%llx) once; it handed out 0x%llx",
				(unsigned long long)ck->pool_start,
				(unsigned long long)ck->pool_end,
				(unsigned long long)pa);
		} else {
			ck->pool[(pa - ck->pool_start) >> 12] |= 1;
		}
		if (c->alloc_count == c->alloc_cap) {
			c->alloc_cap = c->alloc_cap ? 2 * c->alloc_cap : 64;
			c->allocs = realloc(c->allocs,
					    c->alloc_cap * sizeof(uint64_t));
			CK_CHECK(c->allocs != NULL);
		}
		c->allocs[c->alloc_count++] = pa;
		return;
	case PKVM_NONDET_HOST_READ:
		if (c->trap.active)
			trap_host_read(ck, ev->cpu, ev);
		return;
	case PKVM_NONDET_HOST_SYSREG:
		if (c->trap.active && ev->w[2] == PKVM_NONDET_REG_VBAR_EL1) {
			c->trap.vbar_known = true;
			c->trap.vbar = ev->w[1];
		}
		return;
	default:
		return;
	}
}

static void ck_mark(struct ck *ck, const struct ck_event *ev)
{
	struct ck_cpu *c = &ck->cpu[ev->cpu];

	if (ev->w[0] == PKVM_MARK_HOST_ENTER) {
		c->entered_host = true;
		if (!ck->boot_checked)
			ck_boot_state(ck, ev);
	} else if (ev->w[0] == PKVM_MARK_SYSTEM_OFF && c->trap.active) {
		c->trap.system_off = true;
	}
}

static void ck_panic(struct ck *ck, const struct ck_event *ev)
{
	struct ck_trap *t = &ck->cpu[ev->cpu].trap;

	if (t->active)
		trap_prepare(ck, ev->cpu);
	if (t->active && t->type == CK_TRAP_HVC && t->expect.panics) {
		t->panicked = true;
		return;
	}
	ck_finding(ck, "hyp-panic", ev, ev->w[1], false, 0,
		   "the hyp panicked (code %llu at 0x%llx); it must never "
		   "panic on host input (only test_panic may)",
		   (unsigned long long)ev->w[0], (unsigned long long)ev->w[1]);
}

/*
 * A compact exit written where the format does not allow it (expand.h,
 * `invalid`): an HCALL_EXIT_UNLOCK2 whose trap's entry, read with no loss
 * since, took no locks. It claims releases of locks nobody took, so the
 * trace contradicts itself and nothing after it can be trusted.
 */
static void ck_exit_invalid(struct ck *ck, const struct ck_event *ev)
{
	const struct ck_trap *t = &ck->cpu[ev->cpu].trap;
	const char *entry = "trap_entry";
	char msg[300];

	/* The trap's entry is one of the two forms that take no locks. */
	if (t->active && t->entry.recs[0].kind == PKVM_EV_HCALL_ENTRY)
		entry = "hcall_entry";
	snprintf(msg, sizeof(msg),
		 "cpu%u: hcall_exit_unlock2 closes a trap whose entry (%s) "
		 "took no locks; it stands for releasing the two locks an "
		 "hcall_entry_lock2 took, and may only close such a trap",
		 ev->cpu, entry);
	ck_inconsistent(ck, ev, msg);
}

static void ck_event(struct ck *ck, const struct ck_event *ev)
{
	struct ck_cpu *c = &ck->cpu[ev->cpu];

	switch (ev->kind) {
	case PKVM_EV_BOOT:
		if (ck->boot_seen) {
			ck_inconsistent(ck, ev, "a second BOOT record");
			return;
		}
		ck_boot(ck, ev);
		return;
	case PKVM_EV_TRAP_ENTRY:
		if (c->trap.active)
			trap_abandon(ck, ev->cpu, "a trap entry without exit");
		c->alloc_count = 0;
		c->entry_maybe_lost = false;
		{
			trap_begin(ck, ev->cpu, ev);
			return;
		}
	case PKVM_EV_TRAP_EXIT:
		if (ev->invalid) {
			ck_exit_invalid(ck, ev);
			return;
		}
		if (!c->trap.active) {
			ck_inconclusive(ck,
					"cpu%u: trap exit without "
					"entry",
					ev->cpu);
			return;
		}
		if (ev->incomplete && !c->trap.unknown) {
			/* Not seen so far: the loss marks the trap unknown. */
			c->trap.unknown = true;
			snprintf(c->trap.unknown_why,
				 sizeof(c->trap.unknown_why),
				 "its %s follows lost records: x2, x3 and elr "
				 "at entry are unknown",
				 ev->recs[0].kind == PKVM_EV_HCALL_EXIT_UNLOCK2
					 ? "hcall_exit_unlock2"
					 : "hcall_exit");
		}
		tlb_trap_exit(ck, ev);
		trap_end(ck, ev->cpu, ev);
		return;
	case PKVM_EV_PTE_WRITE: {
		ck_pte_write(ck, ev);
		return;
	}
	case PKVM_EV_LOCK_ACQUIRE: {
		ck_acquire(ck, ev);
		return;
	}
	case PKVM_EV_LOCK_RELEASE: {
		ck_release(ck, ev);
		return;
	}
	case PKVM_EV_SYSREG_WRITE:
		if (ev->w[0] == PKVM_SYSREG_MAIR_EL2) {
			ck->model->mair = ev->w[1];
			ck->model->mair_known = true;
		}
		return;
	case PKVM_EV_NONDET: {
		ck_nondet(ck, ev);
		return;
	}
	case PKVM_EV_LOST:
		ck->sum->lost += ev->w[0];
		{
			ck_loss(ck, ev->cpu);
			return;
		}
	case PKVM_EV_PANIC: {
		ck_panic(ck, ev);
		return;
	}
	case PKVM_EV_MARK: {
		ck_mark(ck, ev);
		return;
	}
	case PKVM_EV_TLBI:
	case PKVM_EV_BARRIER:
		tlb_maintenance(ck, ev);
		return;
	default:
		return;
	}
}

/*
 * `cpu`'s lookahead was replayed: it joins the history (up to `context`
 * events) and the next event is read into the slot after it, which holds
 * the oldest event of the history.
 */
static void ck_advance(struct ck *ck, unsigned cpu)
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
	ck_refill(ck, cpu);
}

/* ---- the run -------------------------------------------------------- */

static void ck_finish(struct ck *ck)
{
	for (unsigned i = 0; i < ck->ncpu; i++)
		if (ck->cpu[i].trap.active && !ck->stop)
			trap_abandon(ck, i, "the trace ends inside the trap");
}

static void ck_free(struct ck *ck)
{
	for (unsigned i = 0; i < ck->ncpu; i++) {
		free(ck->cpu[i].allocs);
		free(ck->cpu[i].ring);
		trap_free(&ck->cpu[i].trap);
	}
	model_destroy(ck->model);
	free(ck->unknown);
	free(ck->last);
	free(ck->pool);
	for (unsigned c = 0; c < MODEL_COMP_COUNT; c++)
		free(ck->touch[c]);
}

static int ck_init(struct ck *ck, struct ck_source *src,
		   const struct ck_options *opt)
{
	if (verdict_header(ck) < 0)
		return -1;
	ck->ncpu = src->cpu_count;
	for (unsigned i = 0; i < CK_LOCK_COUNT; i++)
		ck->lock[i].holder = -1;
	for (unsigned i = 0; i < ck->ncpu; i++) {
		struct ck_cpu *c = &ck->cpu[i];

		/* The history, the lookahead, and room for a compact
		 * record's part 0 while its part 1 is read (context 0). */
		c->ring_size = opt->context + 1 > 2 ? opt->context + 1 : 2;
		c->ring = calloc(c->ring_size, sizeof(struct ck_event));
		CK_CHECK(c->ring != NULL);
		c->next = c->ring;
		ck_refill(ck, i);
	}
	return 0;
}

int ck_run(struct ck_source *src, const struct ck_options *opt,
	   const struct ck_sink *sink, struct ck_summary *sum)
{
	struct ck_options o = *opt;
	struct ck *ck = calloc(1, sizeof(*ck));
	int rc;

	CK_CHECK(ck != NULL);
	if (o.context > 64)
		o.context = 64;
	memset(sum, 0, sizeof(*sum));
	ck->src = src;
	ck->opt = &o;
	ck->sink = sink;
	ck->sum = sum;
	ck->sched_last = -1;
	ck_init(ck, src, &o);
	while (!ck->stop) {
		int cpu = ck_pick(ck);
		struct ck_event *ev;

		if (cpu < 0)
			break;
		ev = ck_next(&ck->cpu[cpu]);
		ck->cur_pos = ck->sched_pos[cpu];
		if (!ck->boot_seen && ev->kind != PKVM_EV_BOOT) {
			ck_corrupt_at(ck, ck->cur_pos,
				      "the trace does not start with a BOOT "
				      "record on cpu0");
			break;
		}
		ev->index = ck->index;
		ck->cur_cpu = cpu;
		ck_event(ck, ev);
		if (o.capture && ev->index == o.capture_index) {
			sum->captured = *ev;
			sum->has_captured = true;
			ck->stop = true;
		}
		ck->index++;
		sum->events++;
		ck_advance(ck, (unsigned)cpu);
	}
	/* The rest of the source is read and checked even after a stop,
	 * so no verdict rests on part of a file the reader would refuse. */
	if (!o.capture && !ck->corrupt)
		verdict_end(ck);
	/* (Cut before its first whole frame, it is merely truncated.) */
	if (!ck->boot_seen && !ck->corrupt && !ck->end.truncated)
		ck_corrupt_at(ck, src->data_offset,
			      "the trace holds no BOOT record");
	if (!ck->corrupt)
		ck_finish(ck);
	rc = verdict_code(ck);
	ck_free(ck);
	free(ck);
	return rc;
}
