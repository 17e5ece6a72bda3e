// SPDX-License-Identifier: MIT
/*
 * `table-not-zeroed` on hand-built traces (rule_zeroed.c), in every record
 * form (both_ways.h): a pool page linked as a table needs a MARK
 * page_zeroed on the CPU that took it, after its alloc_page and before
 * the link; each root one on the boot CPU after BOOT, before its first
 * store. A mark anywhere else vouches for nothing; ABI 1 is not judged.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "both_ways.h"

static void share(struct tb *b)
{
	tb_share(b, 1, TB_HOST_PFN(3));
}

static void share_unzeroed(struct tb *b)
{
	b->no_zero = TB_NO_ZERO_POOL;
	share(b);
}

Test(zeroed, tables_zeroed_before_the_link_conform)
{
	/* Property: the builder's share installs an L3 table in each tree,
	 * each page zeroed after its alloc_page: no finding. */
	tb_expect((struct tb_result[]){ tb_both_ways(share, 2, NULL) },
		  CK_EXIT_OK, NULL, 0);
}

Test(zeroed, pool_pages_linked_unzeroed_are_findings)
{
	/* Property: each table page linked without its mark is one
	 * finding, at the table descriptor (as mutant 17). */
	struct tb_result r =
		tb_both_ways(share_unzeroed, 2, "table-not-zeroed");

	tb_expect(&r, CK_EXIT_FINDINGS, "table-not-zeroed", 2);
	cr_assert_eq(r.kind, PKVM_EV_PTE_WRITE);
	cr_assert(strstr(r.text, "is linked as a table with no MARK "
				 "page_zeroed for it on cpu1"),
		  "%s", r.text);
}

/* Where the mark is, relative to the alloc_page and the link. */
enum where {
	W_RIGHT,  /* the taker, between alloc_page and link */
	W_OTHER,  /* another CPU */
	W_BEFORE, /* before the alloc_page */
	W_AFTER,  /* after the link */
};

static enum where where;

/* cpu0 takes a pool page and links it as the host L3 of slot 5. */
static void link_by_hand(struct tb *b)
{
	uint64_t pa = TB_POOL_START + 0x80000;
	uint64_t slot = b->l2[PKVM_COMP_HOST_S2] + 8 * 5;
	unsigned mark_cpu = where == W_OTHER ? 1 : 0;

	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	if (where == W_BEFORE)
		tb_mark(b, 0, PKVM_MARK_PAGE_ZEROED, pa);
	tb_lock(b, 0, PKVM_LOCK_POOL);
	tb_nondet(b, 0, PKVM_NONDET_ALLOC_PAGE, pa, 0, PKVM_COMP_HOST_S2);
	tb_unlock(b, 0, PKVM_LOCK_POOL);
	if (where == W_RIGHT || where == W_OTHER)
		tb_mark(b, mark_cpu, PKVM_MARK_PAGE_ZEROED, pa);
	tb_pte(b, 0, slot, pa | 3);
	if (where == W_AFTER)
		tb_mark(b, 0, PKVM_MARK_PAGE_ZEROED, pa);
	tb_barrier(b, 0, PKVM_BARRIER_DSB_ISHST);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
}

static struct tb_result link_with(enum where w)
{
	where = w;
	return tb_both_ways(link_by_hand, 2, "table-not-zeroed");
}

Test(zeroed, only_the_takers_mark_between_alloc_and_link_counts)
{
	/* Property: the mark counts on the CPU that took the page, after
	 * its alloc_page and before the link; on another CPU, before the
	 * page was handed out or after the link it is one finding. */
	tb_expect((struct tb_result[]){ link_with(W_RIGHT) }, CK_EXIT_OK, NULL,
		  0);
	tb_expect((struct tb_result[]){ link_with(W_OTHER) }, CK_EXIT_FINDINGS,
		  "table-not-zeroed", 1);
	tb_expect((struct tb_result[]){ link_with(W_BEFORE) }, CK_EXIT_FINDINGS,
		  "table-not-zeroed", 1);
	tb_expect((struct tb_result[]){ link_with(W_AFTER) }, CK_EXIT_FINDINGS,
		  "table-not-zeroed", 1);
}

static void roots_unzeroed(struct tb *b)
{
	b->no_zero = TB_NO_ZERO_ROOTS;
}

static void nothing(struct tb *b)
{
	(void)b;
}

Test(zeroed, roots_written_unzeroed_are_findings)
{
	/* Property: each root written with no mark since BOOT is one
	 * finding, at its first store. */
	struct tb_result r;

	tb_before_boot = roots_unzeroed;
	r = tb_both_ways(nothing, 1, "table-not-zeroed");
	tb_before_boot = NULL;
	tb_expect(&r, CK_EXIT_FINDINGS, "table-not-zeroed", 2);
	cr_assert(strstr(r.text, "(the host stage-2 root) is written"), "%s",
		  r.text);
}

static void abi1(struct tb *b)
{
	b->abi = 1;
}

Test(zeroed, abi1_is_not_judged)
{
	/* Property: ABI 1 records no zeroing: nothing is reported, and
	 * the summary says the check was not judged. */
	struct tb_result r;

	tb_before_boot = abi1;
	r = tb_both_ways(share, 2, NULL);
	tb_before_boot = NULL;
	tb_expect(&r, CK_EXIT_OK, NULL, 0);
	cr_assert(strstr(r.sum.not_judged,
			 "table-not-zeroed (ABI 1 records no page zeroing)"),
		  "%s", r.sum.not_judged);
}
