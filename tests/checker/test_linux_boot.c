// SPDX-License-Identifier: MIT
/*
 * linux-6.12's boot (format/LINUX-6.12.md 5): __pkvm_prot_finalize
 * (rule_l612_final.c: hcall-return, hcall-effect, sysreg), ids below 8
 * not dispatched once it started (hcall-return), the TTBR0_EL2
 * of __pkvm_init, and the boot state with its hyp stage-1 attributes
 * (rule_l612_boot.c: boot-state, hyp-s1-attributes), on hand-built traces
 * with `region` records: a clean boot, and one break per check.
 */
#include <criterion/criterion.h>

#include "linux_trace.h"

/* The image and per-CPU pages, in the first 2 MiB of RAM. */
#define LB_TEXT 0x40010000ull
#define LB_RODATA 0x40011000ull
#define LB_BSS 0x40012000ull
#define LB_PERCPU(c) (0x40020000ull + 0x1000ull * (c))
#define LB_STACK(c) (0x40030000ull + 0x1000ull * (c))
#define LB_VGIC 0x40040000ull
#define LB_S1_L3B 0x40304000ull /* hyp stage-1 L3 of [0x40000000, +2M) */
#define LB_S2_L3B 0x40314000ull /* host stage-2 L3 of the same */
#define LB_HOST 0x40380000ull	/* a host page, under LK_S2_L3 */
#define LB_NOMAP 0x40150000ull	/* LB_NOMAP_MAPPED: a NOMAP page */
#define LB_RO 0x480ull		/* AF, hVHE AP RO (2) */
/* The reserved region: the table pages (the builder keeps 256 stores) */
#define LB_HYP_START TB_POOL_START
#define LB_HYP_END (TB_POOL_START + 0x40000ull)

enum lb_break {
	LB_CLEAN,
	LB_HOST_MAPPED,	     /* a host page mapped at boot */
	LB_RODATA_EXEC,	     /* rodata executable */
	LB_TTBR0_NOT_PGD,    /* TTBR0 is not the first page allocated */
	LB_FINAL_NO_TLBI,    /* finalisation without its tlbi */
	LB_FINAL_NO_HCR,     /* ... without HCR_EL2.VM */
	LB_FINAL_TWICE_ZERO, /* a second finalisation answers 0 */
	LB_FINAL_STORE,	     /* a finalisation stores a descriptor */
	LB_LOW_DISPATCHED,   /* id 1 after finalisation is dispatched */
	LB_INIT_POSITIVE,    /* __pkvm_init answers x1 = 1 */
	LB_INIT_UNEXTENDED,  /* ... -EINVAL not sign-extended */
	LB_INIT_ENOMEM,	     /* ... -ENOMEM (allowed: nothing promised) */
	LB_MMIO_HOST,	     /* the host stage-2 maps MMIO at boot */
	LB_MMIO_HYP,	     /* the hyp's linear map maps MMIO */
	LB_NOMAP_MAPPED,     /* a NOMAP page mapped for the host at boot */
	LB_ID3_DISPATCHED,   /* id 3 dispatched before finalisation */
	LB_ID3_STORE,	     /* id 3, refused, stores a descriptor */
	LB_ID26_STORE,	     /* id 26 (never dispatched) stores one */
	LB_FINAL_EARLY,	     /* cpu1's finalisation first in the source */
};

/* 1 GiB block leaves of [0, 1 GiB), all MMIO here (RAM is at 1 GiB) */
#define LB_S2_MMIO_BLOCK 0x7fdull
#define LB_S1_MMIO_BLOCK (0x401ull | 1ull << 54)

static void lb_region(struct lk *t, unsigned what, uint64_t base, uint64_t size,
		      uint64_t aux)
{
	uint64_t w[4] = { what, base, size, aux };

	tb_event(&t->b, 0, PKVM_EV_REGION, w, 4);
}

static uint64_t lb_s1(uint64_t pa)
{
	return (pa >= TB_HYP_START ? LK_S1_L3 : LB_S1_L3B) +
	       ((pa >> 12) & 511) * 8;
}

static uint64_t lb_s2(uint64_t pa)
{
	return (pa >= TB_HYP_START ? LK_S2_L3 : LB_S2_L3B) +
	       ((pa >> 12) & 511) * 8;
}

