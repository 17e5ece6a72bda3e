// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 profile's memory rules on hand-built traces (linux_trace.h):
 * release stores (LINUX-6.12.md 10.5, rule_l612_release.c), host stage-2
 * faults (9.1, rule_l612_fault.c) and the page invariants (11,
 * rule_l612_inv.c). Each clean variant is judged clean (inconclusive, as
 * every clean linux-6.12 run), each broken one is one finding of its
 * rule.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi_linux612.h>

#include "builder.h"
#include "linux_trace.h"

/* ---- release stores (LINUX-6.12.md 10.5) ---------------------------- */

/*
 * Under an id whose spec is not judged (__pkvm_init_vm), LK_PAGE's host
 * stage-2 leaf annotated (owner hyp) and given back, each by a break
 * (0x400, plain) and a make, the makes stored plain where `plain_make`
 * says (bit 0: the annotation, bit 1: the 0 of the give-back).
 */
static void lk_annotate_give_back(struct lk *t, unsigned cpu,
				  unsigned plain_make)
{
	uint64_t leaf = lk_s2_leaf(LK_PAGE);

	lk_hvc(t, cpu, LK_UNJUDGED, 0);
	lk_lock(t, cpu, LK_HOST);
	lk_store_as(t, cpu, leaf, 0x400, false);
	lk_store_as(t, cpu, leaf, 0x4, !(plain_make & 1));
	lk_store_as(t, cpu, leaf, 0x400, false);
	lk_store_as(t, cpu, leaf, 0, !(plain_make & 2));
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, LK_REFUSED, 0);
}

Test(linux612, plain_breaks_clears_and_in_place_changes_are_no_finding)
{
	struct lk t;
	struct tb_result r;

	/* breaks, a hyp stage-1 clear, a host leaf's state changed in
	 * place (unshare), every make a release */
	lk_boot(&t, 2);
	lk_annotate_give_back(&t, 0, 0);
	lk_share_unshare(&t, 1, false, false);
	lk_s2_remap(&t, 0, false);
	lk_check(&t, &r);
	/* (the two refused calls' stores are hcall-effect: 6) */
	lk_expect_in_refused(&r, "", 2);
	cr_assert(!strstr(r.sum.not_judged, "pte-write-not-release"), "%s",
		  r.sum.not_judged);
}

Test(linux612, a_plain_make_after_a_break_is_pte_write_not_release)
{
	struct lk t;
	struct tb_result r;

	/* the annotation's make (mutant 08), then the give-back's */
	for (unsigned plain = 1; plain <= 2; plain++) {
		lk_boot(&t, 1);
		lk_annotate_give_back(&t, 0, plain);
		lk_check(&t, &r);
		lk_expect_in_refused(&r, "pte-write-not-release", 1);
	}
}

Test(linux612, a_plain_hyp_stage1_map_is_pte_write_not_release)
{
	struct lk t;
	struct tb_result r;

	/* a share whose hyp stage-1 leaf is stored plain over 0 */
	lk_boot(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_PKVM_HOST_SHARE_HYP, LK_PAGE >> 12);
	lk_lock(&t, 0, LK_HOST);
	lk_store(&t, 0, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 1));
	lk_lock(&t, 0, LK_PGD);
	lk_store_as(&t, 0, lk_s1_leaf(LK_PAGE), lk_s1_page(LK_PAGE, 2), false);
	tb_barrier(&t.b, 0, PKVM_BARRIER_DSB_ISHST);
	tb_barrier(&t.b, 0, PKVM_BARRIER_ISB);
	lk_unlock(&t, 0, LK_PGD);
	lk_unlock(&t, 0, LK_HOST);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "pte-write-not-release", 1);
}

/* ---- host stage-2 faults (LINUX-6.12.md 9.1) ------------------------- */

/* MMIO: the UART's page, in the gap [0, RAM) (the root's entry 0: 1 GiB) */
#define LK_MMIO (TB_MMIO_PFN << 12)
#define LK_S2_XN (1ull << 54)

/*
 * A host data abort at `ipa` that takes host_mmu.lock and makes each
 * (entry, value) of `st` with a break and a make, then lets the lock go;
 * the exit is the caller's.
 */
static void lk_fault(struct lk *t, unsigned cpu, uint64_t ipa,
		     const uint64_t (*st)[2], unsigned n)
{
	tb_entry(&t->b, cpu, TB_ESR_DABT, ipa + 0x10, ipa >> 8, 0, 0, 0);
	lk_lock(t, cpu, LK_HOST);
	for (unsigned i = 0; i < n; i++) {
		lk_store(t, cpu, st[i][0], 0x400);
		lk_store(t, cpu, st[i][0], st[i][1]);
	}
	if (n)
		tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
	lk_unlock(t, cpu, LK_HOST);
}

