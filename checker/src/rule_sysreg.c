// SPDX-License-Identifier: MIT
/*
 * The EL2 system registers (HYPERCALLS.md "System registers", check
 * `sysreg`): every SYSREG_WRITE of VTTBR_EL2, VTCR_EL2, HCR_EL2,
 * TTBR0_EL2, TCR_EL2, SCTLR_EL2, MAIR_EL2 and VBAR_EL2, at boot or later,
 * is judged on the fields the spec determines: the translation registers
 * against the roots BOOT names and the configuration the model decodes
 * descriptors with (4 KiB granule, 32-bit input, walks from level 1,
 * cacheable shareable walks, no hardware updates of descriptors), HCR_EL2
 * on the bits protected mode needs, SCTLR_EL2 on M, C, I, WXN and EE.
 * Every other bit is the hyp's choice.
 *
 * Order matters too: a CPU must not turn its stage-1 on (SCTLR_EL2.M)
 * before MAIR_EL2, TCR_EL2 and TTBR0_EL2 are written, nor the host's
 * stage-2 (HCR_EL2.VM) before VTCR_EL2 and VTTBR_EL2, and it must have
 * written all eight when it first enters the host (MARK host_enter).
 * Records of that CPU lost before then make the missing write
 * inconclusive: it may be in them.
 *
 * Cost: a switch per SYSREG_WRITE, a few per CPU at boot.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

/* The registers judged here, as bits of a per-CPU "written" mask. */
#define SR_BIT(reg) (1u << (reg))
#define SR_S1_REGS                                                             \
	(SR_BIT(PKVM_SYSREG_MAIR_EL2) | SR_BIT(PKVM_SYSREG_TCR_EL2) |          \
	 SR_BIT(PKVM_SYSREG_TTBR0_EL2))
#define SR_S2_REGS                                                             \
	(SR_BIT(PKVM_SYSREG_VTCR_EL2) | SR_BIT(PKVM_SYSREG_VTTBR_EL2))
#define SR_ALL                                                                 \
	(SR_S1_REGS | SR_S2_REGS | SR_BIT(PKVM_SYSREG_HCR_EL2) |               \
	 SR_BIT(PKVM_SYSREG_SCTLR_EL2) | SR_BIT(PKVM_SYSREG_VBAR_EL2))

/* Field layouts (Arm ARM D19). */
#define SR_BADDR_MASK 0x0000fffffffffffeull /* VTTBR/TTBR0 47:1 */
#define SR_HCR_VM (1ull << 0)
#define SR_HCR_TSC (1ull << 19)
#define SR_HCR_TGE (1ull << 27)
#define SR_HCR_RW (1ull << 31)
#define SR_HCR_E2H (1ull << 34)
#define SR_HCR_FWB (1ull << 46)
#define SR_SCTLR_M (1ull << 0)
#define SR_SCTLR_C (1ull << 2)
#define SR_SCTLR_I (1ull << 12)
#define SR_SCTLR_WXN (1ull << 19)
#define SR_SCTLR_EE (1ull << 25)

struct sysreg_rule {
	uint64_t host_root, hyp_root;
	uint64_t hyp_start, hyp_end, text_end;
	uint64_t pa_top; /* highest PA a mapping or a table may have, + 1 */
	uint64_t mair;	 /* the first MAIR_EL2 written */
	bool mair_known;
	bool wxn; /* ABI 2 promises SCTLR_EL2.WXN (see sr_sctlr) */
	unsigned written[CK_MAX_CPUS]; /* SR_BIT mask per CPU */
	bool entered[CK_MAX_CPUS];
};

static const char *sr_name(unsigned reg)
{
	switch (reg) {
#define SR_NAME(name, id, str)                                                 \
	case id:                                                               \
		return #name;
		PKVM_SYSREG_LIST(SR_NAME)
#undef SR_NAME
	}
	return "?";
}

static unsigned sr_field(uint64_t v, unsigned lo, unsigned width)
{
	return (unsigned)(v >> lo) & ((1u << width) - 1);
}

/*
 * The fields VTCR_EL2 and TCR_EL2 share (the non-VHE TCR_EL2 has them at
 * the same places): T0SZ 32, 4 KiB granule, cacheable shareable walks,
 * an output size that covers every PA in use, no hardware updates.
 */