/*
 * A page the hyp owns: mapped at its linear VA (`s2` false: the hyp
 * stage-1, built before TTBR0_EL2 names it) or annotated on the host
 * (`s2`: fix_host_ownership, after the switch).
 */
static void lb_hyp_page(struct lk *t, unsigned cpu, bool s2, uint64_t pa,
			uint64_t s1)
{
	if (s2)
		lk_store(t, cpu, lb_s2(pa), 0x4);
	else
		lk_store(t, cpu, lb_s1(pa), s1);
}

/* 5.1's mappings of one side (see lb_hyp_page), broken as `brk` says. */
static void lb_pages(struct lk *t, unsigned k, unsigned ncpu, bool s2,
		     enum lb_break brk)
{
	uint64_t xn = 1ull << 54;

	/* The image, per-CPU areas, stacks (private range: only the host
	 * side here), the vGIC state and the reserved region. */
	lb_hyp_page(t, k, s2, LB_TEXT, LB_TEXT | LB_RO | 3);
	lb_hyp_page(t, k, s2, LB_RODATA,
		    LB_RODATA | LB_RO | 3 | (brk == LB_RODATA_EXEC ? 0 : xn));
	lb_hyp_page(t, k, s2, LB_BSS, lk_s1_page(LB_BSS, 0));
	for (unsigned c = 0; c < ncpu; c++) {
		lb_hyp_page(t, k, s2, LB_PERCPU(c),
			    lk_s1_page(LB_PERCPU(c), 0));
		if (s2)
			lk_store(t, k, lb_s2(LB_STACK(c)), 0x4);
	}
	if (s2)
		lk_store(t, k, lb_s2(LB_VGIC), lk_s2_page(LB_VGIC, 2));
	else
		lk_store(t, k, lb_s1(LB_VGIC),
			 LB_VGIC | LB_RO | 3 | xn | 1ull << 55);
	for (uint64_t pa = LB_HYP_START; pa < LB_HYP_END; pa += 0x1000)
		lb_hyp_page(t, k, s2, pa, lk_s1_page(pa, 0));
	if (s2 && brk == LB_HOST_MAPPED)
		lk_store(t, k, lb_s2(LB_HOST), lk_s2_page(LB_HOST, 0));
	if (s2 && brk == LB_NOMAP_MAPPED)
		lk_store(t, k, lb_s2(LB_NOMAP), lk_s2_page(LB_NOMAP, 0));
	if (s2 && brk == LB_MMIO_HOST)
		lk_store(t, k, LK_S2_ROOT, LB_S2_MMIO_BLOCK);
	if (!s2 && brk == LB_MMIO_HYP) /* VA LK_OFF + 0: L1 entry 0 */
		lk_store(t, k, LK_S1_L1, LB_S1_MMIO_BLOCK);
}

/* One finalisation on `cpu`, as LINUX-6.12.md 5.2 says (or broken). */
static void lb_finalize(struct lk *t, unsigned cpu, enum lb_break brk)
{
	struct tb *b = &t->b;

	lk_hvc(t, cpu, PKVM_L612_HC_PKVM_PROT_FINALIZE, 0);
	if (brk != LB_FINAL_NO_HCR)
		tb_sysreg(b, cpu, PKVM_SYSREG_HCR_EL2, LK_HCR);
	tb_sysreg(b, cpu, PKVM_SYSREG_VTCR_EL2, LK_VTCR);
	tb_sysreg(b, cpu, PKVM_SYSREG_VTTBR_EL2, LK_S2_ROOT);
	if (brk == LB_FINAL_STORE) {
		lk_lock(t, cpu, LK_HOST);
		lk_store(t, cpu, LK_S2_ROOT + 1 * 8, LK_S2_L2 | 3);
		lk_unlock(t, cpu, LK_HOST);
	}
	if (brk != LB_FINAL_NO_TLBI)
		tb_tlbi(b, cpu, PKVM_TLBI_VMALLS12E1, 0, 0);
	tb_barrier(b, cpu, PKVM_BARRIER_DSB_NSH);
	tb_barrier(b, cpu, PKVM_BARRIER_ISB);
	tb_exit(b, cpu, 0, 0);
}

