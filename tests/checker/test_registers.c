// SPDX-License-Identifier: MIT
/*
 * The registers a trap returns are judged whatever form its exit record
 * takes. A compact exit (HCALL_EXIT) stands for x2, x3 and elr as at the
 * entry, nothing injected and an spsr of 0 (FORMAT.md 3.1); each scenario
 * is checked with it and with the full TRAP_EXIT of those same values,
 * which must get the same verdict: where the spec wants another return
 * (an SMC moves elr past itself, an abort on hyp memory is injected), a
 * compact exit is a finding. And the registers the spec determines are
 * judged in every trap: a hypercall leaves x2 and x3 and returns after
 * the hvc, injecting nothing; an abort leaves x0-x3; any other trap
 * changes nothing but x0 of a call.
 */
#include <criterion/criterion.h>

#include "both_ways.h"

#define ESR_WFI 0x06000001ull	/* EC 0x01, a trapped WFI */
#define ESR_HVC_1 0x5a000001ull /* hvc #1 */
#define ESR_DABT_HYP TB_ESR_DABT

/** The exit the scenario writes: compact, or the full one it stands for. */
struct exit_regs {
	uint64_t x[4];
	uint64_t elr;
};

static void exit_as(struct tb *b, unsigned cpu, bool compact,
		    const struct exit_regs *r)
{
	uint64_t full[8] = {
		r->x[0], r->x[1], r->x[2], r->x[3], 0, 0, r->elr, 0
	};

	if (compact)
		tb_event(b, cpu, PKVM_EV_HCALL_EXIT, full, 2);
	else
		tb_event(b, cpu, PKVM_EV_TRAP_EXIT, full, 8);
}

/*
 * Build `scenario` after a correct boot with its exit `compact` or not,
 * and check it.
 */
static void run(void (*scenario)(struct tb *, bool), bool compact,
		struct tb_result *r)
{
	struct tb b;

	tb_init(&b, 2);
	tb_boot(&b);
	scenario(&b, compact);
	tb_check(&b, r);
	tb_free(&b);
}

/* Both forms get one finding named `check`, or none if it is NULL. */
static void both_forms(void (*scenario)(struct tb *, bool), const char *check)
{
	struct tb_result full, compact;

	run(scenario, false, &full);
	run(scenario, true, &compact);
	tb_assert_same(&compact, &full);
	if (!check) {
		cr_assert_eq(full.exit, CK_EXIT_OK, "%u findings, first %s",
			     full.count, full.count ? full.checks[0] : "");
		return;
	}
	cr_assert(tb_only(&full, check, 1), "expected one %s, got %u, first %s",
		  check, full.count, full.count ? full.checks[0] : "none");
}

/* ---- a compact exit where the spec wants another return ------------- */

/* An SMC the hyp does not handle, answered without moving elr on. */
static void smc_returns_to_itself(struct tb *b, bool compact)
{
	struct exit_regs r = { { PKVM_SMCCC_NOT_SUPPORTED, 0, 7, 0 }, TB_ELR };

	tb_entry(b, 1, TB_ESR_SMC, 0, 0, 0x84000009, 0, 7);
	exit_as(b, 1, compact, &r);
}

Test(registers, compact_exit_of_an_smc_is_smc_return)
{
	both_forms(smc_returns_to_itself, "smc-return");
}

Test(registers, smc_returning_past_itself_conforms)
{
	struct tb b;
	struct tb_result r;

	tb_init(&b, 2);
	tb_boot(&b);
	tb_entry(&b, 1, TB_ESR_SMC, 0, 0, 0x84000009, 0, 7);
	tb_exit_full(&b, 1, PKVM_SMCCC_NOT_SUPPORTED, 0, 0, 0, TB_ELR + 4, 0);
	tb_check(&b, &r);
	tb_free(&b);
	cr_assert_eq(r.exit, CK_EXIT_OK, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
}

/* An abort on hyp memory (must be injected) closed as if nothing was. */
static void abort_not_injected(struct tb *b, bool compact)
{
	uint64_t pfn = TB_HYP_PFN + 1;
	struct exit_regs r = { { 0x1234, 0, 0, 0 }, TB_ELR };

	tb_entry(b, 0, ESR_DABT_HYP, pfn << 12, pfn << 4, 0x1234, 0, 0);
	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	exit_as(b, 0, compact, &r);
}

Test(registers, compact_exit_of_an_abort_to_inject_is_abort_injection)
{
	both_forms(abort_not_injected, "abort-injection");
}

/* ---- the registers of every trap ------------------------------------ */

/* A host fault on its own memory, mapped, returning a changed x0. */
static void abort_changes_x0(struct tb *b, bool compact)
{
	uint64_t pfn = TB_HOST_PFN(6);
	struct exit_regs r = { { 0x999, 0, 0, 0 }, TB_ELR };

	tb_entry(b, 0, TB_ESR_DABT, pfn << 12, pfn << 4, 0x1234, 0, 0);
	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_page(pfn << 12, PKVM_PAGE_OWNED));
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	exit_as(b, 0, compact, &r);
}

