/* SPDX-License-Identifier: MIT */
/*
 * Compact events to canonical ones (expand.h; FORMAT.md section 3,
 * "Compact kinds"). Each case below is the normative text of FORMAT.md
 * written as code: the compact form and the sequence it stands for.
 */
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/expand.h>

/*
 * Each compact form is expanded here once, into words (trace_words):
 * trace_expand_words hands them out so, and trace_expand builds the
 * records they stand for from them (canon_make).
 */

/* Fill `e` with an event of `kind`: flag bits `kbits`, payload words `w`. */
static void words_make(struct trace_words *e, unsigned kind, unsigned kbits,
		       const uint64_t *w)
{
	unsigned nrec = 1 + pkvm_event_ncont(kind);

	e->kind = (uint8_t)kind;
	e->kbits = (uint8_t)kbits;
	e->nrec = (uint8_t)nrec;
	e->incomplete = false;
	e->invalid = false;
	memcpy(e->w, w, 2 * nrec * sizeof(w[0]));
}

/* An event that is canonical already: its head's kind and bits, its words. */
static unsigned words_copy(struct trace_words *e,
			   const struct pkvm_record *recs, unsigned n)
{
	e->kind = recs[0].kind;
	e->kbits = recs[0].flags & PKVM_REC_F_KIND_MASK;
	e->nrec = (uint8_t)n;
	e->incomplete = false;
	e->invalid = false;
	for (unsigned i = 0; i < n; i++) {
		e->w[2 * i] = recs[i].a;
		e->w[2 * i + 1] = recs[i].b;
	}
	return 1;
}

/*
 * The records of event `e`, as trace_expand gives them: each with the
 * compact head's ts, cpu and seq, the flags its kind and `kbits` make.
 */
static void canon_make(struct trace_canon *c, const struct pkvm_record *head,
		       const struct trace_words *e)
{
	unsigned ncont = pkvm_event_ncont(e->kind);

	for (unsigned i = 0; i <= ncont; i++) {
		struct pkvm_record *r = &c->recs[i];

		r->ts = head->ts;
		r->kind = e->kind;
		r->flags =
			(uint8_t)(i ? PKVM_REC_F_CONT | i : ncont | e->kbits);
		r->cpu = head->cpu;
		r->seq = head->seq;
		r->a = e->w[2 * i];
		r->b = e->w[2 * i + 1];
	}
	c->nrec = ncont + 1;
	c->incomplete = e->incomplete;
	c->invalid = e->invalid;
}

/* An event that is canonical already: copied as it is. */
static unsigned canon_copy(struct trace_canon *c,
			   const struct pkvm_record *recs, unsigned n)
{
	memcpy(c->recs, recs, n * sizeof(recs[0]));
	c->nrec = n;
	c->incomplete = false;
	c->invalid = false;
	return 1;
}

/*
 * The lock event of `kind` (LOCK_ACQUIRE or LOCK_RELEASE, which have no
 * continuations) for half `half` of a `locks`/`tickets` pair: 0 the first
 * lock and its ticket, in the low 32 bits, 1 the second, in the high ones.
 */
static void lock_make(struct trace_words *e, unsigned kind, uint64_t locks,
		      uint64_t tickets, unsigned half)
{
	uint64_t w[2] = { (locks >> (32 * half)) & 0xFFFFFFFFu,
			  (tickets >> (32 * half)) & 0xFFFFFFFFu };

	words_make(e, kind, 0, w);
}

/*
 * HCALL_ENTRY (elr, x0; x1, x2) is the TRAP_ENTRY of HVC #0 from AArch64:
 * esr = PKVM_HCALL_ENTRY_ESR, far = hpfar = 0 (UNKNOWN for HVC), x3 = 0
 * (not recorded: no hypercall of this ABI reads it). The source bits stay.
 * The trap it opens took no locks in its entry.
 */
