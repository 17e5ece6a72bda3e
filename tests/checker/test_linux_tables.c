// SPDX-License-Identifier: MIT
/*
 * linux-6.12's table pages, barriers and pins (format/LINUX-6.12.md 7.3,
 * 10.3, 10.4, invariants 4 and 6): hand-built traces, each a clean case
 * that conforms and a broken one that gives exactly its finding.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi_linux612.h>

#include "builder.h"
#include "linux_trace.h"

/* A hyp stage-1 table page of the pool, and the level-2 entry that links
 * it: the 2 MiB of VA at PA 0x40800000 + LK_OFF (L2 index 4). */
#define TT_PAGE 0x40320000ull
#define TT_SLOT (LK_S1_L2 + 4 * 8)

/* How a hand-built link of TT_PAGE goes wrong, if it does. */
enum tt_how {
	TT_RIGHT,    /* handed out, linked, dsb ishst; isb */
	TT_NO_ALLOC, /* linked with no alloc_page */
	TT_DIRTY,    /* written between its hand-out and its link */
	TT_NO_ISB,   /* the ISB after the DSB missing */
};

/*
 * The traps below that store are LK_UNJUDGED calls the hyp refuses: each
 * is one `hcall-effect` as well (LINUX-6.12.md 6), counted here.
 */
static unsigned tt_refused;

/* A trap linking TT_PAGE. */
static void tt_link(struct lk *t, enum tt_how how)
{
	tt_refused++;
	lk_hvc(t, 0, LK_UNJUDGED, 0);
	lk_lock(t, 0, LK_PGD);
	if (how != TT_NO_ALLOC)
		tb_nondet(&t->b, 0, PKVM_NONDET_ALLOC_PAGE, TT_PAGE, 0,
			  PKVM_COMP_HYP_S1);
	if (how == TT_DIRTY)
		lk_store(t, 0, TT_PAGE + 8, 0x2);
	lk_store(t, 0, TT_SLOT, TT_PAGE | 3);
	tb_barrier(&t->b, 0, PKVM_BARRIER_DSB_ISHST);
	if (how != TT_NO_ISB)
		tb_barrier(&t->b, 0, PKVM_BARRIER_ISB);
	lk_unlock(t, 0, LK_PGD);
	tb_exit(&t->b, 0, LK_REFUSED, 0);
}

/* A trap unlinking it (hyp_unmap_walker: clear, TLBI vae2is, then the
 * page back to its pool), or with the free before the TLBI, or none. */
static void tt_unlink(struct lk *t, bool free, bool free_early)
{
	tt_refused++;
	lk_hvc(t, 0, LK_UNJUDGED, 0);
	lk_lock(t, 0, LK_PGD);
	lk_store(t, 0, TT_SLOT, 0);
	tb_barrier(&t->b, 0, PKVM_BARRIER_DSB_ISHST);
	if (free && free_early)
		tb_nondet(&t->b, 0, PKVM_NONDET_FREE_PAGE, TT_PAGE, 0,
			  PKVM_COMP_HYP_S1);
	tb_tlbi(&t->b, 0, PKVM_TLBI_VAE2IS, (0x40800000ull + LK_OFF) >> 12, 0);
	tb_barrier(&t->b, 0, PKVM_BARRIER_DSB_ISH);
	tb_barrier(&t->b, 0, PKVM_BARRIER_ISB);
	if (free && !free_early)
		tb_nondet(&t->b, 0, PKVM_NONDET_FREE_PAGE, TT_PAGE, 0,
			  PKVM_COMP_HYP_S1);
	lk_unlock(t, 0, LK_PGD);
	tb_exit(&t->b, 0, LK_REFUSED, 0);
}

static void tt_run(void (*build)(struct lk *t), const char *check)
{
	struct lk t;
	struct tb_result r;

	tt_refused = 0;
	lk_boot(&t, 1);
	build(&t);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, check, tt_refused);
}

static void tt_clean(struct lk *t)
{
	tt_link(t, TT_RIGHT);
	tt_unlink(t, true, false);
	tt_link(t, TT_RIGHT); /* freed, handed out again, linked again */
}

