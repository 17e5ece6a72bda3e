// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 profile on hand-built traces (checker/README.md
 * "Profiles"): traces shaped like pKVM 6.12's (format/LINUX-6.12.md:
 * locks named by address and lock_info, roots announced by TTBR0_EL2 and
 * VTTBR_EL2 after __pkvm_init built the tables, a concatenated host
 * stage-2 root, LINUX-6.12.md 10's TLB maintenance) conform to the rules
 * the profile judges, each broken variant is one finding of its rule, and
 * a clean whole run is inconclusive, never conforming: only share and
 * unshare (ids 9 and 10, LINUX-6.12.md 6.1-6.2) of the hypercall
 * specification are judged yet, each on its own answer and effect.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi_linux612.h>

#include "builder.h"
#include "linux_tb.h"

static uint64_t *lk_ticket(struct lk *t, uint64_t raw)
{
	for (unsigned i = 0; i < t->nlocks; i++)
		if (t->lock[i] == raw)
			return &t->ticket[i];
	cr_assert(t->nlocks < 128);
	t->lock[t->nlocks] = raw;
	t->ticket[t->nlocks] = 0;
	return &t->ticket[t->nlocks++];
}

void lk_lock(struct lk *t, unsigned cpu, uint64_t raw)
{
	uint64_t w[2] = { raw, *lk_ticket(t, raw) };

	tb_event(&t->b, cpu, PKVM_EV_LOCK_ACQUIRE, w, 2);
}

void lk_unlock(struct lk *t, unsigned cpu, uint64_t raw)
{
	uint64_t *ticket = lk_ticket(t, raw);
	uint64_t w[2] = { raw, (*ticket)++ };

	tb_event(&t->b, cpu, PKVM_EV_LOCK_RELEASE, w, 2);
}

static void lk_info(struct lk *t, uint64_t raw, unsigned role, unsigned arg)
{
	uint64_t w[2] = { raw, role | (uint64_t)arg << 16 };

	tb_event(&t->b, 0, PKVM_EV_LOCK_INFO, w, 2);
}

/* One descriptor store, with a release (pte_write flag bit 3) or plain. */
void lk_store_as(struct lk *t, unsigned cpu, uint64_t pa, uint64_t v,
		 bool release)
{
	tb_pte(&t->b, cpu, pa, v);
	if (release)
		t->b.recs[cpu][t->b.count[cpu] - 1].flags |=
			PKVM_REC_F_PTE_RELEASE;
}

/* The descriptor last stored at `pa` (0 if none). */
static uint64_t lk_old(const struct lk *t, uint64_t pa)
{
	for (unsigned i = 0; i < t->b.pte_count; i++)
		if (t->b.pte_pa[i] == pa)
			return t->b.pte_val[i];
	return 0;
}

/*
 * A store as 6.12 makes it (LINUX-6.12.md 10.5): a release for the make
 * after a break (over 0x400) and for a valid entry over 0 or in the hyp
 * stage-1 (the map walker); plain for a break, a clear, and a stage-2
 * leaf changed in place.
 */
void lk_store(struct lk *t, unsigned cpu, uint64_t pa, uint64_t v)
{
	uint64_t old = lk_old(t, pa), page = pa & ~0xfffull;
	bool s1 = page >= LK_S1_L0 && page <= LK_S1_L3;

	lk_store_as(t, cpu, pa, v,
		    old == 0x400 || ((v & 1) && (old == 0 || s1)));
}

/* Descriptor PAs of the L3 leaves of a page, each side. */
uint64_t lk_s1_leaf(uint64_t pa)
{
	return LK_S1_L3 + (((pa + LK_OFF) >> 12) & 511) * 8;
}

uint64_t lk_s2_leaf(uint64_t pa)
{
	return LK_S2_L3 + ((pa >> 12) & 511) * 8;
}

uint64_t lk_s1_page(uint64_t pa, unsigned state)
{
	return pa | 0x403ull | 1ull << 54 | (uint64_t)state << 55;
}

uint64_t lk_s2_page(uint64_t pa, unsigned state)
{
	return pa | 0x7ffull | (uint64_t)state << 55;
}

