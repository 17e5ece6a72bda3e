// SPDX-License-Identifier: MIT
/*
 * tlbi-after-unmap on hand-built traces (checker/src/tlb.c). Every
 * scenario is built three times, with the canonical kinds, with the
 * compact TLBI records that carry their barriers as flags, and with the
 * fused hypercall records of format 3.0 too (the release the check waits
 * for then comes with the exit), and all must get the same verdict. The TLB
 * maintenance after the unmap is chosen per test (enum maint): the hyp's own
 * sequence conforms, and each way of getting it wrong is exactly one
 * tlbi-after-unmap finding, at the lock release, explained by the store that
 * unmapped.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "both_ways.h"

/* The maintenance written after the unmapping store. */
enum maint {
	M_FULL,		/* the hyp's sequence (hyp/README.md) */
	M_NONE,		/* nothing */
	M_TLBI_FIRST,	/* TLBI, then the DSBs */
	M_NO_DSB_AFTER, /* DSB, TLBI(s), no completing DSB */
	M_ST_AFTER,	/* the completing DSB is only ishst */
	M_OTHER_PAGE,	/* by address, of the next 2 MiB */
	M_BROAD,	/* alle2is / vmalls12e1is instead */
	M_NO_S1,	/* stage 2: ipas2e1is and its DSB, no vmalle1is */
	M_S1_EARLY,	/* stage 2: vmalle1is before the DSB after ipas2e1is */
	M_OTHER_VMID,	/* stage 2: ipas2e1is and vmalle1is of VMID 1 */
	M_LOCAL, /* the non-shareable forms: alle2 / vmalls12e1, dsb nsh */
};

static enum maint maint;
static uint64_t other_offset = 0x200000; /* M_OTHER_PAGE: where instead */

#define ISHST PKVM_REC_F_TLBI_DSB_ISHST_BEFORE
#define ISH PKVM_REC_F_TLBI_DSB_ISH_AFTER
#define ISB PKVM_REC_F_TLBI_ISB_AFTER

/* The maintenance `maint` after an unmap of `addr` (stage 2 or 1). */
static void maintain(struct tb *b, unsigned cpu, bool s2, uint64_t addr)
{
	unsigned by_addr = s2 ? PKVM_TLBI_IPAS2E1IS : PKVM_TLBI_VAE2IS;
	uint64_t page = addr >> 12;

	switch (maint) {
	case M_FULL:
		tb_tlb_flush(b, cpu, s2, addr);
		return;
	case M_NONE:
		return;
	case M_TLBI_FIRST:
		tb_tlbi(b, cpu, by_addr, page, 0);
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISHST);
		if (s2)
			tb_tlbi(b, cpu, PKVM_TLBI_VMALLE1IS, 0, ISH);
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISH);
		return;
	case M_NO_DSB_AFTER:
		tb_tlbi(b, cpu, by_addr, page, ISHST | (s2 ? ISH : 0));
		if (s2)
			tb_tlbi(b, cpu, PKVM_TLBI_VMALLE1IS, 0, ISB);
		else
			tb_barrier(b, cpu, PKVM_BARRIER_ISB);
		return;
	case M_ST_AFTER:
		tb_tlbi(b, cpu, by_addr, page, ISHST | (s2 ? ISH : 0));
		if (s2)
			tb_tlbi(b, cpu, PKVM_TLBI_VMALLE1IS, 0, 0);
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISHST);
		return;
	case M_OTHER_PAGE:
		tb_tlb_flush(b, cpu, s2, addr + other_offset);
		return;
	case M_BROAD:
		tb_tlbi(b, cpu, s2 ? PKVM_TLBI_VMALLS12E1IS : PKVM_TLBI_ALLE2IS,
			0, ISHST | ISH | ISB);
		return;
	case M_NO_S1:
		tb_tlbi(b, cpu, by_addr, page, ISHST | ISH | ISB);
		return;
	case M_S1_EARLY:
		tb_tlbi(b, cpu, by_addr, page, ISHST);
		tb_tlbi(b, cpu, PKVM_TLBI_VMALLE1IS, 0, ISH | ISB);
		return;
	case M_OTHER_VMID:
		tb_tlbi(b, cpu, by_addr | 1u << 16, page, ISHST | ISH);
		tb_tlbi(b, cpu, PKVM_TLBI_VMALLE1IS | 1u << 16, 0, ISH | ISB);
		return;
	case M_LOCAL:
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_NSH);
		tb_tlbi(b, cpu, s2 ? PKVM_TLBI_VMALLS12E1 : PKVM_TLBI_ALLE2, 0,
			0);
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_NSH);
		return;
	}
}

