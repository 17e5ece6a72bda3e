// SPDX-License-Identifier: MIT
/*
 * `barrier-after-make` on hand-built traces (rule_barrier.c), in every
 * record form (both_ways.h): after a store that makes an entry valid, the
 * writer issues a DSB (ishst, ish or sy) after its last such store and,
 * for the hyp stage-1, an ISB after that DSB, before it lets the
 * component's lock go. Removing a mapping or changing page-state bits
 * needs neither; an ABI-1 trace is not judged; lost records are never a
 * finding.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "both_ways.h"

#define PFN TB_HOST_PFN(3)

/* What the writer issues before the pair goes, instead of the hyp's. */
enum sync {
	S_HYP,	     /* dsb ishst, isb (what the builder writes) */
	S_NONE,	     /* nothing */
	S_DSB_ONLY,  /* dsb ishst, no isb */
	S_ISB_FIRST, /* isb, then dsb ishst */
	S_DMB,	     /* dmb ish, isb */
	S_DSB_SY,    /* dsb sy, isb */
};

static enum sync sync;

static void barriers(struct tb *b, unsigned cpu)
{
	switch (sync) {
	case S_HYP:
		tb_sync(b, cpu);
		return;
	case S_NONE:
		break;
	case S_DSB_ONLY:
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISHST);
		break;
	case S_ISB_FIRST:
		tb_barrier(b, cpu, PKVM_BARRIER_ISB);
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISHST);
		break;
	case S_DMB:
		tb_barrier(b, cpu, PKVM_BARRIER_DMB_ISH);
		tb_barrier(b, cpu, PKVM_BARRIER_ISB);
		break;
	case S_DSB_SY:
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_SY);
		tb_barrier(b, cpu, PKVM_BARRIER_ISB);
		break;
	}
	b->unsynced[cpu] = 0;
}

/* share_hyp(PFN), with `sync`'s barriers before the pair goes. */
static void share(struct tb *b)
{
	tb_hvc_lock2(b, 1, PKVM_HC_SHARE_HYP, PFN, 0, PKVM_LOCK_HOST_S2,
		     PKVM_LOCK_HYP_S1);
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HOST_S2, PFN),
	       tb_s2_page(PFN << 12, PKVM_PAGE_SHARED_OWNED));
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HYP_S1, PFN),
	       tb_s1_page(PFN << 12, PKVM_PAGE_SHARED_BORROWED));
	barriers(b, 1);
	tb_unlock2_exit(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0, 0);
}

static struct tb_result run(enum sync s, void (*scenario)(struct tb *))
{
	sync = s;
	return tb_both_ways(scenario, 2, "barrier-after-make");
}

Test(barrier, share_with_dsb_and_isb_conforms)
{
	/* Property: dsb ishst then isb before the pair goes (the hyp's
	 * sequence), or dsb sy then isb, is no finding. */
	tb_expect((struct tb_result[]){ run(S_HYP, share) }, CK_EXIT_OK, NULL,
		  0);
	tb_expect((struct tb_result[]){ run(S_DSB_SY, share) }, CK_EXIT_OK,
		  NULL, 0);
}

Test(barrier, share_without_barriers_is_one_finding_per_tree)
{
	/* Property: no barrier at all is a finding at each table lock's
	 * release (hyp_s1 first), explained by the last store it made
	 * valid, naming the DSB. */
	struct tb_result r = run(S_NONE, share);

	tb_expect(&r, CK_EXIT_FINDINGS, "barrier-after-make", 2);
	cr_assert_eq(r.kind, PKVM_EV_LOCK_RELEASE);
	cr_assert(r.has_explain);
	cr_assert(strstr(r.text, "hyp stage-1:"), "%s", r.text);
	cr_assert(strstr(r.text, "missing: the DSB after the store"), "%s",
		  r.text);
}