static void sr_tcr_common(const struct sysreg_rule *r, uint64_t v, char *bad,
			  size_t len)
{
	static const unsigned ps_bits[8] = { 32, 36, 40, 42, 44, 48, 52, 0 };
	unsigned irgn = sr_field(v, 8, 2), orgn = sr_field(v, 10, 2);
	unsigned ps = sr_field(v, 16, 3);

	if (sr_field(v, 0, 6) != 32)
		ck_append(bad, len, "T0SZ (5:0) is %u, not 32",
			  sr_field(v, 0, 6));
	if (sr_field(v, 14, 2) != 0)
		ck_append(bad, len, "TG0 (15:14) is %u, not 0 (4 KiB)",
			  sr_field(v, 14, 2));
	if ((irgn & 1) == 0 || (orgn & 1) == 0)
		ck_append(bad, len,
			  "IRGN0/ORGN0 (9:8, 11:10) are %u/%u, not write-back "
			  "(1 or 3)",
			  irgn, orgn);
	if (sr_field(v, 12, 2) < 2)
		ck_append(bad, len, "SH0 (13:12) is %u, not shareable (2 or 3)",
			  sr_field(v, 12, 2));
	if (ps > 5 || (ps_bits[ps] < 64 && (r->pa_top - 1) >> ps_bits[ps]))
		ck_append(bad, len,
			  "PS (18:16) is %u, which does not cover PA 0x%llx",
			  ps, (unsigned long long)(r->pa_top - 1));
	if (v & (3ull << 21))
		ck_append(bad, len, "HA/HD (21, 22) are set");
}

static void sr_translation_base(uint64_t v, uint64_t root, const char *hi,
				char *bad, size_t len)
{
	if ((v & SR_BADDR_MASK) != root)
		ck_append(bad, len,
			  "BADDR (47:1) is 0x%llx, not the root 0x%llx",
			  (unsigned long long)(v & SR_BADDR_MASK),
			  (unsigned long long)root);
	if (v >> 48)
		ck_append(bad, len, "%s (63:48) is 0x%llx, not 0", hi,
			  (unsigned long long)(v >> 48));
}

