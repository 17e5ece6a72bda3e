// SPDX-License-Identifier: MIT
/*
 * The compact kinds of formats 2.0 and 3.0 through the checker: each
 * scenario is built three times, with the canonical kinds of format 1.x,
 * with the compact forms of 2.0 (HCALL_ENTRY/EXIT, LOCK_ACQUIRE2/RELEASE2,
 * TLBI with barrier flags) and with those of 3.0 the hyp now writes
 * (HCALL_ENTRY_LOCK2 and HCALL_EXIT_UNLOCK2 around ownership hypercalls
 * too), and all must get the same verdict: same exit code, same findings
 * in the same order, same number of replayed events. Then the cases only
 * the compact forms have: an exit without an entry, after a full
 * TRAP_ENTRY, after lost records, a fused exit of a trap that took no
 * locks.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/expand.h>

#include "both_ways.h"

/* `form` checks exactly as the canonical `full`. */
static void same_as(const struct tb_result *form, const struct tb_result *full)
{
	tb_assert_same(form, full);
	cr_assert_eq(form->sum.events, full->sum.events);
	cr_assert_eq(form->sum.traps_checked, full->sum.traps_checked);
	cr_assert_str_eq(form->sum.first_inconclusive,
			 full->sum.first_inconclusive);
}

/*
 * The property: the compact trace is smaller than the canonical one, the
 * fused trace no larger than the compact one, and all three check alike.
 * Returns the fused run's result for further asserts.
 */
static struct tb_result both_ways(void (*scenario)(struct tb *))
{
	struct tb_result full, compact, fused;
	size_t full_records, compact_records, fused_records;

	full_records = tb_scenario(scenario, 2, TB_CANONICAL, NULL, &full);
	compact_records = tb_scenario(scenario, 2, TB_COMPACT, NULL, &compact);
	fused_records = tb_scenario(scenario, 2, TB_FUSED, NULL, &fused);
	cr_assert_lt(compact_records, full_records,
		     "the compact trace has %zu records, the full one %zu",
		     compact_records, full_records);
	cr_assert_leq(fused_records, compact_records,
		      "the fused trace has %zu records, the compact one %zu",
		      fused_records, compact_records);
	same_as(&compact, &full);
	same_as(&fused, &full);
	return fused;
}

/* ---- the same verdict both ways ------------------------------------ */

static void cycle(struct tb *b)
{
	tb_share(b, 0, TB_HOST_PFN(0));
	tb_unshare(b, 1, TB_HOST_PFN(0));
	tb_tlb_flush(b, 1, false, TB_HOST_PFN(0) << 12);
	tb_donate(b, 0, TB_HOST_PFN(1));
	tb_tlb_flush(b, 0, true, TB_HOST_PFN(1) << 12);
	tb_reclaim(b, 1, TB_HOST_PFN(1));
	tb_refuse(b, 0, PKVM_HC_SHARE_HYP, TB_MMIO_PFN, 0, -PKVM_EINVAL);
	tb_hvc(b, 1, 0x99, 0, 0);
	tb_exit(b, 1, PKVM_SMCCC_NOT_SUPPORTED, 0);
	tb_abort_map(b, 1, TB_HOST_PFN(2));
	tb_abort_inject(b, 0, TB_HYP_PFN + 3);
}

Test(compact, conforming_trace_conforms_both_ways)
{
	/* Property: a correct run (hypercalls, refusals, TLB maintenance,
	 * aborts) conforms written either way. */
	struct tb_result r = both_ways(cycle);

	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d: %s", r.exit,
		     r.sum.first_inconclusive);
	cr_assert_eq(r.count, 0);
	cr_assert_eq(r.sum.traps_checked, 8);
}

Test(compact, fused_forms_save_a_record_per_ownership_call)
{
	/* Property: each of the five ownership calls of the cycle (share,
	 * unshare, donate, reclaim, a refusal) takes 4 records fused
	 * against 5 compact; nothing else changes. */
	struct tb_result compact, fused;

	cr_assert_eq(tb_scenario(cycle, 2, TB_COMPACT, NULL, &compact),
		     tb_scenario(cycle, 2, TB_FUSED, NULL, &fused) + 5);
}

