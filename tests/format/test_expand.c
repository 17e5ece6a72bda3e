/* SPDX-License-Identifier: MIT */
/*
 * trace_expand (expand.h): each compact form of formats 2.0 and 3.0
 * becomes exactly the canonical events FORMAT.md says it stands for, word
 * for word, with the compact head's ts, cpu and seq; canonical events pass
 * unchanged; an exit never takes its words (or locks) from a trap other
 * than the one it ends.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi.h>
#include <pkvm/expand.h>

#include "helpers.h"

static struct trace_canon out[TRACE_EXPAND_MAX];

/* Expand the one-record event `rec`. */
static unsigned expand1(struct trace_expand_cpu *st, struct pkvm_record rec)
{
	return trace_expand(st, &rec, 1, out);
}

/* Assert `c` is one event of `kind` with words `w` and `head`'s stamps. */
static void expect_event(const struct trace_canon *c, unsigned kind,
			 unsigned kbits, const uint64_t *w,
			 const struct pkvm_record *head)
{
	unsigned ncont = pkvm_event_ncont(kind);

	cr_assert_eq(c->nrec, ncont + 1);
	for (unsigned i = 0; i <= ncont; i++) {
		const struct pkvm_record *r = &c->recs[i];

		cr_assert_eq(r->kind, kind, "record %u: kind %u", i, r->kind);
		cr_assert_eq(r->flags, i ? PKVM_REC_F_CONT | i : ncont | kbits,
			     "record %u: flags 0x%x", i, r->flags);
		cr_assert_eq(r->ts, head->ts);
		cr_assert_eq(r->cpu, head->cpu);
		cr_assert_eq(r->seq, head->seq);
		cr_assert_eq(r->a, w[2 * i], "word %u: 0x%llx", 2 * i,
			     (unsigned long long)r->a);
		cr_assert_eq(r->b, w[2 * i + 1], "word %u: 0x%llx", 2 * i + 1,
			     (unsigned long long)r->b);
	}
}

/* An HCALL_ENTRY of share_hyp(pfn) from the host or source `src`. */
static void hcall_entry(struct pkvm_record e[2], unsigned src)
{
	e[0] = rec_make(2, 40, 1000, PKVM_EV_HCALL_ENTRY, 0, 0x41000abc,
			PKVM_HC_BASE | PKVM_HC_SHARE_HYP);
	e[0].flags |= (uint8_t)(src << PKVM_REC_F_KIND_SHIFT);
	e[1] = rec_make(2, 41, 1001, PKVM_EV_HCALL_ENTRY, 1, 0x41234, 7);
}

Test(expand, hcall_entry_is_the_hvc_trap_entry)
{
	/* Property: HCALL_ENTRY (elr, x0; x1, x2) is TRAP_ENTRY with esr
	 * 0x5A000000, far = hpfar = 0, x3 = 0, its source bits kept. */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[2];
	uint64_t want[8] = { PKVM_HCALL_ENTRY_ESR,
			     0x41000abc,
			     0,
			     0,
			     PKVM_HC_BASE | PKVM_HC_SHARE_HYP,
			     0x41234,
			     7,
			     0 };

	cr_assert_eq(PKVM_HCALL_ENTRY_ESR, 0x5A000000ull);
	hcall_entry(e, 5);
	cr_assert_eq(trace_expand(&st, e, 2, out), 1);
	expect_event(&out[0], PKVM_EV_TRAP_ENTRY, 5u << PKVM_REC_F_KIND_SHIFT,
		     want, &e[0]);
	cr_assert(!out[0].incomplete);
}

Test(expand, hcall_exit_takes_the_entry_words)
{
	/* Property: HCALL_EXIT (x0, x1) after HCALL_ENTRY is TRAP_EXIT
	 * with x2 as at entry, x3 = 0, nothing injected, elr as at entry,
	 * spsr 0 (not recorded). */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[2], x;
	uint64_t want[8] = {
		0, (uint64_t)-PKVM_EPERM, 7, 0, 0, 0, 0x41000abc, 0
	};

	hcall_entry(e, 0);
	trace_expand(&st, e, 2, out);
	x = rec_make(2, 45, 1010, PKVM_EV_HCALL_EXIT, 0, 0,
		     (uint64_t)-PKVM_EPERM);
	x.flags |= 3u << PKVM_REC_F_KIND_SHIFT;
	cr_assert_eq(expand1(&st, x), 1);
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 3u << PKVM_REC_F_KIND_SHIFT,
		     want, &x);
	cr_assert(!out[0].incomplete);
}