static void sr_hcr(uint64_t v, char *bad, size_t len)
{
	static const struct {
		uint64_t bit;
		bool set;
		const char *name;
	} b[] = {
		{ SR_HCR_VM, true, "VM (0)" },
		{ SR_HCR_TSC, true, "TSC (19)" },
		{ SR_HCR_TGE, false, "TGE (27)" },
		{ SR_HCR_RW, true, "RW (31)" },
		{ SR_HCR_E2H, false, "E2H (34)" },
		{ SR_HCR_FWB, false, "FWB (46)" },
	};

	for (unsigned i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (!(v & b[i].bit) == b[i].set)
			ck_append(bad, len, "%s is %s", b[i].name,
				  b[i].set ? "clear" : "set");
}

/*
 * WXN is judged from ABI 2 on: it is the hyp stage-1's attribute promise
 * (hyp-s1-attributes), and the hyps that recorded ABI 1 traces (formats
 * 1.x-3.x, samples/) set SCTLR_EL2 without it. Their saved traces keep
 * the verdicts they had (FORMAT.md section 6).
 */
static void sr_sctlr(uint64_t v, bool wxn, char *bad, size_t len)
{
	static const struct {
		uint64_t bit;
		bool set;
		const char *name;
	} b[] = {
		{ SR_SCTLR_M, true, "M (0)" },
		{ SR_SCTLR_C, true, "C (2)" },
		{ SR_SCTLR_I, true, "I (12)" },
		{ SR_SCTLR_WXN, true, "WXN (19)" },
		{ SR_SCTLR_EE, false, "EE (25)" },
	};

	for (unsigned i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (!(v & b[i].bit) == b[i].set &&
		    (wxn || b[i].bit != SR_SCTLR_WXN))
			ck_append(bad, len, "%s is %s", b[i].name,
				  b[i].set ? "clear" : "set");
}

/* What is wrong with writing `v` to `reg` on `cpu` now ("" if nothing). */
static void sr_judge(struct sysreg_rule *r, unsigned cpu, unsigned reg,
		     uint64_t v, char *bad, size_t len)
{
	unsigned done = r->written[cpu];
	uint64_t lo = r->hyp_start, hi = r->text_end ? r->text_end : r->hyp_end;

	switch (reg) {
	case PKVM_SYSREG_VTTBR_EL2:
		sr_translation_base(v, r->host_root, "VMID", bad, len);
		break;
	case PKVM_SYSREG_TTBR0_EL2:
		sr_translation_base(v, r->hyp_root, "bits", bad, len);
		break;
	case PKVM_SYSREG_VTCR_EL2:
		if (sr_field(v, 6, 2) != 1)
			ck_append(bad, len,
				  "SL0 (7:6) is %u, not 1 (walks from level 1)",
				  sr_field(v, 6, 2));
		sr_tcr_common(r, v, bad, len);
		break;
	case PKVM_SYSREG_TCR_EL2:
		sr_tcr_common(r, v, bad, len);
		break;
	case PKVM_SYSREG_HCR_EL2:
		sr_hcr(v, bad, len);
		if ((v & SR_HCR_VM) && (done & SR_S2_REGS) != SR_S2_REGS)
			ck_append(bad, len,
				  "VM is set before VTCR_EL2 and VTTBR_EL2 are "
				  "written");
		break;
	case PKVM_SYSREG_SCTLR_EL2:
		sr_sctlr(v, r->wxn, bad, len);
		if ((v & SR_SCTLR_M) && (done & SR_S1_REGS) != SR_S1_REGS)
			ck_append(bad, len,
				  "M is set before MAIR_EL2, TCR_EL2 and "
				  "TTBR0_EL2 are written");
		break;
	case PKVM_SYSREG_MAIR_EL2:
		if (r->mair_known && v != r->mair)
			ck_append(
				bad, len,
				"another CPU's MAIR_EL2 is 0x%llx (one stage-1 "
				"for all CPUs)",
				(unsigned long long)r->mair);
		break;
	case PKVM_SYSREG_VBAR_EL2:
		if (v & 0x7ff)
			ck_append(bad, len,
				  "bits 10:0 are not 0 (2 KiB aligned)");
		if (v < lo || v >= hi)
			ck_append(
				bad, len,
				"it is outside the hyp's text [0x%llx, 0x%llx)",
				(unsigned long long)lo, (unsigned long long)hi);
		break;
	}
}

static void sysreg_write(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct sysreg_rule *r = self;
	unsigned reg = (unsigned)ev->w[0], cpu = ev->cpu;
	char bad[600]; /* ck_append's: only its first byte need be set */

	if (reg >= 32 || !(SR_ALL & SR_BIT(reg)) || cpu >= CK_MAX_CPUS)
		return;
	bad[0] = 0;
	sr_judge(r, cpu, reg, ev->w[1], bad, sizeof(bad));
	r->written[cpu] |= SR_BIT(reg);
	if (reg == PKVM_SYSREG_MAIR_EL2 && !r->mair_known) {
		r->mair = ev->w[1];
		r->mair_known = true;
	}
	if (bad[0])
		ck_finding(
			env->out, "sysreg", ev, reg, false, 0,
			"cpu%u wrote %s = 0x%llx: %s (HYPERCALLS.md \"System "
			"registers\")",
			cpu, sr_name(reg), (unsigned long long)ev->w[1], bad);
}

static void sysreg_boot(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct sysreg_rule *r = self;
	uint64_t ram_top = ev->w[2] + ev->w[3];

	(void)env;
	r->wxn = (ev->w[0] & 0xffffffffu) >= 2;
	r->hyp_start = ev->w[4];
	r->hyp_end = ev->w[5];
	r->pa_top = ram_top > ev->w[7] ? ram_top : ev->w[7];
	r->host_root = ev->w[8];
	r->hyp_root = ev->w[9];
}

/* At a CPU's first host_enter, all eight must have been written. */
static void sysreg_mark(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct sysreg_rule *r = self;
	unsigned cpu = ev->cpu, missing;
	char names[200] = "";

	if (ev->w[0] == PKVM_MARK_TEXT_END && !r->text_end) {
		r->text_end = ev->w[1];
		return;
	}
	if (ev->w[0] != PKVM_MARK_HOST_ENTER || cpu >= CK_MAX_CPUS ||
	    r->entered[cpu])
		return;
	r->entered[cpu] = true;
	missing = SR_ALL & ~r->written[cpu];
	if (!missing)
		return;
	for (unsigned reg = 0; reg < 32; reg++)
		if (missing & SR_BIT(reg))
			ck_append(names, sizeof(names), "%s", sr_name(reg));
	if (view_cpu_lost(env->view, cpu)) {
		ck_inconclusive(env->out,
				"cpu%u's writes of %s before it entered the "
				"host: records lost",
				cpu, names);
		return;
	}
	ck_finding(env->out, "sysreg", ev, 0, false, 0,
		   "cpu%u entered the host without writing %s "
		   "(HYPERCALLS.md \"System registers\": every CPU writes "
		   "all eight before it enters the host)",
		   cpu, names);
}

static void *sysreg_create(const struct ck_env *env, unsigned cpu_count)
{
	struct sysreg_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_sysreg = {
	.name = "sysreg",
	.create = sysreg_create,
	.destroy = free,
	.boot = sysreg_boot,
	.sysreg = sysreg_write,
	.mark = sysreg_mark,
};
