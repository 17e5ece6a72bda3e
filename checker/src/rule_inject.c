// SPDX-License-Identifier: MIT
/*
 * An abort injected into the host, judged on what the host will see
 * (HYPERCALLS.md "Stage-2 abort", check `abort-injection`): the
 * SYSREG_WRITEs of ESR_EL1, FAR_EL1, ELR_EL1 and SPSR_EL1 the hyp made in
 * the trap, and where and how the trap returns, not the exit record's
 * summary of itself (DESIGN.md 10). Whether an abort had to be injected
 * at all is the spec's question (rule_spec_judge.c); this rule judges
 * every trap that injected one, or wrote the host's EL1 fault registers:
 *
 *   ESR_EL1 = the entry's ESR_EL2, from ABI 3 with the same-EL class
 *   (0x21, 0x25 for 0x20, 0x24) when SPSR_EL1 says the host was at EL1,
 *   FAR_EL1 = its FAR_EL2, ELR_EL1 = its ELR_EL2; SPSR_EL1 a mode a host
 *   trap comes from (EL0t, EL1t, EL1h: the entry does not record
 *   SPSR_EL2, so the rest is not judged);
 *   the exit returns to VBAR_EL1 (NONDET host_sysreg) + the synchronous
 *   vector for that mode (0x000 EL1t, 0x200 EL1h, 0x400 EL0t) in EL1h
 *   with DAIF masked; from ABI 3 in exactly the PSTATE exception entry
 *   builds (Linux 6.12's enter_exception64): N, Z, C, V, DIT and PAN of
 *   SPSR_EL1, PAN also when SCTLR_EL1 (NONDET host_sysreg, required)
 *   has SPAN clear, SSBS = its DSSBS, nothing else; its inject_esr and
 *   inject_far are the values written. From ABI 2 an injection without
 *   all four writes is wrong; in ABI 1 the writes are judged where
 *   recorded.
 *
 * A trap whose CPU lost records after its entry is not judged (a write
 * may be in them); the spec rule counts such a trap as inconclusive.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

/* The four registers, as indexes. */
enum { INJ_ESR, INJ_FAR, INJ_ELR, INJ_SPSR, INJ_REGS };

static const char *const inj_name[INJ_REGS] = { "ESR_EL1", "FAR_EL1", "ELR_EL1",
						"SPSR_EL1" };

/* SPSR M[4:0] and the DAIF bits (9:6). */
#define INJ_SPSR_MODE 0x1full
#define INJ_SPSR_EL0T 0x0ull
#define INJ_SPSR_EL1T 0x4ull
#define INJ_SPSR_EL1H 0x5ull
#define INJ_SPSR_DAIF 0x3c0ull
/* ABI 3's PSTATE: kept from SPSR_EL1 (N Z C V, DIT, PAN), PAN, SSBS. */
#define INJ_PSTATE_KEPT 0xf1400000ull
#define INJ_PSTATE_PAN (1ull << 22)
#define INJ_PSTATE_SSBS (1ull << 12)
#define INJ_SCTLR_SPAN (1ull << 23)
#define INJ_SCTLR_DSSBS (1ull << 44)

/* ESR EC (bits 31:26): the lower-EL aborts and their same-EL bit. */
#define INJ_EC_SHIFT 26
#define INJ_EC_IABT_LOW 0x20ull
#define INJ_EC_DABT_LOW 0x24ull
#define INJ_EC_SAME_EL 0x1ull

struct inject_cpu {
	bool active; /* in a trap whose entry was read */
	bool lost;   /* records lost since that entry */
	bool vbar_known, sctlr_known;
	uint64_t vbar, sctlr;
	unsigned written; /* bit per INJ_* */
	uint64_t value[INJ_REGS];
	uint64_t esr, far, elr; /* at the entry */
};

struct inject_rule {
	unsigned abi;
	struct inject_cpu cpu[CK_MAX_CPUS];
};

/* The synchronous vector's offset for a host in `mode`, or -1. */
static int64_t inj_vector(uint64_t mode)
{
	switch (mode) {
	case INJ_SPSR_EL1H:
		return 0x200;
	case INJ_SPSR_EL1T:
		return 0x000;
	case INJ_SPSR_EL0T:
		return 0x400;
	default:
		return -1;
	}
}

static void inject_boot(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct inject_rule *r = self;

	(void)env;
	r->abi = (unsigned)(ev->w[0] & 0xffffffffu);
}

