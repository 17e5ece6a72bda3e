// SPDX-License-Identifier: MIT
/*
 * An injected abort judged on the registers written (HYPERCALLS.md
 * "Stage-2 abort", check `abort-injection`, rule_inject.c): ESR_EL1,
 * FAR_EL1, ELR_EL1 and SPSR_EL1 against the trap's entry, the return
 * against VBAR_EL1 and the host's mode, the exit's summary against the
 * writes; from ABI 3 the ESR's class as a host at EL1 sees it and the
 * PSTATE exception entry builds from SPSR_EL1 and SCTLR_EL1. Each
 * scenario runs after the builder's correct boot in every record form
 * (tb_both_ways) and gets exactly the verdict written beside it.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "both_ways.h"

/* ---- abort-injection: the registers written ------------------------ */

#define PFN (TB_HYP_PFN + 3) /* a hyp page: the abort is injected */
#define FAR ((PFN << 12) | 0x10)

struct inj {
	uint64_t esr, far, elr, spsr;	      /* written; ~0: not written */
	uint64_t x_esr, x_far, x_elr, x_spsr; /* the exit's */
	uint64_t sctlr; /* the NONDET SCTLR_EL1 read; ~0: none */
};

static struct inj inj_now;
static uint64_t inj_entry_esr = TB_ESR_DABT; /* the trap's ESR_EL2 */
static unsigned inj_abi;		     /* 0: PKVM_ABI_VERSION */

static void inj_set_abi(struct tb *b)
{
	b->abi = inj_abi;
}

static void inj_scenario(struct tb *b)
{
	const struct inj *i = &inj_now;

	tb_entry(b, 0, inj_entry_esr, FAR, (PFN << 12) >> 8, 0x1234, 0, 0);
	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	tb_nondet(b, 0, PKVM_NONDET_HOST_SYSREG, TB_VBAR,
		  PKVM_NONDET_REG_VBAR_EL1, 0);
	if (i->sctlr != ~0ull)
		tb_nondet(b, 0, PKVM_NONDET_HOST_SYSREG, i->sctlr,
			  PKVM_NONDET_REG_SCTLR_EL1, 0);
	if (i->esr != ~0ull)
		tb_sysreg(b, 0, PKVM_SYSREG_ESR_EL1, i->esr);
	if (i->far != ~0ull)
		tb_sysreg(b, 0, PKVM_SYSREG_FAR_EL1, i->far);
	if (i->elr != ~0ull)
		tb_sysreg(b, 0, PKVM_SYSREG_ELR_EL1, i->elr);
	if (i->spsr != ~0ull)
		tb_sysreg(b, 0, PKVM_SYSREG_SPSR_EL1, i->spsr);
	tb_exit_full(b, 0, 0x1234, 0, i->x_esr, i->x_far, i->x_elr, i->x_spsr);
}

/*
 * The right injection from a host in EL1h with Z and C set (ABI 3: the
 * same-EL class, and Z and C kept in the PSTATE it returns with, SCTLR_EL1
 * with SPAN set and DSSBS clear); tests change one thing.
 */
static struct inj inj_good(void)
{
	return (struct inj){ .esr = TB_ESR_DABT_SAME,
			     .far = FAR,
			     .elr = TB_ELR,
			     .spsr = TB_HOST_SPSR,
			     .x_esr = TB_ESR_DABT_SAME,
			     .x_far = FAR,
			     .x_elr = TB_VBAR + 0x200,
			     .x_spsr = 0x600003c5,
			     .sctlr = TB_SCTLR_EL1 };
}

/* Checked at inj_abi (0: the current ABI). */
static struct tb_result inj_run(struct inj i)
{
	struct tb_result r;

	inj_now = i;
	tb_before_boot = inj_abi ? inj_set_abi : NULL;
	r = tb_both_ways(inj_scenario, 1, "abort-injection");
	tb_before_boot = NULL;
	return r;
}

static void inj_expect(struct inj i, unsigned findings)
{
	struct tb_result r = inj_run(i);

	if (!findings) {
		cr_assert_eq(r.count, 0, "%u findings, first %s", r.count,
			     r.count ? r.checks[0] : "");
		cr_assert_eq(r.exit, CK_EXIT_OK);
		return;
	}
	cr_assert(tb_only(&r, "abort-injection", findings),
		  "%u findings, first %s: %s", r.count,
		  r.count ? r.checks[0] : "none", r.text);
	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
}

Test(inject, right_injections_conform)
{
	struct inj i = inj_good();

	inj_expect(i, 0);
	/* From EL1t: the current-EL SP_EL0 vector; from EL0t: lower EL. */
	i.spsr = 0x60000004;
	i.x_elr = TB_VBAR;
	inj_expect(i, 0);
	/* From EL0t the lower-EL class stays. */
	i.spsr = 0x60000000;
	i.x_elr = TB_VBAR + 0x400;
	i.esr = i.x_esr = TB_ESR_DABT;
	inj_expect(i, 0);
}