/*
 * BOOT (hVHE), the regions on cpu0, __pkvm_init on `boot_cpu` building
 * both tables as 5.1 says, every CPU's finalisation, and a second one on
 * cpu0, refused with -EPERM (or broken as `brk` says).
 */
/* A linux-6.12 trace of `ncpu` CPUs with its BOOT (hVHE) and nothing else. */
static void lb_boot_record(struct lk *t, unsigned ncpu)
{
	uint64_t boot[14] = { 1 | (uint64_t)ncpu << 32,
			      62500000,
			      TB_RAM_BASE,
			      TB_RAM_SIZE,
			      LB_HYP_START,
			      LB_HYP_END,
			      TB_POOL_START,
			      TB_POOL_END,
			      0,
			      0,
			      0,
			      LK_TCR,
			      LK_OFF,
			      PKVM_L612_BOOT_HVHE };

	memset(t, 0, sizeof(*t));
	tb_init(&t->b, ncpu);
	t->b.abi = 1;
	t->b.system = PKVM_SYSTEM_LINUX612;
	tb_event(&t->b, 0, PKVM_EV_BOOT, boot, 14);
}

static void lb_boot(struct lk *t, unsigned ncpu, unsigned boot_cpu,
		    enum lb_break brk)
{
	struct tb *b = &t->b;
	uint64_t va = TB_RAM_BASE + LK_OFF;
	unsigned k = boot_cpu;

