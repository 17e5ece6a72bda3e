// SPDX-License-Identifier: MIT
/*
 * State belongs to components, each under one lock (checker/src/profile.c):
 * a trap reads a component's state when it takes its lock and changes it
 * when it lets the lock go, and every critical section of a trap is
 * judged. Each scenario is an order of events the real hyp can produce,
 * built every way the hyp writes it (canonical, compact, fused).
 */
#include <stddef.h>
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/ring.h>

#include "both_ways.h"

#define CTRL_PFN TB_HOST_PFN(20)
#define RING_PFN(i) TB_HOST_PFN(21 + (i))
#define PAGE_PFN TB_HOST_PFN(4)
#define OTHER_PFN TB_HOST_PFN(5)

/*
 * `scenario` built every way the hyp writes it, checked with the first
 * finding named `focus` kept; all ways agree. (tb_both_ways asks an
 * explained finding to name a store; here the explaining event is the
 * other CPU's trap that changed the page.)
 */
static struct tb_result every_way(void (*scenario)(struct tb *),
				  const char *focus)
{
	struct tb_result r[3];

	for (unsigned f = 0; f < 3; f++) {
		struct tb b;

		tb_init(&b, 2);
		tb_boot(&b);
		tb_set_form(&b, (enum tb_form)f);
		scenario(&b);
		tb_check_focus(&b, &r[f], focus, false, 0);
		tb_free(&b);
	}
	tb_assert_same(&r[TB_COMPACT], &r[TB_CANONICAL]);
	tb_assert_same(&r[TB_FUSED], &r[TB_CANONICAL]);
	return r[TB_FUSED];
}

/* The hyp reads one host-written field of the control page. */
static void read_field(struct tb *b, size_t off, uint64_t value)
{
	tb_nondet(b, 0, PKVM_NONDET_HOST_READ, value, (CTRL_PFN << 12) + off,
		  0);
}

/* Every field of a good control block: two rings of one page each. */
static void read_good_fields(struct tb *b)
{
	read_field(b, offsetof(struct pkvm_ring_ctrl, magic), PKVM_RING_MAGIC);
	read_field(b, offsetof(struct pkvm_ring_ctrl, version),
		   PKVM_RING_VERSION);
	read_field(b, offsetof(struct pkvm_ring_ctrl, cpu_count), 2);
	read_field(b, offsetof(struct pkvm_ring_ctrl, mode), PKVM_RING_WAIT);
	for (unsigned i = 0; i < 2; i++) {
		size_t cpu = offsetof(struct pkvm_ring_ctrl, cpu) +
			     i * sizeof(struct pkvm_ring_cpu);

		read_field(b, cpu + offsetof(struct pkvm_ring_cpu, base_pa),
			   RING_PFN(i) << 12);
		read_field(b, cpu + offsetof(struct pkvm_ring_cpu, nr_records),
			   4096 / PKVM_RECORD_SIZE);
	}
}

/*
 * cpu0's TRACE_LOAD as the hyp makes it (hyp/README.md "Record
 * conventions"), up to letting its table locks go: trace, then host_s2
 * and hyp_s1, the host reads, and the pair let go again.
 */
static void load_until_tables_let_go(struct tb *b, bool good)
{
	tb_hvc(b, 0, PKVM_HC_TRACE_LOAD, CTRL_PFN, 0);
	tb_lock(b, 0, PKVM_LOCK_TRACE);
	tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	if (good)
		read_good_fields(b);
	else
		read_field(b, offsetof(struct pkvm_ring_ctrl, magic), 0x1234);
	tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
}

/*
 * cpu0's TRACE_LOAD pins the rings under its locks; cpu1 unshares a ring
 * page right after those locks are let go, before cpu0 exits: -EBUSY.
 */
static void pinned_before_the_exit(struct tb *b)
{
	tb_share(b, 0, CTRL_PFN);
	tb_share(b, 0, RING_PFN(0));
	tb_share(b, 0, RING_PFN(1));
	load_until_tables_let_go(b, true);
	tb_refuse(b, 1, PKVM_HC_UNSHARE_HYP, RING_PFN(0), 0, -PKVM_EBUSY);
	tb_mark(b, 0, PKVM_MARK_TRACE_ON, CTRL_PFN << 12);
	tb_unlock(b, 0, PKVM_LOCK_TRACE);
	tb_exit(b, 0, 0, 0);
}