Test(inject, each_register_written_wrong)
{
	struct inj i = inj_good();

	i.esr = TB_ESR_DABT_SAME & ~0xffffffull; /* ISS dropped */
	i.x_esr = i.esr;
	inj_expect(i, 1);
	i = inj_good();
	i.far = FAR + 8;
	i.x_far = i.far;
	inj_expect(i, 1);
	i = inj_good();
	i.elr = TB_ELR + 4;
	inj_expect(i, 1);
	i = inj_good();
	i.spsr = 0x9; /* EL2h: no host trap comes from there */
	inj_expect(i, 1);
}

Test(inject, wrong_return)
{
	struct inj i = inj_good();

	i.x_elr = TB_VBAR + 0x400; /* lower-EL vector for an EL1h host */
	inj_expect(i, 1);
	i = inj_good();
	i.spsr = 0x60000000;	   /* from EL0t ... */
	i.x_elr = TB_VBAR + 0x200; /* ... but the current-EL vector */
	i.esr = i.x_esr = TB_ESR_DABT;
	inj_expect(i, 1);
	i = inj_good();
	i.x_spsr = 0x3c4; /* EL1t */
	inj_expect(i, 1);
	i = inj_good();
	i.x_spsr = 0x5; /* DAIF not masked */
	inj_expect(i, 1);
}

Test(inject, summary_against_registers)
{
	/* The exit says one ESR/FAR, the registers another: named both. */
	struct inj i = inj_good();
	struct tb_result r;

	i.x_esr = TB_ESR_DABT_SAME ^ 0x8;
	r = inj_run(i);
	cr_assert(tb_only(&r, "abort-injection", 1), "%u: %s %s", r.count,
		  r.checks[0], r.count > 1 ? r.checks[1] : "");
	cr_assert(strstr(r.text, "0x9600004f") && strstr(r.text, "0x96000047"),
		  "%s", r.text);
	i = inj_good();
	i.x_far = FAR + 1;
	inj_expect(i, 1);
}

Test(inject, missing_writes)
{
	/* ABI 2 requires all four; ABI 1 judges those recorded. */
	struct inj i = inj_good();

	i.spsr = ~0ull;
	inj_expect(i, PKVM_ABI_VERSION >= 2 ? 1 : 0);
	i = inj_good();
	i.esr = ~0ull;
	inj_expect(i, PKVM_ABI_VERSION >= 2 ? 1 : 0);
}

static void map_with_writes(struct tb *b)
{
	/* A host page mapped on its abort, and ESR_EL1 clobbered. */
	tb_abort_map(b, 0, TB_HOST_PFN(4));
	tb_entry(b, 0, TB_ESR_DABT, TB_HOST_PFN(5) << 12,
		 (TB_HOST_PFN(5) << 12) >> 8, 0x1234, 0, 0);
	tb_sysreg(b, 0, PKVM_SYSREG_ESR_EL1, TB_ESR_DABT);
	tb_exit_full(b, 0, 0x1234, 0, 0, 0, TB_ELR, 0x3c5);
}

Test(inject, registers_written_without_injection)
{
	struct tb_result r =
		tb_both_ways(map_with_writes, 1, "abort-injection");

	/* The second abort is also left unmapped: missing-mapping. */
	cr_assert_eq(r.focus_count, 1, "%u findings", r.count);
	cr_assert(strstr(r.text, "injects nothing"), "%s", r.text);
}

/* ---- the class a host at EL1 is given (ABI 3) ---------------------- */

/* One abort-injection finding whose text has `what`; exit 1. */
static void inj_expect_text(struct inj i, const char *what)
{
	struct tb_result r = inj_run(i);

	cr_assert(tb_only(&r, "abort-injection", 1), "%u findings, first %s",
		  r.count, r.count ? r.checks[0] : "none");
	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
	cr_assert(strstr(r.text, what), "%s", r.text);
}

Test(inject, el1h_same_el_class)
{
	/* Property: from EL1h (ABI 3) a data abort is given EC 0x25; the
	 * class the trap had, 0x24, is a finding, in the registers or in
	 * both them and the exit's summary. */
	struct inj i = inj_good();

	inj_expect(i, 0);
	i.esr = i.x_esr = TB_ESR_DABT;
	inj_expect_text(i, "ESR_EL1 = 0x92000047, not 0x96000047: the "
			   "entry's ESR_EL2 0x92000047 with the same-EL class");
}

Test(inject, el1t_same_el_class)
{
	/* Property: EL1t is EL1 too: EC 0x25 conforms, 0x24 does not. */
	struct inj i = inj_good();

	i.spsr = 0x60000004;
	i.x_elr = TB_VBAR;
	inj_expect(i, 0);
	i.esr = i.x_esr = TB_ESR_DABT;
	inj_expect_text(i, "with the same-EL class, the host being at EL1");
}

Test(inject, el0_keeps_lower_el_class)
{
	/* Property: from EL0t the lower-EL class stays: 0x24 conforms,
	 * 0x25 (an abort from EL1 the host never took) is a finding. */
	struct inj i = inj_good();

	i.spsr = 0x60000000;
	i.x_elr = TB_VBAR + 0x400;
	i.esr = i.x_esr = TB_ESR_DABT;
	inj_expect(i, 0);
	i.esr = i.x_esr = TB_ESR_DABT_SAME;
	inj_expect_text(i, "ESR_EL1 = 0x96000047, not the entry's ESR_EL2 "
			   "0x92000047 (the host was at EL0");
}