/* ---- scenarios ------------------------------------------------------ */

/* unshare_hyp of a shared page: the hyp side is unmapped (stage 1). */
static void unshare(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(0);

	tb_share(b, 0, pfn);
	tb_hvc_lock2(b, 1, PKVM_HC_UNSHARE_HYP, pfn, 0, PKVM_LOCK_HOST_S2,
		     PKVM_LOCK_HYP_S1);
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HYP_S1, pfn), 0);
	maintain(b, 1, false, pfn << 12);
	tb_unlock2_exit(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0, 0);
}

/* host_donate_hyp of a page the host has mapped (stage 2 unmap). */
static void donate_mapped(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(3);

	tb_abort_map(b, 0, pfn);
	tb_hvc_lock2(b, 1, PKVM_HC_HOST_DONATE_HYP, pfn, 1, PKVM_LOCK_HOST_S2,
		     PKVM_LOCK_HYP_S1);
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HOST_S2, pfn), tb_s2_owner_hyp());
	maintain(b, 1, true, pfn << 12);
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HYP_S1, pfn),
	       tb_s1_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_unlock2_exit(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0, 0);
}

/* A 2 MiB host stage-2 block [0x40e00000, 0x41000000) of host memory. */
#define BLOCK_BASE (TB_RAM_BASE + 7 * 0x200000ull)

/*
 * Outside any trap, host stage-2 maps the block, then takes it back (as
 * the lazy mapping would be broken): the maintenance names an address in
 * the middle of the block, not its first page.
 */
static void block_unmap(struct tb *b)
{
	uint64_t slot = b->l2[PKVM_COMP_HOST_S2] + 8 * 7;

	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, slot,
	       (tb_s2_page(BLOCK_BASE, PKVM_PAGE_OWNED) & ~3ull) | 1);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	tb_lock(b, 1, PKVM_LOCK_HOST_S2);
	tb_pte(b, 1, slot, 0);
	maintain(b, 1, true, BLOCK_BASE + 0x5000);
	tb_unlock(b, 1, PKVM_LOCK_HOST_S2);
}

/*
 * Only state bits change under the host's live mapping (share, unshare of
 * a page the host has mapped): no TLB maintenance is needed there; the
 * hyp side's unmap gets the hyp's sequence (tb_unshare).
 */
static void state_bits_only(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(5);

	tb_abort_map(b, 0, pfn);
	tb_share(b, 1, pfn);
	tb_unshare(b, 0, pfn);
}

/*
 * The unshare, with records of its CPU lost between store and release.
 * Its release and exit stay separate records in every form: a fused exit
 * after the loss would let go of no locks (it cannot know which), which
 * changes the count of inconclusive checks, not the verdict
 * (test_compact.c, fused_exit_after_lost_records_is_inconclusive).
 */
static void unshare_lost(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(0), lost[2] = { 2, 1000 };

	tb_share(b, 0, pfn);
	tb_hvc_lock2(b, 1, PKVM_HC_UNSHARE_HYP, pfn, 0, PKVM_LOCK_HOST_S2,
		     PKVM_LOCK_HYP_S1);
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HYP_S1, pfn), 0);
	tb_event(b, 1, PKVM_EV_LOST, lost, 2);
	maintain(b, 1, false, pfn << 12);
	tb_unlock2(b, 1, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_exit(b, 1, 0, 0);
}

/* Records lost on cpu0 while it held no lock, before the unshare. */
static void loss_before(struct tb *b)
{
	uint64_t lost[2] = { 2, 1000 };

	tb_event(b, 0, PKVM_EV_LOST, lost, 2);
	unshare(b);
}