Test(expand, hcall_exit_after_a_full_trap_entry)
{
	/* Property: an HCALL_EXIT may close a trap opened by TRAP_ENTRY:
	 * it takes that entry's x2, x3 and elr. */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[4],
		x = rec_make(0, 9, 50, PKVM_EV_HCALL_EXIT, 0, 0x1234, 0);
	uint64_t want[8] = { 0x1234, 0, 0x22, 0x33, 0, 0, 0x41000100, 0 };

	e[0] = rec_make(0, 5, 40, PKVM_EV_TRAP_ENTRY, 0, 0x92000047,
			0x41000100);
	e[1] = rec_make(0, 6, 41, PKVM_EV_TRAP_ENTRY, 1, 0x40801010, 0x408010);
	e[2] = rec_make(0, 7, 42, PKVM_EV_TRAP_ENTRY, 2, 0x1234, 0x11);
	e[3] = rec_make(0, 8, 43, PKVM_EV_TRAP_ENTRY, 3, 0x22, 0x33);
	cr_assert_eq(trace_expand(&st, e, 4, out), 1);
	cr_assert_eq(memcmp(out[0].recs, e, sizeof(e)), 0, "unchanged");
	cr_assert_eq(expand1(&st, x), 1);
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, want, &x);
	cr_assert(!out[0].incomplete);
}

Test(expand, hcall_exit_without_an_open_entry_is_incomplete)
{
	/*
	 * Property: with no entry open (none read, the trap already closed,
	 * or records lost since: a LOST record or trace_expand_loss), an
	 * HCALL_EXIT expands with x2, x3 and elr 0 and says so; it never
	 * takes an older trap's words.
	 */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[2], lost,
		x = rec_make(2, 60, 2000, PKVM_EV_HCALL_EXIT, 0, 0, 0);
	uint64_t want[8] = { 0 };

	cr_assert_eq(expand1(&st, x), 1);
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, want, &x);
	cr_assert(out[0].incomplete, "no entry read");

	hcall_entry(e, 0);
	trace_expand(&st, e, 2, out);
	expand1(&st, x);
	cr_assert(!out[0].incomplete);
	expand1(&st, x);
	cr_assert(out[0].incomplete, "a second exit of the same trap");
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, want, &x);

	trace_expand(&st, e, 2, out);
	lost = rec_make(2, 50, 1500, PKVM_EV_LOST, 0, 4, 46);
	cr_assert_eq(expand1(&st, lost), 1);
	cr_assert_eq(out[0].recs[0].kind, PKVM_EV_LOST);
	expand1(&st, x);
	cr_assert(out[0].incomplete, "after a LOST record");
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, want, &x);

	trace_expand(&st, e, 2, out);
	trace_expand_loss(&st);
	expand1(&st, x);
	cr_assert(out[0].incomplete, "after a gap");
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, want, &x);
}

Test(expand, a_trap_exit_closes_the_trap)
{
	/* Property: after a full TRAP_EXIT, an HCALL_EXIT has no entry. */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[2], t[4];

	hcall_entry(e, 0);
	trace_expand(&st, e, 2, out);
	for (unsigned i = 0; i < 4; i++)
		t[i] = rec_make(2, 42 + i, 1002, PKVM_EV_TRAP_EXIT, i, 1, 2);
	cr_assert_eq(trace_expand(&st, t, 4, out), 1);
	cr_assert_eq(memcmp(out[0].recs, t, sizeof(t)), 0, "unchanged");
	expand1(&st, rec_make(2, 46, 1003, PKVM_EV_HCALL_EXIT, 0, 0, 0));
	cr_assert(out[0].incomplete);
}