/* lk_fault of one page of RAM mapped with `leaf`, and its exit. */
static void lk_fault_page(struct lk *t, unsigned cpu, uint64_t pa,
			  uint64_t leaf)
{
	const uint64_t st[1][2] = { { lk_s2_leaf(pa), leaf } };

	lk_fault(t, cpu, pa, st, 1);
	tb_exit(&t->b, cpu, 0, 0);
}

/* The MMIO gap's 1 GiB block at level 1 (host_stage2_adjust_range). */
static uint64_t lk_mmio_block(void)
{
	return 0x7fdull | LK_S2_XN;
}

Test(linux612, host_faults_as_specified_are_judged_clean)
{
	struct lk t;
	struct tb_result r;
	const uint64_t mmio[1][2] = { { LK_S2_ROOT, lk_mmio_block() } };

	lk_boot(&t, 2);
	/* a page of RAM, then the same page again on the other CPU (mapped
	 * already: nothing), then the MMIO gap as one block */
	lk_fault_page(&t, 0, LK_PAGE + 0x1000, lk_s2_page(LK_PAGE + 0x1000, 0));
	lk_fault(&t, 1, LK_PAGE + 0x1000, NULL, 0);
	tb_exit(&t.b, 1, 0, 0);
	lk_fault(&t, 0, LK_MMIO, mmio, 1);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	/* (and __pkvm_init's result, LINUX-6.12.md 5.1) */
	cr_assert_eq(r.sum.traps_checked, 4);
	cr_assert(!lk_lists(r.sum.not_judged, "abort-injection") &&
			  !lk_lists(r.sum.not_judged, "trap-effect"),
		  "%s", r.sum.not_judged);
}

Test(linux612, a_fault_mapping_with_wrong_attributes_is_bad_mapping)
{
	const uint64_t page = LK_PAGE + 0x1000;
	const uint64_t bad[] = {
		lk_s2_page(page + 0x1000, 0),	/* not identity */
		lk_s2_page(page, 0) | LK_S2_XN, /* memory not executable */
		lk_s2_page(page, 1),		/* state bits not 00 */
		lk_s2_page(page, 0) & ~0x80ull, /* read-only */
		(lk_s2_page(page, 0) & ~0x3cull) | 0x4, /* device memory */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lk t;
		struct tb_result r;

		lk_boot(&t, 1);
		lk_fault_page(&t, 0, page, bad[i]);
		lk_check(&t, &r);
		lk_expect(&r, CK_EXIT_FINDINGS, "bad-mapping", 1);
	}
}

Test(linux612, mmio_mapped_executable_or_into_ram_is_bad_mapping)
{
	/* no XN; a 2 MiB block of RAM for an MMIO fault */
	const uint64_t st[2][2][2] = {
		{ { LK_S2_ROOT, lk_mmio_block() & ~LK_S2_XN } },
		{ { LK_S2_L2, 0x40000000ull | lk_mmio_block() } },
	};

	for (unsigned i = 0; i < 2; i++) {
		struct lk t;
		struct tb_result r;

		lk_boot(&t, 1);
		lk_fault(&t, 0, LK_MMIO, st[i], 1);
		tb_exit(&t.b, 0, 0, 0);
		lk_check(&t, &r);
		lk_expect(&r, CK_EXIT_FINDINGS, "bad-mapping", 1);
	}
}

Test(linux612, a_fault_that_maps_a_hyp_page_is_host_maps_foreign_page)
{
	struct lk t;
	struct tb_result r;
	const uint64_t st[2][2] = {
		{ lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 0) },
		{ lk_s2_leaf(LK_HYP_PAGE), lk_s2_page(LK_HYP_PAGE, 0) },
	};

	lk_boot(&t, 1);
	lk_fault(&t, 0, LK_PAGE, st, 2);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "host-maps-foreign-page", 1);
}

Test(linux612, a_fault_on_a_hyp_page_is_a_host_caused_panic_not_a_finding)
{
	struct lk t;
	struct tb_result r;
	uint64_t w[2] = { PKVM_PANIC_BUG, TB_ELR };

	/* 6.12 BUG()s: inconclusive, named host-caused-panic */
	lk_boot(&t, 1);
	lk_fault(&t, 0, LK_HYP_PAGE, NULL, 0);
	tb_event(&t.b, 0, PKVM_EV_PANIC, w, 2);
	lk_check(&t, &r);
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(r.count, 0);
	cr_assert(strstr(r.sum.first_inconclusive, "host-caused-panic"), "%s",
		  r.sum.first_inconclusive);

	/* returning to the host instead */
	lk_boot(&t, 1);
	lk_fault(&t, 0, LK_HYP_PAGE, NULL, 0);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "trap-effect", 1);

	/* or mapping it */
	lk_boot(&t, 1);
	lk_fault_page(&t, 0, LK_HYP_PAGE, lk_s2_page(LK_HYP_PAGE, 0));
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "trap-effect", 1);
}

