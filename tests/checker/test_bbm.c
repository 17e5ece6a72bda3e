// SPDX-License-Identifier: MIT
/*
 * break-before-make on hand-built traces (checker/src/bbm.c). Every
 * scenario is built three times, with the canonical kinds, with the
 * compact TLBI records that carry their barriers as flags, and with the
 * fused hypercall records of format 3.0 too, and all must get the same
 * verdict. A valid -> valid store that changes the output address,
 * block <-> table, or the memory type is one break-before-make finding at
 * that store, explained by the store that made the old descriptor; state
 * bits and permissions change in place; lost records never give one.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "both_ways.h"

/* A 2 MiB host stage-2 block [0x40e00000, 0x41000000) of host memory. */
#define BLOCK_BASE (TB_RAM_BASE + 7 * 0x200000ull)
#define BLOCK_PFN (BLOCK_BASE >> 12)

/* How the scenario replaces a valid descriptor. */
enum how {
	H_BREAK,       /* split: 0, the TLB sequence, the table */
	H_NO_BREAK,    /* split: the table straight over the block */
	H_MAKE_EARLY,  /* split: 0, the table, then the TLB sequence */
	H_LOST,	       /* split without the break, records lost before */
	H_OA,	       /* a page: another output address */
	H_DEVICE,      /* a page: Normal -> Device memory */
	H_READ_ONLY,   /* a page: S2AP RW -> RO (a permission) */
	H_COLLAPSE_OK, /* split with the break, collapse with it too */
};

static enum how how;

/* A valid 2 MiB host stage-2 block for BLOCK_BASE (level 2). */
static uint64_t block_desc(void)
{
	return (tb_s2_page(BLOCK_BASE, PKVM_PAGE_OWNED) & ~3ull) | 1;
}

/* Outside any trap, host stage-2 maps the block, then cpu1 splits it. */
static void split(struct tb *b)
{
	uint64_t slot = b->l2[PKVM_COMP_HOST_S2] + 8 * 7, l3 = 0;
	uint64_t lost[2] = { 2, 1000 };

	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, slot, block_desc());
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	tb_lock(b, 1, PKVM_LOCK_HOST_S2);
	if (how == H_LOST)
		tb_event(b, 1, PKVM_EV_LOST, lost, 2);
	if (how == H_BREAK || how == H_MAKE_EARLY || how == H_COLLAPSE_OK)
		tb_pte(b, 1, slot, 0);
	if (how == H_BREAK || how == H_COLLAPSE_OK)
		tb_tlb_flush(b, 1, true, BLOCK_BASE);
	l3 = tb_l3(b, 1, PKVM_COMP_HOST_S2, BLOCK_PFN) & ~0xfffull;
	if (how == H_MAKE_EARLY)
		tb_tlb_flush(b, 1, true, BLOCK_BASE);
	for (unsigned i = 0; i < 4; i++)
		tb_pte(b, 1, l3 + 8 * i,
		       tb_s2_page(BLOCK_BASE + 0x1000 * i, PKVM_PAGE_OWNED));
	if (how == H_COLLAPSE_OK) {
		tb_pte(b, 1, slot, 0);
		tb_tlb_flush(b, 1, true, BLOCK_BASE);
		tb_pte(b, 1, slot, block_desc());
	}
	tb_unlock(b, 1, PKVM_LOCK_HOST_S2);
}

/* A host page mapped by its abort, then changed in place by cpu1. */
static void page_change(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(5), pa = pfn << 12, pte, val;

	tb_abort_map(b, 0, pfn);
	tb_lock(b, 1, PKVM_LOCK_HOST_S2);
	pte = tb_l3(b, 1, PKVM_COMP_HOST_S2, pfn);
	val = tb_s2_page(pa, PKVM_PAGE_OWNED);
	if (how == H_OA)
		val = tb_s2_page(pa + 0x1000, PKVM_PAGE_OWNED);
	else if (how == H_DEVICE)
		val = tb_s2_device(pa);
	else if (how == H_READ_ONLY)
		val = (val & ~(3ull << 6)) | (1ull << 6);
	tb_pte(b, 1, pte, val);
	tb_unlock(b, 1, PKVM_LOCK_HOST_S2);
}

/* Share and unshare of a page the host has mapped: state bits only. */
static void state_bits_only(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(5);

	tb_abort_map(b, 0, pfn);
	tb_share(b, 1, pfn);
	tb_unshare(b, 0, pfn);
}

/* ---- running them ---------------------------------------------------- */

