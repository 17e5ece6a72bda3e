// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 profile on hand-built traces (checker/README.md
 * "Profiles"): traces shaped like pKVM 6.12's (format/LINUX-6.12.md:
 * locks named by address and lock_info, roots announced by TTBR0_EL2 and
 * VTTBR_EL2 after __pkvm_init built the tables, a concatenated host
 * stage-2 root, LINUX-6.12.md 10's TLB maintenance) conform to the rules
 * the profile judges, each broken variant is one finding of its rule, and
 * a clean run of these traces, which have no `region` records, is
 * inconclusive: its boot state is not judged (with regions a clean run
 * conforms: test_linux_boot.c). Share and unshare (ids 9 and 10,
 * LINUX-6.12.md 6.1-6.2) are here, the VM lifecycle (ids 23-25) in
 * test_linux_vm.c. The traces are built with linux_trace.h.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi_linux612.h>

#include "builder.h"
#include "linux_trace.h"

Test(linux612, a_clean_run_without_regions_is_inconclusive)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_share_unshare(&t, 1, false, false);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
}

Test(linux612, an_unmap_without_its_tlbi_is_tlbi_after_unmap)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_share_unshare(&t, 1, true, false);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "tlbi-after-unmap", 1);
}

Test(linux612, a_hyp_stage1_store_without_pkvm_pgd_lock_is_a_finding)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_share_unshare(&t, 1, false, true);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "pte-write-without-lock", 1);
}

Test(linux612, a_stage2_remap_without_the_break_is_break_before_make)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_s2_remap(&t, 0, true);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "break-before-make", 1);
}

Test(linux612, host_s2_after_pkvm_pgd_lock_is_lock_order)
{
	struct lk t, good;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_hvc(&t, 0, LK_UNJUDGED, LK_PAGE >> 12);
	lk_lock(&t, 0, LK_PGD);
	lk_lock(&t, 0, LK_HOST);
	lk_unlock(&t, 0, LK_HOST);
	lk_unlock(&t, 0, LK_PGD);
	tb_exit(&t.b, 0, LK_REFUSED, LK_PAGE >> 12);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "lock-order", 1);

	/* vm_table -> host_s2 -> hyp_s1 -> the host stage-2 pool: in order */
	lk_boot(&good, 1);
	lk_hvc(&good, 0, LK_UNJUDGED, 0);
	lk_lock(&good, 0, LK_VMT);
	lk_lock(&good, 0, LK_HOST);
	lk_lock(&good, 0, LK_PGD);
	lk_lock(&good, 0, LK_HPOOL);
	lk_unlock(&good, 0, LK_HPOOL);
	lk_unlock(&good, 0, LK_PGD);
	lk_unlock(&good, 0, LK_HOST);
	lk_unlock(&good, 0, LK_VMT);
	tb_exit(&good.b, 0, LK_REFUSED, 0);
	lk_check(&good, &r);
	lk_expect_unjudged(&r);
}

/*
 * More locks than the replay has slots (each VM's lock a new generation),
 * taken on both CPUs: linearised on their tickets, no finding; a ticket
 * taken twice admits no schedule.
 */
static void lk_many_vms(struct lk *t, bool repeat)
{
	for (unsigned i = 0; i < LK_VMS; i++) {
		unsigned cpu = i & 1;

		lk_hvc(t, cpu, LK_UNJUDGED, i);
		lk_lock(t, cpu, LK_VMT);
		lk_info(t, LK_VM(i), PKVM_LOCK_ROLE_VM, i);
		lk_lock(t, cpu, LK_VM(i));
		lk_unlock(t, cpu, LK_VM(i));
		lk_unlock(t, cpu, LK_VMT);
		tb_exit(&t->b, cpu, LK_REFUSED, i);
	}
	for (unsigned i = 0; i < LK_VMS; i++) {
		unsigned cpu = (i + 1) & 1;

		lk_hvc(t, cpu, PKVM_L612_HC_KVM_VCPU_RUN, i);
		lk_lock(t, cpu, LK_VM(i));
		lk_unlock(t, cpu, LK_VM(i));
		/* (nothing read from the host: -EINVAL, 6.6) */
		tb_exit(&t->b, cpu, 0, (uint64_t)-22);
	}
	if (repeat) {
		uint64_t w[2] = { LK_VM(3), 1 };

		tb_event(&t->b, 0, PKVM_EV_LOCK_ACQUIRE, w, 2);
		tb_event(&t->b, 0, PKVM_EV_LOCK_RELEASE, w, 2);
	}
}

