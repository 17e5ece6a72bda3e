// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 VM lifecycle on hand-built traces (checker/README.md
 * "Profiles", format/LINUX-6.12.md 6.3-6.5, 7.2): __pkvm_init_vm,
 * __pkvm_init_vcpu and __pkvm_teardown_vm as 6.12 makes them are judged
 * clean, and each wrong answer or effect is exactly one finding.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi_linux612.h>

#include "builder.h"
#include "linux_trace.h"

/*
 * A VM's life as 6.12 lives it (LINUX-6.12.md 6.3-6.5): init_vm donates
 * the VM's and the pgd's pages and answers the lowest free slot's handle,
 * init_vcpu donates the vCPU's, teardown gives every one of them back.
 */
Test(linux612, a_vm_life_as_specified_is_judged_clean)
{
	uint64_t vcpu[1] = { LK_VCPUP };
	struct lk t;
	struct tb_result r;

	lk_vm_boot(&t, 1);
	lk_init_vm(&t, 0, LK_VMP, 1, LK_VM_OK, 0);
	lk_init_vcpu(&t, 0, 0x1000, LK_VCPUP, 0, 0);
	lk_teardown(&t, 0, vcpu, 1, LK_VM_OK);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	/* (and __pkvm_init's result, LINUX-6.12.md 5.1) */
	cr_assert_eq(r.sum.traps_checked, 6);

	/* the handle is the lowest free slot's: 0x1000, not 0x1001 */
	lk_vm_boot(&t, 1);
	lk_call3(&t, 0, PKVM_L612_HC_PKVM_INIT_VM, LK_KPTR(LK_KVM),
		 LK_KPTR(LK_VMP), LK_KPTR(LK_PGDP));
	lk_both(&t, 0);
	tb_nondet(&t.b, 0, PKVM_NONDET_HOST_READ, 1, LK_KVM + 0x808, 0);
	lk_donate(&t, 0, LK_VMP, 2, 2);
	lk_donate(&t, 0, LK_PGDP, 2, 2);
	lk_lock(&t, 0, LK_VMT);
	lk_unlock(&t, 0, LK_VMT);
	tb_exit(&t.b, 0, 0, 0x1001);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
}

Test(linux612, init_vm_with_a_donation_the_host_cannot_make_is_enomem)
{
	struct lk t;
	struct tb_result r;

	/* the VM's memory is the hyp's: -ENOMEM, nothing kept */
	lk_vm_boot(&t, 1);
	lk_init_vm(&t, 0, LK_HYP_PAGE, 1, LK_VM_OK, -12);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	/* (and __pkvm_init's result, LINUX-6.12.md 5.1) */
	cr_assert_eq(r.sum.traps_checked, 4);

	/* ... and not -EPERM, nor a handle */
	lk_vm_boot(&t, 1);
	lk_init_vm(&t, 0, LK_HYP_PAGE, 1, LK_VM_OK, -1);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);

	/* no vCPU: -EINVAL before any donation */
	lk_vm_boot(&t, 1);
	lk_init_vm(&t, 0, LK_VMP, 0, LK_VM_OK, -22);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
}

Test(linux612, init_vcpu_past_created_vcpus_is_einval)
{
	uint64_t vcpu[2] = { LK_VCPUP, LK_VCPUP2 };
	struct lk t;
	struct tb_result r;

	/* one vCPU created: the second is refused, its pages given back */
	lk_pinned(&t, 1);
	lk_init_vcpu(&t, 0, 0x1000, LK_VCPUP, 0, 0);
	lk_init_vcpu(&t, 0, 0x1000, LK_VCPUP2, 1, -22);
	lk_teardown(&t, 0, vcpu, 1, LK_VM_OK);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);

	/* mutant 12: the bound off by one, the second accepted */
	lk_pinned(&t, 1);
	lk_init_vcpu(&t, 0, 0x1000, LK_VCPUP, 0, 0);
	lk_init_vcpu(&t, 0, 0x1000, LK_VCPUP2, 1, 0);
	lk_teardown(&t, 0, vcpu, 2, LK_VM_OK);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
}

Test(linux612, a_handle_no_vm_has_is_enoent)
{
	struct lk t;
	struct tb_result r;

	lk_pinned(&t, 1);
	lk_init_vcpu(&t, 0, 0x1001, LK_VCPUP, 0, -2);
	lk_call3(&t, 0, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1001, 0, 0);
	lk_lock(&t, 0, LK_VMT);
	lk_unlock(&t, 0, LK_VMT);
	tb_exit(&t.b, 0, 0, (uint64_t)-2);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);

	/* a teardown of a handle never given answers -ENOENT, not 0 */
	lk_pinned(&t, 1);
	lk_call3(&t, 0, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1001, 0, 0);
	lk_lock(&t, 0, LK_VMT);
	lk_unlock(&t, 0, LK_VMT);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
}

/* Mutant 04: a donation that leaves the host its pages but the first. */
Test(linux612, a_donation_that_leaves_the_host_a_page_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_vm_boot(&t, 1);
	lk_init_vm(&t, 0, LK_VMP, 1, LK_VM_HOST_KEEPS, 0);
	tb_check_focus(&t.b, &r, "hcall-effect", false, 0);
	tb_free(&t.b);
	/* the page both sides own breaks invariant 1 too, at the release */
	lk_expect_with_inv(&r, "hcall-effect", "hyp-maps-foreign-page");
	cr_assert_eq(r.addr, LK_VMP + 0x1000, "%s", r.text);
}