static void inject_entry(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct inject_rule *r = self;
	struct inject_cpu *c;

	(void)env;
	if (ev->cpu >= CK_MAX_CPUS)
		return;
	c = &r->cpu[ev->cpu];
	*c = (struct inject_cpu){ .active = true,
				  .esr = ev->w[0],
				  .elr = ev->w[1],
				  .far = ev->w[2] };
}

static void inject_sysreg(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct inject_rule *r = self;
	struct inject_cpu *c;
	int i;

	(void)env;
	switch (ev->w[0]) {
	case PKVM_SYSREG_ESR_EL1:
		i = INJ_ESR;
		break;
	case PKVM_SYSREG_FAR_EL1:
		i = INJ_FAR;
		break;
	case PKVM_SYSREG_ELR_EL1:
		i = INJ_ELR;
		break;
	case PKVM_SYSREG_SPSR_EL1:
		i = INJ_SPSR;
		break;
	default:
		return;
	}
	if (ev->cpu >= CK_MAX_CPUS || !r->cpu[ev->cpu].active)
		return;
	c = &r->cpu[ev->cpu];
	c->written |= 1u << i;
	c->value[i] = ev->w[1];
}

static void inject_nondet(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct inject_rule *r = self;
	struct inject_cpu *c;

	(void)env;
	if (ev->cpu >= CK_MAX_CPUS || ev->w[0] != PKVM_NONDET_HOST_SYSREG)
		return;
	c = &r->cpu[ev->cpu];
	if (ev->w[2] == PKVM_NONDET_REG_VBAR_EL1) {
		c->vbar_known = true;
		c->vbar = ev->w[1];
	} else if (ev->w[2] == PKVM_NONDET_REG_SCTLR_EL1) {
		c->sctlr_known = true;
		c->sctlr = ev->w[1];
	}
}

/*
 * The entry's ESR_EL2 with the class a host at EL1 sees from ABI 3: the
 * same-EL one for a lower-EL abort (HYPERCALLS.md "Stage-2 abort" rule 1).
 */
static uint64_t inj_same_el(uint64_t esr)
{
	uint64_t ec = (esr >> INJ_EC_SHIFT) & 0x3f;

	if (ec == INJ_EC_IABT_LOW || ec == INJ_EC_DABT_LOW)
		esr |= INJ_EC_SAME_EL << INJ_EC_SHIFT;
	return esr;
}

/*
 * ESR_EL1 against the entry's ESR_EL2: as it was up to ABI 2 and from EL0;
 * from ABI 3 from EL1t or EL1h with the same-EL class. Without SPSR_EL1
 * (a finding of its own from ABI 2) the host's level is unknown: either.
 */
static void inj_esr(const struct inject_rule *r, const struct inject_cpu *c,
		    char *bad, size_t len)
{
	uint64_t got = c->value[INJ_ESR], mode;
	bool el1;

	if (!(c->written & (1u << INJ_ESR)))
		return;
	if (r->abi < 3) {
		if (got != c->esr)
			ck_append(bad, len,
				  "ESR_EL1 = 0x%llx, not the entry's ESR_EL2 "
				  "0x%llx",
				  (unsigned long long)got,
				  (unsigned long long)c->esr);
		return;
	}
	if (!(c->written & (1u << INJ_SPSR))) {
		if (got != c->esr && got != inj_same_el(c->esr))
			ck_append(bad, len,
				  "ESR_EL1 = 0x%llx, neither the entry's "
				  "ESR_EL2 0x%llx nor it with the same-EL "
				  "class",
				  (unsigned long long)got,
				  (unsigned long long)c->esr);
		return;
	}
	mode = c->value[INJ_SPSR] & INJ_SPSR_MODE;
	el1 = mode == INJ_SPSR_EL1T || mode == INJ_SPSR_EL1H;
	if (el1 && got != inj_same_el(c->esr))
		ck_append(bad, len,
			  "ESR_EL1 = 0x%llx, not 0x%llx: the entry's ESR_EL2 "
			  "0x%llx with the same-EL class, the host being at "
			  "EL1 (SPSR_EL1 mode 0x%llx; ABI 3)",
			  (unsigned long long)got,
			  (unsigned long long)inj_same_el(c->esr),
			  (unsigned long long)c->esr, (unsigned long long)mode);
	else if (!el1 && got != c->esr)
		ck_append(bad, len,
			  "ESR_EL1 = 0x%llx, not the entry's ESR_EL2 0x%llx "
			  "(the host was at EL0: the lower-EL class stays)",
			  (unsigned long long)got, (unsigned long long)c->esr);
}