/* A host hypercall's entry (id of LINUX-6.12.md 6) and its exit. */
void lk_hvc(struct lk *t, unsigned cpu, unsigned id, uint64_t a1)
{
	tb_entry(&t->b, cpu, TB_ESR_HVC, 0, 0, PKVM_HC_BASE | id, a1, 0);
}

/*
 * BOOT, the locks named, __pkvm_init building both tables on cpu0 without
 * locks (LINUX-6.12.md 4, exception (a)), TTBR0_EL2 announcing the hyp
 * stage-1 in the middle, then every CPU's __pkvm_prot_finalize announcing
 * the host stage-2 (VTCR_EL2, VTTBR_EL2 with VMID 0).
 */
void lk_boot(struct lk *t, unsigned ncpu)
{
	struct tb *b = &t->b;
	uint64_t boot[14] = { 1 | (uint64_t)ncpu << 32,
			      62500000,
			      TB_RAM_BASE,
			      TB_RAM_SIZE,
			      TB_HYP_START,
			      TB_HYP_END,
			      TB_POOL_START,
			      TB_POOL_END,
			      0,
			      0,
			      0,
			      LK_TCR,
			      LK_OFF,
			      0 };
	uint64_t va = LK_HYP_PAGE + LK_OFF;

	memset(t, 0, sizeof(*t));
	tb_init(b, ncpu);
	b->abi = 1;
	b->system = PKVM_SYSTEM_LINUX612;
	tb_event(b, 0, PKVM_EV_BOOT, boot, 14);
	lk_info(t, LK_PGD, PKVM_LOCK_ROLE_HYP_S1, 0);
	lk_info(t, LK_VMT, PKVM_LOCK_ROLE_VM_TABLE, 0);
	lk_hvc(t, 0, PKVM_L612_HC_PKVM_INIT, 0);
	/* The hyp stage-1, from its pool, before TTBR0_EL2 names it. */
	tb_nondet(b, 0, PKVM_NONDET_ALLOC_PAGE, LK_S1_L0, 0, PKVM_COMP_HYP_S1);
	lk_store(t, 0, LK_S1_L0 + ((va >> 39) & 511) * 8, LK_S1_L1 | 3);
	lk_store(t, 0, LK_S1_L1 + ((va >> 30) & 511) * 8, LK_S1_L2 | 3);
	lk_store(t, 0, LK_S1_L2 + ((va >> 21) & 511) * 8, LK_S1_L3 | 3);
	lk_store(t, 0, lk_s1_leaf(LK_HYP_PAGE), lk_s1_page(LK_HYP_PAGE, 0));
	tb_sysreg(b, 0, PKVM_SYSREG_TTBR0_EL2, LK_S1_L0);
	/* The host stage-2 (its lock named as it is initialised), with the
	 * hyp's page annotated, before VTTBR_EL2 names it. */
	lk_info(t, LK_HOST, PKVM_LOCK_ROLE_HOST_S2, 0);
	lk_info(t, LK_HPOOL, PKVM_LOCK_ROLE_POOL, PKVM_COMP_HOST_S2);
	lk_store(t, 0, LK_S2_ROOT + 1 * 8, LK_S2_L2 | 3);
	lk_store(t, 0, LK_S2_L2 + ((LK_HYP_PAGE >> 21) & 511) * 8,
		 LK_S2_L3 | 3);
	lk_store(t, 0, lk_s2_leaf(LK_HYP_PAGE), 0x4);
	tb_exit(b, 0, 0, 0);
	for (unsigned c = 0; c < ncpu; c++) {
		lk_hvc(t, c, PKVM_L612_HC_PKVM_PROT_FINALIZE, 0);
		tb_sysreg(b, c, PKVM_SYSREG_VTCR_EL2, LK_VTCR);
		tb_sysreg(b, c, PKVM_SYSREG_VTTBR_EL2, LK_S2_ROOT);
		tb_exit(b, c, 0, 0);
	}
}

/* The hyp stage-1 unmap of LINUX-6.12.md 10.2, unless `no_tlbi`. */
static void lk_s1_unmap(struct lk *t, unsigned cpu, uint64_t pa, bool no_tlbi)
{
	lk_store(t, cpu, lk_s1_leaf(pa), 0);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
	if (!no_tlbi)
		tb_tlbi(&t->b, cpu, PKVM_TLBI_VALE2IS, (pa + LK_OFF) >> 12, 0);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISH);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_ISB);
}

