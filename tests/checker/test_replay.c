// SPDX-License-Identifier: MIT
/*
 * The checker's replay on hand-built traces: correct traces (including the
 * spec's loose cases) pass with no finding; each broken trace produces
 * exactly the finding that names its bug and nothing else.
 */
#include <criterion/criterion.h>

#include "builder.h"

static struct tb b;
static struct tb_result r;

static void setup(void)
{
	tb_init(&b, 2);
	tb_boot(&b);
}

static void teardown(void)
{
	tb_free(&b);
}

TestSuite(replay, .init = setup, .fini = teardown);

static void expect_pass(void)
{
	tb_check(&b, &r);
	cr_assert_eq(r.count, 0, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d (%s)", r.exit,
		     r.sum.first_inconclusive);
}

static void expect_only(const char *check)
{
	tb_check(&b, &r);
	cr_assert(tb_only(&r, check, 1),
		  "expected one %s, got %u findings, "
		  "first %s",
		  check, r.count, r.count ? r.checks[0] : "none");
	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
}

Test(replay, boot_only_conforms)
{
	/* A correct boot alone conforms. */
	expect_pass();
	cr_assert_gt(r.sum.events, 10);
}

Test(replay, ownership_cycle_conforms)
{
	/* share, unshare, donate, reclaim of host pages all conform. */
	tb_share(&b, 0, TB_HOST_PFN(0));
	tb_unshare(&b, 1, TB_HOST_PFN(0));
	tb_donate(&b, 0, TB_HOST_PFN(1));
	tb_reclaim(&b, 1, TB_HOST_PFN(1));
	tb_share(&b, 1, TB_HOST_PFN(1));
	expect_pass();
	cr_assert_eq(r.sum.traps_checked, 5);
}

Test(replay, refusals_conform)
{
	/* Refused calls with the documented error and no change conform. */
	tb_share(&b, 0, TB_HOST_PFN(0));
	tb_refuse(&b, 1, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_EPERM);
	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_MMIO_PFN, 0, -PKVM_EINVAL);
	tb_refuse(&b, 0, PKVM_HC_HYP_DONATE_HOST, TB_HYP_PFN, 1, -PKVM_EPERM);
	tb_refuse(&b, 0, PKVM_HC_HOST_DONATE_HYP, TB_HOST_PFN(3), 17,
		  -PKVM_EINVAL);
	expect_pass();
}

Test(replay, unknown_hcall_and_smc_conform)
{
	/* Unknown ids and SMCs return NOT_SUPPORTED and change nothing. */
	tb_hvc(&b, 0, 0x99, 0, 0);
	tb_exit(&b, 0, PKVM_SMCCC_NOT_SUPPORTED, 0);
	tb_entry(&b, 1, TB_ESR_SMC, 0, 0, 0x84000009, 0, 0);
	tb_exit(&b, 1, PKVM_SMCCC_NOT_SUPPORTED, 0);
	expect_pass();
}

Test(replay, aborts_conform)
{
	/* Lazy maps of host memory and MMIO, injection for hyp memory. */
	tb_abort_map(&b, 0, TB_HOST_PFN(7));
	tb_abort_map(&b, 1, TB_MMIO_PFN);
	tb_abort_inject(&b, 0, TB_HYP_PFN + 3);
	tb_donate(&b, 1, TB_HOST_PFN(8));
	tb_abort_inject(&b, 0, TB_HOST_PFN(8));
	expect_pass();
}

