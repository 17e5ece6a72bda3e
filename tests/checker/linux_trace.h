/* SPDX-License-Identifier: MIT */
/*
 * Hand-built linux-6.12 traces for the tests of the linux-6.12 profile
 * (test_linux.c, test_linux_vm.c): BOOT and __pkvm_init shaped like pKVM
 * 6.12's (format/LINUX-6.12.md), locks named by address and lock_info,
 * share, the VM calls' donations and givings back, and the verdicts a
 * clean run gives.
 */
#ifndef PKVM_TESTS_CHECKER_LINUX_TRACE_H
#define PKVM_TESTS_CHECKER_LINUX_TRACE_H

#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi_linux612.h>

#include "builder.h"

/* The machine: 16 MiB of RAM at 0x40000000 (builder.h). */
#define LK_OFF 0x7f0000000000ull /* hyp VA = PA + LK_OFF (48-bit VA) */
#define LK_TCR 16ull		 /* TCR_EL2.T0SZ 16: 48 bits, level 0 */
/* VTCR_EL2: T0SZ 24 (40-bit IPA), SL0 1 (level 1): 2 concatenated pages */
#define LK_VTCR (24ull | 1ull << 6)
/* HCR_EL2 as __pkvm_prot_finalize writes it: VM (bit 0) set */
#define LK_HCR 0x180080001ull
/* Hyp stage-1 tables (levels 0-3) and host stage-2 (root 2 pages, L2, L3) */
#define LK_S1_L0 0x40300000ull
#define LK_S1_L1 0x40301000ull
#define LK_S1_L2 0x40302000ull
#define LK_S1_L3 0x40303000ull
#define LK_S2_ROOT 0x40310000ull
#define LK_S2_L2 0x40312000ull
#define LK_S2_L3 0x40313000ull
/* Locks: PAs of their words, generation 0 (static). */
#define LK_HOST 0x40100000ull
#define LK_PGD 0x40100010ull
#define LK_VMT 0x40100020ull
#define LK_HPOOL 0x40100030ull
#define LK_VM(i) (0x40180000ull + 0x100ull * (i) + (1ull << 48))
/* More VMs than the replay has lock slots (31) and than its first lock
 * tables hold (64 and 128 entries: they grow while slots are reused). */
#define LK_VMS 100u
/* The page the scenarios share, in the 2 MiB of the hyp page of boot. */
#define LK_PAGE (0x40000000ull + 0x280000ull)
#define LK_HYP_PAGE (0x40000000ull + 0x200000ull)
/* Id 3 after finalisation, which the hyp refuses (x0 = -1, x1 kept:
 * LK_REFUSED): a call for scenarios about the lock and architecture rules
 * alone. A store inside one is also one hcall-effect (LINUX-6.12.md 6: a
 * call not dispatched has no effect), which lk_expect_in_refused counts. */
#define LK_UNJUDGED PKVM_L612_HC_PKVM_CREATE_PRIVATE_MAPPING
#define LK_REFUSED (~0ull)

struct lk {
	struct tb b;
	uint64_t lock[128], ticket[128];
	unsigned nlocks;
};

static inline uint64_t *lk_ticket(struct lk *t, uint64_t raw)
{
	for (unsigned i = 0; i < t->nlocks; i++)
		if (t->lock[i] == raw)
			return &t->ticket[i];
	cr_assert(t->nlocks < 128);
	t->lock[t->nlocks] = raw;
	t->ticket[t->nlocks] = 0;
	return &t->ticket[t->nlocks++];
}

static inline void lk_lock(struct lk *t, unsigned cpu, uint64_t raw)
{
	uint64_t w[2] = { raw, *lk_ticket(t, raw) };

	tb_event(&t->b, cpu, PKVM_EV_LOCK_ACQUIRE, w, 2);
}

static inline void lk_unlock(struct lk *t, unsigned cpu, uint64_t raw)
{
	uint64_t *ticket = lk_ticket(t, raw);
	uint64_t w[2] = { raw, (*ticket)++ };

	tb_event(&t->b, cpu, PKVM_EV_LOCK_RELEASE, w, 2);
}

static inline void lk_info(struct lk *t, uint64_t raw, unsigned role,
			   unsigned arg)
{
	uint64_t w[2] = { raw, role | (uint64_t)arg << 16 };

	tb_event(&t->b, 0, PKVM_EV_LOCK_INFO, w, 2);
}