Test(linux612, more_locks_than_slots_linearise_on_their_tickets)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_many_vms(&t, false);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);

	lk_boot(&t, 2);
	lk_many_vms(&t, true);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "inconsistent-trace", 1);
}

Test(linux612, a_store_no_root_reaches_after_both_are_known_is_not_a_table)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_hvc(&t, 0, LK_UNJUDGED, LK_PAGE >> 12);
	lk_lock(&t, 0, LK_HOST);
	/* The second page of the concatenated root is a table ... */
	lk_store(&t, 0, LK_S2_ROOT + 0x1000 + 8, 0);
	/* ... a page of RAM no table links is not. */
	lk_store(&t, 0, LK_PAGE + 8, 0);
	lk_unlock(&t, 0, LK_HOST);
	tb_exit(&t.b, 0, LK_REFUSED, LK_PAGE >> 12);
	lk_check(&t, &r);
	lk_expect_in_refused(&r, "pte-write-not-table", 1);
}

/* An unshare the hyp refuses with `ret`, changing nothing. */
static void lk_unshare_refused(struct lk *t, unsigned cpu, uint64_t pa,
			       int64_t ret)
{
	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP, pa >> 12);
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, 0, (uint64_t)ret);
}

Test(linux612, share_and_unshare_as_specified_are_judged_clean)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_share_unshare(&t, 1, false, false);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	/* (and __pkvm_init's result, LINUX-6.12.md 5.1) */
	cr_assert_eq(r.sum.traps_checked, 3);
}

Test(linux612, share_of_a_page_the_host_does_not_own_is_eperm)
{
	struct lk t;
	struct tb_result r;

	/* The hyp's page (annotated at boot), and the page after RAM. */
	lk_boot(&t, 1);
	lk_share(&t, 0, LK_HYP_PAGE, LK_REFUSE, -1);
	lk_share(&t, 0, TB_RAM_BASE + TB_RAM_SIZE, LK_REFUSE, -1);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	/* (and __pkvm_init's result, LINUX-6.12.md 5.1) */
	cr_assert_eq(r.sum.traps_checked, 3);

	/* 0 for it (and a mapping): the owner check skipped */
	lk_boot(&t, 1);
	lk_share(&t, 0, LK_HYP_PAGE, LK_MAP_ANYWAY, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);

	/* another error than -EPERM */
	lk_boot(&t, 1);
	lk_share(&t, 0, LK_HYP_PAGE, LK_REFUSE, -16);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
}

Test(linux612, a_share_that_returns_0_without_mapping_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_share(&t, 0, LK_PAGE, LK_NO_MAP, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
}

/* A share of LK_PAGE as 6.12 makes it, but with these two leaves. */
static void lk_share_leaves(struct lk *t, uint64_t s2, uint64_t s1)
{
	lk_hvc(t, 0, PKVM_L612_HC_PKVM_HOST_SHARE_HYP, LK_PAGE >> 12);
	lk_lock(t, 0, LK_HOST);
	lk_lock(t, 0, LK_PGD);
	lk_store(t, 0, lk_s2_leaf(LK_PAGE), s2);
	tb_barrier(&t->b, 0, PKVM_BARRIER_DSB_ISHST);
	lk_store(t, 0, lk_s1_leaf(LK_PAGE), s1);
	tb_barrier(&t->b, 0, PKVM_BARRIER_DSB_ISHST);
	tb_barrier(&t->b, 0, PKVM_BARRIER_ISB);
	lk_unlock(t, 0, LK_PGD);
	lk_unlock(t, 0, LK_HOST);
	tb_exit(&t->b, 0, 0, 0);
}

Test(linux612, a_share_with_the_wrong_permissions_is_bad_mapping)
{
	const uint64_t s2 = lk_s2_page(LK_PAGE, 1), s1 = lk_s1_page(LK_PAGE, 2);
	const uint64_t xn = 1ull << 54, ro = 1ull << 7;
	/* the hyp's leaf PAGE_HYP_EXEC (RX: mutant 16 of
	 * tests/mutants/linux-6.12), executable, read-only; the host's
	 * not executable, read-only */
	const uint64_t bad[][2] = {
		{ s2, (s1 & ~xn) | ro }, { s2, s1 & ~xn },	{ s2, s1 | ro },
		{ s2 | xn, s1 },	 { s2 & ~0x80ull, s1 },
	};
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_share_leaves(&t, s2, s1);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lk_boot(&t, 1);
		lk_share_leaves(&t, bad[i][0], bad[i][1]);
		lk_check(&t, &r);
		lk_expect(&r, CK_EXIT_FINDINGS, "bad-mapping", 1);
	}
}