Test(replay, enomem_without_effect_is_allowed)
{
	/* -ENOMEM after the pool ran out, with no state change, conforms. */
	tb_hvc(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_lock(&b, 0, PKVM_LOCK_HYP_S1);
	b.alloc_fail = true;
	tb_lock(&b, 0, PKVM_LOCK_POOL);
	tb_nondet(&b, 0, PKVM_NONDET_ALLOC_PAGE, 0, 0, PKVM_COMP_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_POOL);
	tb_unlock(&b, 0, PKVM_LOCK_HYP_S1);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_exit(&b, 0, 0, (uint64_t)-PKVM_ENOMEM);
	expect_pass();
}

Test(replay, lazy_map_inside_hcall_is_allowed)
{
	/* A hypercall may lazily map other host-owned pages on the way. */
	tb_hvc(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_lock(&b, 0, PKVM_LOCK_HYP_S1);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, TB_HOST_PFN(1)),
	       tb_s2_page(TB_HOST_PFN(1) << 12, PKVM_PAGE_OWNED));
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, TB_HOST_PFN(0)),
	       tb_s2_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_SHARED_OWNED));
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HYP_S1, TB_HOST_PFN(0)),
	       tb_s1_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_SHARED_BORROWED));
	tb_unlock(&b, 0, PKVM_LOCK_HYP_S1);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_exit(&b, 0, 0, 0);
	expect_pass();
}

Test(replay, interleaved_cpus_follow_tickets)
{
	/*
	 * cpu1's trap is recorded with earlier timestamps but takes the lock
	 * second: the replay must follow the tickets, not the clock.
	 */
	uint64_t boot_end = b.ts;
	size_t first = b.count[1];

	tb_share(&b, 0, TB_HOST_PFN(0));
	tb_unshare(&b, 1, TB_HOST_PFN(0));
	for (size_t i = first; i < b.count[1]; i++)
		b.recs[1][i].ts = boot_end + i; /* cpu1 claims to run first */
	expect_pass();
}

/* ---- one finding per bug -------------------------------------------- */

Test(replay, share_without_hyp_mapping)
{
	/* share_hyp that forgets the hyp stage-1 mapping: missing-mapping. */
	tb_two_sided(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0),
		     tb_s2_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_SHARED_OWNED),
		     0);
	expect_only("missing-mapping");
}

Test(replay, wrong_return_code)
{
	/* Refusing a valid share with -EPERM: hcall-return. */
	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_EPERM);
	expect_only("hcall-return");
}

Test(replay, missing_ownership_check)
{
	/* Sharing a donated page (must be -EPERM) and saying 0. */
	tb_donate(&b, 0, TB_HOST_PFN(2));
	tb_refuse(&b, 1, PKVM_HC_SHARE_HYP, TB_HOST_PFN(2), 0, 0);
	expect_only("hcall-return");
}

Test(replay, donation_left_mapped_in_host)
{
	/* host_donate_hyp that leaves the host mapping: unexpected-mapping. */
	tb_two_sided(&b, 0, PKVM_HC_HOST_DONATE_HYP, TB_HOST_PFN(0),
		     tb_s2_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_OWNED),
		     tb_s1_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_OWNED));
	expect_only("unexpected-mapping");
}

Test(replay, pte_write_without_lock)
{
	/* A lazy map stored after letting host_s2 go. */
	uint64_t pfn = TB_HOST_PFN(9);
	uint64_t slot;

	tb_entry(&b, 0, TB_ESR_DABT, (pfn << 12), pfn << 4, 0, 0, 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	slot = tb_l3(&b, 0, PKVM_COMP_HOST_S2, pfn);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, slot, tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_exit_full(&b, 0, 0, 0, 0, 0, 0x41000100, 0x3c5);
	tb_check(&b, &r);
	cr_assert_gt(r.count, 0);
	cr_assert_str_eq(r.checks[0], "pte-write-without-lock");
}

Test(replay, write_to_non_table)
{
	/* A descriptor store into a page that is no table. */
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, TB_HOST_PFN(4) << 12, 3);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	expect_only("pte-write-not-table");
}

Test(replay, enomem_with_effect)
{
	/* -ENOMEM after changing the host side: enomem-with-effect. */
	tb_hvc(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_lock(&b, 0, PKVM_LOCK_HYP_S1);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, TB_HOST_PFN(0)),
	       tb_s2_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_SHARED_OWNED));
	b.alloc_fail = true;
	tb_l3(&b, 0, PKVM_COMP_HYP_S1, TB_HOST_PFN(0));
	tb_unlock(&b, 0, PKVM_LOCK_HYP_S1);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_exit(&b, 0, 0, (uint64_t)-PKVM_ENOMEM);
	expect_only("enomem-with-effect");
}