Test(expand, lock_pairs_are_two_lock_events)
{
	/* Property: LOCK_ACQUIRE2 / LOCK_RELEASE2 (first | second << 32)
	 * are the first lock's event then the second's, with 32-bit
	 * tickets. */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record p =
		rec_make(1, 77, 300, PKVM_EV_LOCK_ACQUIRE2, 0,
			 PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32,
			 0xFFFFFFFFull | 5ull << 32);
	uint64_t first[2] = { PKVM_LOCK_HOST_S2, 0xFFFFFFFF };
	uint64_t second[2] = { PKVM_LOCK_HYP_S1, 5 };

	cr_assert_eq(expand1(&st, p), 2);
	expect_event(&out[0], PKVM_EV_LOCK_ACQUIRE, 0, first, &p);
	expect_event(&out[1], PKVM_EV_LOCK_ACQUIRE, 0, second, &p);
	p.kind = PKVM_EV_LOCK_RELEASE2;
	cr_assert_eq(expand1(&st, p), 2);
	expect_event(&out[0], PKVM_EV_LOCK_RELEASE, 0, first, &p);
	expect_event(&out[1], PKVM_EV_LOCK_RELEASE, 0, second, &p);
}

Test(expand, tlbi_flags_are_the_barriers_around_it)
{
	/* Property: for each of the 8 combinations of the TLBI barrier
	 * bits, the expansion is [dsb ishst] tlbi [dsb ish] [isb] with a
	 * flagless TLBI; no bits, the record as it is. */
	struct trace_expand_cpu st = { 0 };

	for (unsigned bits = 0; bits < 8; bits++) {
		struct pkvm_record t =
			rec_make(3, 8, 90, PKVM_EV_TLBI, 0,
				 PKVM_TLBI_IPAS2E1IS | 1u << 16, 0x41234);
		uint64_t tw[2] = { t.a, t.b };
		uint64_t ishst[2] = { PKVM_BARRIER_DSB_ISHST, 0 };
		uint64_t ish[2] = { PKVM_BARRIER_DSB_ISH, 0 };
		uint64_t isb[2] = { PKVM_BARRIER_ISB, 0 };
		unsigned n = 0;

		t.flags |= (uint8_t)(bits << PKVM_REC_F_KIND_SHIFT);
		cr_assert_eq(expand1(&st, t),
			     1u + (unsigned)__builtin_popcount(bits));
		if (t.flags & PKVM_REC_F_TLBI_DSB_ISHST_BEFORE)
			expect_event(&out[n++], PKVM_EV_BARRIER, 0, ishst, &t);
		expect_event(&out[n++], PKVM_EV_TLBI, 0, tw, &t);
		if (t.flags & PKVM_REC_F_TLBI_DSB_ISH_AFTER)
			expect_event(&out[n++], PKVM_EV_BARRIER, 0, ish, &t);
		if (t.flags & PKVM_REC_F_TLBI_ISB_AFTER)
			expect_event(&out[n++], PKVM_EV_BARRIER, 0, isb, &t);
	}
}

Test(expand, canonical_events_pass_unchanged)
{
	/* Property: every kind of format 1.x, a flagless TLBI included,
	 * comes back as it is, one event. */
	struct trace_expand_cpu st = { 0 };

	for (unsigned k = 1; k <= PKVM_EV_MARK; k++) {
		struct pkvm_record e[PKVM_EVENT_MAX_RECORDS];
		unsigned n = 1 + pkvm_event_ncont(k);

		for (unsigned i = 0; i < n; i++)
			e[i] = rec_make(1, 10 + i, 20 + i, k, i, k * 100 + i,
					k * 1000 + i);
		if (k == PKVM_EV_PTE_WRITE)
			e[0].flags |= PKVM_REC_F_PTE_RELEASE;
		cr_assert_eq(trace_expand(&st, e, n, out), 1, "kind %u", k);
		cr_assert_eq(out[0].nrec, n);
		cr_assert_eq(memcmp(out[0].recs, e, n * sizeof(e[0])), 0,
			     "kind %u", k);
		cr_assert(!out[0].incomplete);
	}
}