	lb_boot_record(t, ncpu);
	if (brk == LB_NOMAP_MAPPED) { /* LB_NOMAP's page is NOMAP */
		lb_region(t, PKVM_REGION_RAM, TB_RAM_BASE,
			  LB_NOMAP - TB_RAM_BASE, 0);
		lb_region(t, PKVM_REGION_RAM, LB_NOMAP, 0x1000, 1);
		lb_region(t, PKVM_REGION_RAM, LB_NOMAP + 0x1000,
			  TB_RAM_BASE + TB_RAM_SIZE - LB_NOMAP - 0x1000, 0);
	} else {
		lb_region(t, PKVM_REGION_RAM, TB_RAM_BASE, TB_RAM_SIZE, 0);
	}
	lb_region(t, PKVM_REGION_HYP_TEXT, LB_TEXT + 0x10, 0xff0, 0);
	lb_region(t, PKVM_REGION_HYP_RODATA, LB_RODATA, 0x1000, 0);
	lb_region(t, PKVM_REGION_HYP_BSS, LB_BSS, 0x800, 0);
	for (unsigned c = 0; c < ncpu; c++) {
		lb_region(t, PKVM_REGION_HYP_PERCPU, LB_PERCPU(c), 0x1000, c);
		lb_region(t, PKVM_REGION_HYP_STACK, LB_STACK(c), 0x1000, c);
	}
	lb_region(t, PKVM_REGION_HYP_S1_POOL, TB_POOL_START, 0x100000, 0);
	lb_region(t, PKVM_REGION_VGIC_GLOBAL_STATE, LB_VGIC + 0x130, 0x58, 0);
	lk_info(t, LK_PGD, PKVM_LOCK_ROLE_HYP_S1, 0);
	lk_info(t, LK_VMT, PKVM_LOCK_ROLE_VM_TABLE, 0);
	lk_hvc(t, k, PKVM_L612_HC_PKVM_INIT, 0);
	if (brk == LB_TTBR0_NOT_PGD)
		tb_nondet(b, k, PKVM_NONDET_ALLOC_PAGE, LB_S1_L3B + 0x1000, 0,
			  PKVM_COMP_HYP_S1);
	tb_nondet(b, k, PKVM_NONDET_ALLOC_PAGE, LK_S1_L0, 0, PKVM_COMP_HYP_S1);
	lk_store(t, k, LK_S1_L0 + ((va >> 39) & 511) * 8, LK_S1_L1 | 3);
	lk_store(t, k, LK_S1_L1 + ((va >> 30) & 511) * 8, LK_S1_L2 | 3);
	lk_store(t, k, LK_S1_L2 + 0 * 8, LB_S1_L3B | 3);
	lk_store(t, k, LK_S1_L2 + 1 * 8, LK_S1_L3 | 3);
	lb_pages(t, k, ncpu, false, brk);
	tb_sysreg(b, k, PKVM_SYSREG_TTBR0_EL2, LK_S1_L0);
	lk_info(t, LK_HOST, PKVM_LOCK_ROLE_HOST_S2, 0);
	lk_info(t, LK_HPOOL, PKVM_LOCK_ROLE_POOL, PKVM_COMP_HOST_S2);
	tb_nondet(b, k, PKVM_NONDET_ALLOC_PAGE, LK_S2_ROOT, 0,
		  PKVM_COMP_HOST_S2);
	lk_store(t, k, LK_S2_ROOT + 1 * 8, LK_S2_L2 | 3);
	lk_store(t, k, LK_S2_L2 + 0 * 8, LB_S2_L3B | 3);
	lk_store(t, k, LK_S2_L2 + 1 * 8, LK_S2_L3 | 3);
	lb_pages(t, k, ncpu, true, brk);
	tb_exit(b, k, 0,
		brk == LB_INIT_POSITIVE	    ? 1
		: brk == LB_INIT_UNEXTENDED ? 0xffffffeaull
		: brk == LB_INIT_ENOMEM	    ? (uint64_t)-12
					    : 0);
	/* before finalisation, __kvm_get_mdcr_el2 is dispatched (or
	 * __pkvm_create_private_mapping, answering a hyp VA) */
	if (brk == LB_ID3_DISPATCHED) {
		lk_hvc(t, 0, PKVM_L612_HC_PKVM_CREATE_PRIVATE_MAPPING, LB_HOST);
		tb_exit(b, 0, 0, 0xffff800000001000ull);
	} else if (brk != LB_FINAL_EARLY) {
		/* (LB_FINAL_EARLY: cpu1's finalisation is older in counter
		 * time, after which ids 1-7 are refused: l612-final.) */
		lk_hvc(t, 0, PKVM_L612_HC_KVM_GET_MDCR_EL2, 0);
		tb_exit(b, 0, 0, 6);
	}
	for (unsigned c = 0; c < ncpu; c++) {
		uint64_t ts = b->ts;

		/* (Timestamps order CPUs at one source position: cpu1's
		 * finalisation as if its page came before cpu0's BOOT's.) */
		if (brk == LB_FINAL_EARLY && c == 1)
			b->ts = 0;
		lb_finalize(t, c, c == 0 ? brk : LB_CLEAN);
		if (brk == LB_FINAL_EARLY && c == 1)
			b->ts = ts;
	}
	/* cpu0 again: its HCR_EL2 has VM, -EPERM and nothing written */
	lk_hvc(t, 0, PKVM_L612_HC_PKVM_PROT_FINALIZE, 0);
	tb_exit(b, 0, 0, brk == LB_FINAL_TWICE_ZERO ? 0 : (uint64_t)-1);
	/* after it, on the last CPU, not dispatched: x0 -1, x1 unchanged */
	lk_hvc(t, ncpu - 1, PKVM_L612_HC_KVM_GET_MDCR_EL2, 0x5a5a);
	if (brk == LB_LOW_DISPATCHED)
		tb_exit(b, ncpu - 1, 0, 6);
	else
		tb_exit(b, ncpu - 1, (uint64_t)-1, 0x5a5a);
	/* the probes: id 3 refused, id 26 never dispatched, neither
	 * storing anything (unless `brk` says: the same descriptor again) */
	for (unsigned id = 3; id <= 26; id += 23) {
		lk_hvc(t, 0, id, 0x5a5a);
		if (brk == (id == 3 ? LB_ID3_STORE : LB_ID26_STORE)) {
			lk_lock(t, 0, LK_HOST);
			lk_store(t, 0, LK_S2_ROOT + 1 * 8, LK_S2_L2 | 3);
			lk_unlock(t, 0, LK_HOST);
		}
		tb_exit(b, 0, (uint64_t)-1, 0x5a5a);
	}
}

static struct tb_result lb_run(unsigned ncpu, unsigned boot_cpu,
			       enum lb_break brk)
{
	struct lk t;
	struct tb_result r;

