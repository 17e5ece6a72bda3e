// SPDX-License-Identifier: MIT
/*
 * linux-6.12: what each host trap returns, SMCs, guest traps and PANICs
 * on hand-built traces (rule_l612_ret.c; format/LINUX-6.12.md 6, 6.6, 8,
 * 9.2, 11). Each promise has a trace 6.12 could have written, judged
 * clean, and one that breaks it, which is exactly its finding.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi_linux612.h>

#include "builder.h"
#include "linux_trace.h"

#define RT_EINVAL ((uint64_t)-22)

/* One host hypercall `x0` (the whole register) and its exit. */
static void rt_call(struct lk *t, unsigned cpu, uint64_t x0, uint64_t x1,
		    uint64_t ret0, uint64_t ret1)
{
	tb_entry(&t->b, cpu, TB_ESR_HVC, 0, 0, x0, x1, 0);
	tb_exit(&t->b, cpu, ret0, ret1);
}

static void rt_clean(struct lk *t)
{
	struct tb_result r;

	lk_check(t, &r);
	lk_expect_unjudged(&r);
}

static void rt_only(struct lk *t, const char *check)
{
	struct tb_result r;

	lk_check(t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, check, 1);
}

/* 6: id 0, 26 and up, and ids below 8 after finalisation are refused. */
Test(linux612_ret, a_call_not_dispatched_returns_minus_one_and_keeps_x1)
{
	static const uint64_t refused[] = {
		PKVM_HC_BASE,	   /* __kvm_hyp_init */
		PKVM_HC_BASE | 26, /* beyond the table */
		PKVM_HC_BASE | PKVM_L612_HC_PKVM_CPU_SET_VECTOR,
		0x12345678, /* not a KVM_HOST_SMCCC_ID at all */
	};
	struct lk t;

	for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		lk_boot(&t, 1);
		rt_call(&t, 0, refused[i], 0x77, ~0ull, 0x77);
		rt_clean(&t);

		/* dispatched after all */
		lk_boot(&t, 1);
		rt_call(&t, 0, refused[i], 0x77, 0, 0x77);
		rt_only(&t, "hcall-return");

		/* refused, but x1 written */
		lk_boot(&t, 1);
		rt_call(&t, 0, refused[i], 0x77, ~0ull, 0);
		rt_only(&t, "hcall-return");
	}
}

/* 6: x0 = 0 and x1 as it was for a handler that writes none. */
Test(linux612_ret, a_call_that_writes_no_result_keeps_x1)
{
	static const unsigned ids[] = {
		PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF,
		PKVM_L612_HC_KVM_TLB_FLUSH_VMID,
		PKVM_L612_HC_KVM_FLUSH_VM_CONTEXT,
		PKVM_L612_HC_PKVM_VCPU_INIT_TRAPS,
	};
	struct lk t;

	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		lk_boot(&t, 1);
		rt_call(&t, 0, PKVM_HC_BASE | ids[i], 0x1234, 0, 0x1234);
		/* bit 16, the SVE hint, is not part of the id */
		rt_call(&t, 0, PKVM_HC_BASE | 1u << 16 | ids[i], 5, 0, 5);
		rt_clean(&t);

		lk_boot(&t, 1);
		rt_call(&t, 0, PKVM_HC_BASE | ids[i], 0x1234, 0, 0);
		rt_only(&t, "hcall-return");

		lk_boot(&t, 1);
		rt_call(&t, 0, PKVM_HC_BASE | ids[i], 0x1234, ~0ull, 0x1234);
		rt_only(&t, "hcall-return");
	}
}

/* 6: no handler writes x2 or x3, and an HVC returns where it was. */
Test(linux612_ret, x2_x3_and_elr_are_never_written_by_a_hypercall)
{
	const uint64_t x0 = PKVM_HC_BASE | PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF;
	struct lk t;

	lk_boot(&t, 1);
	lk_call3(&t, 0, PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF, 1, 2, 3);
	tb_exit_full(&t.b, 0, 0, 1, 0, 0, TB_ELR, 0x3c5);
	rt_clean(&t);

	lk_boot(&t, 1);
	lk_call3(&t, 0, PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF, 1, 2, 3);
	t.b.entry_x3[0] = 0;
	tb_exit_full(&t.b, 0, 0, 1, 0, 0, TB_ELR, 0x3c5);
	rt_only(&t, "hcall-return"); /* x3 came back 0, not 3 */

	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_HVC, 0, 0, x0, 1, 2);
	t.b.entry_x2[0] = 9;
	tb_exit_full(&t.b, 0, 0, 1, 0, 0, TB_ELR, 0x3c5);
	rt_only(&t, "hcall-return");

	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_HVC, 0, 0, x0, 1, 2);
	tb_exit_full(&t.b, 0, 0, 1, 0, 0, TB_ELR, 0x3c5);
	rt_clean(&t);

	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_HVC, 0, 0, x0, 1, 2);
	tb_exit_full(&t.b, 0, 0, 1, 0, 0, TB_ELR + 4, 0x3c5);
	rt_only(&t, "trap-return");
}