Test(expand, unknown_kinds_and_short_events_expand_to_nothing)
{
	/* Property: a kind the library does not know (a newer minor's) or
	 * an event without all its continuations gives 0 events. */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[2];

	e[0] = rec_make(0, 1, 1, PKVM_EV_MAX_KNOWN + 1, 0, 0, 0);
	cr_assert_eq(trace_expand(&st, e, 1, out), 0);
	e[0] = rec_make(0, 1, 1, 0, 0, 0, 0);
	cr_assert_eq(trace_expand(&st, e, 1, out), 0);
	hcall_entry(e, 0);
	cr_assert_eq(trace_expand(&st, e, 1, out), 0);
	cr_assert(!st.open);
}

/* ---- format 3.0: HCALL_ENTRY_LOCK2 and HCALL_EXIT_UNLOCK2 ------------ */

#define PAIR_LOCKS (PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32)
#define PAIR_TICKETS (0xFFFFFFFEull | 9ull << 32)

/* An HCALL_ENTRY_LOCK2 of unshare_hyp(pfn) from source `src`. */
static void entry_lock2(struct pkvm_record e[3], unsigned src)
{
	e[0] = rec_make(1, 70, 3000, PKVM_EV_HCALL_ENTRY_LOCK2, 0, 0x41000ab0,
			PKVM_HC_BASE | PKVM_HC_UNSHARE_HYP);
	e[0].flags |= (uint8_t)(src << PKVM_REC_F_KIND_SHIFT);
	e[1] = rec_make(1, 71, 3001, PKVM_EV_HCALL_ENTRY_LOCK2, 1, 0x41235, 4);
	e[2] = rec_make(1, 72, 3002, PKVM_EV_HCALL_ENTRY_LOCK2, 2, PAIR_LOCKS,
			PAIR_TICKETS);
}

/* An HCALL_EXIT_UNLOCK2 returning `err` from source `src`. */
static struct pkvm_record exit_unlock2(unsigned src, int64_t err)
{
	struct pkvm_record x = rec_make(1, 80, 3100, PKVM_EV_HCALL_EXIT_UNLOCK2,
					0, 0, (uint64_t)err);

	x.flags |= (uint8_t)(src << PKVM_REC_F_KIND_SHIFT);
	return x;
}

Test(expand, hcall_entry_lock2_is_the_entry_then_two_acquisitions)
{
	/*
	 * Property: HCALL_ENTRY_LOCK2 (elr, x0; x1, x2; locks, tickets) is
	 * HCALL_ENTRY's TRAP_ENTRY (source bits kept), then LOCK_ACQUIRE of
	 * the low halves, then of the high halves, all three with the head's
	 * stamps; the CPU's trap is then open with that entry's words and
	 * its locks.
	 */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[3];
	uint64_t entry[8] = { PKVM_HCALL_ENTRY_ESR,
			      0x41000ab0,
			      0,
			      0,
			      PKVM_HC_BASE | PKVM_HC_UNSHARE_HYP,
			      0x41235,
			      4,
			      0 };
	uint64_t first[2] = { PKVM_LOCK_HOST_S2, 0xFFFFFFFE };
	uint64_t second[2] = { PKVM_LOCK_HYP_S1, 9 };

	entry_lock2(e, 6);
	cr_assert_eq(trace_expand(&st, e, 3, out), 3);
	expect_event(&out[0], PKVM_EV_TRAP_ENTRY, 6u << PKVM_REC_F_KIND_SHIFT,
		     entry, &e[0]);
	expect_event(&out[1], PKVM_EV_LOCK_ACQUIRE, 0, first, &e[0]);
	expect_event(&out[2], PKVM_EV_LOCK_ACQUIRE, 0, second, &e[0]);
	for (unsigned i = 0; i < 3; i++)
		cr_assert(!out[i].incomplete && !out[i].invalid, "event %u", i);
	cr_assert(st.open && st.locked);
	cr_assert_eq(st.x2, 4);
	cr_assert_eq(st.x3, 0);
	cr_assert_eq(st.elr, 0x41000ab0);
	cr_assert_eq(st.locks, PAIR_LOCKS);
	cr_assert_eq(st.tickets, PAIR_TICKETS);
}