Test(registers, an_abort_leaves_x0_to_x3)
{
	both_forms(abort_changes_x0, "abort-return");
}

/* A trapped WFI, answered as the spec says: nothing changes. */
static void wfi_unchanged(struct tb *b, bool compact)
{
	struct exit_regs r = { { 1, 2, 3, 0 }, TB_ELR };

	tb_entry(b, 0, ESR_WFI, 0, 0, 1, 2, 3);
	exit_as(b, 0, compact, &r);
}

Test(registers, another_trap_changing_nothing_conforms)
{
	both_forms(wfi_unchanged, NULL);
}

/* An hvc #1 answered as if it were a hypercall (x0 = 0). */
static void hvc_1_answered(struct tb *b, bool compact)
{
	struct exit_regs r = { { 0, 0, 0, 0 }, TB_ELR };

	tb_entry(b, 0, ESR_HVC_1, 0, 0, PKVM_HC_BASE | PKVM_HC_SHARE_HYP,
		 TB_MMIO_PFN, 0);
	exit_as(b, 0, compact, &r);
}

Test(registers, a_call_the_hyp_does_not_know_returns_minus_one)
{
	both_forms(hvc_1_answered, "trap-return");
}

/*
 * The returns only a full TRAP_EXIT can write, after an hvc entered by a
 * TRAP_ENTRY or (compact) an HCALL_ENTRY: the verdict is the same.
 */
static void hvc_entry(struct tb *b, bool compact, unsigned id, uint64_t a1,
		      uint64_t a2)
{
	b->compact = compact;
	tb_hvc(b, 0, id, a1, a2);
	b->compact = false;
}

static void full_exit(struct tb *b, uint64_t x0, uint64_t x1, uint64_t x2,
		      uint64_t x3, uint64_t inject_esr, uint64_t elr)
{
	uint64_t w[8] = { x0, x1, x2, x3, inject_esr, 0, elr, 0x3c5 };

	tb_event(b, 0, PKVM_EV_TRAP_EXIT, w, 8);
}

/* share_hyp of MMIO, refused, but with x2 changed on the way out. */
static void hvc_changes_x2(struct tb *b, bool compact)
{
	hvc_entry(b, compact, PKVM_HC_SHARE_HYP, TB_MMIO_PFN, 5);
	full_exit(b, 0, (uint64_t)-PKVM_EINVAL, 6, 0, 0, TB_ELR);
}

Test(registers, a_hypercall_leaves_x2)
{
	both_forms(hvc_changes_x2, "hcall-return");
}

/* An unknown call answered NOT_SUPPORTED, with an abort injected. */
static void hvc_injects(struct tb *b, bool compact)
{
	hvc_entry(b, compact, 0x99, 0, 0);
	full_exit(b, PKVM_SMCCC_NOT_SUPPORTED, 0, 0, 0, TB_ESR_DABT,
		  TB_VBAR + 0x200);
}

Test(registers, a_hypercall_injects_nothing_and_returns_after_the_hvc)
{
	struct tb_result full, compact;

	/*
	 * hcall-return: the spec injects nothing on a hypercall. And
	 * abort-injection (rule_inject.c): the exit claims an injection no
	 * ESR_EL1/FAR_EL1/ELR_EL1/SPSR_EL1 write shows.
	 */
	run(hvc_injects, false, &full);
	run(hvc_injects, true, &compact);
	tb_assert_same(&compact, &full);
	cr_assert_eq(full.count, 2, "%u findings", full.count);
	cr_assert_str_eq(full.checks[0], "hcall-return");
	cr_assert_str_eq(full.checks[1], "abort-injection");
}

/* A refused share returning with x3 = 5. */
static void hvc_x3(struct tb *b, bool compact)
{
	hvc_entry(b, compact, PKVM_HC_SHARE_HYP, TB_MMIO_PFN, 0);
	full_exit(b, 0, (uint64_t)-PKVM_EINVAL, 0, 5, 0, TB_ELR);
}

Test(registers, x3_is_judged_where_the_entry_recorded_it)
{
	struct tb_result full, compact;

	/* TRAP_ENTRY recorded x3 = 0: changed. HCALL_ENTRY does not record
	 * x3 (FORMAT.md 3.1): nothing to judge it against. */
	run(hvc_x3, false, &full);
	run(hvc_x3, true, &compact);
	cr_assert(tb_only(&full, "hcall-return", 1), "%u findings", full.count);
	cr_assert_eq(compact.exit, CK_EXIT_OK, "%u findings, first %s",
		     compact.count, compact.count ? compact.checks[0] : "");
}