Test(inject, instruction_abort_class)
{
	/* Property: an instruction abort (EC 0x20 at the trap) from EL1h
	 * is given 0x21; 0x20 is a finding. */
	struct inj i = inj_good();

	inj_entry_esr = 0x82000007; /* EC 0x20, IL, translation fault L3 */
	i.esr = i.x_esr = 0x86000007;
	inj_expect(i, 0);
	i.esr = i.x_esr = 0x82000007;
	inj_expect_text(i, "not 0x86000007");
	inj_entry_esr = TB_ESR_DABT;
}

Test(inject, abi2_keeps_the_trap_class)
{
	/* Property: an ABI-2 trace (as every saved sample is ABI 1 or 2)
	 * is judged as before: from EL1h 0x24 conforms, 0x25 is a
	 * finding. */
	struct inj i = inj_good();

	inj_abi = 2;
	i.esr = i.x_esr = TB_ESR_DABT;
	inj_expect(i, 0);
	i.esr = i.x_esr = TB_ESR_DABT_SAME;
	inj_expect_text(i, "ESR_EL1 = 0x96000047, not the entry's ESR_EL2 "
			   "0x92000047");
	inj_abi = 0;
}

/* ---- the PSTATE the host resumes in (ABI 3) ------------------------ */

#define N_Z_C_V 0xf0000000ull
#define DIT (1ull << 24)
#define UAO (1ull << 23)
#define PAN (1ull << 22)
#define SS (1ull << 21)
#define SSBS (1ull << 12)
#define SPAN (1ull << 23)  /* SCTLR_EL1 */
#define DSSBS (1ull << 44) /* SCTLR_EL1 */

Test(inject, pstate_keeps_nzcv_dit_pan_and_nothing_else)
{
	/* Property: N, Z, C, V, DIT and PAN of the host's PSTATE are kept;
	 * UAO, SS and SSBS are not (SCTLR_EL1 with SPAN set, DSSBS clear);
	 * losing a kept bit or keeping another is a finding. */
	struct inj i = inj_good();

	i.spsr = N_Z_C_V | DIT | UAO | PAN | SS | SSBS | 0x5;
	i.x_spsr = N_Z_C_V | DIT | PAN | 0x3c5;
	inj_expect(i, 0);
	i.x_spsr = N_Z_C_V | PAN | 0x3c5; /* DIT lost */
	inj_expect_text(i, "is not 0xf14003c5");
	i.x_spsr = N_Z_C_V | DIT | PAN | SSBS | 0x3c5; /* SSBS kept */
	inj_expect_text(i, "the exit's SPSR 0xf14013c5 is not 0xf14003c5");
	i = inj_good();
	i.x_spsr = 0x3c5; /* Z and C lost: what the hyp returned before */
	inj_expect_text(i, "the exit's SPSR 0x3c5 is not 0x600003c5");
}

Test(inject, pstate_pan_and_ssbs_from_sctlr_el1)
{
	/* Property: SCTLR_EL1.SPAN clear sets PAN, DSSBS set sets SSBS;
	 * leaving either out is a finding. */
	struct inj i = inj_good();

	i.sctlr = TB_SCTLR_EL1 & ~SPAN;
	i.x_spsr = 0x600003c5 | PAN;
	inj_expect(i, 0);
	i.x_spsr = 0x600003c5;
	inj_expect_text(i, "is not 0x604003c5");
	i = inj_good();
	i.sctlr = TB_SCTLR_EL1 | DSSBS;
	i.x_spsr = 0x600003c5 | SSBS;
	inj_expect(i, 0);
	i.x_spsr = 0x600003c5;
	inj_expect_text(i, "is not 0x600013c5");
}

Test(inject, sctlr_el1_must_be_read)
{
	/* Property: from ABI 3 the PSTATE depends on SCTLR_EL1, so an
	 * injection that records no read of it is a finding; M and DAIF
	 * are still judged. */
	struct inj i = inj_good();

	i.sctlr = ~0ull;
	inj_expect_text(i, "SCTLR_EL1 was not read");
}

Test(inject, abi2_judges_mode_and_daif_only)
{
	/* Property: before ABI 3 only M and DAIF of the PSTATE are judged
	 * and SCTLR_EL1 need not be read: 0x3c5 (the ABI-2 hyp's) and
	 * extra PAN conform; DAIF unmasked does not. */
	struct inj i = inj_good();

	inj_abi = 2;
	i.esr = i.x_esr = TB_ESR_DABT;
	i.sctlr = ~0ull;
	i.x_spsr = 0x3c5;
	inj_expect(i, 0);
	i.x_spsr = 0x3c5 | PAN;
	inj_expect(i, 0);
	i.x_spsr = 0x5;
	inj_expect_text(i, "is not EL1h with D, A, I, F masked");
	inj_abi = 0;
}