Test(expand, hcall_exit_unlock2_releases_in_reverse_then_exits)
{
	/*
	 * Property: HCALL_EXIT_UNLOCK2 (x0, x1) after HCALL_ENTRY_LOCK2 is
	 * LOCK_RELEASE of the entry's second lock with its ticket, then of
	 * its first, then HCALL_EXIT's TRAP_EXIT (x2, x3, elr as at entry,
	 * nothing injected, spsr 0, source bits kept), all with the exit's
	 * stamps; the trap is closed after it.
	 */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[3], x = exit_unlock2(2, -PKVM_EBUSY);
	uint64_t second[2] = { PKVM_LOCK_HYP_S1, 9 };
	uint64_t first[2] = { PKVM_LOCK_HOST_S2, 0xFFFFFFFE };
	uint64_t exit[8] = {
		0, (uint64_t)-PKVM_EBUSY, 4, 0, 0, 0, 0x41000ab0, 0
	};

	entry_lock2(e, 2);
	trace_expand(&st, e, 3, out);
	cr_assert_eq(expand1(&st, x), 3);
	expect_event(&out[0], PKVM_EV_LOCK_RELEASE, 0, second, &x);
	expect_event(&out[1], PKVM_EV_LOCK_RELEASE, 0, first, &x);
	expect_event(&out[2], PKVM_EV_TRAP_EXIT, 2u << PKVM_REC_F_KIND_SHIFT,
		     exit, &x);
	for (unsigned i = 0; i < 3; i++)
		cr_assert(!out[i].incomplete && !out[i].invalid, "event %u", i);
	cr_assert(!st.open && !st.locked, "the trap is closed");
	/* A second exit of the same trap has no entry: no releases. */
	cr_assert_eq(expand1(&st, x), 1);
	cr_assert(out[0].incomplete && !out[0].invalid);
}

Test(expand, hcall_exit_unlock2_without_an_entry_is_an_incomplete_exit)
{
	/*
	 * Property: with no open entry known (none read, records lost since
	 * the HCALL_ENTRY_LOCK2: trace_expand_loss or a LOST record), an
	 * HCALL_EXIT_UNLOCK2 is its TRAP_EXIT alone, x2, x3 and elr 0,
	 * incomplete as HCALL_EXIT's: no LOCK_RELEASE of locks it cannot
	 * know, never an older trap's.
	 */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[3], x = exit_unlock2(0, 0);
	struct pkvm_record lost = rec_make(1, 75, 3050, PKVM_EV_LOST, 0, 3, 72);
	uint64_t zero[8] = { 0 };

	cr_assert_eq(expand1(&st, x), 1, "none read");
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, zero, &x);
	cr_assert(out[0].incomplete && !out[0].invalid);

	entry_lock2(e, 0);
	trace_expand(&st, e, 3, out);
	trace_expand_loss(&st);
	cr_assert(!st.open && !st.locked);
	cr_assert_eq(expand1(&st, x), 1, "after a gap");
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, zero, &x);
	cr_assert(out[0].incomplete && !out[0].invalid);

	trace_expand(&st, e, 3, out);
	cr_assert_eq(expand1(&st, lost), 1);
	cr_assert_eq(expand1(&st, x), 1, "after a LOST record");
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, zero, &x);
	cr_assert(out[0].incomplete && !out[0].invalid);
	cr_assert(!st.open && !st.locked);
}

