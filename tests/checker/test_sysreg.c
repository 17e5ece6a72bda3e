// SPDX-License-Identifier: MIT
/*
 * The EL2 system registers (HYPERCALLS.md "System registers", check
 * `sysreg`; an injected abort's EL1 registers are test_inject.c's). Each
 * scenario runs after the builder's correct boot (which writes the eight
 * registers on every CPU, as the hyp does) in every record form
 * (tb_both_ways), and gets exactly the verdict written beside it.
 */
#include <criterion/criterion.h>

#include "both_ways.h"

/* ---- sysreg --------------------------------------------------------- */

/* The write a scenario makes after boot, on CPU 1. */
static unsigned sr_reg;
static uint64_t sr_value;

static void sr_write(struct tb *b)
{
	tb_sysreg(b, 1, sr_reg, sr_value);
}

static void sr_expect(unsigned reg, uint64_t value, const char *check)
{
	struct tb_result r;

	sr_reg = reg;
	sr_value = value;
	r = tb_both_ways(sr_write, 2, "sysreg");
	if (!check) {
		cr_assert_eq(r.count, 0, "reg %u = 0x%llx: %u findings, %s",
			     reg, (unsigned long long)value, r.count,
			     r.count ? r.checks[0] : "");
		cr_assert_eq(r.exit, CK_EXIT_OK);
		return;
	}
	cr_assert(tb_only(&r, check, 1),
		  "reg %u = 0x%llx: %u findings, first %s", reg,
		  (unsigned long long)value, r.count,
		  r.count ? r.checks[0] : "none");
	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
}

Test(sysreg, clean_values_conform)
{
	/* Writing again what the hyp writes at boot: nothing to say. */
	sr_expect(PKVM_SYSREG_VTTBR_EL2, TB_HOST_ROOT, NULL);
	sr_expect(PKVM_SYSREG_VTTBR_EL2, TB_HOST_ROOT | 1, NULL); /* CnP */
	sr_expect(PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2, NULL);
	sr_expect(PKVM_SYSREG_VTCR_EL2,
		  TB_VTCR_EL2 | 0xf00 | 0x1000 | 1ull << 19,
		  NULL); /* WB no-WA walks, outer shareable, VS */
	sr_expect(PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 & ~(1ull << 12),
		  NULL); /* DC */
	sr_expect(PKVM_SYSREG_TTBR0_EL2, TB_HYP_ROOT, NULL);
	sr_expect(PKVM_SYSREG_TCR_EL2, TB_TCR_EL2, NULL);
	sr_expect(PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2 | 2, NULL); /* A */
	sr_expect(PKVM_SYSREG_MAIR_EL2, 0x04ff, NULL);
	sr_expect(PKVM_SYSREG_VBAR_EL2, TB_VBAR_EL2, NULL);
}

Test(sysreg, translation_registers)
{
	/* Each against the roots of BOOT and the model's configuration. */
	sr_expect(PKVM_SYSREG_VTTBR_EL2, TB_HYP_ROOT, "sysreg");
	sr_expect(PKVM_SYSREG_VTTBR_EL2, TB_HOST_ROOT | 1ull << 48, "sysreg");
	sr_expect(PKVM_SYSREG_TTBR0_EL2, TB_HOST_ROOT, "sysreg");
	sr_expect(PKVM_SYSREG_TTBR0_EL2, TB_HYP_ROOT | 1ull << 48, "sysreg");
	/* T0SZ 25: a 39-bit IPA, walks from level 0. */
	sr_expect(PKVM_SYSREG_VTCR_EL2, (TB_VTCR_EL2 & ~0x3full) | 25,
		  "sysreg");
	sr_expect(PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2 & ~(3ull << 6), "sysreg");
	sr_expect(PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2 | 1ull << 14, "sysreg");
	sr_expect(PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2 & ~(3ull << 8), "sysreg");
	sr_expect(PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2 & ~(3ull << 12), "sysreg");
	sr_expect(PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2 | 7ull << 16, "sysreg");
	sr_expect(PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2 | 1ull << 21, "sysreg");
	sr_expect(PKVM_SYSREG_TCR_EL2, (TB_TCR_EL2 & ~0x3full) | 16, "sysreg");
	sr_expect(PKVM_SYSREG_TCR_EL2, TB_TCR_EL2 & ~(3ull << 10), "sysreg");
	sr_expect(PKVM_SYSREG_TCR_EL2, TB_TCR_EL2 | 1ull << 22, "sysreg");
}