/* Every way, same verdict; the fused run's result. */
static struct tb_result check(void (*scenario)(struct tb *))
{
	return tb_both_ways(scenario, 2, "break-before-make");
}

static void expect_pass(const struct tb_result *v)
{
	cr_assert_eq(v->count, 0, "%u findings, first %s: %s", v->count,
		     v->count ? v->checks[0] : "", v->text);
	cr_assert_eq(v->exit, CK_EXIT_OK, "exit %d (%s)", v->exit,
		     v->sum.first_inconclusive);
}

/*
 * Exactly one break-before-make, at the store, for the range at `addr`,
 * explained by the store that made the old descriptor, saying `what`.
 * Other checks may judge the new mapping too (`alone`: none may).
 */
static void expect_bbm(const struct tb_result *v, uint64_t addr,
		       const char *what, bool alone)
{
	cr_assert_eq(v->focus_count, 1, "%u break-before-make, %u findings",
		     v->focus_count, v->count);
	if (alone)
		cr_assert_eq(v->count, 1, "%u findings, first %s", v->count,
			     v->checks[0]);
	cr_assert_eq(v->exit, CK_EXIT_FINDINGS);
	cr_assert_eq(v->kind, PKVM_EV_PTE_WRITE);
	cr_assert_eq(v->addr, addr, "addr 0x%llx", (unsigned long long)v->addr);
	cr_assert(v->has_explain);
	cr_assert(strstr(v->text, what), "\"%s\" not in: %s", what, v->text);
}

/* ---- changes that conform ------------------------------------------- */

Test(bbm, split_with_the_break_conforms)
{
	/* Property: 0, dsb ishst, ipas2e1is, dsb ish, vmalle1is, dsb ish,
	 * then the table descriptor over a valid block: conforms. */
	struct tb_result v;

	how = H_BREAK;
	v = check(split);
	expect_pass(&v);
	how = H_COLLAPSE_OK;
	v = check(split);
	expect_pass(&v);
}

Test(bbm, state_bit_change_conforms)
{
	/* Property: valid -> valid stores changing only the page-state bits
	 * (share, unshare of a mapped page) need no break. */
	struct tb_result v;

	v = check(state_bits_only);
	expect_pass(&v);
}

Test(bbm, permission_change_conforms)
{
	/* Property: a valid page made read-only in place needs no break. */
	struct tb_result v;

	how = H_READ_ONLY;
	v = check(page_change);
	cr_assert_eq(v.focus_count, 0, "%s", v.text);
	cr_assert_neq(v.exit, CK_EXIT_INCONCLUSIVE);
}

/* ---- changes that need the break ------------------------------------ */

Test(bbm, table_over_a_valid_block)
{
	/* Property: a table descriptor stored straight over a valid block
	 * (a split without the break) is break-before-make at that store,
	 * explained by the block's store. */
	struct tb_result v;

	how = H_NO_BREAK;
	v = check(split);
	expect_bbm(&v, BLOCK_BASE, "block -> table", true);
	cr_assert(strstr(v.text, "directly over the valid block"), "%s",
		  v.text);
}

Test(bbm, table_before_the_break_completes)
{
	/* Property: 0 then the table, with the TLB invalidation only after:
	 * the break did not happen; explained by the store of 0. */
	struct tb_result v;

	how = H_MAKE_EARLY;
	v = check(split);
	expect_bbm(&v, BLOCK_BASE, "block -> table", true);
	cr_assert(strstr(v.text, "before the TLB invalidation"), "%s", v.text);
}

Test(bbm, output_address_change)
{
	/* Property: a valid page pointed at another frame in place is
	 * break-before-make naming both output addresses. */
	struct tb_result v;

	how = H_OA;
	v = check(page_change);
	expect_bbm(&v, TB_HOST_PFN(5) << 12, "output address", false);
	cr_assert(strstr(v.text, "0x40806000"), "%s", v.text);
}

Test(bbm, memory_type_change)
{
	/* Property: Normal -> Device in place is break-before-make. */
	struct tb_result v;

	how = H_DEVICE;
	v = check(page_change);
	expect_bbm(&v, TB_HOST_PFN(5) << 12, "memory type", false);
}

/* ---- loss ----------------------------------------------------------- */

Test(bbm, loss_is_never_a_finding)
{
	/* Property: records lost while the writer held host_s2, before it
	 * stored the table over the block: the shadow's block may be gone,
	 * so inconclusive, no finding. */
	struct tb_result v;

	how = H_LOST;
	v = check(split);
	cr_assert_eq(v.focus_count, 0, "%s", v.text);
	cr_assert_eq(v.exit, CK_EXIT_INCONCLUSIVE);
}