	lb_boot(&t, ncpu, boot_cpu, brk);
	lk_check(&t, &r);
	return r;
}

/* A boot as 5.1-5.3 say conforms, whichever CPU runs __pkvm_init. */
Test(linux612_boot, a_clean_boot_conforms)
{
	for (unsigned ncpu = 1; ncpu <= 2; ncpu++) {
		struct tb_result r = lb_run(ncpu, ncpu - 1, LB_CLEAN);

		/* every promise judged: a whole clean run conforms */
		lk_expect(&r, CK_EXIT_OK, "", 0);
		cr_assert(r.sum.unjudged == NULL);
		cr_assert_eq(r.sum.inconclusive, 0, "%s",
			     r.sum.first_inconclusive);
		cr_assert(!strstr(r.sum.not_judged, "boot-state"), "%s",
			  r.sum.not_judged);
		cr_assert(!strstr(r.sum.not_judged, "specification"), "%s",
			  r.sum.not_judged);
		cr_assert(!strstr(r.sum.not_judged, "hyp-s1-attributes"));
		cr_assert(!strstr(r.sum.not_judged, "sysreg"));
		cr_assert(!strstr(r.sum.not_judged, "and 8"));
	}
}

/*
 * Without region records the boot state is not judged: an inconclusive
 * note, so the run is not judged whole (exit 4, never 0).
 */
Test(linux612_boot, no_regions_is_not_judged)
{
	struct lk t;
	struct tb_result r;

	lk_boot(&t, 1);
	lk_check(&t, &r);
	lk_expect_unjudged(&r);
	cr_assert(!lk_lists(r.sum.not_judged, "boot-state"), "%s",
		  r.sum.not_judged);
}

/*
 * 5.2: the host finalises every CPU only once __pkvm_init has returned, but
 * no lock orders the two: a finalisation whose records come first in the
 * file still waits for __pkvm_init's exit in the replay (profile
 * after_boot_hcall), else its VTTBR_EL2 names a root not built yet and the
 * boot state is judged with that CPU's host stage-2 faults in it (seen on
 * real 4-CPU recordings: boot-state, 1033 host pages "mapped").
 */
Test(linux612_boot, a_finalisation_first_in_the_source_conforms)
{
	struct tb_result r = lb_run(2, 0, LB_FINAL_EARLY);

	lk_expect(&r, CK_EXIT_OK, "", 0);
}

/*
 * ... and with no __pkvm_init in the trace at all, the held finalisation
 * runs once nothing else can: every event is replayed, no deadlock and no
 * inconsistent-trace (without the let-go: 3 of the 5 events).
 */
Test(linux612_boot, a_finalisation_without_init_is_let_go)
{
	struct lk t;
	struct tb_result r;

	lb_boot_record(&t, 2);
	lk_hvc(&t, 1, PKVM_L612_HC_PKVM_PROT_FINALIZE, 0);
	tb_exit(&t.b, 1, (uint64_t)-1, 0);
	lk_hvc(&t, 0, PKVM_L612_HC_KVM_GET_MDCR_EL2, 0);
	tb_exit(&t.b, 0, 0, 6);
	lk_check(&t, &r);
	cr_assert_eq(r.sum.events, 5, "%llu events replayed",
		     (unsigned long long)r.sum.events);
	cr_assert(!tb_only(&r, "inconsistent-trace", 1));
	/* (What the calls answered is other tests' business.) */
}

/* 5.3: every other RAM page is the host's and not mapped. */
Test(linux612_boot, a_host_page_mapped_at_boot_is_boot_state)
{
	struct tb_result r = lb_run(2, 1, LB_HOST_MAPPED);

	lk_expect(&r, CK_EXIT_FINDINGS, "boot-state", 1);
}

/* 5.1: rodata is mapped RO and XN. */
Test(linux612_boot, executable_rodata_is_hyp_s1_attributes)
{
	struct tb_result r = lb_run(1, 0, LB_RODATA_EXEC);

	lk_expect(&r, CK_EXIT_FINDINGS, "hyp-s1-attributes", 1);
}

/* 5.1: TTBR0_EL2 names the pgd __pkvm_init allocated first. */
Test(linux612_boot, ttbr0_not_the_pgd_is_sysreg)
{
	struct tb_result r = lb_run(1, 0, LB_TTBR0_NOT_PGD);

	lk_expect(&r, CK_EXIT_FINDINGS, "sysreg", 1);
}