/* share then unshare LK_PAGE with the hyp, as 6.12's ids 9 and 10 do. */
void lk_share_unshare(struct lk *t, unsigned cpu, bool no_tlbi,
		      bool pgd_unlocked)
{
	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_HOST_SHARE_HYP, LK_PAGE >> 12);
	lk_lock(t, cpu, LK_HOST);
	lk_store(t, cpu, LK_S2_ROOT + 1 * 8, LK_S2_L2 | 3); /* the same */
	lk_store(t, cpu, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 1));
	if (!pgd_unlocked)
		lk_lock(t, cpu, LK_PGD);
	lk_store(t, cpu, lk_s1_leaf(LK_PAGE), lk_s1_page(LK_PAGE, 2));
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_ISB);
	if (!pgd_unlocked)
		lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, 0, 0);

	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP, LK_PAGE >> 12);
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	lk_store(t, cpu, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 0));
	lk_s1_unmap(t, cpu, LK_PAGE, no_tlbi);
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, 0, 0);
}

/*
 * A host stage-2 leaf moved to another page: with the break of
 * LINUX-6.12.md 10.1 (LOCKED, __kvm_tlb_flush_vmid_ipa, the make as a
 * release), or (`no_break`) stored over the valid one.
 */
void lk_s2_remap(struct lk *t, unsigned cpu, bool no_break)
{
	uint64_t leaf = lk_s2_leaf(LK_PAGE);

	/* (under an id whose spec is not judged yet: __pkvm_init_vm) */
	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_INIT_VM, LK_PAGE >> 12);
	lk_lock(t, cpu, LK_HOST);
	lk_store(t, cpu, leaf, lk_s2_page(LK_PAGE, 0));
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
	if (!no_break) {
		lk_store(t, cpu, leaf, 0x400); /* KVM_INVALID_PTE_LOCKED */
		tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISH);
		tb_tlbi(&t->b, cpu, PKVM_TLBI_IPAS2E1IS, LK_PAGE >> 12, 0);
		tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISH);
		tb_tlbi(&t->b, cpu, PKVM_TLBI_VMALLE1IS, 0, 0);
		tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISH);
		tb_barrier(&t->b, cpu, PKVM_BARRIER_ISB);
	}
	lk_store(t, cpu, leaf, lk_s2_page(LK_PAGE + 0x1000, 0));
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, 0, 0);
}

void lk_check(struct lk *t, struct tb_result *r)
{
	tb_check(&t->b, r);
	tb_free(&t->b);
}

void lk_expect(const struct tb_result *r, int exit, const char *check,
	       unsigned n)
{
	cr_assert_eq(r->exit, exit, "exit %d (%u findings, first %s; %s)",
		     r->exit, r->count, r->count ? r->checks[0] : "-",
		     r->sum.first_inconclusive);
	cr_assert(tb_only(r, check, n), "%u findings, first %s", r->count,
		  r->count ? r->checks[0] : "-");
}

/*
 * `check` and `inv`, once each in either order: a broken call whose change
 * also breaks a page invariant (rule_l612_inv.c judges it when the locks
 * are let go, before the spec judges the call at its exit).
 */
static void lk_expect_with_inv(const struct tb_result *r, const char *check,
			       const char *inv)
{
	cr_assert_eq(r->exit, CK_EXIT_FINDINGS);
	cr_assert(r->count == 2 && ((strcmp(r->checks[0], check) == 0 &&
				     strcmp(r->checks[1], inv) == 0) ||
				    (strcmp(r->checks[0], inv) == 0 &&
				     strcmp(r->checks[1], check) == 0)),
		  "%u findings: %s, %s", r->count, r->checks[0],
		  r->count > 1 ? r->checks[1] : "-");
}