Test(linux612, a_share_that_changes_another_page_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_share(&t, 0, LK_PAGE, LK_MAP_TWO, 0);
	lk_check(&t, &r);
	lk_expect_with_inv(&r, "hcall-effect", "invariant-share-pairing");
}

Test(linux612, a_refused_share_that_maps_anyway_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_PKVM_HOST_SHARE_HYP, LK_HYP_PAGE >> 12);
	lk_lock(&t, 0, LK_HOST);
	lk_lock(&t, 0, LK_PGD);
	lk_store(&t, 0, lk_s2_leaf(LK_HYP_PAGE), lk_s2_page(LK_HYP_PAGE, 1));
	tb_barrier(&t.b, 0, PKVM_BARRIER_DSB_ISHST);
	lk_unlock(&t, 0, LK_PGD);
	lk_unlock(&t, 0, LK_HOST);
	tb_exit(&t.b, 0, 0, (uint64_t)-1);
	lk_check(&t, &r);
	lk_expect_with_inv(&r, "hcall-effect", "host-maps-foreign-page");
}

/*
 * Unshare of a page the hyp pinned (a VM's struct kvm): -EBUSY, no change.
 * Pins are not recorded (LINUX-6.12.md 7.1); without BOOT_LINUX to derive
 * them from __pkvm_init_vm, -EBUSY is accepted for any page that passes
 * the checks before the pin's; -EPERM for such a page is a wrong answer
 * whether it is pinned or not.
 */
Test(linux612, unshare_of_a_pinned_page_is_ebusy)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_share(&t, 0, LK_PAGE, LK_RIGHT, 0);
	lk_unshare_refused(&t, 0, LK_PAGE, -16);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	/* (and __pkvm_init's result, LINUX-6.12.md 5.1) */
	cr_assert_eq(r.sum.traps_checked, 3);

	lk_boot(&t, 1);
	lk_share(&t, 0, LK_PAGE, LK_RIGHT, 0);
	lk_unshare_refused(&t, 0, LK_PAGE, -1);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);

	/* a page never shared: -EPERM, and -EBUSY is wrong for it */
	lk_boot(&t, 1);
	lk_unshare_refused(&t, 0, LK_PAGE, -1);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	lk_boot(&t, 1);
	lk_unshare_refused(&t, 0, LK_PAGE, -16);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
}

Test(linux612, an_unshare_that_keeps_the_hyp_mapping_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_share(&t, 0, LK_PAGE, LK_RIGHT, 0);
	lk_hvc(&t, 0, PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP, LK_PAGE >> 12);
	lk_lock(&t, 0, LK_HOST);
	lk_lock(&t, 0, LK_PGD);
	lk_store(&t, 0, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 0));
	lk_unlock(&t, 0, LK_PGD);
	lk_unlock(&t, 0, LK_HOST);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect_with_inv(&r, "hcall-effect", "hyp-maps-foreign-page");
}

Test(linux612, unshare_of_a_page_init_vm_pinned_must_be_ebusy)
{
	struct lk t;
	struct tb_result r;

	/* pinned: -EBUSY; after the VM's teardown: unshared */
	lk_pinned(&t, 1);
	lk_unshare_refused(&t, 0, LK_PAGE, -16);
	lk_teardown(&t, 0, NULL, 0, LK_VM_OK);
	lk_unshare(&t, 0, false);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	/* two shares, init_vm, unshare, teardown, unshare */
	/* (and __pkvm_init's result, LINUX-6.12.md 5.1) */
	cr_assert_eq(r.sum.traps_checked, 7);

	/* the pin ignored: unshared while pinned (and the pinned page no
	 * longer shared: invariant 6, judged when the locks go) */
	lk_pinned(&t, 1);
	lk_unshare(&t, 0, false);
	lk_check(&t, &r);
	lk_expect_with_inv(&r, "hcall-return", "pin-violation");

	/* -EBUSY for a page nothing pins any more */
	lk_pinned(&t, 1);
	lk_teardown(&t, 0, NULL, 0, LK_VM_OK);
	lk_unshare_refused(&t, 0, LK_PAGE, -16);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);

	/* a teardown in flight on another CPU: either answer */
	lk_pinned(&t, 2);
	lk_teardown_body(&t, 1, NULL, 0, LK_VM_OK);
	lk_unshare(&t, 0, false);
	tb_exit(&t.b, 1, 0, 0);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
}