static void wrong_return(struct tb *b)
{
	tb_refuse(b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_EPERM);
}

Test(compact, wrong_return_in_hcall_exit_is_hcall_return)
{
	/* Property: a valid share refused with -EPERM, returned through
	 * HCALL_EXIT, is the same hcall-return finding. */
	struct tb_result r = both_ways(wrong_return);

	cr_assert(tb_only(&r, "hcall-return", 1));
}

static void store_after_release2(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(4), slot;

	tb_hvc(b, 0, PKVM_HC_SHARE_HYP, pfn, 0);
	tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	slot = tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HYP_S1, pfn),
	       tb_s1_page(pfn << 12, PKVM_PAGE_SHARED_BORROWED));
	tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, slot, tb_s2_page(pfn << 12, PKVM_PAGE_SHARED_OWNED));
	tb_exit(b, 0, 0, 0);
}

Test(compact, pte_write_after_lock_release2_is_without_lock)
{
	/* Property: a descriptor store after the LOCK_RELEASE2 that let
	 * host_s2 go is pte-write-without-lock, first. */
	struct tb_result r = both_ways(store_after_release2);

	cr_assert_gt(r.count, 0);
	cr_assert_str_eq(r.checks[0], "pte-write-without-lock");
}

static void second_ticket_repeated(struct tb *b)
{
	tb_share(b, 0, TB_HOST_PFN(0));
	/* hyp_s1's ticket goes back by one: already taken. */
	b->ticket[PKVM_LOCK_HYP_S1]--;
	tb_lock2(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
}

Test(compact, repeated_ticket_in_a_pair_is_inconsistent)
{
	/* Property: the pair's second acquisition gates on its own ticket
	 * exactly as a LOCK_ACQUIRE does: a ticket taken before is
	 * inconsistent-trace. */
	struct tb_result r = both_ways(second_ticket_repeated);

	cr_assert(tb_only(&r, "inconsistent-trace", 1));
}

static void interleaved(struct tb *b)
{
	uint64_t boot_end = b->ts;
	size_t first = b->count[1];

	tb_share(b, 0, TB_HOST_PFN(0));
	tb_unshare(b, 1, TB_HOST_PFN(0));
	tb_donate(b, 0, TB_HOST_PFN(1));
	tb_reclaim(b, 1, TB_HOST_PFN(1));
	for (size_t i = first; i < b->count[1]; i++)
		b->recs[1][i].ts = boot_end + i; /* cpu1 claims to run first */
}

Test(compact, lock_pairs_follow_tickets_not_clocks)
{
	/* Property: with lock pairs, the replay still follows the tickets:
	 * cpu1's calls, stamped earlier, take the locks second. */
	struct tb_result r = both_ways(interleaved);

	cr_assert_eq(r.exit, CK_EXIT_OK, "%s", r.sum.first_inconclusive);
}

static void lost_inside(struct tb *b)
{
	uint64_t w[2] = { 3, 1000 };

	tb_hvc_lock2(b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0,
		     PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_event(b, 0, PKVM_EV_LOST, w, 2);
	tb_unlock2_exit(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0, 0);
}

Test(compact, loss_inside_a_call_is_inconclusive)
{
	/*
	 * Property: records lost between a call's entry and its exit leave
	 * the call inconclusive, never judged on another trap's words, in
	 * every form. The fused exit cannot name the locks its lost entry
	 * took, so it stands for its TRAP_EXIT alone: two events fewer, the
	 * same verdict.
	 */
	struct tb_result full, compact, fused;

	tb_scenario(lost_inside, 2, TB_CANONICAL, NULL, &full);
	tb_scenario(lost_inside, 2, TB_COMPACT, NULL, &compact);
	tb_scenario(lost_inside, 2, TB_FUSED, NULL, &fused);
	same_as(&compact, &full);
	tb_assert_same(&fused, &full);
	cr_assert_eq(fused.sum.events, full.sum.events - 2);
	cr_assert_eq(fused.exit, CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(fused.count, 0);
}

/* ---- what only the compact forms have ------------------------------ */

static struct tb b;
static struct tb_result r;

static void setup(void)
{
	tb_init(&b, 2);
	tb_boot(&b);
	tb_set_form(&b, TB_COMPACT);
}

/* The same with format 3.0's fused forms. */
static void setup_fused(void)
{
	setup();
	tb_set_form(&b, TB_FUSED);
}

static void teardown(void)
{
	tb_free(&b);
}

Test(compact, hcall_exit_without_entry_is_like_trap_exit, .init = setup,
     .fini = teardown)
{
	/* Property: an HCALL_EXIT with no trap open is handled as a
	 * TRAP_EXIT without entry: inconclusive, no finding. */
	struct tb b2;
	struct tb_result r2;

	tb_exit(&b, 1, 0, 0);
	tb_check(&b, &r);
	tb_init(&b2, 2);
	tb_boot(&b2);
	tb_exit(&b2, 1, 0, 0);
	tb_check(&b2, &r2);
	tb_free(&b2);
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(r.count, 0);
	cr_assert_eq(r2.exit, r.exit);
	cr_assert_str_eq(r.sum.first_inconclusive, r2.sum.first_inconclusive);
}

Test(compact, hcall_exit_closes_a_full_trap_entry, .init = setup,
     .fini = teardown)
{
	/* Property: an HCALL_EXIT may close a trap opened by TRAP_ENTRY:
	 * a mapped abort conforms. (An SMC answered NOT_SUPPORTED moves
	 * elr past itself, so the builder writes its TRAP_EXIT, as the hyp
	 * does; answered 0 it is smc-return. A compact exit of an SMC is
	 * smc-return too: test_registers.c.) */
	tb_entry(&b, 1, TB_ESR_SMC, 0, 0, 0x84000009, 0, 0);
	tb_exit(&b, 1, PKVM_SMCCC_NOT_SUPPORTED, 0);
	tb_abort_map(&b, 0, TB_HOST_PFN(3));
	tb_check(&b, &r);
	cr_assert_eq(r.exit, CK_EXIT_OK, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
	cr_assert_eq(r.sum.traps_checked, 2);
	tb_entry(&b, 1, TB_ESR_SMC, 0, 0, 0x84000009, 0, 0);
	tb_exit(&b, 1, 0, 0);
	tb_check(&b, &r);
	cr_assert(tb_only(&r, "smc-return", 1));
}

Test(compact, abort_not_injected_via_hcall_exit, .init = setup,
     .fini = teardown)
{
	/* Property: an abort that must be injected, ended by HCALL_EXIT
	 * (nothing injected), is abort-injection. */
	uint64_t pfn = TB_HYP_PFN + 1;

	tb_entry(&b, 0, TB_ESR_DABT, pfn << 12, pfn << 4, 0, 0, 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_exit(&b, 0, 0, 0);
	tb_check(&b, &r);
	cr_assert(tb_only(&r, "abort-injection", 1));
}

Test(compact, gap_before_hcall_exit_is_inconclusive, .init = setup,
     .fini = teardown)
{
	/*
	 * Property: a gap in the sequence numbers (no LOST record) between
	 * a call's entry and its HCALL_EXIT: the exit may close a trap
	 * whose entry was lost, so the call is inconclusive, not judged.
	 */
	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_EPERM);
	b.recs[0][b.count[0] - 1].seq += 5; /* records lost before the exit */
	tb_check(&b, &r);
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(r.count, 0);
	cr_assert_eq(r.sum.lost, 5);
}

/* The event the replay sees for part `part` of `cpu`'s record `seq`. */
static struct ck_event capture(unsigned cpu, uint32_t seq, unsigned part)
{
	struct ck_memsrc m;
	struct ck_options opt = { .context = 4, .capture = true };
	struct ck_summary sum;

	for (opt.capture_index = 0;; opt.capture_index++) {
		ck_memsrc_init(&m, b.ncpu);
		m.complete = true;
		for (unsigned c = 0; c < b.ncpu; c++)
			ck_memsrc_set(&m, c, b.recs[c], b.count[c]);
		ck_run(&m.src, &opt, NULL, &sum);
		cr_assert(sum.has_captured, "cpu%u seq %u part %u not seen",
			  cpu, seq, part);
		if (sum.captured.cpu == cpu && sum.captured.seq == seq &&
		    sum.captured.part == part)
			return sum.captured;
	}
}

Test(compact, parts_share_the_records_seq_and_time, .init = setup,
     .fini = teardown)
{
	/* Property: the canonical events of one compact record carry its
	 * ts and seq, its records, and their place among its parts. */
	size_t i = b.count[1];
	const struct pkvm_record *pair;
	struct ck_event ev;

	tb_share(&b, 1, TB_HOST_PFN(0));
	while (b.recs[1][i].kind != PKVM_EV_LOCK_ACQUIRE2)
		i++;
	pair = &b.recs[1][i];
	ev = capture(1, pair->seq, 0);
	cr_assert_eq(ev.kind, PKVM_EV_LOCK_ACQUIRE);
	cr_assert_eq(ev.parts, 2);
	cr_assert_eq(ev.w[0], PKVM_LOCK_HOST_S2);
	cr_assert_eq(ev.ts, pair->ts);
	cr_assert_eq(ev.nrec, 1);
	cr_assert_eq(ev.recs[0].kind, PKVM_EV_LOCK_ACQUIRE2);
	ev = capture(1, pair->seq, 1);
	cr_assert_eq(ev.kind, PKVM_EV_LOCK_ACQUIRE);
	cr_assert_eq(ev.parts, 2);
	cr_assert_eq(ev.w[0], PKVM_LOCK_HYP_S1);
	cr_assert_eq(ev.ts, pair->ts);
	cr_assert_eq(ev.recs[0].kind, PKVM_EV_LOCK_ACQUIRE2);
}

Test(compact, hcall_entry_replays_as_the_hvc_trap_entry, .init = setup,
     .fini = teardown)
{
	/* Property: the replay sees an HCALL_ENTRY as TRAP_ENTRY with ESR
	 * HVC #0, far = hpfar = 0, x0-x2 as recorded and x3 = 0. */
	size_t i = b.count[0];
	struct ck_event ev;

	tb_share(&b, 0, TB_HOST_PFN(0));
	cr_assert_eq(b.recs[0][i].kind, PKVM_EV_HCALL_ENTRY);
	ev = capture(0, b.recs[0][i].seq, 0);
	cr_assert_eq(ev.kind, PKVM_EV_TRAP_ENTRY);
	cr_assert_eq(ev.parts, 1);
	cr_assert_eq(ev.w[0], PKVM_HCALL_ENTRY_ESR);
	cr_assert_eq(ev.w[1], b.recs[0][i].a);
	cr_assert_eq(ev.w[2], 0);
	cr_assert_eq(ev.w[3], 0);
	cr_assert_eq(ev.w[4], PKVM_HC_BASE | PKVM_HC_SHARE_HYP);
	cr_assert_eq(ev.w[5], TB_HOST_PFN(0));
	cr_assert_eq(ev.w[7], 0);
	cr_assert_eq(ev.nrec, 2);
}

/* The finding's history as (seq, part) pairs, from a sink. */
struct hist_seen {
	bool seen;
	unsigned count, cpu;
	uint32_t seq[64];
	uint8_t part[64];
};

static void hist_sink(void *ctx, const struct ck_finding *f)
{
	struct hist_seen *h = ctx;

	if (h->seen)
		return; /* the first finding only */
	h->seen = true;
	h->cpu = f->event->cpu;
	for (unsigned i = 0; i < f->history_count; i++) {
		cr_assert_eq(f->history[i]->cpu, f->event->cpu);
		cr_assert_lt(f->history[i]->index, f->event->index);
		h->seq[i] = f->history[i]->seq;
		h->part[i] = f->history[i]->part;
	}
	h->count = f->history_count;
}

/*
 * The property of the two tests below: the history a finding carries is
 * the events its CPU replayed just before, oldest first, as many as the
 * context asks (or there are): compact records expanded into their parts,
 * in the order trace_expand gives them.
 */
static void history_property(void)
{
	struct trace_expand_cpu st = { 0 };
	uint32_t seq[512];
	uint8_t part[512];
	unsigned n = 0;

	for (unsigned k = 0; k < 4; k++) {
		tb_share(&b, 1, TB_HOST_PFN(k));
		tb_share(&b, 0, TB_HOST_PFN(8 + k));
		tb_unshare(&b, 1, TB_HOST_PFN(k));
	}
	tb_refuse(&b, 1, PKVM_HC_SHARE_HYP, TB_HOST_PFN(8), 0, -PKVM_EINVAL);
	/* cpu1's events up to its wrong return, as trace_expand makes them. */
	for (size_t i = 0; i < b.count[1];) {
		struct trace_canon out[TRACE_EXPAND_MAX];
		const struct pkvm_record *h = &b.recs[1][i];
		unsigned nrec = 1 + (h->flags & PKVM_REC_F_NCONT_MASK);
		unsigned parts = trace_expand(&st, h, nrec, out);

		for (unsigned p = 0; p < parts && n < 512; p++, n++) {
			seq[n] = h->seq;
			part[n] = (uint8_t)p;
		}
		i += nrec;
	}
	cr_assert_gt(n, 64, "too few events to fill the longest history");
	n--; /* the last event is the exit with the finding */
	for (unsigned context = 0; context <= 64; context += 7) {
		struct hist_seen h = { 0 };
		struct ck_sink sink = { .ctx = &h, .finding = hist_sink };
		struct ck_options opt = { .context = context };
		struct ck_memsrc m;
		struct ck_summary sum;
		unsigned want = context < n ? context : n;

		ck_memsrc_init(&m, b.ncpu);
		m.complete = true;
		for (unsigned c = 0; c < b.ncpu; c++)
			ck_memsrc_set(&m, c, b.recs[c], b.count[c]);
		cr_assert_eq(ck_run(&m.src, &opt, &sink, &sum),
			     CK_EXIT_FINDINGS);
		cr_assert_eq(h.cpu, 1);
		cr_assert(h.seen);
		cr_assert_eq(h.count, want, "context %u", context);
		for (unsigned i = 0; i < want; i++) {
			cr_assert_eq(h.seq[i], seq[n - want + i],
				     "context %u, entry %u", context, i);
			cr_assert_eq(h.part[i], part[n - want + i],
				     "context %u, entry %u", context, i);
		}
	}
}

Test(compact, history_is_the_cpus_events_before_the_finding, .init = setup,
     .fini = teardown)
{
	/* Property: see history_property, with format 2.0's forms. */
	history_property();
}

Test(compact, history_holds_the_parts_of_fused_records, .init = setup_fused,
     .fini = teardown)
{
	/* Property: see history_property, with format 3.0's forms: the
	 * finding is at the last of three parts of an HCALL_EXIT_UNLOCK2. */
	history_property();
}

/* ---- what only the fused forms have -------------------------------- */

Test(compact, fused_records_replay_as_entry_locks_releases_exit,
     .init = setup_fused, .fini = teardown)
{
	/*
	 * Property: the replay sees an HCALL_ENTRY_LOCK2 as three events of
	 * its records (the hvc TRAP_ENTRY, LOCK_ACQUIRE host_s2, then
	 * hyp_s1, with the pair's tickets) and an HCALL_EXIT_UNLOCK2 as
	 * LOCK_RELEASE hyp_s1, host_s2, then the TRAP_EXIT with the entry's
	 * x2 and elr, each part carrying the record's ts and seq.
	 */
	size_t i = b.count[0];
	const struct pkvm_record *entry, *exit;
	uint64_t host_ticket = b.ticket[PKVM_LOCK_HOST_S2];
	uint64_t hyp_ticket = b.ticket[PKVM_LOCK_HYP_S1];
	static const unsigned entry_kinds[3] = { PKVM_EV_TRAP_ENTRY,
						 PKVM_EV_LOCK_ACQUIRE,
						 PKVM_EV_LOCK_ACQUIRE };
	static const unsigned exit_kinds[3] = { PKVM_EV_LOCK_RELEASE,
						PKVM_EV_LOCK_RELEASE,
						PKVM_EV_TRAP_EXIT };
	struct ck_event ev[3];

	tb_refuse(&b, 0, PKVM_HC_HOST_DONATE_HYP, TB_HOST_PFN(1), 3,
		  -PKVM_EPERM);
	entry = &b.recs[0][i];
	exit = &b.recs[0][b.count[0] - 1];
	cr_assert_eq(entry->kind, PKVM_EV_HCALL_ENTRY_LOCK2);
	cr_assert_eq(exit->kind, PKVM_EV_HCALL_EXIT_UNLOCK2);
	cr_assert_eq(b.count[0] - i, 4, "3 + 1 records");
	for (unsigned p = 0; p < 3; p++) {
		ev[p] = capture(0, entry->seq, p);
		cr_assert_eq(ev[p].kind, entry_kinds[p], "entry part %u", p);
		cr_assert_eq(ev[p].parts, 3);
		cr_assert_eq(ev[p].nrec, 3);
		cr_assert_eq(ev[p].ts, entry->ts);
		cr_assert_eq(ev[p].recs[0].kind, PKVM_EV_HCALL_ENTRY_LOCK2);
	}
	cr_assert_eq(ev[0].w[0], PKVM_HCALL_ENTRY_ESR);
	cr_assert_eq(ev[0].w[4], PKVM_HC_BASE | PKVM_HC_HOST_DONATE_HYP);
	cr_assert_eq(ev[0].w[5], TB_HOST_PFN(1));
	cr_assert_eq(ev[0].w[6], 3);
	cr_assert_eq(ev[1].w[0], PKVM_LOCK_HOST_S2);
	cr_assert_eq(ev[1].w[1], host_ticket);
	cr_assert_eq(ev[2].w[0], PKVM_LOCK_HYP_S1);
	cr_assert_eq(ev[2].w[1], hyp_ticket);
	for (unsigned p = 0; p < 3; p++) {
		ev[p] = capture(0, exit->seq, p);
		cr_assert_eq(ev[p].kind, exit_kinds[p], "exit part %u", p);
		cr_assert_eq(ev[p].parts, 3);
		cr_assert_eq(ev[p].ts, exit->ts);
		cr_assert(!ev[p].incomplete && !ev[p].invalid);
	}
	cr_assert_eq(ev[0].w[0], PKVM_LOCK_HYP_S1);
	cr_assert_eq(ev[0].w[1], hyp_ticket);
	cr_assert_eq(ev[1].w[0], PKVM_LOCK_HOST_S2);
	cr_assert_eq(ev[1].w[1], host_ticket);
	cr_assert_eq(ev[2].w[1], (uint64_t)-PKVM_EPERM);
	cr_assert_eq(ev[2].w[2], 3, "x2 as at entry");
	cr_assert_eq(ev[2].w[6], entry->a, "elr as at entry");
}

Test(compact, fused_exit_of_a_trap_without_locks_is_inconsistent,
     .init = setup_fused, .fini = teardown)
{
	/*
	 * Property: an HCALL_EXIT_UNLOCK2 closing a trap whose entry took no
	 * locks (an HCALL_ENTRY, or a TRAP_ENTRY), with nothing lost, is
	 * inconsistent-trace at that exit, saying which entry, and the
	 * replay stops there.
	 */
	uint64_t w[2] = { 0, 0 };

	tb_share(&b, 1, TB_HOST_PFN(0));
	tb_hvc(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(1), 0);
	tb_event(&b, 0, PKVM_EV_HCALL_EXIT_UNLOCK2, w, 2);
	tb_share(&b, 1, TB_HOST_PFN(2));
	tb_check_focus(&b, &r, "inconsistent-trace", false, 0);
	cr_assert(tb_only(&r, "inconsistent-trace", 1), "%u findings, %s",
		  r.count, r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
	cr_assert(r.sum.stopped);
	cr_assert_eq(r.kind, PKVM_EV_TRAP_EXIT);
	cr_assert_str_eq(r.text, "cpu0: hcall_exit_unlock2 closes a trap whose "
				 "entry (hcall_entry) took no locks; it stands "
				 "for releasing the two locks an "
				 "hcall_entry_lock2 took, and may only close "
				 "such a trap");

	tb_free(&b);
	setup_fused();
	tb_entry(&b, 1, TB_ESR_SMC, 0, 0, 0x84000009, 0, 0);
	tb_event(&b, 1, PKVM_EV_HCALL_EXIT_UNLOCK2, w, 2);
	tb_check_focus(&b, &r, "inconsistent-trace", false, 0);
	cr_assert(tb_only(&r, "inconsistent-trace", 1));
	cr_assert_not_null(strstr(r.text, "cpu1: hcall_exit_unlock2 closes a "
					  "trap whose entry (trap_entry)"),
			   "%s", r.text);
}

/*
 * A share on cpu0 whose middle records were lost, as a LOST record or (if
 * `gap`) as a gap in the sequence numbers before its exit, then calls on
 * both CPUs that take the same locks after it; written in `form`.
 */
static void lost_then_locks(enum tb_form form, bool gap)
{
	uint64_t w[2] = { 4, 0 };

	tb_init(&b, 2);
	tb_boot(&b);
	tb_set_form(&b, form);
	tb_hvc_lock2(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0,
		     PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	if (gap) {
		b.seq[0] += 4;
	} else {
		w[1] = b.seq[0];
		b.seq[0] += 4;
		tb_event(&b, 0, PKVM_EV_LOST, w, 2);
	}
	tb_unlock2_exit(&b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0, 0);
	tb_share(&b, 1, TB_HOST_PFN(1));
	tb_share(&b, 0, TB_HOST_PFN(2));
	tb_unshare(&b, 1, TB_HOST_PFN(1));
	tb_check(&b, &r);
	tb_free(&b);
}

Test(compact, fused_exit_after_lost_records_is_inconclusive)
{
	/*
	 * Property: an HCALL_EXIT_UNLOCK2 after lost records (a LOST record
	 * or a sequence gap) cannot say which locks it lets go, so it
	 * releases none; the locks its CPU seems to keep are explained by
	 * the loss when the other CPU takes them next. Inconclusive (exit
	 * 4), never a finding, as the canonical form of the same run, whose
	 * exit does let go of them.
	 */
	for (unsigned gap = 0; gap < 2; gap++) {
		struct tb_result full;

		lost_then_locks(TB_CANONICAL, gap);
		full = r;
		lost_then_locks(TB_FUSED, gap);
		cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE, "gap %u: exit %d",
			     gap, r.exit);
		cr_assert_eq(r.count, 0, "gap %u: %s", gap,
			     r.count ? r.checks[0] : "");
		cr_assert_eq(r.sum.lost, 4);
		cr_assert_eq(full.exit, r.exit);
		cr_assert_eq(full.count, 0);
		/* The locks the exit kept are waited for, then let go. */
		cr_assert_gt(r.sum.inconclusive, full.sum.inconclusive);
		cr_assert_eq(r.sum.events, full.sum.events - 2);
	}
}

/*
 * A share on cpu1 whose entry record (HCALL_ENTRY_LOCK2: the entry and the
 * lock pair) was lost, seen as a gap in its sequence numbers: its two
 * stores come outside any known trap, between shares on cpu0.
 */
static void entry_lost(void)
{
	size_t k;

	tb_init(&b, 2);
	tb_boot(&b);
	tb_set_form(&b, TB_FUSED);
	tb_share(&b, 0, TB_HOST_PFN(0));
	k = b.count[1];
	tb_share(&b, 1, TB_HOST_PFN(1));
	cr_assert_eq(b.recs[1][k].kind, PKVM_EV_HCALL_ENTRY_LOCK2);
	memmove(&b.recs[1][k], &b.recs[1][k + 3],
		(b.count[1] - k - 3) * sizeof(b.recs[1][0]));
	b.count[1] -= 3;
	tb_share(&b, 0, TB_HOST_PFN(2));
	tb_check(&b, &r);
	tb_free(&b);
}

Test(compact, stores_after_a_lost_entry_are_not_judged)
{
	/*
	 * Property: a CPU that lost records since its last trap entry may be
	 * inside a trap whose entry was lost; its descriptor stores outside
	 * any known trap are not judged against the page invariants (a trap
	 * is half done between its two stores): inconclusive, no finding.
	 */
	entry_lost();
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE, "exit %d", r.exit);
	cr_assert_eq(r.count, 0, "%s", r.count ? r.checks[0] : "");
	cr_assert_eq(r.sum.lost, 3);
}