/* One descriptor store, with a release (pte_write flag bit 3) or plain. */
static inline void lk_store_as(struct lk *t, unsigned cpu, uint64_t pa,
			       uint64_t v, bool release)
{
	tb_pte(&t->b, cpu, pa, v);
	if (release)
		t->b.recs[cpu][t->b.count[cpu] - 1].flags |=
			PKVM_REC_F_PTE_RELEASE;
}

/* The descriptor last stored at `pa` (0 if none). */
static inline uint64_t lk_old(const struct lk *t, uint64_t pa)
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
static inline void lk_store(struct lk *t, unsigned cpu, uint64_t pa, uint64_t v)
{
	uint64_t old = lk_old(t, pa), page = pa & ~0xfffull;
	bool s1 = page >= LK_S1_L0 && page <= LK_S1_L3;

	lk_store_as(t, cpu, pa, v,
		    old == 0x400 || ((v & 1) && (old == 0 || s1)));
}

/* Descriptor PAs of the L3 leaves of a page, each side. */
static inline uint64_t lk_s1_leaf(uint64_t pa)
{
	return LK_S1_L3 + (((pa + LK_OFF) >> 12) & 511) * 8;
}

static inline uint64_t lk_s2_leaf(uint64_t pa)
{
	return LK_S2_L3 + ((pa >> 12) & 511) * 8;
}

static inline uint64_t lk_s1_page(uint64_t pa, unsigned state)
{
	return pa | 0x403ull | 1ull << 54 | (uint64_t)state << 55;
}

static inline uint64_t lk_s2_page(uint64_t pa, unsigned state)
{
	return pa | 0x7ffull | (uint64_t)state << 55;
}

/* A host hypercall's entry (id of LINUX-6.12.md 6) and its exit. */
static inline void lk_hvc(struct lk *t, unsigned cpu, unsigned id, uint64_t a1)
{
	tb_entry(&t->b, cpu, TB_ESR_HVC, 0, 0, PKVM_HC_BASE | id, a1, 0);
}

/*
 * BOOT, the locks named, __pkvm_init building both tables on cpu0 without
 * locks (LINUX-6.12.md 4, exception (a)), TTBR0_EL2 announcing the hyp
 * stage-1 in the middle, then every CPU's __pkvm_prot_finalize announcing
 * the host stage-2 (VTCR_EL2, VTTBR_EL2 with VMID 0).
 */
static inline void lk_boot(struct lk *t, unsigned ncpu)
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
		tb_sysreg(b, c, PKVM_SYSREG_HCR_EL2, LK_HCR);
		tb_sysreg(b, c, PKVM_SYSREG_VTCR_EL2, LK_VTCR);
		tb_sysreg(b, c, PKVM_SYSREG_VTTBR_EL2, LK_S2_ROOT);
		tb_tlbi(b, c, PKVM_TLBI_VMALLS12E1, 0, 0);
		tb_barrier(b, c, PKVM_BARRIER_DSB_NSH);
		tb_barrier(b, c, PKVM_BARRIER_ISB);
		tb_exit(b, c, 0, 0);
	}
}

/* The hyp stage-1 unmap of LINUX-6.12.md 10.2, unless `no_tlbi`. */
static inline void lk_s1_unmap(struct lk *t, unsigned cpu, uint64_t pa,
			       bool no_tlbi)
{
	lk_store(t, cpu, lk_s1_leaf(pa), 0);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
	if (!no_tlbi)
		tb_tlbi(&t->b, cpu, PKVM_TLBI_VALE2IS, (pa + LK_OFF) >> 12, 0);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISH);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_ISB);
}

static inline void lk_check(struct lk *t, struct tb_result *r)
{
	tb_check(&t->b, r);
	tb_free(&t->b);
}

static inline void lk_expect(const struct tb_result *r, int exit,
			     const char *check, unsigned n)
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
static inline void lk_expect_with_inv(const struct tb_result *r,
				      const char *check, const char *inv)
{
	cr_assert_eq(r->exit, CK_EXIT_FINDINGS);
	cr_assert(r->count == 2 && ((strcmp(r->checks[0], check) == 0 &&
				     strcmp(r->checks[1], inv) == 0) ||
				    (strcmp(r->checks[0], inv) == 0 &&
				     strcmp(r->checks[1], check) == 0)),
		  "%u findings: %s, %s", r->count, r->checks[0],
		  r->count > 1 ? r->checks[1] : "-");
}