Test(replay, enomem_without_failed_alloc)
{
	/* -ENOMEM while the pool never ran out: hcall-return. */
	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_ENOMEM);
	expect_only("hcall-return");
}

Test(replay, abort_not_injected)
{
	/* An abort on hyp memory resolved without injection. */
	uint64_t pfn = TB_HYP_PFN + 1;

	tb_entry(&b, 0, TB_ESR_DABT, pfn << 12, pfn << 4, 0, 0, 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_exit_full(&b, 0, 0, 0, 0, 0, 0x41000100, 0x3c5);
	expect_only("abort-injection");
}

Test(replay, abort_injected_wrong_vector)
{
	/* Injection returning to the wrong vector: abort-injection. */
	uint64_t pfn = TB_HYP_PFN + 1;

	tb_entry(&b, 0, TB_ESR_DABT, pfn << 12, pfn << 4, 0, 0, 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_inject_regs(&b, 0, TB_ESR_DABT_SAME, pfn << 12, TB_ELR,
		       TB_HOST_SPSR);
	tb_exit_full(&b, 0, 0, 0, TB_ESR_DABT_SAME, pfn << 12, TB_VBAR + 0x400,
		     tb_inject_spsr(&b, TB_HOST_SPSR));
	expect_only("abort-injection");
}

Test(replay, abort_maps_hyp_page)
{
	/* The host maps a donated page on a fault: trap-effect. */
	tb_donate(&b, 0, TB_HOST_PFN(5));
	tb_abort_map(&b, 1, TB_HOST_PFN(5));
	tb_check(&b, &r);
	cr_assert_gt(r.count, 0);
	cr_assert_str_eq(r.checks[0], "abort-injection");
}

Test(replay, unknown_hcall_returns_success)
{
	/* An unknown id must be NOT_SUPPORTED. */
	tb_hvc(&b, 0, 0x99, 0, 0);
	tb_exit(&b, 0, 0, 0);
	expect_only("hcall-return");
}

Test(replay, smc_wrong_return)
{
	/* An unhandled SMC must return -1. */
	tb_entry(&b, 1, TB_ESR_SMC, 0, 0, 0x84000009, 0, 0);
	tb_exit(&b, 1, 0, 0);
	expect_only("smc-return");
}

Test(replay, panic_on_host_input)
{
	/* A PANIC outside test_panic is a finding. */
	uint64_t w[2] = { PKVM_PANIC_CHECK, 0x40201234 };

	tb_hvc(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0);
	tb_event(&b, 0, PKVM_EV_PANIC, w, 2);
	expect_only("hyp-panic");
	cr_assert_eq(r.sum.inconclusive, 1, "the trap never exits");
}

Test(replay, test_panic_conforms)
{
	/* In a test image, test_panic panics and never returns: conforms. */
	uint64_t w[2] = { PKVM_PANIC_TEST, 0x40201234 };

	tb_free(&b);
	tb_init(&b, 2);
	b.boot_flags = 1; /* a test image: the test-only calls are in */
	tb_boot(&b);
	tb_hvc(&b, 0, PKVM_HC_TEST_PANIC, 0, 0);
	tb_event(&b, 0, PKVM_EV_PANIC, w, 2);
	expect_pass();
}

Test(replay, test_panic_in_production)
{
	/* hyp.elf has no test_panic: its id is unknown, and a panic is a
	 * finding (any host could stop the machine). */
	uint64_t w[2] = { PKVM_PANIC_TEST, 0x40201234 };

	tb_hvc(&b, 0, PKVM_HC_TEST_PANIC, 0, 0);
	tb_event(&b, 0, PKVM_EV_PANIC, w, 2);
	expect_only("hyp-panic");
}

Test(replay, test_panic_unknown_in_production)
{
	/* ... and answering it as an unknown call conforms. */
	tb_hvc(&b, 0, PKVM_HC_TEST_PANIC, 0, 0);
	tb_exit(&b, 0, PKVM_SMCCC_NOT_SUPPORTED, 0);
	expect_pass();
}

Test(replay, host_read_twice)
{
	/* A host value read twice in one trap is a finding. */
	tb_hvc(&b, 0, PKVM_HC_TRACE_LOAD, TB_HOST_PFN(0), 0);
	tb_nondet(&b, 0, PKVM_NONDET_HOST_READ, 1, TB_HOST_PFN(0) << 12, 0);
	tb_nondet(&b, 0, PKVM_NONDET_HOST_READ, 1, TB_HOST_PFN(0) << 12, 0);
	tb_exit(&b, 0, 0, (uint64_t)-PKVM_EPERM);
	expect_only("host-read-twice");
}

Test(replay, bad_boot_state)
{
	/* Booting with a host page mapped: boot-state. */
	struct tb b2;

	tb_init(&b2, 1);
	tb_lock(&b2, 0, PKVM_LOCK_HOST_S2); /* not yet: BOOT must be first */
	tb_free(&b2);
	tb_init(&b2, 1);
	{
		uint64_t boot[14] = { PKVM_ABI_VERSION | (1ull << 32),
				      1,
				      TB_RAM_BASE,
				      TB_RAM_SIZE,
				      TB_HYP_START,
				      TB_HYP_END,
				      TB_POOL_START,
				      TB_POOL_END,
				      TB_HOST_ROOT,
				      TB_HYP_ROOT,
				      0,
				      0,
				      0,
				      0 };

		tb_event(&b2, 0, PKVM_EV_BOOT, boot, 14);
	}
	tb_sysregs(&b2, 0, true);
	tb_mark(&b2, 0, PKVM_MARK_HOST_ENTER, 0);
	tb_check(&b2, &r);
	tb_free(&b2);
	cr_assert(tb_only(&r, "boot-state", 1));
}

/*
 * The other CPUs start once cpu0 has built the tables, but their pages may
 * come first in the file (here: earlier timestamps, which order CPUs at
 * the same source position). cpu1 entering the host before cpu0's boot
 * stores are replayed must not judge a boot still under way.
 */
Test(replay, secondary_first_in_the_source_conforms)
{
	struct tb b2;

	tb_init(&b2, 2);
	b2.ts = 1000;
	tb_boot_tables(&b2);
	tb_sysregs(&b2, 0, false);
	tb_mark(&b2, 0, PKVM_MARK_HOST_ENTER, PKVM_WORKLOAD_BASE);
	b2.ts = 0; /* cpu1's records are older than cpu0's boot stores */
	tb_mark(&b2, 1, PKVM_MARK_CPU_UP, 1);
	tb_sysregs(&b2, 1, true);
	tb_mark(&b2, 1, PKVM_MARK_HOST_ENTER, PKVM_WORKLOAD_BASE);
	tb_check(&b2, &r);
	tb_free(&b2);
	cr_assert_eq(r.count, 0, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d (%s)", r.exit,
		     r.sum.first_inconclusive);
}

/* ---- linearisation -------------------------------------------------- */

Test(replay, repeated_ticket_is_inconsistent)
{
	/* Two acquisitions with the same ticket: inconsistent-trace. */
	uint64_t w[2] = { PKVM_LOCK_HOST_S2, b.ticket[PKVM_LOCK_HOST_S2] };

	tb_share(&b, 0, TB_HOST_PFN(0));
	w[1] = b.ticket[PKVM_LOCK_HOST_S2] - 1;
	tb_event(&b, 1, PKVM_EV_LOCK_ACQUIRE, w, 2);
	expect_only("inconsistent-trace");
}

Test(replay, missing_ticket_deadlocks)
{
	/* A ticket nobody takes leaves the next one waiting: inconsistent. */
	uint64_t w[2] = { PKVM_LOCK_HOST_S2, b.ticket[PKVM_LOCK_HOST_S2] + 1 };

	tb_event(&b, 1, PKVM_EV_LOCK_ACQUIRE, w, 2);
	expect_only("inconsistent-trace");
}

Test(replay, release_without_acquire)
{
	/* Releasing a lock not held: inconsistent-trace. */
	uint64_t w[2] = { PKVM_LOCK_HYP_S1, 0 };

	tb_event(&b, 1, PKVM_EV_LOCK_RELEASE, w, 2);
	expect_only("inconsistent-trace");
}

Test(replay, lost_records_are_inconclusive)
{
	/* Records lost while cpu0 held host_s2: its pages become unknown. */
	uint64_t w[2] = { 3, 1000 };

	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_event(&b, 0, PKVM_EV_LOST, w, 2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_refuse(&b, 1, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_EPERM);
	tb_check(&b, &r);
	cr_assert_eq(r.count, 0);
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(r.sum.lost, 3);
	cr_assert_eq(r.sum.traps_checked, 0);
}

Test(replay, loss_without_locks_keeps_checking)
{
	/*
	 * Records lost while cpu1 held no lock, with no ticket missing
	 * afterwards: no component can have changed, later traps are judged.
	 */
	uint64_t w[2] = { 3, 1000 };

	tb_event(&b, 1, PKVM_EV_LOST, w, 2);
	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_EPERM);
	expect_only("hcall-return");
}

Test(replay, no_boot_is_corrupt)
{
	/* A trace that does not start with BOOT cannot be checked: exit 3. */
	struct tb b2;

	tb_init(&b2, 1);
	tb_mark(&b2, 0, PKVM_MARK_HOST_ENTER, 0);
	tb_check(&b2, &r);
	tb_free(&b2);
	cr_assert_eq(r.exit, CK_EXIT_CORRUPT);
}

/* ---- more finding kinds --------------------------------------------- */

Test(replay, unshare_leaves_host_nopage)
{
	/* unshare_hyp that annotates the page for the hyp: hcall-effect. */
	tb_share(&b, 0, TB_HOST_PFN(0));
	tb_two_sided(&b, 1, PKVM_HC_UNSHARE_HYP, TB_HOST_PFN(0),
		     tb_s2_owner_hyp(), 0);
	expect_only("hcall-effect");
}

Test(replay, share_maps_hyp_read_only)
{
	/* The hyp side of a share mapped read-only: bad-mapping. */
	tb_two_sided(
		&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0),
		tb_s2_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_SHARED_OWNED),
		tb_s1_page(TB_HOST_PFN(0) << 12, PKVM_PAGE_SHARED_BORROWED) |
			(1ull << 7));
	expect_only("bad-mapping");
}