/* 6.6: -EINVAL exactly when the VM table has no such VM or vCPU. */
Test(linux612_ret, vcpu_run_answers_einval_exactly_when_the_lookup_fails)
{
	struct lk t;

	/* found: an exit code (ARM_EXCEPTION_TRAP; IRQ with an SError) */
	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 0, true);
	lk_run_put(&t, 0, true, 2);
	lk_run_load(&t, 0, 0x1000, 0, true);
	lk_run_put(&t, 0, true, 0xffffffff80000000ull);
	rt_clean(&t);

	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 0, true);
	lk_run_put(&t, 0, true, RT_EINVAL);
	rt_only(&t, "hcall-return");

	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 0, true);
	lk_run_put(&t, 0, true, 7);
	rt_only(&t, "hcall-return");

	/* no vCPU 1, no VM 0x1001, no VM at all: -EINVAL */
	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 1, false);
	lk_run_put(&t, 0, false, RT_EINVAL);
	lk_run_load(&t, 0, 0x1001, 0, false);
	lk_run_put(&t, 0, false, RT_EINVAL);
	rt_clean(&t);

	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 1, false);
	lk_run_put(&t, 0, false, 2);
	rt_only(&t, "hcall-return");

	lk_pinned(&t, 1); /* a VM without vCPUs */
	lk_run_load(&t, 0, 0x1000, 0, false);
	lk_run_put(&t, 0, false, 0);
	rt_only(&t, "hcall-return");

	/* nothing read from the host (SME state): -EINVAL */
	lk_vm_with_vcpu(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_KVM_VCPU_RUN, LK_KPTR(LK_VCPU));
	tb_exit(&t.b, 0, 0, RT_EINVAL);
	rt_clean(&t);

	lk_vm_with_vcpu(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_KVM_VCPU_RUN, LK_KPTR(LK_VCPU));
	tb_exit(&t.b, 0, 0, 0);
	rt_only(&t, "hcall-return");
}

/* 6.6: each host value is read once. */
Test(linux612_ret, vcpu_run_reading_a_host_word_twice_is_host_read_twice)
{
	struct lk t;

	lk_vm_with_vcpu(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_KVM_VCPU_RUN, LK_KPTR(LK_VCPU));
	lk_run_reads(&t, 0, 0x1000, 0);
	tb_nondet(&t.b, 0, PKVM_NONDET_HOST_READ, 0x1000, LK_KVM + 0x100, 0);
	lk_lock(&t, 0, LK_VMT);
	tb_mark(&t.b, 0, PKVM_MARK_VCPU_LOAD, 0x1000);
	lk_unlock(&t, 0, LK_VMT);
	lk_run_put(&t, 0, true, 2);
	rt_only(&t, "host-read-twice");
}

/* 9.2: a PSCI call returns x1-x3 zero and ELR past the SMC. */
Test(linux612_ret, an_smc_moves_elr_on_and_psci_zeroes_x1_to_x3)
{
	struct lk t;

	/* PSCI_VERSION; a call forwarded to EL3, whose answer is EL3's */
	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_SMC, 0, 0, 0x84000000ull, 0, 0);
	tb_exit(&t.b, 0, 0x10001, 0);
	tb_entry(&t.b, 0, TB_ESR_SMC, 0, 0, 0xc2000001ull, 5, 6);
	tb_exit(&t.b, 0, 1, 2);
	rt_clean(&t);

	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_SMC, 0, 0, 0xc4000003ull, 5, 0);
	tb_exit(&t.b, 0, 0, 5);
	rt_only(&t, "smc-return");

	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_SMC, 0, 0, 0x84000000ull, 0, 0);
	tb_exit_full(&t.b, 0, 0x10001, 0, 0, 0, TB_ELR, 0x3c5);
	rt_only(&t, "trap-return");

	/* and it changes no table */
	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_SMC, 0, 0, 0x84000000ull, 0, 0);
	lk_lock(&t, 0, LK_HOST);
	lk_store(&t, 0, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 0));
	tb_barrier(&t.b, 0, PKVM_BARRIER_DSB_ISHST);
	lk_unlock(&t, 0, LK_HOST);
	tb_exit(&t.b, 0, 0x10001, 0);
	rt_only(&t, "trap-effect");
}

/* 9: any other exception class from the host BUG()s. */
Test(linux612_ret, a_return_from_another_exception_class_is_trap_return)
{
	struct lk t;

	lk_boot(&t, 1);
	tb_entry(&t.b, 0, 0x62000000ull, 0, 0, 0, 0, 0); /* EC 0x18 */
	tb_exit_full(&t.b, 0, 0, 0, 0, 0, TB_ELR, 0x3c5);
	rt_only(&t, "trap-return");
}

/* A guest's trap (source 1) on `cpu`; its exit left to the caller. */
static void rt_guest_entry(struct lk *t, unsigned cpu)
{
	size_t n = t->b.count[cpu];

	tb_entry(&t->b, cpu, 0x82000004ull, 0x80000000ull, 0, 0, 0, 0);
	t->b.recs[cpu][n].flags |= 1u << PKVM_REC_F_KIND_SHIFT;
}