/* The written registers against the entry's; the summary against them. */
static void inj_registers(const struct inject_rule *r,
			  const struct inject_cpu *c, const uint64_t *out,
			  char *bad, size_t len)
{
	const uint64_t want[3] = { c->esr, c->far, c->elr };
	static const char *const from[3] = { "ESR_EL2", "FAR_EL2", "ELR_EL2" };

	for (unsigned i = 0; i < INJ_REGS; i++)
		if (!(c->written & (1u << i)) && r->abi >= 2)
			ck_append(bad, len, "%s was not written", inj_name[i]);
	if (!c->sctlr_known && r->abi >= 3)
		ck_append(bad, len,
			  "SCTLR_EL1 was not read (no NONDET host_sysreg "
			  "sctlr_el1): the PSTATE on return depends on it");
	inj_esr(r, c, bad, len);
	for (unsigned i = INJ_FAR; i <= INJ_ELR; i++)
		if ((c->written & (1u << i)) && c->value[i] != want[i])
			ck_append(bad, len,
				  "%s = 0x%llx, not the entry's %s 0x%llx",
				  inj_name[i], (unsigned long long)c->value[i],
				  from[i], (unsigned long long)want[i]);
	if ((c->written & (1u << INJ_SPSR)) &&
	    inj_vector(c->value[INJ_SPSR] & INJ_SPSR_MODE) < 0)
		ck_append(bad, len,
			  "SPSR_EL1 = 0x%llx names mode 0x%llx, not one a host "
			  "trap comes from (EL0t, EL1t, EL1h)",
			  (unsigned long long)c->value[INJ_SPSR],
			  (unsigned long long)(c->value[INJ_SPSR] &
					       INJ_SPSR_MODE));
	if ((c->written & (1u << INJ_ESR)) && out[4] != c->value[INJ_ESR])
		ck_append(bad, len,
			  "the exit's inject_esr 0x%llx is not the ESR_EL1 "
			  "written, 0x%llx",
			  (unsigned long long)out[4],
			  (unsigned long long)c->value[INJ_ESR]);
	if ((c->written & (1u << INJ_FAR)) && out[5] != c->value[INJ_FAR])
		ck_append(bad, len,
			  "the exit's inject_far 0x%llx is not the FAR_EL1 "
			  "written, 0x%llx",
			  (unsigned long long)out[5],
			  (unsigned long long)c->value[INJ_FAR]);
}

/*
 * ABI 3's PSTATE on return (HYPERCALLS.md "Stage-2 abort" rule 3), built
 * as exception entry to EL1h builds it from the host's PSTATE `old` (the
 * SPSR_EL1 written) and SCTLR_EL1.
 */
static uint64_t inj_pstate(uint64_t old, uint64_t sctlr)
{
	uint64_t want = INJ_SPSR_EL1H | INJ_SPSR_DAIF | (old & INJ_PSTATE_KEPT);

	if (!(sctlr & INJ_SCTLR_SPAN))
		want |= INJ_PSTATE_PAN;
	if (sctlr & INJ_SCTLR_DSSBS)
		want |= INJ_PSTATE_SSBS;
	return want;
}

/*
 * The exit's SPSR: in EL1h with DAIF masked; from ABI 3, with SPSR_EL1
 * and SCTLR_EL1 known, exactly inj_pstate().
 */
static void inj_spsr(const struct inject_rule *r, const struct inject_cpu *c,
		     const uint64_t *out, char *bad, size_t len)
{
	uint64_t want;

	if (r->abi < 3 || !(c->written & (1u << INJ_SPSR)) || !c->sctlr_known) {
		if ((out[7] & (INJ_SPSR_MODE | INJ_SPSR_DAIF)) !=
		    (INJ_SPSR_EL1H | INJ_SPSR_DAIF))
			ck_append(bad, len,
				  "the exit's SPSR 0x%llx is not EL1h with D, "
				  "A, I, F masked",
				  (unsigned long long)out[7]);
		return;
	}
	want = inj_pstate(c->value[INJ_SPSR], c->sctlr);
	if (out[7] != want)
		ck_append(bad, len,
			  "the exit's SPSR 0x%llx is not 0x%llx: EL1h, D, A, "
			  "I, F masked, N Z C V DIT PAN of SPSR_EL1 0x%llx, "
			  "PAN set if SCTLR_EL1 0x%llx has SPAN (bit 23) "
			  "clear, SSBS its DSSBS (bit 44) (ABI 3)",
			  (unsigned long long)out[7], (unsigned long long)want,
			  (unsigned long long)c->value[INJ_SPSR],
			  (unsigned long long)c->sctlr);
}