Test(sysreg, hcr_sctlr_mair_vbar)
{
	sr_expect(PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 & ~1ull, "sysreg");
	sr_expect(PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 & ~(1ull << 19), "sysreg");
	sr_expect(PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 & ~(1ull << 31), "sysreg");
	sr_expect(PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 | 1ull << 27, "sysreg");
	sr_expect(PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 | 1ull << 34, "sysreg");
	sr_expect(PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 | 1ull << 46, "sysreg");
	sr_expect(PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2 & ~(1ull << 19),
		  "sysreg");
	sr_expect(PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2 & ~1ull, "sysreg");
	sr_expect(PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2 & ~4ull, "sysreg");
	sr_expect(PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2 & ~0x1000ull, "sysreg");
	sr_expect(PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2 | 1ull << 25, "sysreg");
	/* Another MAIR on one CPU: an AttrIndx would mean two things. */
	sr_expect(PKVM_SYSREG_MAIR_EL2, 0x44ff, "sysreg");
	sr_expect(PKVM_SYSREG_VBAR_EL2, TB_VBAR_EL2 + 0x80, "sysreg");
	sr_expect(PKVM_SYSREG_VBAR_EL2, TB_RAM_BASE + TB_RAM_SIZE - 0x800,
		  "sysreg");
}

/* A boot of two CPUs where CPU 1 skips `skip` or writes SCTLR early. */
static void sr_boot(unsigned skip, bool sctlr_first, bool lost,
		    struct tb_result *r)
{
	struct tb b;
	static const struct {
		unsigned reg;
		uint64_t value;
	} w[] = {
		{ PKVM_SYSREG_MAIR_EL2, 0x04ff },
		{ PKVM_SYSREG_TCR_EL2, TB_TCR_EL2 },
		{ PKVM_SYSREG_TTBR0_EL2, TB_HYP_ROOT },
		{ PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2 },
		{ PKVM_SYSREG_VBAR_EL2, TB_VBAR_EL2 },
		{ PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2 },
		{ PKVM_SYSREG_VTTBR_EL2, TB_HOST_ROOT },
		{ PKVM_SYSREG_HCR_EL2, TB_HCR_EL2 },
	};

	tb_init(&b, 2);
	tb_boot_tables(&b);
	tb_sysregs(&b, 0, false);
	tb_mark(&b, 0, PKVM_MARK_HOST_ENTER, PKVM_WORKLOAD_BASE);
	tb_mark(&b, 1, PKVM_MARK_CPU_UP, 1);
	if (sctlr_first)
		tb_sysreg(&b, 1, PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2);
	if (lost) {
		uint64_t l[2] = { 1, 0 };

		tb_event(&b, 1, PKVM_EV_LOST, l, 2);
	}
	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (w[i].reg != skip)
			tb_sysreg(&b, 1, w[i].reg, w[i].value);
	tb_mark(&b, 1, PKVM_MARK_HOST_ENTER, PKVM_WORKLOAD_BASE);
	tb_check(&b, r);
	tb_free(&b);
}

Test(sysreg, every_cpu_writes_all_eight)
{
	static const unsigned regs[] = {
		PKVM_SYSREG_VTTBR_EL2, PKVM_SYSREG_VTCR_EL2,
		PKVM_SYSREG_HCR_EL2,   PKVM_SYSREG_TTBR0_EL2,
		PKVM_SYSREG_TCR_EL2,   PKVM_SYSREG_MAIR_EL2,
		PKVM_SYSREG_SCTLR_EL2, PKVM_SYSREG_VBAR_EL2,
	};
	struct tb_result r;

	sr_boot(0, false, false, &r);
	cr_assert_eq(r.count, 0, "%s", r.count ? r.checks[0] : "");
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		sr_boot(regs[i], false, false, &r);
		/* A regime turned on without its registers says so too. */
		unsigned n = regs[i] == PKVM_SYSREG_VTTBR_EL2 ||
					     regs[i] == PKVM_SYSREG_VTCR_EL2 ||
					     regs[i] == PKVM_SYSREG_TTBR0_EL2 ||
					     regs[i] == PKVM_SYSREG_TCR_EL2 ||
					     regs[i] == PKVM_SYSREG_MAIR_EL2
				     ? 2
				     : 1;
		cr_assert(tb_only(&r, "sysreg", n), "reg %u: %u findings",
			  regs[i], r.count);
	}
}

Test(sysreg, stage1_on_before_its_registers)
{
	struct tb_result r;

	sr_boot(0, true, false, &r);
	cr_assert(tb_only(&r, "sysreg", 1), "%u findings", r.count);
}

Test(sysreg, missing_write_after_loss_is_inconclusive)
{
	struct tb_result r;

	sr_boot(PKVM_SYSREG_HCR_EL2, false, true, &r);
	cr_assert_eq(r.count, 0, "%s", r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_INCONCLUSIVE);
}