Test(replay, smc_changes_state)
{
	/* An SMC that takes a host page away: trap-effect. */
	tb_entry(&b, 0, TB_ESR_SMC, 0, 0, 0x84000009, 0, 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, TB_HOST_PFN(3)),
	       tb_s2_owner_hyp());
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_exit(&b, 0, PKVM_SMCCC_NOT_SUPPORTED, 0);
	expect_only("trap-effect");
}

Test(replay, abort_resumes_elsewhere)
{
	/* A resolved abort must resume at the faulting instruction. */
	uint64_t pfn = TB_HOST_PFN(6);

	tb_entry(&b, 0, TB_ESR_DABT, pfn << 12, pfn << 4, 0, 0, 0);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_exit_full(&b, 0, 0, 0, 0, 0, 0x41000104, 0x3c5);
	expect_only("abort-return");
}

Test(replay, table_page_not_from_pool)
{
	/* A table installed from a host page, not the pool. */
	uint64_t l3 = TB_HOST_PFN(100) << 12;

	tb_abort_map(&b, 0, TB_HOST_PFN(0)); /* installs the L2 table */
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, b.l2[PKVM_COMP_HOST_S2] + 8 * 6, l3 | 3);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	expect_only("table-not-from-pool");
}

Test(replay, table_in_two_trees)
{
	/* host stage-2 pointing at the hyp's root table: table-reuse. */
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, b.l2[PKVM_COMP_HOST_S2] + 8 * 6, TB_HYP_ROOT | 3);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	expect_only("table-reuse");
}