/* Where and how the host resumes: its vector, in EL1h, DAIF masked. */
static void inj_return(const struct inject_rule *r, const struct inject_cpu *c,
		       const uint64_t *out, char *bad, size_t len)
{
	int64_t off = -1;

	if (c->written & (1u << INJ_SPSR))
		off = inj_vector(c->value[INJ_SPSR] & INJ_SPSR_MODE);
	if (c->vbar_known && off >= 0 && out[6] != c->vbar + (uint64_t)off)
		ck_append(bad, len,
			  "the exit returns to 0x%llx, not VBAR_EL1 0x%llx + "
			  "0x%llx (the synchronous vector for a host in mode "
			  "0x%llx)",
			  (unsigned long long)out[6],
			  (unsigned long long)c->vbar, (unsigned long long)off,
			  (unsigned long long)(c->value[INJ_SPSR] &
					       INJ_SPSR_MODE));
	else if (c->vbar_known && off < 0 && out[6] != c->vbar &&
		 out[6] != c->vbar + 0x200 && out[6] != c->vbar + 0x400)
		ck_append(bad, len,
			  "the exit returns to 0x%llx, not a synchronous "
			  "vector of VBAR_EL1 0x%llx",
			  (unsigned long long)out[6],
			  (unsigned long long)c->vbar);
	inj_spsr(r, c, out, bad, len);
}

static void inject_exit(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct inject_rule *r = self;
	struct inject_cpu *c;
	/* Only its first byte is set: ck_append appends after a NUL, and a
	 * 900-byte zeroing on every exit was the hottest line of a trap. */
	char bad[900];

	if (ev->cpu >= CK_MAX_CPUS)
		return;
	c = &r->cpu[ev->cpu];
	if (!c->active || c->lost || ev->incomplete) {
		c->active = false;
		return;
	}
	c->active = false;
	if (!ev->w[4] && !c->written)
		return; /* nothing injected: the spec rule says if it must */
	if (!ev->w[4]) {
		ck_finding(env->out, "abort-injection", ev, c->far, false, 0,
			   "the hyp wrote the host's EL1 fault registers "
			   "(%s%s%s%s) "
			   "but the exit injects nothing (inject_esr 0): they "
			   "are written only when an abort is injected",
			   c->written & 1 ? "ESR_EL1 " : "",
			   c->written & 2 ? "FAR_EL1 " : "",
			   c->written & 4 ? "ELR_EL1 " : "",
			   c->written & 8 ? "SPSR_EL1" : "");
		return;
	}
	bad[0] = 0;
	inj_registers(r, c, ev->w, bad, sizeof(bad));
	inj_return(r, c, ev->w, bad, sizeof(bad));
	if (bad[0])
		ck_finding(env->out, "abort-injection", ev, c->far, false, 0,
			   "an abort injected into the host (entry esr 0x%llx "
			   "far 0x%llx elr 0x%llx): %s (HYPERCALLS.md "
			   "\"Stage-2 abort\")",
			   (unsigned long long)c->esr,
			   (unsigned long long)c->far,
			   (unsigned long long)c->elr, bad);
}

static void inject_loss(void *self, const struct ck_env *env, unsigned cpu)
{
	struct inject_rule *r = self;

	(void)env;
	if (cpu < CK_MAX_CPUS)
		r->cpu[cpu].lost = true;
}

static void inject_abandon(void *self, const struct ck_env *env, unsigned cpu,
			   const char *why)
{
	struct inject_rule *r = self;

	(void)env;
	(void)why;
	if (cpu < CK_MAX_CPUS)
		r->cpu[cpu].active = false;
}

static void *inject_create(const struct ck_env *env, unsigned cpu_count)
{
	struct inject_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_inject = {
	.name = "inject",
	.create = inject_create,
	.destroy = free,
	.boot = inject_boot,
	.trap_entry = inject_entry,
	.trap_exit = inject_exit,
	.sysreg = inject_sysreg,
	.nondet = inject_nondet,
	.trap_abandon = inject_abandon,
	.loss = inject_loss,
};