/* 5.2: tlbi vmalls12e1 after the registers. */
Test(linux612_boot, finalize_without_tlbi_is_sysreg)
{
	struct tb_result r = lb_run(2, 0, LB_FINAL_NO_TLBI);

	lk_expect(&r, CK_EXIT_FINDINGS, "sysreg", 1);
}

/* 5.2: HCR_EL2 with VM first. */
Test(linux612_boot, finalize_without_hcr_is_sysreg)
{
	struct tb_result r = lb_run(1, 0, LB_FINAL_NO_HCR);

	lk_expect(&r, CK_EXIT_FINDINGS, "sysreg", 1);
}

/* 5.2: once per CPU; a second call is -EPERM. */
Test(linux612_boot, a_second_finalize_answering_0_is_hcall_return)
{
	struct tb_result r = lb_run(2, 1, LB_FINAL_TWICE_ZERO);

	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
}

/* 5.2: no table changes. */
Test(linux612_boot, a_store_in_finalize_is_hcall_effect)
{
	struct tb_result r = lb_run(1, 0, LB_FINAL_STORE);

	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
}

/* 6: once finalisation started, ids below 8 are not dispatched. */
Test(linux612_boot, id_1_dispatched_after_finalisation_is_hcall_return)
{
	for (unsigned ncpu = 1; ncpu <= 2; ncpu++) {
		struct tb_result r = lb_run(ncpu, 0, LB_LOW_DISPATCHED);

		lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
	}
}

/* 5.1: __pkvm_init answers 0 or a negative errno, sign-extended. */
Test(linux612_boot, init_answering_other_than_0_or_errno_is_hcall_return)
{
	struct tb_result r = lb_run(1, 0, LB_INIT_POSITIVE);

	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
	r = lb_run(2, 1, LB_INIT_UNEXTENDED);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-return", 1);
	/* an error promises nothing more: no boot state to judge */
	r = lb_run(1, 0, LB_INIT_ENOMEM);
	lk_expect(&r, CK_EXIT_OK, "", 0);
}

/* 5.3: MMIO is mapped neither by the host stage-2 nor the linear map. */
Test(linux612_boot, mmio_mapped_at_boot_is_boot_state)
{
	struct tb_result r = lb_run(1, 0, LB_MMIO_HOST);

	/* (no RAM page changes: only the scan of 5.3's MMIO sees it) */
	lk_expect(&r, CK_EXIT_FINDINGS, "boot-state", 1);
	r = lb_run(2, 0, LB_MMIO_HYP);
	lk_expect(&r, CK_EXIT_FINDINGS, "boot-state", 1);
}

/* 5.3: the host stage-2 holds nothing over a NOMAP page at boot. */
Test(linux612_boot, a_nomap_page_mapped_at_boot_is_boot_state)
{
	struct tb_result r = lb_run(1, 0, LB_NOMAP_MAPPED);

	lk_expect(&r, CK_EXIT_FINDINGS, "boot-state", 1);
}

/* 6, 6.7: a refused or never-dispatched call stores nothing. */
Test(linux612_boot, a_store_in_a_call_not_dispatched_is_hcall_effect)
{
	struct tb_result r = lb_run(1, 0, LB_ID3_STORE);

	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
	r = lb_run(2, 1, LB_ID26_STORE);
	lk_expect(&r, CK_EXIT_FINDINGS, "hcall-effect", 1);
}

/* 6.7: id 3 dispatched (before finalisation) maps what is not judged. */
Test(linux612_boot, a_dispatched_private_mapping_is_inconclusive)
{
	struct tb_result r = lb_run(1, 0, LB_ID3_DISPATCHED);

	lk_expect(&r, CK_EXIT_INCONCLUSIVE, "", 0);
	cr_assert_eq(r.sum.inconclusive, 1);
	cr_assert(strstr(r.sum.first_inconclusive,
			 "__pkvm_create_private_mapping's mapping is not "
			 "judged: LINUX-6.12.md 6.7"),
		  "%s", r.sum.first_inconclusive);
}
