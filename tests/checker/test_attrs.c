// SPDX-License-Identifier: MIT
/*
 * `hyp-s1-attributes` on hand-built traces (rule_attrs.c), in every
 * record form (both_ways.h): a valid hyp stage-1 leaf gives at most what
 * HYPERCALLS.md "Mapping attributes" allows its pages, by MARK text_end
 * and rodata_end: text read-only (executable allowed), rodata read-only
 * and execute-never, the rest execute-never. Blocks over several kinds
 * must satisfy each; less than allowed is fine; ABI 1 is not judged.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "both_ways.h"

#define AP2 (1ull << 7)
#define XN (1ull << 54)

/* The boot block over [hyp_start, hyp_end), with these bits changed. */
static uint64_t set_bits, clear_bits;
static unsigned abi;

static void layout(struct tb *b)
{
	b->abi = abi;
	b->text_end = TB_HYP_START + 0x4000;
	b->rodata_end = TB_HYP_START + 0x6000;
	b->hyp_s1_block =
		(((tb_s1_page(TB_HYP_START, 0) & ~3ull) | 1 | set_bits) &
		 ~clear_bits);
}

static void nothing(struct tb *b)
{
	(void)b;
}

static struct tb_result boot_block(uint64_t set, uint64_t clear)
{
	struct tb_result r;

	set_bits = set;
	clear_bits = clear;
	tb_before_boot = layout;
	r = tb_both_ways(nothing, 1, "hyp-s1-attributes");
	tb_before_boot = NULL;
	return r;
}

Test(attrs, a_block_over_text_and_data_read_only_xn_conforms)
{
	/* Property: a block over text, rodata and data that is read-only
	 * and execute-never gives each page no more than allowed. */
	tb_expect((struct tb_result[]){ boot_block(AP2, 0) }, CK_EXIT_OK, NULL,
		  0);
}

Test(attrs, a_writable_block_over_text_is_a_finding)
{
	/* Property: the block is writable over text and rodata: one
	 * finding at the store, saying so. */
	struct tb_result r = boot_block(0, 0);

	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-attributes", 1);
	cr_assert_eq(r.kind, PKVM_EV_PTE_WRITE);
	cr_assert(strstr(r.text, "is writable:"), "%s", r.text);
}

Test(attrs, an_executable_block_over_data_is_a_finding)
{
	/* Property: execute-never cleared over rodata and data (as mutant
	 * 20): one finding. */
	struct tb_result r = boot_block(AP2, XN);

	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-attributes", 1);
	cr_assert(strstr(r.text, "is executable:"), "%s", r.text);
}

Test(attrs, abi1_is_not_judged)
{
	/* Property: ABI 1 records no layout: nothing is reported, and the
	 * summary says the check was not judged. */
	struct tb_result r;

	abi = 1;
	r = boot_block(0, XN);
	abi = 0;
	tb_expect(&r, CK_EXIT_OK, NULL, 0);
	cr_assert(strstr(r.sum.not_judged,
			 "hyp-s1-attributes (ABI 1 records no image layout)"),
		  "%s", r.sum.not_judged);
}

/* A page donated to the hyp, mapped without execute-never. */
static void donate_executable(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(4);

	tb_two_sided(b, 1, PKVM_HC_HOST_DONATE_HYP, pfn, tb_s2_owner_hyp(),
		     tb_s1_page(pfn << 12, PKVM_PAGE_OWNED) & ~XN);
}

static void donate(struct tb *b)
{
	tb_donate(b, 1, TB_HOST_PFN(4));
}

Test(attrs, a_donated_page_must_be_execute_never)
{
	/* Property: host pages the hyp maps are read-write and
	 * execute-never: executable is one finding, at the page's store. */
	struct tb_result r;

	tb_expect((struct tb_result[]){ tb_both_ways(donate, 2, NULL) },
		  CK_EXIT_OK, NULL, 0);
	r = tb_both_ways(donate_executable, 2, "hyp-s1-attributes");
	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-attributes", 1);
	cr_assert(strstr(r.text, "level-3 page for [0x40804000, 0x40805000) "
				 "(hyp data, host or MMIO pages) is "
				 "executable"),
		  "%s", r.text);
}

/*
 * The table pool's memory type: the boot block over [hyp_start, hyp_end),
 * which holds the pool, uses AttrIndx 0; every CPU writes `mair`, cpu0
 * after the boot tables if `late` (as the hyp does), else before them.
 */
static uint64_t mair;
static bool mair_late;

static void pool_layout(struct tb *b)
{
	layout(b);
	b->mair = mair;
	b->mair_late = mair_late;
}

static struct tb_result pool_type(uint64_t value, bool late)
{
	struct tb_result r;

	set_bits = AP2;
	clear_bits = 0;
	mair = value;
	mair_late = late;
	tb_before_boot = pool_layout;
	r = tb_both_ways(nothing, 2, "hyp-s1-attributes");
	tb_before_boot = NULL;
	mair = 0;
	mair_late = false;
	return r;
}

Test(attrs, a_write_back_pool_conforms)
{
	/* Property: index 0 write-back (0xff non-transient, 0x77
	 * transient) is no finding, whatever the other indexes are, with
	 * MAIR_EL2 written before or after the tables. */
	tb_expect((struct tb_result[]){ pool_type(0x44ff, false) }, CK_EXIT_OK,
		  NULL, 0);
	tb_expect((struct tb_result[]){ pool_type(0x0477, true) }, CK_EXIT_OK,
		  NULL, 0);
}

Test(attrs, a_non_cacheable_pool_is_one_finding)
{
	/* Property: index 0 Normal Non-cacheable (as the hunt's MAIR
	 * mutant) is one finding, though both CPUs write MAIR_EL2; judged at
	 * the leaf when MAIR_EL2 came first. */
	struct tb_result r = pool_type(0x0444, false);

	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-attributes", 1);
	cr_assert_eq(r.kind, PKVM_EV_PTE_WRITE);
	cr_assert(strstr(r.text, "AttrIndx 0"), "%s", r.text);
	cr_assert(strstr(r.text, "0x44, not write-back"), "%s", r.text);
}

Test(attrs, a_pool_typed_later_is_judged_at_the_mair_write)
{
	/* Property: tables built before MAIR_EL2 is written are judged at
	 * its first write: device (0x00) is one finding there; write-through
	 * (0xbb) is not write-back either. */
	struct tb_result r = pool_type(0x0400, true);

	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-attributes", 1);
	cr_assert_eq(r.kind, PKVM_EV_SYSREG_WRITE);
	cr_assert(strstr(r.text, "device memory"), "%s", r.text);
	r = pool_type(0x04bb, true);
	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-attributes", 1);
}