/*
 * For scenarios that store inside LK_UNJUDGED, a call the hyp refuses
 * (x0 = -1) after finalisation: LINUX-6.12.md 6 says such a call has no
 * effect, so each one that stores is one `hcall-effect` (`refused` of
 * them); besides, `check` once (none if ""). Without the rule under test
 * the count is short and this fails.
 */
static inline void lk_expect_in_refused(const struct tb_result *r,
					const char *check, unsigned refused)
{
	unsigned want = refused + (check[0] ? 1u : 0u), effects = 0, own = 0;

	cr_assert_eq(r->exit, CK_EXIT_FINDINGS, "exit %d", r->exit);
	cr_assert_eq(r->count, want, "%u findings, first %s", r->count,
		     r->count ? r->checks[0] : "-");
	for (unsigned i = 0; i < r->count; i++) {
		if (strcmp(r->checks[i], "hcall-effect") == 0 &&
		    effects < refused)
			effects++;
		else if (check[0] && strcmp(r->checks[i], check) == 0)
			own++;
	}
	cr_assert(effects == refused && own == (check[0] ? 1u : 0u),
		  "%u hcall-effect, %u %s", effects, own, check);
}

/* The not-judged line lists `check` (at the start or after ", ", and
 * followed by ", " or " ("), not only names it in another's reason. */
static inline bool lk_lists(const char *line, const char *check)
{
	size_t n = strlen(check);

	for (const char *p = strstr(line, check); p; p = strstr(p + 1, check)) {
		bool start = p == line ||
			     (p >= line + 2 && p[-2] == ',' && p[-1] == ' ');

		if (start && (strncmp(p + n, ", ", 2) == 0 ||
			      strncmp(p + n, " (", 2) == 0 || p[n] == 0))
			return true;
	}
	return false;
}

/*
 * What a clean hand-built linux-6.12 run says: the profile judges every
 * promise of LINUX-6.12.md (no unjudged reason), but these traces have no
 * `region` records, so their boot state is not judged: one inconclusive
 * note, exit 4 (a run whose boot state was not judged is not judged
 * whole). test_linux_boot.c's traces, with regions, conform (exit 0).
 */
#define LK_NO_REGIONS                                                          \
	"boot state (boot-state, hyp-s1-attributes) not judged: the trace "    \
	"has no usable region records"

static inline void lk_expect_unjudged(const struct tb_result *r)
{
	lk_expect(r, CK_EXIT_INCONCLUSIVE, "", 0);
	cr_assert_eq(r->sum.inconclusive, 1, "%s", r->sum.first_inconclusive);
	cr_assert(strstr(r->sum.first_inconclusive, LK_NO_REGIONS), "%s",
		  r->sum.first_inconclusive);
	cr_assert(r->sum.unjudged == NULL, "%s", r->sum.unjudged);
	/* only what 6.12 does not promise is listed */
	cr_assert(!strstr(r->sum.not_judged, "no linux-6.12 specification"),
		  "%s", r->sum.not_judged);
	cr_assert(!lk_lists(r->sum.not_judged, "hcall-return"));
	cr_assert(!lk_lists(r->sum.not_judged, "hcall-effect"));
	cr_assert(!lk_lists(r->sum.not_judged, "boot-state"));
	cr_assert(strstr(r->sum.not_judged,
			 "missing-mapping, bad-mapping (ids other than 9, 10 "
			 "and 23-25: not a 6.12 promise: LINUX-6.12.md 6.7"),
		  "%s", r->sum.not_judged);
	/* judged now: not listed (they may be named in another's reason) */
	cr_assert(!lk_lists(r->sum.not_judged, "pin-violation"));
	cr_assert(!lk_lists(r->sum.not_judged, "host-read-twice"));
	cr_assert(!lk_lists(r->sum.not_judged, "trap-effect"));
	cr_assert(!lk_lists(r->sum.not_judged, "smc-return"));
	cr_assert(!lk_lists(r->sum.not_judged, "trap-return"));
	cr_assert(!lk_lists(r->sum.not_judged, "hyp-panic"));
	cr_assert(!strstr(r->sum.not_judged, "tlbi-after-unmap"));
	cr_assert(!strstr(r->sum.not_judged, "lock-order"));
}

/* A successful unshare of LK_PAGE, as 6.12 does it (without its TLB
 * invalidation if `no_tlbi`). */