static unsigned expand_hcall_entry(struct trace_expand_cpu *st,
				   const struct pkvm_record *recs,
				   struct trace_words *out)
{
	const struct pkvm_record *h = &recs[0];
	uint64_t w[8] = {
		PKVM_HCALL_ENTRY_ESR, h->a, 0, 0, h->b, recs[1].a, recs[1].b, 0
	};

	*st = (struct trace_expand_cpu){
		.open = true, .x2 = recs[1].b, .x3 = 0, .elr = h->a
	};
	words_make(out, PKVM_EV_TRAP_ENTRY, h->flags & PKVM_REC_F_KIND_MASK, w);
	return 1;
}

/*
 * HCALL_ENTRY_LOCK2 (elr, x0; x1, x2; locks, tickets) is HCALL_ENTRY's
 * TRAP_ENTRY, then the LOCK_ACQUIRE of the first lock and of the second,
 * as LOCK_ACQUIRE2 has them. The trap remembers the pair for its exit.
 */
static unsigned expand_hcall_entry_lock2(struct trace_expand_cpu *st,
					 const struct pkvm_record *recs,
					 struct trace_words *out)
{
	uint64_t locks = recs[2].a, tickets = recs[2].b;

	expand_hcall_entry(st, recs, &out[0]);
	st->locked = true;
	st->locks = locks;
	st->tickets = tickets;
	lock_make(&out[1], PKVM_EV_LOCK_ACQUIRE, locks, tickets, 0);
	lock_make(&out[2], PKVM_EV_LOCK_ACQUIRE, locks, tickets, 1);
	return 3;
}

/*
 * HCALL_EXIT (x0, x1) is a TRAP_EXIT that changed nothing else: x2, x3 and
 * elr as at the entry, nothing injected, spsr unchanged (not recorded: 0
 * here, and nothing may depend on it).
 */
static unsigned expand_hcall_exit(struct trace_expand_cpu *st,
				  const struct pkvm_record *h,
				  struct trace_words *out)
{
	uint64_t w[8] = { h->a, h->b, st->x2, st->x3, 0, 0, st->elr, 0 };

	if (!st->open)
		w[2] = w[3] = w[6] = 0;
	words_make(out, PKVM_EV_TRAP_EXIT, h->flags & PKVM_REC_F_KIND_MASK, w);
	out->incomplete = !st->open;
	st->open = st->locked = false; /* the trap is closed */
	return 1;
}

/*
 * HCALL_EXIT_UNLOCK2 (x0, x1) closes a trap opened by HCALL_ENTRY_LOCK2:
 * the LOCK_RELEASE of the entry's second lock, then of its first (pKVM
 * lets go in reverse order), then HCALL_EXIT's TRAP_EXIT. With no entry
 * known (lost), the locks are unknown too: the TRAP_EXIT alone, incomplete
 * as HCALL_EXIT's. An entry known to have taken no locks makes the record
 * a contradiction: flagged invalid, with no releases.
 */
static unsigned expand_hcall_exit_unlock2(struct trace_expand_cpu *st,
					  const struct pkvm_record *h,
					  struct trace_words *out)
{
	uint64_t locks = st->locks, tickets = st->tickets;

	if (!st->open || !st->locked) {
		bool invalid = st->open;

		expand_hcall_exit(st, h, out);
		out->invalid = invalid;
		return 1;
	}
	lock_make(&out[0], PKVM_EV_LOCK_RELEASE, locks, tickets, 1);
	lock_make(&out[1], PKVM_EV_LOCK_RELEASE, locks, tickets, 0);
	expand_hcall_exit(st, h, &out[2]);
	return 3;
}

/*
 * LOCK_ACQUIRE2 / LOCK_RELEASE2 (locks, tickets): the first lock and
 * ticket in the low halves, the second in the high halves; the two events
 * follow each other with nothing in between.
 */