Test(replay, pool_hands_out_foreign_page)
{
	/* The pool handing out a page outside [pool_start, pool_end). */
	tb_lock(&b, 0, PKVM_LOCK_POOL);
	tb_nondet(&b, 0, PKVM_NONDET_ALLOC_PAGE, TB_HOST_PFN(1) << 12, 0,
		  PKVM_COMP_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_POOL);
	expect_only("pool-alloc");
}

Test(replay, truncated_while_waiting_is_inconclusive)
{
	/* A truncated trace ending with a CPU waiting for a ticket: exit 4. */
	uint64_t w[2] = { PKVM_LOCK_HOST_S2, b.ticket[PKVM_LOCK_HOST_S2] + 1 };
	struct ck_memsrc m;
	struct ck_options opt = { .context = 2 };
	struct ck_summary sum;

	tb_event(&b, 1, PKVM_EV_LOCK_ACQUIRE, w, 2);
	ck_memsrc_init(&m, b.ncpu);
	m.complete = true;
	for (unsigned c = 0; c < b.ncpu; c++)
		ck_memsrc_set(&m, c, b.recs[c], b.count[c]);
	m.truncated = true;
	cr_assert_eq(ck_run(&m.src, &opt, NULL, &sum), CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(sum.findings, 0);
}

Test(replay, max_findings_stops)
{
	/* --max-findings: the replay stops at the limit. */
	struct ck_memsrc m;
	struct ck_options opt = { .max_findings = 1, .context = 2 };
	struct ck_summary sum;

	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0, -PKVM_EPERM);
	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(1), 0, -PKVM_EPERM);
	ck_memsrc_init(&m, b.ncpu);
	m.complete = true;
	for (unsigned c = 0; c < b.ncpu; c++)
		ck_memsrc_set(&m, c, b.recs[c], b.count[c]);
	cr_assert_eq(ck_run(&m.src, &opt, NULL, &sum), CK_EXIT_FINDINGS);
	cr_assert_eq(sum.findings, 1);
	cr_assert(sum.stopped);
}