static inline void lk_unshare(struct lk *t, unsigned cpu, bool no_tlbi)
{
	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP, LK_PAGE >> 12);
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	lk_store(t, cpu, lk_s2_leaf(LK_PAGE), lk_s2_page(LK_PAGE, 0));
	lk_s1_unmap(t, cpu, LK_PAGE, no_tlbi);
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
	tb_exit(&t->b, cpu, 0, 0);
}

/* share then unshare LK_PAGE with the hyp, as 6.12's ids 9 and 10 do. */
static inline void lk_share_unshare(struct lk *t, unsigned cpu, bool no_tlbi,
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
	lk_unshare(t, cpu, no_tlbi);
}

/*
 * A host stage-2 leaf moved to another page: with the break of
 * LINUX-6.12.md 10.1 (LOCKED, __kvm_tlb_flush_vmid_ipa, the make as a
 * release), or (`no_break`) stored over the valid one.
 */
static inline void lk_s2_remap(struct lk *t, unsigned cpu, bool no_break)
{
	uint64_t leaf = lk_s2_leaf(LK_PAGE);

	/* (under an id whose spec is not judged) */
	lk_hvc(t, cpu, LK_UNJUDGED, LK_PAGE >> 12);
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
	tb_exit(&t->b, cpu, LK_REFUSED, LK_PAGE >> 12);
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

static inline void lk_share(struct lk *t, unsigned cpu, uint64_t pa,
			    enum lk_call how, int64_t ret)
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

/* ---- the VM lifecycle against LINUX-6.12.md 6.3-6.5 ------------------ */

/*
 * BOOT_LINUX: kern_hyp_va the identity (a kernel pointer is its hyp VA,
 * PA + LK_OFF), sizeof(struct kvm) and sizeof(struct kvm_vcpu) 0x800,
 * struct pkvm_hyp_vm 0x10e0 (2 pages with one vCPU), struct
 * pkvm_hyp_vcpu 0x1970 (2 pages), 255 slots from handle 0x1000. A guest
 * pgd is 2 pages: LK_VTCR's 40-bit IPA from level 1.
 */
#define LK_KPTR(pa) ((pa) + LK_OFF)
#define LK_KVM (LK_PAGE + 0x100)	   /* the host's struct kvm */
#define LK_VCPU (LK_PAGE + 0x1000 + 0x100) /* its struct kvm_vcpu */
#define LK_VMP 0x40290000ull		   /* the VM's pages (2) */
#define LK_PGDP 0x402a0000ull		   /* the pgd's (2) */
#define LK_VCPUP 0x402b0000ull		   /* a vCPU's (2) */
#define LK_VCPUP2 0x402c0000ull		   /* another vCPU's (2) */

static inline void lk_boot_linux(struct lk *t)
{
	uint64_t bl[10] = { ~0ull,
			    0,
			    48,
			    0,
			    0,
			    0x800 | 0x800ull << 32,
			    0x10e0 | 0x1970ull << 32,
			    0x1000,
			    255 | 0x1000ull << 32,
			    0 };

	tb_event(&t->b, 0, PKVM_EV_BOOT_LINUX, bl, 10);
}

/* A host HVC with three arguments (x1-x3). */
static inline void lk_call3(struct lk *t, unsigned cpu, unsigned id,
			    uint64_t x1, uint64_t x2, uint64_t x3)
{
	uint64_t w[8] = { TB_ESR_HVC,	     TB_ELR, 0,	 0,
			  PKVM_HC_BASE | id, x1,     x2, x3 };

	t->b.smc[cpu] = false;
	t->b.entry_x2[cpu] = x2;
	t->b.entry_x3[cpu] = x3;
	tb_event(&t->b, cpu, PKVM_EV_TRAP_ENTRY, w, 8);
}

/* A section of both locks that changes nothing (a pin, a refusal). */
static inline void lk_both(struct lk *t, unsigned cpu)
{
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
}

/*
 * The host-to-hyp donation of `n` pages at `pa` (6.0): annotated owner
 * hyp through a break, mapped OWNED at their linear VAs. `host_pages`:
 * how many of them lose their host side (a bug when fewer than n).
 */
static inline void lk_donate(struct lk *t, unsigned cpu, uint64_t pa,
			     unsigned n, unsigned host_pages)
{
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	for (unsigned i = 0; i < host_pages; i++) {
		lk_store(t, cpu, lk_s2_leaf(pa + i * 0x1000ull), 0x400);
		lk_store(t, cpu, lk_s2_leaf(pa + i * 0x1000ull), 0x4);
	}
	for (unsigned i = 0; i < n; i++)
		lk_store(t, cpu, lk_s1_leaf(pa + i * 0x1000ull),
			 lk_s1_page(pa + i * 0x1000ull, 0));
	tb_barrier(&t->b, cpu, PKVM_BARRIER_DSB_ISHST);
	tb_barrier(&t->b, cpu, PKVM_BARRIER_ISB);
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
}

/* The hyp-to-host donation (6.0); `keep`: the annotations stay (a bug). */
static inline void lk_give_back(struct lk *t, unsigned cpu, uint64_t pa,
				unsigned n, bool keep)
{
	lk_lock(t, cpu, LK_HOST);
	lk_lock(t, cpu, LK_PGD);
	for (unsigned i = 0; i < n; i++)
		lk_s1_unmap(t, cpu, pa + i * 0x1000ull, false);
	for (unsigned i = 0; i < n && !keep; i++) {
		lk_store(t, cpu, lk_s2_leaf(pa + i * 0x1000ull), 0x400);
		lk_store(t, cpu, lk_s2_leaf(pa + i * 0x1000ull), 0);
	}
	lk_unlock(t, cpu, LK_PGD);
	lk_unlock(t, cpu, LK_HOST);
}

/* How a hand-built VM call goes wrong, if it does. */
enum lk_vm {
	LK_VM_OK,	  /* as 6.12 does it */
	LK_VM_READ_TWICE, /* init_vm: created_vcpus read again */
	LK_VM_HOST_KEEPS, /* init_vm: the pages but the first stay the host's */
	LK_VM_KEEP_ANNOT, /* teardown: the pages stay annotated */
	LK_VM_HOST_VMID,  /* teardown: tlbi vmalls12e1is under VMID 0 */
};

/* __pkvm_init_vm of LK_KVM (shared) with `vcpus` vCPUs, `vm` donated. */
static inline void lk_init_vm(struct lk *t, unsigned cpu, uint64_t vm,
			      uint64_t vcpus, enum lk_vm how, int64_t ret)
{
	lk_call3(t, cpu, PKVM_L612_HC_PKVM_INIT_VM, LK_KPTR(LK_KVM),
		 LK_KPTR(vm), LK_KPTR(LK_PGDP));
	lk_both(t, cpu); /* the pin of struct kvm */
	tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, vcpus, LK_KVM + 0x808, 0);
	if (ret == 0) {
		lk_donate(t, cpu, vm, 2, how == LK_VM_HOST_KEEPS ? 1 : 2);
		lk_donate(t, cpu, LK_PGDP, 2, 2);
		if (how == LK_VM_READ_TWICE)
			tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, vcpus,
				  LK_KVM + 0x808, 0);
		lk_lock(t, cpu, LK_VMT);
		lk_unlock(t, cpu, LK_VMT);
	} else {
		lk_both(t, cpu); /* the VM's donation refused */
	}
	tb_exit(&t->b, cpu, 0, ret ? (uint64_t)ret : 0x1000);
}