/* What a clean linux-6.12 run says: inconclusive, and why. */
void lk_expect_unjudged(const struct tb_result *r)
{
	lk_expect(r, CK_EXIT_INCONCLUSIVE, "", 0);
	cr_assert_eq(r->sum.inconclusive, 0, "%s", r->sum.first_inconclusive);
	cr_assert(r->sum.unjudged &&
		  strstr(r->sum.unjudged, "no linux-6.12 specification of "
					  "them in this checker yet"));
	/* The hypercalls but 9 and 10, the pins, each other check of our
	 * hyp's spec; not the rules the profile judges. */
	cr_assert(strstr(r->sum.not_judged,
			 "hcall-return, missing-mapping, "
			 "bad-mapping (ids other than 9 and 10: no linux-6.12 "
			 "specification of them in this "
			 "checker yet)"),
		  "%s", r->sum.not_judged);
	cr_assert(
		strstr(r->sum.not_judged, "pin-violation (the pins' invariant"),
		"%s", r->sum.not_judged);
	cr_assert(strstr(r->sum.not_judged,
			 "(no linux-6.12 specification in this checker yet)"),
		  "%s", r->sum.not_judged);
	cr_assert(!strstr(r->sum.not_judged, "tlbi-after-unmap"));
	cr_assert(!strstr(r->sum.not_judged, "lock-order"));
}

Test(linux612, a_clean_run_is_inconclusive_never_conforming)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 2);
	lk_share_unshare(&t, 1, false, false);
	lk_s2_remap(&t, 0, false);
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
	lk_expect(&r, CK_EXIT_FINDINGS, "break-before-make", 1);
}

Test(linux612, host_s2_after_pkvm_pgd_lock_is_lock_order)
{
	struct lk t, good;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_PKVM_INIT_VM, LK_PAGE >> 12);
	lk_lock(&t, 0, LK_PGD);
	lk_lock(&t, 0, LK_HOST);
	lk_unlock(&t, 0, LK_HOST);
	lk_unlock(&t, 0, LK_PGD);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "lock-order", 1);

	/* vm_table -> host_s2 -> hyp_s1 -> the host stage-2 pool: in order */
	lk_boot(&good, 1);
	lk_hvc(&good, 0, PKVM_L612_HC_PKVM_INIT_VM, 0);
	lk_lock(&good, 0, LK_VMT);
	lk_lock(&good, 0, LK_HOST);
	lk_lock(&good, 0, LK_PGD);
	lk_lock(&good, 0, LK_HPOOL);
	lk_unlock(&good, 0, LK_HPOOL);
	lk_unlock(&good, 0, LK_PGD);
	lk_unlock(&good, 0, LK_HOST);
	lk_unlock(&good, 0, LK_VMT);
	tb_exit(&good.b, 0, 0, 0);
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

		lk_hvc(t, cpu, PKVM_L612_HC_PKVM_INIT_VM, i);
		lk_lock(t, cpu, LK_VMT);
		lk_info(t, LK_VM(i), PKVM_LOCK_ROLE_VM, i);
		lk_lock(t, cpu, LK_VM(i));
		lk_unlock(t, cpu, LK_VM(i));
		lk_unlock(t, cpu, LK_VMT);
		tb_exit(&t->b, cpu, 0, 0);
	}
	for (unsigned i = 0; i < LK_VMS; i++) {
		unsigned cpu = (i + 1) & 1;

		lk_hvc(t, cpu, PKVM_L612_HC_KVM_VCPU_RUN, i);
		lk_lock(t, cpu, LK_VM(i));
		lk_unlock(t, cpu, LK_VM(i));
		tb_exit(&t->b, cpu, 0, 0);
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
	lk_hvc(&t, 0, PKVM_L612_HC_PKVM_INIT_VM, LK_PAGE >> 12);
	lk_lock(&t, 0, LK_HOST);
	/* The second page of the concatenated root is a table ... */
	lk_store(&t, 0, LK_S2_ROOT + 0x1000 + 8, 0);
	/* ... a page of RAM no table links is not. */
	lk_store(&t, 0, LK_PAGE + 8, 0);
	lk_unlock(&t, 0, LK_HOST);
	tb_exit(&t.b, 0, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "pte-write-not-table", 1);
}

/* ---- share and unshare against LINUX-6.12.md 6.1-6.2 ----------------- */

/* How a hand-built share or unshare of `pa` goes wrong, if it does. */
enum lk_call {
	LK_RIGHT,      /* as 6.12 does it */
	LK_REFUSE,     /* no store, the error `ret` */
	LK_NO_MAP,     /* share: returns 0, maps nothing */
	LK_MAP_ANYWAY, /* share: maps it and returns 0 whatever the state */
	LK_MAP_TWO,    /* share: also shares the page after it (host side) */
};