Test(expand, hcall_exit_unlock2_after_an_entry_without_locks_is_invalid)
{
	/*
	 * Property: an HCALL_EXIT_UNLOCK2 closing a trap whose entry is
	 * known and took no locks (HCALL_ENTRY, TRAP_ENTRY) breaks the
	 * format's condition: it is flagged invalid, not incomplete, and is
	 * the TRAP_EXIT alone with that entry's words; the trap is closed.
	 */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[4], x = exit_unlock2(0, 0);
	uint64_t after_hcall[8] = { 0, 0, 7, 0, 0, 0, 0x41000abc, 0 };
	uint64_t after_trap[8] = { 0, 0, 0x22, 0x33, 0, 0, 0x41000100, 0 };

	hcall_entry(e, 0);
	trace_expand(&st, e, 2, out);
	cr_assert(st.open && !st.locked);
	cr_assert_eq(expand1(&st, x), 1);
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, after_hcall, &x);
	cr_assert(out[0].invalid && !out[0].incomplete);
	cr_assert(!st.open);

	e[0] = rec_make(1, 5, 40, PKVM_EV_TRAP_ENTRY, 0, 0x5E000000,
			0x41000100);
	e[1] = rec_make(1, 6, 41, PKVM_EV_TRAP_ENTRY, 1, 0, 0);
	e[2] = rec_make(1, 7, 42, PKVM_EV_TRAP_ENTRY, 2, 0x84000009, 0x11);
	e[3] = rec_make(1, 8, 43, PKVM_EV_TRAP_ENTRY, 3, 0x22, 0x33);
	trace_expand(&st, e, 4, out);
	cr_assert(st.open && !st.locked);
	cr_assert_eq(expand1(&st, x), 1);
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, after_trap, &x);
	cr_assert(out[0].invalid && !out[0].incomplete);
	cr_assert(!st.open);
}

Test(expand, other_exits_close_a_fused_entry)
{
	/*
	 * Property: HCALL_EXIT or TRAP_EXIT may close a trap opened by
	 * HCALL_ENTRY_LOCK2 (the locks let go by their own records): the
	 * HCALL_EXIT takes the entry's words, and either closes the trap,
	 * locks forgotten, so a later HCALL_EXIT_UNLOCK2 has no entry.
	 */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[3], t[4],
		x = rec_make(1, 80, 3100, PKVM_EV_HCALL_EXIT, 0, 0, 0);
	uint64_t exit[8] = { 0, 0, 4, 0, 0, 0, 0x41000ab0, 0 };

	entry_lock2(e, 0);
	trace_expand(&st, e, 3, out);
	cr_assert_eq(expand1(&st, x), 1);
	expect_event(&out[0], PKVM_EV_TRAP_EXIT, 0, exit, &x);
	cr_assert(!out[0].incomplete && !out[0].invalid);
	cr_assert(!st.open && !st.locked);
	cr_assert_eq(expand1(&st, exit_unlock2(0, 0)), 1);
	cr_assert(out[0].incomplete);

	trace_expand(&st, e, 3, out);
	for (unsigned i = 0; i < 4; i++)
		t[i] = rec_make(1, 73 + i, 3003, PKVM_EV_TRAP_EXIT, i, 1, 2);
	cr_assert_eq(trace_expand(&st, t, 4, out), 1);
	cr_assert(!st.open && !st.locked);
	cr_assert_eq(expand1(&st, exit_unlock2(0, 0)), 1);
	cr_assert(out[0].incomplete);
}

Test(expand, fused_events_cut_short_expand_to_nothing)
{
	/* Property: an HCALL_ENTRY_LOCK2 without both continuations gives
	 * no events and leaves the state as it was. */
	struct trace_expand_cpu st = { 0 };
	struct pkvm_record e[3];

	entry_lock2(e, 0);
	cr_assert_eq(trace_expand(&st, e, 2, out), 0);
	cr_assert_eq(trace_expand(&st, e, 1, out), 0);
	cr_assert(!st.open && !st.locked);
}

/* One event of `kind` (head flag bits `kbits`) in `e`; returns its length. */
static unsigned event_of(struct pkvm_record *e, unsigned kind, unsigned kbits)
{
	unsigned n = 1 + pkvm_event_ncont(kind);

	for (unsigned i = 0; i < n; i++)
		e[i] = rec_make(3, 50 + i, 60 + i, kind, i, kind * 100 + i,
				kind * 1000 + i);
	e[0].flags |= (uint8_t)kbits;
	return n;
}