Test(replay, host_maps_page_hyp_owns)
{
	/*
	 * After boot, a descriptor store outside any trap maps a page the
	 * host donated into host stage-2 again: no spec answers for it, the
	 * invariants do, at that store.
	 */
	uint64_t pfn = TB_HOST_PFN(12);

	tb_donate(&b, 0, pfn);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	expect_only("host-maps-foreign-page");
}

Test(replay, empty_trace_is_corrupt)
{
	/* No records at all: nothing to check, exit 3 (not an internal error).
	 */
	struct tb b2;

	tb_init(&b2, 2);
	tb_check(&b2, &r);
	tb_free(&b2);
	cr_assert_eq(r.exit, CK_EXIT_CORRUPT);
}

Test(replay, boot_on_secondary_is_corrupt)
{
	/* Records before BOOT on another CPU only: exit 3. */
	struct tb b2;

	tb_init(&b2, 2);
	tb_mark(&b2, 1, PKVM_MARK_CPU_UP, 1);
	tb_check(&b2, &r);
	tb_free(&b2);
	cr_assert_eq(r.exit, CK_EXIT_CORRUPT);
}

Test(replay, hyp_maps_page_host_owns)
{
	/* Outside any trap, the hyp maps a host page it was never given. */
	uint64_t pfn = TB_HOST_PFN(13);

	tb_lock2(&b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HYP_S1, pfn),
	       tb_s1_page(pfn << 12, PKVM_PAGE_SHARED_BORROWED));
	tb_unlock2(&b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	expect_only("hyp-maps-foreign-page");
}

Test(replay, invariant_share_pairing)
{
	/* Outside any trap, the host side turns SHARED_OWNED with no hyp
	 * borrower. */
	uint64_t pfn = TB_HOST_PFN(16);

	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_SHARED_OWNED));
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	expect_only("invariant-share-pairing");
}

Test(replay, invalid_state_bits)
{
	/* Outside any trap, a valid hyp descriptor gets page state 0b11,
	 * which no state is. */
	uint64_t pfn = TB_HOST_PFN(18);

	tb_lock2(&b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HYP_S1, pfn),
	       tb_s1_page(pfn << 12, PKVM_PTE_STATE_MASK));
	tb_unlock2(&b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	expect_only("invalid-state-bits");
}