static void rt_guest_exit(struct lk *t, unsigned cpu)
{
	size_t n = t->b.count[cpu];

	tb_exit(&t->b, cpu, 0, 0);
	t->b.recs[cpu][n].flags |= 1u << PKVM_REC_F_KIND_SHIFT;
}

/* 8, promise 2: guest traps store no descriptor and take no lock. */
Test(linux612_ret, a_guest_trap_that_stores_or_locks_is_trap_effect)
{
	struct lk t;
	struct tb_result r;

	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 0, true);
	rt_guest_entry(&t, 0);
	rt_guest_exit(&t, 0);
	lk_run_put(&t, 0, true, 2);
	rt_clean(&t);

	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 0, true);
	rt_guest_entry(&t, 0);
	lk_lock(&t, 0, LK_HOST);
	lk_unlock(&t, 0, LK_HOST);
	rt_guest_exit(&t, 0);
	lk_run_put(&t, 0, true, 2);
	rt_only(&t, "trap-effect");

	lk_vm_with_vcpu(&t, 1);
	lk_run_load(&t, 0, 0x1000, 0, true);
	rt_guest_entry(&t, 0);
	lk_store(&t, 0, lk_s2_leaf(LK_PAGE + 0x3000), 0);
	rt_guest_exit(&t, 0);
	lk_run_put(&t, 0, true, 2);
	lk_check(&t, &r);
	/* (a store of the hyp's without a lock, as well) */
	lk_expect_with_inv(&r, "trap-effect", "pte-write-without-lock");
}

/* 11: a PANIC the spec does not name is hyp-panic. */
Test(linux612_ret, a_panic_the_spec_does_not_name_is_hyp_panic)
{
	uint64_t w[2] = { PKVM_PANIC_BUG, TB_ELR };
	struct lk t;

	lk_boot(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF, 0);
	tb_event(&t.b, 0, PKVM_EV_PANIC, w, 2);
	rt_only(&t, "hyp-panic");

	/* a fault on a page the host owns is mapped, not a panic (9.1.3;
	 * rule_l612_fault.c's, as hyp-panic) */
	lk_boot(&t, 1);
	tb_entry(&t.b, 0, TB_ESR_DABT, LK_PAGE + 0x10, LK_PAGE >> 8, 0, 0, 0);
	lk_lock(&t, 0, LK_HOST);
	tb_event(&t.b, 0, PKVM_EV_PANIC, w, 2);
	rt_only(&t, "hyp-panic");

	/* a teardown with no vCPU loaded has no panic to give */
	lk_pinned(&t, 1);
	lk_call3(&t, 0, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1000, 0, 0);
	lk_lock(&t, 0, LK_VMT);
	tb_event(&t.b, 0, PKVM_EV_PANIC, w, 2);
	rt_only(&t, "hyp-panic");
}

/* 6.7: a host pointer into a page the host does not share is a note. */
Test(linux612_ret, a_pointer_into_an_unshared_page_is_host_pointer_not_shared)
{
	const unsigned id = PKVM_L612_HC_KVM_TLB_FLUSH_VMID;
	struct lk t;
	struct tb_result r;

	lk_vm_boot(&t, 1); /* struct kvm's page shared */
	lk_hvc(&t, 0, id, LK_KPTR(LK_KVM + 0x40));
	tb_exit(&t.b, 0, 0, LK_KPTR(LK_KVM + 0x40));
	rt_clean(&t);

	lk_vm_boot(&t, 1);
	lk_hvc(&t, 0, id, LK_KPTR(LK_PAGE + 0x5000));
	tb_exit(&t.b, 0, 0, LK_KPTR(LK_PAGE + 0x5000));
	lk_check(&t, &r);
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(r.count, 0);
	cr_assert(strstr(r.sum.first_inconclusive, "host-pointer-not-shared"),
		  "%s", r.sum.first_inconclusive);
}

/* A finding's "trap:" line names the call from the trace's own table. */
Test(linux612_ret, the_trap_line_names_6_12_hypercalls)
{
	struct ck_event t = { 0 };
	char buf[200];

	t.w[0] = (uint64_t)0x16 << 26;
	t.w[4] = PKVM_HC_BASE | PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP;
	t.w[5] = 0x411b5;
	ck_trap_text(&t, TRACE_SYS_LINUX612, buf, sizeof(buf));
	cr_assert_str_eq(buf, "hypercall __pkvm_host_unshare_hyp(x1=0x411b5)");
	t.w[4] = PKVM_HC_BASE | (1u << 16) | PKVM_L612_HC_PKVM_INIT_VM;
	t.w[6] = 0x2000;
	t.w[7] = 0x3000;
	ck_trap_text(&t, TRACE_SYS_LINUX612, buf, sizeof(buf));
	cr_assert_str_eq(buf, "hypercall __pkvm_init_vm(x1=0x411b5, x2=0x2000, "
			      "x3=0x3000)");
	t.w[4] = PKVM_HC_BASE | 26;
	ck_trap_text(&t, TRACE_SYS_LINUX612, buf, sizeof(buf));
	cr_assert_str_eq(buf, "hypercall id 26 (not in 6.12's table)");
}