/* The hyp side unmapped after the locks were let go (and no maintenance). */
static void unmap_without_lock(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(0), hyp;

	tb_share(b, 0, pfn);
	tb_hvc(b, 1, PKVM_HC_UNSHARE_HYP, pfn, 0);
	tb_lock2(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_pte(b, 1, tb_l3(b, 1, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	hyp = tb_l3(b, 1, PKVM_COMP_HYP_S1, pfn);
	tb_unlock2(b, 1, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_pte(b, 1, hyp, 0);
	tb_exit(b, 1, 0, 0);
}

/* ---- running them ---------------------------------------------------- */

/* Every way, same verdict; the fused run's result. */
static struct tb_result check_on(void (*scenario)(struct tb *), unsigned ncpu)
{
	return tb_both_ways(scenario, ncpu, "tlbi-after-unmap");
}

static struct tb_result check(void (*scenario)(struct tb *))
{
	return check_on(scenario, 2);
}

static void expect_pass(const struct tb_result *v)
{
	cr_assert_eq(v->count, 0, "%u findings, first %s: %s", v->count,
		     v->count ? v->checks[0] : "", v->text);
	cr_assert_eq(v->exit, CK_EXIT_OK, "exit %d (%s)", v->exit,
		     v->sum.first_inconclusive);
}

/* Exactly one finding, tlbi-after-unmap at a lock release, saying `what`. */
static void expect_tlbi(const struct tb_result *v, uint64_t addr,
			const char *what)
{
	cr_assert_eq(v->count, 1, "%u findings, first %s", v->count,
		     v->count ? v->checks[0] : "none");
	cr_assert_str_eq(v->checks[0], "tlbi-after-unmap");
	cr_assert_eq(v->exit, CK_EXIT_FINDINGS);
	cr_assert_eq(v->kind, PKVM_EV_LOCK_RELEASE);
	cr_assert_eq(v->addr, addr, "addr 0x%llx", (unsigned long long)v->addr);
	cr_assert(v->has_explain);
	cr_assert(strstr(v->text, what), "\"%s\" not in: %s", what, v->text);
}

/* ---- the correct sequences conform ---------------------------------- */

Test(tlb, unshare_with_the_hyps_sequence_conforms)
{
	/* Property: store, dsb ishst, tlbi vae2is, dsb ish, isb: conforms. */
	struct tb_result v;

	maint = M_FULL;
	v = check(unshare);
	expect_pass(&v);
}

Test(tlb, stage2_unmap_with_the_hyps_sequence_conforms)
{
	/* Property: dsb ishst, ipas2e1is, dsb ish, vmalle1is, dsb ish, isb
	 * after a host stage-2 unmap conforms. */
	struct tb_result v;

	maint = M_FULL;
	v = check(donate_mapped);
	expect_pass(&v);
}

Test(tlb, broad_invalidation_conforms)
{
	/* Property: alle2is / vmalls12e1is cover every address at once. */
	struct tb_result v;

	maint = M_BROAD;
	v = check(unshare);
	expect_pass(&v);
	v = check(donate_mapped);
	expect_pass(&v);
}

Test(tlb, block_invalidated_inside_the_block_conforms)
{
	/* Property: a 2 MiB block unmapped, invalidated by an IPA in its
	 * middle (not its base), conforms. */
	struct tb_result v;

	maint = M_FULL;
	v = check(block_unmap);
	expect_pass(&v);
}

Test(tlb, state_bit_change_needs_no_tlbi)
{
	/* Property: valid -> valid stores that change only the state bits
	 * (host side of share and unshare) need no TLB maintenance. */
	struct tb_result v;

	maint = M_FULL;
	v = check(state_bits_only);
	expect_pass(&v);
}

Test(tlb, local_forms_conform_on_one_cpu)
{
	/* Property: with one CPU, the non-shareable forms (dsb nsh, alle2,
	 * vmalls12e1) are enough; with two they are not. */
	struct tb_result v;

	maint = M_LOCAL;
	v = check_on(unshare, 1);
	expect_pass(&v);
	v = check_on(donate_mapped, 1);
	expect_pass(&v);
	v = check(unshare);
	expect_tlbi(&v, TB_HOST_PFN(0) << 12, "missing: no DSB after");
}

/* ---- each way of getting it wrong ----------------------------------- */

Test(tlb, unshare_without_tlbi)
{
	/* Property: the hyp side unmapped with no maintenance at all is
	 * tlbi-after-unmap at the release of hyp_s1, naming the range. */
	struct tb_result v;

	maint = M_NONE;
	v = check(unshare);
	expect_tlbi(&v, TB_HOST_PFN(0) << 12,
		    "missing: no DSB after the store");
	cr_assert(strstr(v.text, "hyp stage-1"));
	cr_assert(strstr(v.text, "VA [0x40800000, 0x40801000)"), "%s", v.text);
	cr_assert(strstr(v.text, "before cpu1 lets hyp_s1 go"), "%s", v.text);
}

Test(tlb, stage2_unmap_without_tlbi)
{
	/* Property: the host side unmapped with no maintenance is a finding
	 * at the release of host_s2. */
	struct tb_result v;

	maint = M_NONE;
	v = check(donate_mapped);
	expect_tlbi(&v, TB_HOST_PFN(3) << 12, "host stage-2");
	cr_assert(strstr(v.text, "before cpu1 lets host_s2 go"), "%s", v.text);
}

Test(tlb, tlbi_before_the_dsb)
{
	/* Property: a TLBI not ordered after the store by a DSB does not
	 * count, even if a DSB comes later. */
	struct tb_result v;

	maint = M_TLBI_FIRST;
	v = check(unshare);
	expect_tlbi(&v, TB_HOST_PFN(0) << 12, "TLBI before DSB");
	v = check(donate_mapped);
	expect_tlbi(&v, TB_HOST_PFN(3) << 12, "TLBI before DSB");
}

Test(tlb, no_dsb_after_the_tlbi)
{
	/* Property: without the completing DSB (an isb is not one) the
	 * invalidation may not have reached the other CPUs. */
	struct tb_result v;

	maint = M_NO_DSB_AFTER;
	v = check(unshare);
	expect_tlbi(&v, TB_HOST_PFN(0) << 12, "no DSB ISH (or SY) after");
	v = check(donate_mapped);
	expect_tlbi(&v, TB_HOST_PFN(3) << 12, "no DSB ISH (or SY) after");
}

Test(tlb, store_only_dsb_does_not_complete)
{
	/* Property: dsb ishst after the TLBI does not wait for it. */
	struct tb_result v;

	maint = M_ST_AFTER;
	v = check(unshare);
	expect_tlbi(&v, TB_HOST_PFN(0) << 12, "no DSB ISH (or SY) after");
}

Test(tlb, tlbi_for_another_page)
{
	/* Property: invalidating another address leaves the range stale. */
	struct tb_result v;

	maint = M_OTHER_PAGE;
	other_offset = 0x1000;
	v = check(unshare);
	expect_tlbi(&v, TB_HOST_PFN(0) << 12, "name other VAs");
	v = check(donate_mapped);
	expect_tlbi(&v, TB_HOST_PFN(3) << 12, "name other IPAs");
}

Test(tlb, block_invalidated_outside_the_block)
{
	/* Property: for a block, an address in the next 2 MiB is no cover. */
	struct tb_result v;

	maint = M_OTHER_PAGE;
	other_offset = 0x200000;
	v = check(block_unmap);
	expect_tlbi(&v, BLOCK_BASE, "[0x40e00000, 0x41000000)");
	cr_assert(strstr(v.text, "level-2 block"), "%s", v.text);
}

Test(tlb, stage2_without_vmalle1is)
{
	/* Property: ipas2e1is leaves combined stage-1+2 entries: a host
	 * stage-2 unmap also needs vmalle1is. */
	struct tb_result v;

	maint = M_NO_S1;
	v = check(donate_mapped);
	expect_tlbi(&v, TB_HOST_PFN(3) << 12, "no vmalle1is");
}

Test(tlb, stage2_vmalle1is_before_the_ipas2e1is_completes)
{
	/* Property: vmalle1is must follow a DSB ISH after ipas2e1is. */
	struct tb_result v;

	maint = M_S1_EARLY;
	v = check(donate_mapped);
	expect_tlbi(&v, TB_HOST_PFN(3) << 12,
		    "vmalle1is came before a DSB ISH");
}

Test(tlb, stage2_tlbi_of_another_vmid)
{
	/* Property: the host is VMID 0; another VMID's entries are not its. */
	struct tb_result v;

	maint = M_OTHER_VMID;
	v = check(donate_mapped);
	expect_tlbi(&v, TB_HOST_PFN(3) << 12, "name other IPAs");
}

Test(tlb, unmap_without_lock_is_judged_at_trap_exit)
{
	/* Property: a store made without the lock is judged when its trap
	 * exits (besides pte-write-without-lock). */
	struct tb_result v;

	maint = M_NONE;
	v = check(unmap_without_lock);
	cr_assert_eq(v.exit, CK_EXIT_FINDINGS);
	cr_assert_eq(v.focus_count, 1);
	cr_assert_str_eq(v.checks[0], "pte-write-without-lock");
	cr_assert_eq(v.kind, PKVM_EV_TRAP_EXIT);
	cr_assert(strstr(v.text, "before its trap exits"), "%s", v.text);
}

/* ---- loss ----------------------------------------------------------- */

Test(tlb, loss_in_the_window_is_inconclusive)
{
	/* Property: records lost between the store and the release may have
	 * held the maintenance: inconclusive, no finding. */
	struct tb_result v;

	maint = M_NONE;
	v = check(unshare_lost);
	cr_assert_eq(v.count, 0, "first %s: %s", v.checks[0], v.text);
	cr_assert_eq(v.exit, CK_EXIT_INCONCLUSIVE);
}

Test(tlb, loss_outside_the_window_keeps_checking)
{
	/* Property: records lost on another CPU holding no lock, before the
	 * unmap, do not excuse a missing invalidation. */
	struct tb_result v;

	maint = M_NONE;
	v = check(loss_before);
	expect_tlbi(&v, TB_HOST_PFN(0) << 12, "missing: no DSB after");
}