Test(linux612, a_fault_on_a_mapped_page_changes_nothing)
{
	struct lk t;
	struct tb_result r;
	const uint64_t st[1][2] = { { lk_s2_leaf(LK_PAGE + 0x1000),
				      lk_s2_page(LK_PAGE + 0x1000, 0) } };

	/* mapped already, yet the fault maps the next page */
	lk_boot(&t, 1);
	lk_fault_page(&t, 0, LK_PAGE, lk_s2_page(LK_PAGE, 0));
	lk_fault(&t, 0, LK_PAGE, st, 1);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "trap-effect", 1);
}

Test(linux612, a_fault_left_unmapped_is_missing_mapping)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_fault(&t, 0, LK_PAGE, NULL, 0);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "missing-mapping", 1);
}

Test(linux612, a_fault_injects_nothing_and_resumes_where_it_was)
{
	struct lk t;
	struct tb_result r;
	const uint64_t st[1][2] = { { lk_s2_leaf(LK_PAGE),
				      lk_s2_page(LK_PAGE, 0) } };

	/* an abort injected (a hypercall's exit alike) */
	lk_boot(&t, 1);
	lk_fault(&t, 0, LK_PAGE, st, 1);
	tb_exit_full(&t.b, 0, 0, 0, 0x96000000ull, LK_PAGE, TB_ELR, 0x3c5);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "abort-injection", 1);

	/* ELR moved on */
	lk_boot(&t, 1);
	lk_fault(&t, 0, LK_PAGE, st, 1);
	tb_exit_full(&t.b, 0, 0, 0, 0, 0, TB_ELR + 4, 0x3c5);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "abort-return", 1);
}

/*
 * RAM in two regions (`region ram` records), [0x40000000, +8 MiB) and
 * [0x40c00000, +4 MiB): a fault in the gap between them is MMIO, whose
 * mapping stays in the gap (host_stage2_adjust_range: a 2 MiB block at
 * 0x40800000, XN), `leaf` at level 2.
 */
static void lk_gap_fault(struct lk *t, uint64_t leaf)
{
	const uint64_t reg[2][4] = {
		{ PKVM_REGION_RAM, 0x40000000ull, 0x800000ull, 0 },
		{ PKVM_REGION_RAM, 0x40c00000ull, 0x400000ull, 0 }
	};
	const uint64_t st[1][2] = { { LK_S2_L2 + 4 * 8, leaf } };

	lk_boot(t, 1);
	tb_event(&t->b, 0, PKVM_EV_REGION, reg[0], 4);
	tb_event(&t->b, 0, PKVM_EV_REGION, reg[1], 4);
	lk_fault(t, 0, 0x40900000ull, st, 1);
	tb_exit(&t->b, 0, 0, 0);
}

Test(linux612, a_fault_between_ram_regions_is_mmio_of_that_gap)
{
	struct lk t;
	struct tb_result r;

	/* (without the regions, BOOT's RAM: this would be memory, XN) */
	lk_gap_fault(&t, 0x40800000ull | lk_mmio_block());
	lk_check(&t, &r);
	lk_expect_unjudged(&r);

	/* mapped executable, as memory is */
	lk_gap_fault(&t, 0x40800000ull | (lk_mmio_block() & ~LK_S2_XN));
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "bad-mapping", 1);
}

/*
 * A fault that maps 65 pages of RAM page by page (more entries than the
 * rule keeps, 64), the first `bad` of them not executable: the kept
 * entries are judged all the same (mutant 15 of tests/mutants/linux-6.12
 * maps 1 GiB of MMIO page by page, executable); the rest is a note.
 */
static void lk_fault_many(struct tb_result *r, unsigned bad)
{
	uint64_t st[65][2];
	struct lk t;

	for (unsigned i = 0; i < 65; i++) {
		st[i][0] = lk_s2_leaf(LK_PAGE + i * 0x1000ull);
		st[i][1] = lk_s2_page(LK_PAGE + i * 0x1000ull, 0) |
			   (i < bad ? LK_S2_XN : 0);
	}
	lk_boot(&t, 1);
	lk_fault(&t, 0, LK_PAGE, st, 65);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, r);
}

Test(linux612, a_fault_that_changes_many_entries_is_judged_on_those_it_kept)
{
	struct tb_result r;

	lk_fault_many(&r, 0);
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE, "exit %d", r.exit);
	cr_assert_eq(r.count, 0, "first %s", r.count ? r.checks[0] : "-");
	cr_assert(strstr(r.sum.first_inconclusive, "more than 64 entries"),
		  "%s", r.sum.first_inconclusive);

	lk_fault_many(&r, 1);
	lk_expect(&r, CK_EXIT_FINDINGS, "bad-mapping", 1);
}