static unsigned expand_lock2(const struct pkvm_record *h, unsigned kind,
			     struct trace_words *out)
{
	lock_make(&out[0], kind, h->a, h->b, 0);
	lock_make(&out[1], kind, h->a, h->b, 1);
	return 2;
}

/* A BARRIER event of `op`. */
static void barrier_make(struct trace_words *e, unsigned op)
{
	uint64_t w[2] = { op, 0 };

	words_make(e, PKVM_EV_BARRIER, 0, w);
}

/*
 * TLBI with flag bits: [dsb ishst] tlbi [dsb ish] [isb], each barrier
 * present if its bit is set. A TLBI without them is canonical as it is.
 */
static unsigned expand_tlbi(const struct pkvm_record *h,
			    struct trace_words *out)
{
	uint64_t w[2] = { h->a, h->b };
	unsigned n = 0;

	if (h->flags & PKVM_REC_F_TLBI_DSB_ISHST_BEFORE)
		barrier_make(&out[n++], PKVM_BARRIER_DSB_ISHST);
	words_make(&out[n++], PKVM_EV_TLBI, 0, w);
	if (h->flags & PKVM_REC_F_TLBI_DSB_ISH_AFTER)
		barrier_make(&out[n++], PKVM_BARRIER_DSB_ISH);
	if (h->flags & PKVM_REC_F_TLBI_ISB_AFTER)
		barrier_make(&out[n++], PKVM_BARRIER_ISB);
	return n;
}

/*
 * A compact event (one trace_expand_follow refused) into the events it
 * stands for; 0 for an unknown kind or an event cut short.
 */
static unsigned expand_compact(struct trace_expand_cpu *st,
			       const struct pkvm_record *recs, unsigned n,
			       struct trace_words *out)
{
	unsigned kind = recs[0].kind;

	if (kind == 0 || kind > PKVM_EV_MAX_KNOWN ||
	    n != 1 + pkvm_event_ncont(kind))
		return 0;
	switch (kind) {
	case PKVM_EV_HCALL_ENTRY:
		return expand_hcall_entry(st, recs, out);
	case PKVM_EV_HCALL_EXIT:
		return expand_hcall_exit(st, &recs[0], out);
	case PKVM_EV_HCALL_ENTRY_LOCK2:
		return expand_hcall_entry_lock2(st, recs, out);
	case PKVM_EV_HCALL_EXIT_UNLOCK2:
		return expand_hcall_exit_unlock2(st, &recs[0], out);
	case PKVM_EV_LOCK_ACQUIRE2:
		return expand_lock2(&recs[0], PKVM_EV_LOCK_ACQUIRE, out);
	case PKVM_EV_LOCK_RELEASE2:
		return expand_lock2(&recs[0], PKVM_EV_LOCK_RELEASE, out);
	case PKVM_EV_TLBI:
		return expand_tlbi(&recs[0], out);
	default:
		return 0;
	}
}

/** See expand.h. */
unsigned trace_expand(struct trace_expand_cpu *st,
		      const struct pkvm_record *recs, unsigned n,
		      struct trace_canon *out)
{
	struct trace_words e[TRACE_EXPAND_MAX];
	unsigned count;

	if (trace_expand_follow(st, recs, n))
		return canon_copy(out, recs, n);
	count = expand_compact(st, recs, n, e);
	for (unsigned i = 0; i < count; i++)
		canon_make(&out[i], &recs[0], &e[i]);
	return count;
}

/** See expand.h. */
unsigned trace_expand_words(struct trace_expand_cpu *st,
			    const struct pkvm_record *recs, unsigned n,
			    struct trace_words *out)
{
	if (trace_expand_follow(st, recs, n))
		return words_copy(out, recs, n);
	return expand_compact(st, recs, n, out);
}

/** See expand.h. */
void trace_expand_loss(struct trace_expand_cpu *st)
{
	*st = (struct trace_expand_cpu){ .open = false };
}