Test(sections, trace_load_pins_when_it_lets_its_locks_go)
{
	struct tb_result r = tb_both_ways(pinned_before_the_exit, 2, NULL);

	cr_assert_eq(r.count, 0, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d (%s)", r.exit,
		     r.sum.first_inconclusive);
}

/*
 * cpu0's TRACE_LOAD refuses a bad magic under its locks and lets them go;
 * cpu1 then unshares the control page; cpu0 exits with -EINVAL, which the
 * state under its locks decided.
 */
static void refused_before_the_unshare(struct tb *b)
{
	tb_share(b, 0, CTRL_PFN);
	load_until_tables_let_go(b, false);
	tb_unshare(b, 1, CTRL_PFN);
	tb_unlock(b, 0, PKVM_LOCK_TRACE);
	tb_exit(b, 0, 0, (uint64_t)-PKVM_EINVAL);
}

Test(sections, trace_load_is_judged_on_the_state_under_its_locks)
{
	struct tb_result r = tb_both_ways(refused_before_the_unshare, 2, NULL);

	cr_assert_eq(r.count, 0, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d (%s)", r.exit,
		     r.sum.first_inconclusive);
}

/* share_hyp(PAGE) stores under the pair: host SHARED_OWNED, hyp ... */
static void share_stores(struct tb *b, unsigned cpu, uint64_t pfn)
{
	tb_pte(b, cpu, tb_l3(b, cpu, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_SHARED_OWNED));
	tb_pte(b, cpu, tb_l3(b, cpu, PKVM_COMP_HYP_S1, pfn),
	       tb_s1_page(pfn << 12, PKVM_PAGE_SHARED_BORROWED));
}

/*
 * A share that checks under the pair, lets it go, takes it again and
 * acts: judged on the state of the section that acted.
 */
static void check_then_act(struct tb *b, bool donated_between)
{
	tb_hvc(b, 0, PKVM_HC_SHARE_HYP, PAGE_PFN, 0);
	tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	if (donated_between)
		tb_donate(b, 1, PAGE_PFN);
	tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	share_stores(b, 0, PAGE_PFN);
	tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_exit(b, 0, 0, 0);
}

static void check_then_act_alone(struct tb *b)
{
	check_then_act(b, false);
}

Test(sections, a_trap_is_judged_on_the_section_that_acted)
{
	struct tb_result r = tb_both_ways(check_then_act_alone, 2, NULL);

	cr_assert_eq(r.count, 0, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d (%s)", r.exit,
		     r.sum.first_inconclusive);
}

static void check_then_act_on_a_donated_page(struct tb *b)
{
	check_then_act(b, true);
}

Test(sections, acting_on_a_stale_check_is_caught)
{
	/* cpu1 donated the page between the two sections: by the state
	 * the second section acted on, share_hyp must fail. */
	struct tb_result r =
		every_way(check_then_act_on_a_donated_page, "hcall-return");

	cr_assert(tb_only(&r, "hcall-return", 1), "%u findings, first %s",
		  r.count, r.count ? r.checks[0] : "");
	cr_assert(strstr(r.text, "must return x1=-1 (-EPERM)") != NULL, "%s",
		  r.text);
}

/* A share done in one section, and in a second the hyp maps another page. */
static void second_section_maps_another_page(struct tb *b)
{
	tb_hvc(b, 0, PKVM_HC_SHARE_HYP, PAGE_PFN, 0);
	tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	share_stores(b, 0, PAGE_PFN);
	tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HYP_S1, OTHER_PFN),
	       tb_s1_page(OTHER_PFN << 12, PKVM_PAGE_OWNED));
	tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_exit(b, 0, 0, 0);
}

Test(sections, every_section_of_a_trap_is_judged)
{
	struct tb_result r = tb_both_ways(second_section_maps_another_page, 2,
					  "hcall-effect");

	cr_assert(tb_only(&r, "hcall-effect", 1), "%u findings, first %s",
		  r.count, r.count ? r.checks[0] : "");
	cr_assert_eq(r.addr, OTHER_PFN << 12);
}