/*
 * __pkvm_init_vcpu of `handle`, donating `pages`: accepted (0, the host
 * vCPU's index read as `idx`), or refused with `ret` under vm_table_lock
 * (the pages given back).
 */
static inline void lk_init_vcpu(struct lk *t, unsigned cpu, uint64_t handle,
				uint64_t pages, uint64_t idx, int64_t ret)
{
	lk_call3(t, cpu, PKVM_L612_HC_PKVM_INIT_VCPU, handle, LK_KPTR(LK_VCPU),
		 LK_KPTR(pages));
	lk_donate(t, cpu, pages, 2, 2);
	lk_lock(t, cpu, LK_VMT);
	if (ret == 0) {
		lk_both(t, cpu); /* the pin of the host vCPU */
		tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, idx,
			  LK_VCPU + 0x28, 0);
		tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, idx,
			  LK_VCPU + 0x24, 0);
	}
	lk_unlock(t, cpu, LK_VMT);
	if (ret)
		lk_give_back(t, cpu, pages, 2, false);
	tb_exit(&t->b, cpu, 0, (uint64_t)ret);
}

/* __pkvm_teardown_vm of the VM of lk_init_vm (slot 0: VMID 1), its
 * vCPUs' pages given back with its own; its exit left to the caller.
 * LK_VM_HOST_VMID: the VMID invalidated under the host's VTTBR_EL2. */