/* ---- page invariants (LINUX-6.12.md 11) ------------------------------- */

/*
 * Under LK_UNJUDGED (refused: its stores are one hcall-effect), host_mmu.lock
 * and pkvm_pgd_lock: the host stage-2 entry `s2` made `v2` with a break (left
 * LOCKED if `v2` is 0x400), and the hyp stage-1 entry `s1` made `v1`;
 * an entry of 0 is left alone.
 */
static void lk_inv_case(struct lk *t, uint64_t s2, uint64_t v2, uint64_t s1,
			uint64_t v1)
{
	lk_hvc(t, 0, LK_UNJUDGED, 0);
	lk_lock(t, 0, LK_HOST);
	lk_lock(t, 0, LK_PGD);
	if (s2) {
		lk_store(t, 0, s2, 0x400);
		if (v2 != 0x400)
			lk_store(t, 0, s2, v2);
	}
	if (s1)
		lk_store(t, 0, s1, v1);
	tb_barrier(&t->b, 0, PKVM_BARRIER_DSB_ISHST);
	tb_barrier(&t->b, 0, PKVM_BARRIER_ISB);
	lk_unlock(t, 0, LK_PGD);
	lk_unlock(t, 0, LK_HOST);
	tb_exit(&t->b, 0, LK_REFUSED, 0);
}

Test(linux612, a_donation_to_the_hyp_keeps_the_invariants)
{
	struct lk t;
	struct tb_result r;

	/* host annotated (owner hyp), hyp OWNED: one owner */
	lk_boot(&t, 1);
	lk_inv_case(&t, lk_s2_leaf(LK_PAGE), 0x4, lk_s1_leaf(LK_PAGE),
		    lk_s1_page(LK_PAGE, 0));
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "", 1);
	cr_assert(!strstr(r.sum.not_judged, "invariant-share-pairing") &&
			  !strstr(r.sum.not_judged, "bad-annotation"),
		  "%s", r.sum.not_judged);
}

Test(linux612, the_host_mapping_a_hyp_page_is_host_maps_foreign_page)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_inv_case(&t, lk_s2_leaf(LK_HYP_PAGE), lk_s2_page(LK_HYP_PAGE, 0), 0,
		    0);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "host-maps-foreign-page", 1);
}

Test(linux612, the_hyp_mapping_a_host_page_is_hyp_maps_foreign_page)
{
	/* a page the host owns (not mapped yet), taken by the hyp as OWNED,
	 * then as SHARED_OWNED */
	for (unsigned st = 0; st < 2; st++) {
		struct lk t;
		struct tb_result r;

		lk_boot(&t, 1);
		lk_inv_case(&t, 0, 0, lk_s1_leaf(LK_PAGE),
			    lk_s1_page(LK_PAGE, st));
		lk_check(&t, &r);
		lk_expect_in_refused(&r, "hyp-maps-foreign-page", 1);
	}
}

Test(linux612, a_share_on_one_side_only_is_invariant_share_pairing)
{
	struct lk t;
	struct tb_result r;

	/* host SHARED_OWNED, hyp NOPAGE; hyp SHARED_OWNED over a host
	 * annotation */
	lk_boot(&t, 1);
	lk_inv_case(&t, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 1), 0, 0);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "invariant-share-pairing", 1);

	lk_boot(&t, 1);
	lk_inv_case(&t, lk_s2_leaf(LK_PAGE), 0x4, lk_s1_leaf(LK_PAGE),
		    lk_s1_page(LK_PAGE, 1));
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "invariant-share-pairing", 1);
}

Test(linux612, annotations_other_than_owner_hyp_at_level_3_are_bad)
{
	/* another owner; a level-2 annotation; LOCKED left behind */
	const uint64_t s2[3] = { lk_s2_leaf(LK_PAGE), LK_S2_L2 + 2 * 8,
				 lk_s2_leaf(LK_PAGE) };
	const uint64_t v2[3] = { 0x8, 0x4, 0x400 };

	for (unsigned i = 0; i < 3; i++) {
		struct lk t;
		struct tb_result r;

		lk_boot(&t, 1);
		lk_inv_case(&t, s2[i], v2[i], 0, 0);
		lk_check(&t, &r);
		lk_expect_in_refused(&r, "bad-annotation", 1);
	}
}

Test(linux612, state_bits_11_are_invalid_state_bits)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_inv_case(&t, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 3), 0, 0);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "invalid-state-bits", 1);
}