/* Mutant 13: a teardown whose pages stay annotated (nobody's). */
Test(linux612, a_give_back_that_keeps_the_annotation_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_pinned(&t, 1);
	lk_teardown(&t, 0, NULL, 0, LK_VM_KEEP_ANNOT);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
}

/* Mutant 23: the teardown's tlbi vmalls12e1is under the host's VMID. */
Test(linux612, a_teardown_that_flushes_another_vmid_is_hcall_effect)
{
	struct lk t;
	struct tb_result r;

	lk_pinned(&t, 1);
	lk_teardown(&t, 0, NULL, 0, LK_VM_OK);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);

	lk_pinned(&t, 1);
	lk_teardown(&t, 0, NULL, 0, LK_VM_HOST_VMID);
	tb_check_focus(&t.b, &r, "hcall-effect", false, 0);
	tb_free(&t.b);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
	cr_assert(strstr(r.text, "VMID"), "%s", r.text);
}

/* Mutant 11: created_vcpus read twice in one __pkvm_init_vm. */
Test(linux612, created_vcpus_read_twice_is_host_read_twice)
{
	struct lk t;
	struct tb_result r;

	lk_vm_boot(&t, 1);
	lk_init_vm(&t, 0, LK_VMP, 1, LK_VM_READ_TWICE, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "host-read-twice", 1);
}

/* An init_vm on `cpu` of `kvm`, donating `vm` and `pgd`, up to its exit. */
static void lk_init_vm_at(struct lk *t, unsigned cpu, uint64_t kvm, uint64_t vm,
			  uint64_t pgd)
{
	lk_call3(t, cpu, PKVM_L612_HC_PKVM_INIT_VM, LK_KPTR(kvm), LK_KPTR(vm),
		 LK_KPTR(pgd));
	lk_both(t, cpu);
	tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, 1, kvm + 0x808, 0);
	lk_donate(t, cpu, vm, 2, 2);
	lk_donate(t, cpu, pgd, 2, 2);
	lk_lock(t, cpu, LK_VMT);
	lk_unlock(t, cpu, LK_VMT);
}

/* A vCPU of VM `handle` loaded on `cpu` (inside __kvm_vcpu_run). */
static void lk_load(struct lk *t, unsigned cpu, uint64_t handle)
{
	lk_run_load(t, cpu, handle, 0, true);
}

static void lk_put(struct lk *t, unsigned cpu)
{
	lk_run_put(t, cpu, true, 2); /* ARM_EXCEPTION_TRAP */
}

/*
 * The VM table is ghost state of vm_table_lock: it changes when a call
 * lets the lock go, so a second CPU's init_vm gets slot 1 although the
 * first has not returned yet; and a vCPU loaded (marks vcpu_load and
 * vcpu_put, under the lock) makes a teardown's only outcome a panic.
 */
Test(linux612, the_vm_table_is_ghost_state_of_vm_table_lock)
{
	struct tb_event_w {
		uint64_t w[2];
	} panic = { { PKVM_PANIC_BUG, 0 } };
	struct lk t;
	struct tb_result r;

	lk_vm_boot(&t, 2);
	lk_init_vm_at(&t, 0, LK_KVM, LK_VMP, LK_PGDP);
	lk_init_vm_at(&t, 1, LK_VCPU, LK_VCPUP, LK_VCPUP2);
	tb_exit(&t.b, 1, 0, 0x1001);
	tb_exit(&t.b, 0, 0, 0x1000);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);

	/* a loaded vCPU: -EBUSY is no answer 6.12 gives, ... */
	lk_vm_with_vcpu(&t, 2);
	lk_load(&t, 1, 0x1000);
	lk_call3(&t, 0, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1000, 0, 0);
	lk_lock(&t, 0, LK_VMT);
	lk_unlock(&t, 0, LK_VMT);
	tb_exit(&t.b, 0, 0, (uint64_t)-16);
	lk_put(&t, 1);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);

	/* ... its WARN_ON's panic is: the host caused it */
	lk_vm_with_vcpu(&t, 2);
	lk_load(&t, 1, 0x1000);
	lk_call3(&t, 0, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1000, 0, 0);
	lk_lock(&t, 0, LK_VMT);
	tb_event(&t.b, 0, PKVM_EV_PANIC, panic.w, 2);
	lk_check(&t, &r);
	cr_assert_eq(r.count, 0, "%s", r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
	cr_assert(strstr(r.sum.first_inconclusive, "host-caused-panic"), "%s",
		  r.sum.first_inconclusive);
}

/*
 * A call's pages are followed up to 32 a range and 128 a call: past that,
 * a page is not judged, and the call says so rather than pass in silence.
 * Created with 20,000 vCPUs, the VM's range is 41 pages: __pkvm_init_vm
 * is unknown (the spec reads pages not followed), and the teardown, whose
 * ranges come from the table, judges 32 of them and notes the rest.
 */
Test(linux612, a_call_past_the_pages_followed_says_so)
{
	struct lk t;
	struct tb_result r;

	lk_vm_boot(&t, 1);
	lk_init_vm(&t, 0, LK_VMP, 20000, LK_VM_OK, 0);
	lk_teardown(&t, 0, NULL, 0, LK_VM_OK);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_INCONCLUSIVE, "", 0);
	/* init_vm's, the teardown's, and the boot state's (no regions) */
	cr_assert_eq(r.sum.inconclusive, 3, "%llu inconclusive: %s",
		     (unsigned long long)r.sum.inconclusive,
		     r.sum.first_inconclusive);
}