Test(linux_tables, link_free_relink_conforms,
     .description = "a table page handed out, linked with dsb ishst; isb, "
		    "unlinked, invalidated, freed and handed out again "
		    "conforms")
{
	tt_run(tt_clean, "");
}

static void tt_no_alloc(struct lk *t)
{
	tt_link(t, TT_NO_ALLOC);
}

Test(linux_tables, link_without_alloc_is_not_from_pool,
     .description = "a table page linked with no alloc_page in its "
		    "critical section is table-not-from-pool (10.3)")
{
	tt_run(tt_no_alloc, "table-not-from-pool");
}

static void tt_relink_unfreed(struct lk *t)
{
	tt_link(t, TT_RIGHT);
	tt_unlink(t, false, false);
	tt_link(t, TT_RIGHT); /* handed out again, never freed */
}

Test(linux_tables, second_hand_out_without_free_is_pool_alloc,
     .description = "the pool handing out a page again with no free_page "
		    "since is pool-alloc (7.3)")
{
	tt_run(tt_relink_unfreed, "pool-alloc");
}

static void tt_free_early(struct lk *t)
{
	tt_link(t, TT_RIGHT);
	tt_unlink(t, true, true);
}

Test(linux_tables, free_before_tlbi_is_table_reuse,
     .description = "a table page given back before the TLBI after its "
		    "unlinking is table-reuse (10.3)")
{
	tt_run(tt_free_early, "table-reuse");
}

static void tt_free_linked(struct lk *t)
{
	tt_link(t, TT_RIGHT);
	lk_hvc(t, 0, LK_UNJUDGED, 0);
	lk_lock(t, 0, LK_PGD);
	tb_nondet(&t->b, 0, PKVM_NONDET_FREE_PAGE, TT_PAGE, 0,
		  PKVM_COMP_HYP_S1);
	lk_unlock(t, 0, LK_PGD);
	tb_exit(&t->b, 0, LK_REFUSED, 0);
}

Test(linux_tables, free_while_linked_is_table_reuse,
     .description = "a table page given back while still linked is "
		    "table-reuse (10.3)")
{
	tt_run(tt_free_linked, "table-reuse");
}

static void tt_dirty(struct lk *t)
{
	tt_link(t, TT_RIGHT);
	tt_unlink(t, true, false);
	tt_link(t, TT_DIRTY);
}

Test(linux_tables, written_before_link_is_not_zeroed,
     .description = "a page written between its hand-out and its link is "
		    "table-not-zeroed (7.3)")
{
	tt_run(tt_dirty, "table-not-zeroed");
}

static void tt_no_isb(struct lk *t)
{
	tt_link(t, TT_NO_ISB);
}

Test(linux_tables, hyp_map_without_isb_is_barrier_after_make,
     .description = "a hyp stage-1 map walk that lets pkvm_pgd_lock go "
		    "with no ISB after its DSB is barrier-after-make (10.4)")
{
	tt_run(tt_no_isb, "barrier-after-make");
}

/* Under LK_UNJUDGED (refused: one hcall-effect), `pa` unshared as 6.2
 * does it. */
static void tt_unshare_unjudged(struct lk *t, uint64_t pa)
{
	lk_hvc(t, 0, LK_UNJUDGED, 0);
	lk_lock(t, 0, LK_HOST);
	lk_lock(t, 0, LK_PGD);
	lk_store(t, 0, lk_s2_leaf(pa), lk_s2_page(pa, 0));
	lk_s1_unmap(t, 0, pa, false);
	lk_unlock(t, 0, LK_PGD);
	lk_unlock(t, 0, LK_HOST);
	tb_exit(&t->b, 0, LK_REFUSED, 0);
}

Test(linux_tables, unpinned_page_unshared_conforms,
     .description = "a shared page no pin holds may stop being shared")
{
	struct lk t;
	struct tb_result r;

	lk_pinned(&t, 1);
	tt_unshare_unjudged(&t, LK_PAGE + 0x1000);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "", 1);
}

Test(linux_tables, pinned_page_unshared_is_pin_violation,
     .description = "the page of a pinned struct kvm no longer shared is "
		    "pin-violation (invariant 6)")
{
	struct lk t;
	struct tb_result r;

	lk_pinned(&t, 1);
	tt_unshare_unjudged(&t, LK_PAGE);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "pin-violation", 1);
}