Test(expand, follow_is_expand_for_canonical_events)
{
	/* Property: trace_expand_follow accepts exactly the events that
	 * trace_expand returns as they are, and leaves the expansion state
	 * as trace_expand does; it refuses compact and unknown events and
	 * then changes nothing. A trap entry, exits and loss in between
	 * exercise the state. */
	static const unsigned bits[] = { 0, PKVM_REC_F_TLBI_DSB_ISHST_BEFORE,
					 PKVM_REC_F_TLBI_ISB_AFTER,
					 5u << PKVM_REC_F_KIND_SHIFT };
	struct trace_expand_cpu a = { 0 }, b = { 0 };

	for (unsigned k = 0; k <= PKVM_EV_MAX_KNOWN + 1; k++) {
		for (unsigned j = 0; j < sizeof(bits) / sizeof(bits[0]); j++) {
			struct pkvm_record e[PKVM_EVENT_MAX_RECORDS];
			unsigned n = event_of(e, k, bits[j]), got;
			struct trace_expand_cpu before = b;
			bool as_is;

			got = trace_expand(&a, e, n, out);
			as_is = got == 1 && out[0].nrec == n &&
				memcmp(out[0].recs, e, n * sizeof(e[0])) == 0;
			cr_assert_eq(trace_expand_follow(&b, e, n), as_is,
				     "kind %u bits 0x%x", k, bits[j]);
			if (!as_is) {
				cr_assert_eq(memcmp(&b, &before, sizeof(b)), 0);
				b = a; /* trace_expand's part of the work */
			}
			cr_assert_eq(a.open, b.open, "kind %u", k);
			cr_assert_eq(a.locked, b.locked, "kind %u", k);
			cr_assert_eq(a.x2, b.x2);
			cr_assert_eq(a.x3, b.x3);
			cr_assert_eq(a.elr, b.elr);
			cr_assert_eq(a.locks, b.locks);
			cr_assert_eq(a.tickets, b.tickets);
		}
	}
}

Test(expand, follow_forgets_the_locks_of_a_closed_trap)
{
	/*
	 * Property: after an HCALL_ENTRY_LOCK2, the canonical events that
	 * trace_expand_follow takes keep the state right: a TRAP_ENTRY opens
	 * a trap that took no locks, a TRAP_EXIT closes it, a LOST record
	 * forgets it; an HCALL_EXIT_UNLOCK2 then releases nothing.
	 */
	struct pkvm_record e[3], t[4], lost;
	struct trace_expand_cpu st;

	for (unsigned i = 0; i < 4; i++)
		t[i] = rec_make(1, 73 + i, 3003, PKVM_EV_TRAP_ENTRY, i,
				0x10 + i, 0x20 + i);
	st = (struct trace_expand_cpu){ 0 };
	entry_lock2(e, 0);
	trace_expand(&st, e, 3, out);
	cr_assert(trace_expand_follow(&st, t, 4));
	cr_assert(st.open && !st.locked, "a trap entry takes no locks");
	cr_assert_eq(st.x2, 0x13);
	cr_assert_eq(st.x3, 0x23);
	cr_assert_eq(st.elr, 0x20);
	cr_assert_eq(expand1(&st, exit_unlock2(0, 0)), 1);
	cr_assert(out[0].invalid);

	trace_expand(&st, e, 3, out);
	for (unsigned i = 0; i < 4; i++)
		t[i].kind = PKVM_EV_TRAP_EXIT;
	cr_assert(trace_expand_follow(&st, t, 4));
	cr_assert(!st.open && !st.locked);
	cr_assert_eq(expand1(&st, exit_unlock2(0, 0)), 1);
	cr_assert(out[0].incomplete && !out[0].invalid);

	trace_expand(&st, e, 3, out);
	lost = rec_make(1, 77, 3004, PKVM_EV_LOST, 0, 2, 75);
	cr_assert(trace_expand_follow(&st, &lost, 1));
	cr_assert(!st.open && !st.locked);
	cr_assert_eq(expand1(&st, exit_unlock2(0, 0)), 1);
	cr_assert(out[0].incomplete && !out[0].invalid);
}