/*
 * LINUX-6.12.md 8, promises 3 and 4: a TLB hypercall that switches to a
 * guest's VMID (__kvm_tlb_flush_vmid, id 16) loads the host's stage-2
 * again before it returns; `keep`: it leaves VTTBR_EL2 (1) or only
 * VTCR_EL2 (2) as the guest's.
 */
static void lk_flush_vmid(struct lk *t, unsigned cpu, int keep)
{
	uint64_t guest_vttbr = 0x40380000ull | 5ull << 48;

	lk_hvc(t, cpu, PKVM_L612_HC_KVM_TLB_FLUSH_VMID, 0xfff0000000800000ull);
	tb_sysreg(&t->b, cpu, PKVM_SYSREG_VTCR_EL2, LK_VTCR | 1ull << 31);
	tb_sysreg(&t->b, cpu, PKVM_SYSREG_VTTBR_EL2, guest_vttbr);
	tb_tlbi(&t->b, cpu, PKVM_TLBI_VMALLS12E1IS, 0, 0);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISH);
	if (keep != 2)
		tb_sysreg(&t->b, cpu, PKVM_SYSREG_VTCR_EL2, LK_VTCR);
	if (keep != 1)
		tb_sysreg(&t->b, cpu, PKVM_SYSREG_VTTBR_EL2, LK_S2_ROOT);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_ISB);
	tb_exit(&t->b, cpu, 0, 0xfff0000000800000ull); /* x1 kept */
}

Test(linux612, a_guest_vmid_switched_back_before_the_return_is_clean)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_flush_vmid(&t, 1, 0);
	lk_share_unshare(&t, 1, false, false);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	cr_assert(!strstr(r.sum.not_judged, "guest-stage2-not-restored"));
}

Test(linux612, a_return_with_the_guests_vttbr_is_guest_stage2_not_restored)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_flush_vmid(&t, 1, 1);
	lk_hvc(&t, 1, PKVM_L612_HC_KVM_FLUSH_CPU_CONTEXT, 0);
	tb_exit(&t.b, 1, 0, 0);
	lk_check(&t, &r);
	/* one finding for the switch, not one per later exit */
	lk_expect(&r, CK_EXIT_FINDINGS, "guest-stage2-not-restored", 1);
}

Test(linux612, a_return_with_the_guests_vtcr_is_guest_stage2_not_restored)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_flush_vmid(&t, 0, 2);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "guest-stage2-not-restored", 1);
}

/* LINUX-6.12.md 6.7: a TLB call that writes a descriptor. */
Test(linux612, a_descriptor_store_in_a_tlb_call_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_hvc(&t, 1, PKVM_L612_HC_KVM_TLB_FLUSH_VMID, 0xfff0000000800000ull);
	lk_lock(&t, 1, LK_HOST);
	/* the page annotated as the hyp's, then back to the host */
	lk_store(&t, 1, lk_s2_leaf(LK_PAGE), 0x4);
	lk_store(&t, 1, lk_s2_leaf(LK_PAGE), 0);
	lk_unlock(&t, 1, LK_HOST);
	tb_exit(&t.b, 1, 0, 0xfff0000000800000ull);
	lk_check(&t, &r);
	/* one finding per call, at its first store */
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
	cr_assert(!lk_lists(r.sum.not_judged, "hcall-effect"), "%s",
		  r.sum.not_judged);
}

/* A guest's trap (source 1: a synchronous exception) and its exit. */
static void lk_guest_trap(struct lk *t, unsigned cpu)
{
	size_t n = t->b.count[cpu];

	tb_entry(&t->b, cpu, 0x82000004ull, 0x80000000ull, 0, 0, 0, 0);
	t->b.recs[cpu][n].flags |= 1u << PKVM_REC_F_KIND_SHIFT;
	n = t->b.count[cpu];
	tb_exit(&t->b, cpu, 0, 0);
	t->b.recs[cpu][n].flags |= 1u << PKVM_REC_F_KIND_SHIFT;
}

/* LINUX-6.12.md 8, promise 1: guest traps nest in __kvm_vcpu_run. */
Test(linux612, a_guest_trap_inside_vcpu_run_is_clean)
{
	struct lk t;
	struct tb_result r;

	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 0, true);
	lk_guest_trap(&t, 0);
	lk_run_put(&t, 0, true, 2); /* ARM_EXCEPTION_TRAP */
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
}

Test(linux612, a_guest_trap_inside_another_call_is_guest_outside_vcpu_run)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF, 0);
	lk_guest_trap(&t, 0);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "guest-outside-vcpu-run", 1);
}