static inline void lk_teardown_body(struct lk *t, unsigned cpu,
				    const uint64_t *vcpus, unsigned nvcpus,
				    enum lk_vm how)
{
	lk_call3(t, cpu, PKVM_L612_HC_PKVM_TEARDOWN_VM, 0x1000, 0, 0);
	lk_lock(t, cpu, LK_VMT);
	if (how != LK_VM_HOST_VMID)
		tb_sysreg(&t->b, cpu, PKVM_SYSREG_VTTBR_EL2,
			  1ull << 48 | LK_PGDP);
	tb_tlbi(&t->b, cpu, PKVM_TLBI_VMALLS12E1IS, 0, 0);
	if (how != LK_VM_HOST_VMID)
		tb_sysreg(&t->b, cpu, PKVM_SYSREG_VTTBR_EL2, LK_S2_ROOT);
	lk_unlock(t, cpu, LK_VMT);
	lk_give_back(t, cpu, LK_PGDP, 2, how == LK_VM_KEEP_ANNOT);
	lk_both(t, cpu); /* the vCPUs unpinned */
	for (unsigned i = 0; i < nvcpus; i++)
		lk_give_back(t, cpu, vcpus[i], 2, false);
	lk_give_back(t, cpu, LK_VMP, 2, false);
	lk_both(t, cpu); /* struct kvm unpinned */
}

static inline void lk_teardown(struct lk *t, unsigned cpu,
			       const uint64_t *vcpus, unsigned nvcpus,
			       enum lk_vm how)
{
	lk_teardown_body(t, cpu, vcpus, nvcpus, how);
	tb_exit(&t->b, cpu, 0, 0);
}

/* The machine with BOOT_LINUX, struct kvm and kvm_vcpu shared. */
static inline void lk_vm_boot(struct lk *t, unsigned ncpu)
{
	lk_boot(t, ncpu);
	lk_boot_linux(t);
	lk_share(t, 0, LK_PAGE, LK_RIGHT, 0);
	lk_share(t, 0, LK_PAGE + 0x1000, LK_RIGHT, 0);
}

/* ... and __pkvm_init_vm on struct kvm, answering handle 0x1000. */
static inline void lk_pinned(struct lk *t, unsigned ncpu)
{
	lk_vm_boot(t, ncpu);
	lk_init_vm(t, 0, LK_VMP, 1, LK_VM_OK, 0);
}

/*
 * __kvm_vcpu_run's host reads (LINUX-6.12.md 6.6): vcpu->kvm (LK_KVM),
 * the VM's handle (in struct kvm) and the vCPU's index (in the vCPU).
 */
static inline void lk_run_reads(struct lk *t, unsigned cpu, uint64_t handle,
				uint64_t idx)
{
	tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, LK_KPTR(LK_KVM),
		  LK_VCPU + 0x10, 0);
	tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, handle, LK_KVM + 0x100, 0);
	tb_nondet(&t->b, cpu, PKVM_NONDET_HOST_READ, idx, LK_VCPU + 0x24, 0);
}

/*
 * __kvm_vcpu_run of LK_VCPU on `cpu` up to its guest: the reads, then the
 * lookup under vm_table_lock, which loads the vCPU if `found`.
 */
static inline void lk_run_load(struct lk *t, unsigned cpu, uint64_t handle,
			       uint64_t idx, bool found)
{
	lk_hvc(t, cpu, PKVM_L612_HC_KVM_VCPU_RUN, LK_KPTR(LK_VCPU));
	lk_run_reads(t, cpu, handle, idx);
	lk_lock(t, cpu, LK_VMT);
	if (found)
		tb_mark(&t->b, cpu, PKVM_MARK_VCPU_LOAD, handle | idx << 32);
	lk_unlock(t, cpu, LK_VMT);
}

/* ... and its end: the vCPU put (if it was loaded), x1 = `x1`. */
static inline void lk_run_put(struct lk *t, unsigned cpu, bool found,
			      uint64_t x1)
{
	if (found) {
		lk_lock(t, cpu, LK_VMT);
		tb_mark(&t->b, cpu, PKVM_MARK_VCPU_PUT, 0);
		lk_unlock(t, cpu, LK_VMT);
	}
	tb_exit(&t->b, cpu, 0, x1);
}

/* A VM (handle 0x1000) with one vCPU (index 0) of LK_VCPU. */
static inline void lk_vm_with_vcpu(struct lk *t, unsigned ncpu)
{
	lk_pinned(t, ncpu);
	lk_init_vcpu(t, 0, 0x1000, LK_VCPUP, 0, 0);
}

#endif /* PKVM_TESTS_CHECKER_LINUX_TRACE_H */
