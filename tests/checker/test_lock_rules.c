// SPDX-License-Identifier: MIT
/*
 * The lock discipline of abi.h on hand-built traces, in every record form
 * (both_ways.h): `lock-order` (rule_lock_order.c) for any acquisition
 * against PKVM_LOCK_ORDER_LIST, deadlock or not, and
 * `hyp-s1-without-host-s2` (rule_lock_needs.c) for hyp_s1 taken, or the
 * hyp stage-1 written, without host_s2, boot included; ABI 1 does not
 * promise the second, so it is not judged there.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "both_ways.h"

/* Outside a trap, cpu1 takes every lock in the order, then lets go. */
static void in_order(struct tb *b)
{
	tb_lock(b, 1, PKVM_LOCK_TRACE);
	tb_lock2(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_lock(b, 1, PKVM_LOCK_POOL);
	tb_unlock(b, 1, PKVM_LOCK_POOL);
	tb_unlock2(b, 1, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_unlock(b, 1, PKVM_LOCK_TRACE);
}

/* As mutant 15: `trace` taken inside the table pair. */
static void trace_inside_the_pair(struct tb *b)
{
	tb_lock2(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_lock(b, 1, PKVM_LOCK_TRACE);
	tb_unlock(b, 1, PKVM_LOCK_TRACE);
	tb_unlock2(b, 1, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
}

/* host_s2 taken while the pool is held. */
static void table_inside_the_pool(struct tb *b)
{
	tb_lock(b, 0, PKVM_LOCK_POOL);
	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(b, 0, PKVM_LOCK_POOL);
}

Test(lock_rules, locks_taken_in_the_order_conform)
{
	/* Property: every lock taken in abi.h's order is no finding. */
	tb_expect((struct tb_result[]){ tb_both_ways(in_order, 2, NULL) },
		  CK_EXIT_OK, NULL, 0);
}

Test(lock_rules, trace_taken_inside_the_table_locks_is_lock_order)
{
	/* Property: trace taken while host_s2 and hyp_s1 are held is one
	 * lock-order finding, at that acquisition, naming the lock held. */
	struct tb_result r =
		tb_both_ways(trace_inside_the_pair, 2, "lock-order");

	tb_expect(&r, CK_EXIT_FINDINGS, "lock-order", 1);
	cr_assert_eq(r.kind, PKVM_EV_LOCK_ACQUIRE);
	cr_assert(strstr(r.text, "takes trace while it holds hyp_s1"), "%s",
		  r.text);
	cr_assert(strstr(r.text, "trace -> host_s2 -> hyp_s1 -> pool"), "%s",
		  r.text);
}

Test(lock_rules, a_table_lock_inside_the_pool_is_lock_order)
{
	/* Property: any lock taken under a later one is a finding, though
	 * nothing deadlocked. */
	struct tb_result r =
		tb_both_ways(table_inside_the_pool, 1, "lock-order");

	tb_expect(&r, CK_EXIT_FINDINGS, "lock-order", 1);
	cr_assert(strstr(r.text, "takes host_s2 while it holds pool"), "%s",
		  r.text);
}

/* hyp_s1 alone, then a hyp stage-1 store under it. */
static void hyp_alone(struct tb *b)
{
	uint64_t pte;

	tb_lock2(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	pte = tb_l3(b, 1, PKVM_COMP_HYP_S1, TB_HOST_PFN(20));
	tb_unlock2(b, 1, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_lock(b, 1, PKVM_LOCK_HYP_S1);
	tb_pte(b, 1, pte, 0);
	tb_unlock(b, 1, PKVM_LOCK_HYP_S1);
}

/* The pair taken, host_s2 let go first, then a hyp stage-1 store. */
static void host_let_go_first(struct tb *b)
{
	uint64_t pte;

	tb_lock2(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	pte = tb_l3(b, 1, PKVM_COMP_HYP_S1, TB_HOST_PFN(20));
	tb_sync(b, 1);
	tb_unlock(b, 1, PKVM_LOCK_HOST_S2);
	tb_pte(b, 1, pte, 0);
	tb_unlock(b, 1, PKVM_LOCK_HYP_S1);
}

Test(lock_rules, hyp_s1_taken_alone_is_one_finding)
{
	/* Property: hyp_s1 taken without host_s2 is one finding at the
	 * acquisition; the stores of that hold are not reported again. */
	struct tb_result r =
		tb_both_ways(hyp_alone, 2, "hyp-s1-without-host-s2");

	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-without-host-s2", 1);
	cr_assert_eq(r.kind, PKVM_EV_LOCK_ACQUIRE);
}

Test(lock_rules, hyp_store_after_host_s2_went_is_a_finding)
{
	/* Property: a hyp stage-1 store by a CPU that let host_s2 go first
	 * is one finding, at the store. */
	struct tb_result r =
		tb_both_ways(host_let_go_first, 2, "hyp-s1-without-host-s2");

	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-without-host-s2", 1);
	cr_assert_eq(r.kind, PKVM_EV_PTE_WRITE);
	cr_assert(strstr(r.text, "stores a hyp stage-1 descriptor without "
				 "holding host_s2"),
		  "%s", r.text);
}

static void boot_hyp_alone(struct tb *b)
{
	b->boot_hyp_alone = true;
}

static void nothing(struct tb *b)
{
	(void)b;
}

Test(lock_rules, boot_building_hyp_s1_alone_is_a_finding)
{
	/* Property: boot is judged too: building the hyp stage-1 under
	 * hyp_s1 alone (as mutant 22) is one finding. */
	struct tb_result r;

	tb_before_boot = boot_hyp_alone;
	r = tb_both_ways(nothing, 1, "hyp-s1-without-host-s2");
	tb_before_boot = NULL;
	tb_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-without-host-s2", 1);
}

static void abi1_boot_hyp_alone(struct tb *b)
{
	b->abi = 1;
	b->boot_hyp_alone = true;
}

Test(lock_rules, abi1_does_not_promise_host_s2_with_hyp_s1)
{
	/* Property: on an ABI-1 trace the needs rule is not judged, and the
	 * summary says so; the order still is. */
	struct tb_result r;

	tb_before_boot = abi1_boot_hyp_alone;
	r = tb_both_ways(hyp_alone, 2, NULL);
	tb_before_boot = NULL;
	tb_expect(&r, CK_EXIT_OK, NULL, 0);
	cr_assert(strstr(r.sum.not_judged, "hyp-s1-without-host-s2 (ABI 1 "),
		  "%s", r.sum.not_judged);
	tb_before_boot = abi1_boot_hyp_alone;
	r = tb_both_ways(trace_inside_the_pair, 2, NULL);
	tb_before_boot = NULL;
	tb_expect(&r, CK_EXIT_FINDINGS, "lock-order", 1);
}

Test(lock_rules, lost_records_make_it_inconclusive)
{
	/* Property: after lost records of the CPU, what it holds is not
	 * known: an acquisition against the order is inconclusive. */
	struct tb b;
	struct tb_result r;
	uint64_t lost[2] = { 2, 1000 };

	tb_init(&b, 1);
	tb_boot(&b);
	tb_lock(&b, 0, PKVM_LOCK_POOL);
	tb_event(&b, 0, PKVM_EV_LOST, lost, 2);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_POOL);
	tb_check(&b, &r);
	tb_free(&b);
	cr_assert_eq(r.count, 0, "first %s", r.count ? r.checks[0] : "-");
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
}

/*
 * `lock-held-at-exit` (rule_lock_exit.c): TRACE_LOAD of a pfn beyond RAM,
 * -EINVAL; `let_go`: it lets `trace` go before its exit, else (as the
 * hunt's mutant on the -EBUSY path) it returns to the host holding it.
 */
static void trace_load_refused(struct tb *b, bool let_go)
{
	tb_hvc(b, 1, PKVM_HC_TRACE_LOAD, 1ull << 24, 0);
	tb_lock(b, 1, PKVM_LOCK_TRACE);
	if (let_go)
		tb_unlock(b, 1, PKVM_LOCK_TRACE);
	tb_exit(b, 1, 0, (uint64_t)-PKVM_EINVAL);
}

static void trace_let_go(struct tb *b)
{
	trace_load_refused(b, true);
}

static void trace_kept(struct tb *b)
{
	trace_load_refused(b, false);
}

/* share_hyp that returns to the host with hyp_s1 still held. */
static void share_keeps_hyp_s1(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(20);

	tb_hvc_lock2(b, 0, PKVM_HC_SHARE_HYP, pfn, 0, PKVM_LOCK_HOST_S2,
		     PKVM_LOCK_HYP_S1);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_SHARED_OWNED));
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HYP_S1, pfn),
	       tb_s1_page(pfn << 12, PKVM_PAGE_SHARED_BORROWED));
	tb_sync(b, 0);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	tb_exit(b, 0, 0, 0);
}

Test(lock_rules, a_trap_that_lets_its_locks_go_conforms)
{
	/* Property: a trap that takes a lock and lets it go before its exit
	 * is no finding. */
	tb_expect((struct tb_result[]){ tb_both_ways(trace_let_go, 2, NULL) },
		  CK_EXIT_OK, NULL, 0);
}

Test(lock_rules, returning_to_the_host_holding_trace_is_a_finding)
{
	/* Property: a host trap whose exit comes while its CPU holds a lock
	 * is one lock-held-at-exit finding, at the exit, naming the lock and
	 * the acquisition. */
	struct tb_result r = tb_both_ways(trace_kept, 2, "lock-held-at-exit");

	tb_expect(&r, CK_EXIT_FINDINGS, "lock-held-at-exit", 1);
	cr_assert(r.kind == PKVM_EV_HCALL_EXIT || r.kind == PKVM_EV_TRAP_EXIT,
		  "kind %u", r.kind);
	cr_assert(strstr(r.text, "cpu1 returns to the host holding trace"),
		  "%s", r.text);
}

Test(lock_rules, returning_holding_one_of_the_pair_is_a_finding)
{
	/* Property: the pair's second lock kept past the exit is found too,
	 * and only that one. */
	struct tb_result r =
		tb_both_ways(share_keeps_hyp_s1, 1, "lock-held-at-exit");

	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
	cr_assert_eq(r.focus_count, 1, "%u findings", r.focus_count);
	cr_assert(strstr(r.text, "holding hyp_s1"), "%s", r.text);
}