Test(barrier, hyp_stage1_without_the_isb_is_a_finding)
{
	/* Property: a DSB with no ISB after it serves the host stage-2
	 * only: one finding, the hyp stage-1's, naming the ISB; an ISB
	 * before the DSB does not count. */
	struct tb_result r = run(S_DSB_ONLY, share);

	tb_expect(&r, CK_EXIT_FINDINGS, "barrier-after-make", 1);
	cr_assert(strstr(r.text, "missing: the ISB after the DSB"), "%s",
		  r.text);
	r = run(S_ISB_FIRST, share);
	tb_expect(&r, CK_EXIT_FINDINGS, "barrier-after-make", 1);
	cr_assert(strstr(r.text, "missing: the ISB after the DSB"), "%s",
		  r.text);
}

Test(barrier, a_dmb_is_no_dsb)
{
	/* Property: a DMB does not order the stores for the walkers. */
	tb_expect((struct tb_result[]){ run(S_DMB, share) }, CK_EXIT_FINDINGS,
		  "barrier-after-make", 2);
}

/* A host abort mapped with only a DSB before host_s2 goes. */
static void abort_map_dsb(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(9);

	tb_entry(b, 0, TB_ESR_DABT, (pfn << 12) | 0x10, (pfn << 12) >> 8,
		 0x1234, 0, 0);
	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	barriers(b, 0);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	tb_exit_full(b, 0, 0x1234, 0, 0, 0, TB_ELR, 0x3c5);
}

Test(barrier, host_stage2_needs_no_isb)
{
	/* Property: entries made valid in the host stage-2 only need the
	 * DSB; without it, one finding. */
	tb_expect((struct tb_result[]){ run(S_DSB_ONLY, abort_map_dsb) },
		  CK_EXIT_OK, NULL, 0);
	tb_expect((struct tb_result[]){ run(S_NONE, abort_map_dsb) },
		  CK_EXIT_FINDINGS, "barrier-after-make", 1);
}

/* share (correct), then unshare with no barrier of its own. */
static void unshare_bare(struct tb *b)
{
	sync = S_HYP;
	tb_share(b, 1, PFN);
	b->no_sync = true;
	tb_unshare(b, 1, PFN);
}

Test(barrier, removing_and_state_bits_need_no_barrier)
{
	/* Property: unshare changes the host side's state bits under a
	 * live mapping and removes the hyp's (with its TLB maintenance):
	 * nothing made valid, nothing owed. */
	tb_expect((struct tb_result[]){ tb_both_ways(unshare_bare, 2, NULL) },
		  CK_EXIT_OK, NULL, 0);
}

/* A store made valid after the only DSB. */
static void store_after_the_dsb(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(11);

	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn), 0);
	tb_barrier(b, 0, PKVM_BARRIER_DSB_ISHST);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	b->unsynced[0] = 0;
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
}

Test(barrier, a_dsb_before_the_last_store_does_not_count)
{
	/* Property: the DSB must follow the last store that made an entry
	 * valid. */
	tb_expect((struct tb_result[]){ tb_both_ways(store_after_the_dsb, 1,
						     NULL) },
		  CK_EXIT_FINDINGS, "barrier-after-make", 1);
}

static void abi1(struct tb *b)
{
	b->abi = 1;
}

Test(barrier, abi1_is_not_judged)
{
	/* Property: ABI 1 does not promise the barriers: no finding, and
	 * the summary says the check was not judged. */
	struct tb_result r;

	tb_before_boot = abi1;
	r = run(S_NONE, share);
	tb_before_boot = NULL;
	tb_expect(&r, CK_EXIT_OK, NULL, 0);
	cr_assert(strstr(r.sum.not_judged, "barrier-after-make (ABI 1 "), "%s",
		  r.sum.not_judged);
}

/* Records lost between the store and the release. */
static void lost_between(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(12), lost[2] = { 2, 1000 };

	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_event(b, 0, PKVM_EV_LOST, lost, 2);
	b->unsynced[0] = 0;
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
}

Test(barrier, lost_records_are_never_a_finding)
{
	/* Property: the barriers may be among lost records: inconclusive. */
	struct tb_result r = tb_both_ways(lost_between, 1, NULL);

	tb_expect(&r, CK_EXIT_INCONCLUSIVE, NULL, 0);
	cr_assert_eq(r.count, 0);
}