static void lk_share(struct lk *t, unsigned cpu, uint64_t pa, enum lk_call how,
		     int64_t ret)
{
	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_HOST_SHARE_HYP, pa >> 12);
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	if (how == LK_RIGHT || how == LK_MAP_ANYWAY || how == LK_MAP_TWO) {
		lk_store(t, cpu, lk_s2_leaf(pa), lk_s2_page(pa, 1));
		if (how == LK_MAP_TWO)
			lk_store(t, cpu, lk_s2_leaf(pa + 0x1000),
				 lk_s2_page(pa + 0x1000, 1));
		tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
		lk_store(t, cpu, lk_s1_leaf(pa), lk_s1_page(pa, 2));
		tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
		tb_barrier(&t->b, cpu, PKVM_BARRIER_ISB);
	}
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, 0, how == LK_REFUSE ? (uint64_t)ret : 0);
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
	cr_assert_eq(r.sum.traps_checked, 2);
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
	cr_assert_eq(r.sum.traps_checked, 2);

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
	cr_assert_eq(r.sum.traps_checked, 2);

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

/* A successful unshare of LK_PAGE, as 6.12 does it. */
static void lk_unshare(struct lk *t, unsigned cpu, uint64_t ret)
{
	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP, LK_PAGE >> 12);
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	lk_store(t, cpu, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 0));
	lk_s1_unmap(t, cpu, LK_PAGE, false);
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, 0, ret);
}

/*
 * BOOT_LINUX (kern_hyp_va the identity: a kernel pointer is its hyp VA,
 * sizeof(struct kvm) 0x800), LK_PAGE shared, and __pkvm_init_vm on a
 * struct kvm in it, answering handle 0x1000 (its donations left out: the
 * spec of id 23 is not judged yet).
 */
static void lk_pinned(struct lk *t, unsigned ncpu)
{
	uint64_t bl[10] = { ~0ull, 0, 48,
			    0,	   0, 0x800 | 0x1000ull << 32,
			    0,	   0, 255 | 0x1000ull << 32,
			    0 };
	uint64_t x[3] = { LK_PAGE + LK_OFF + 0x100, 0, 0 };

	lk_boot(t, ncpu);
	tb_event(&t->b, 0, PKVM_EV_BOOT_LINUX, bl, 10);
	lk_share(t, 0, LK_PAGE, LK_RIGHT, 0);
	tb_entry(&t->b, 0, TB_ESR_HVC, 0, 0,
		 PKVM_HC_BASE | PKVM_L612_HC_PKVM_INIT_VM, x[0], 0);
	tb_exit(&t->b, 0, 0, 0x1000);
}

Test(linux612, unshare_of_a_page_init_vm_pinned_must_be_ebusy)
{
	struct lk t;
	struct tb_result r;

	/* pinned: -EBUSY; after the VM's teardown: unshared */
	lk_pinned(&t, 1);
	lk_unshare_refused(&t, 0, LK_PAGE, -16);
	lk_hvc(&t, 0, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1000);
	tb_exit(&t.b, 0, 0, 0);
	lk_unshare(&t, 0, 0);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	cr_assert_eq(r.sum.traps_checked, 3);

	/* the pin ignored: unshared while pinned */
	lk_pinned(&t, 1);
	lk_unshare(&t, 0, 0);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);

	/* -EBUSY for a page nothing pins any more */
	lk_pinned(&t, 1);
	lk_hvc(&t, 0, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1000);
	tb_exit(&t.b, 0, 0, 0);
	lk_unshare_refused(&t, 0, LK_PAGE, -16);
	lk_check(&t, &r);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);

	/* a teardown in flight on another CPU: either answer */
	lk_pinned(&t, 2);
	lk_hvc(&t, 1, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1000);
	lk_unshare(&t, 0, 0);
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
	tb_exit(&t->b, cpu, 0, 0);
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
	tb_exit(&t.b, 1, 0, 0);
	lk_check(&t, &r);
	/* one finding per call, at its first store */
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
	cr_assert(
		strstr(r.sum.not_judged, "hcall-effect (ids 2, 3, 8 and 23-25"),
		"%s", r.sum.not_judged);
}
