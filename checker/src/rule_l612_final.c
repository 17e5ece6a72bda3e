// SPDX-License-Identifier: MIT
/*
 * linux-6.12: `__pkvm_prot_finalize` (id 8, LINUX-6.12.md 5.2) and the
 * hyp stage-1 root named at boot (5.1 step 2); checks `hcall-return`,
 * `hcall-effect` and `sysreg`.
 *
 * Per CPU, once: a CPU whose HCR_EL2 already has VM (its own earlier
 * finalisation returned 0, or wrote HCR_EL2 with VM) is answered -EPERM
 * with no register written and no maintenance. Otherwise the call writes
 * HCR_EL2 with VM, then VTCR_EL2 and VTTBR_EL2 (VMID 0, the host
 * stage-2's root: the first page `__pkvm_init` handed out for it; every
 * CPU the same VTCR_EL2 and VTTBR_EL2), then `tlbi vmalls12e1`, `dsb nsh`
 * and `isb`, in that order, and returns 0. It stores no descriptor. (The
 * ISB of the ARM64_WORKAROUND_SPECULATIVE_AT alternative is not recorded:
 * extra barriers are allowed.)
 *
 * Once the host has started finalisation (the static key it sets before
 * its first `__pkvm_prot_finalize`: from that call's entry on, in counter
 * time, on any CPU), ids 1-7 are not dispatched: x0 = -1
 * (SMCCC_RET_NOT_SUPPORTED), x1 unchanged (`hcall-return`; LINUX-6.12.md
 * 6). No lock orders such a call against another CPU's finalisation, so
 * the rule compares entry timestamps, and a call the replay meets before
 * any finalisation that started earlier waits for the end of the replay.
 *
 * At boot, `__pkvm_init` writes TTBR0_EL2 once, inside its own trap, with
 * the PA of the hyp stage-1's pgd: the first page it handed out for the
 * hyp stage-1 (kvm_pgtable_hyp_init allocates it first).
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "profile.h"
#include "rules.h"

#define L612F_EPERM ((uint64_t)-1)
#define L612F_ADDR 0x0000fffffffff000ull
#define L612F_HCR_VM 1ull

/* The steps of a finalisation, in their order. */
enum l612f_step {
	L612F_HCR,
	L612F_VTCR,
	L612F_VTTBR,
	L612F_TLBI,
	L612F_DSB,
	L612F_ISB,
	L612F_DONE,
};

static const char *const l612f_step_name[] = {
	"sysreg_write hcr_el2 (VM set)",
	"sysreg_write vtcr_el2",
	"sysreg_write vttbr_el2",
	"tlbi vmalls12e1",
	"dsb nsh",
	"isb",
};

/** One CPU: its finalisation in progress, and whether it has VM set. */
struct l612f_cpu {
	bool in_call; /* inside __pkvm_prot_finalize */
	bool vm;      /* HCR_EL2.VM is set on this CPU */
	bool expect_eperm;
	bool effect_seen; /* a store was reported */
	unsigned step;	  /* next step expected (enum l612f_step) */
	uint64_t entry;	  /* the index of its entry */
	char bad[240];	  /* the first step out of place */
};

/** A call of ids 1-7: its entry, and (once it exits) its exit. */
struct l612f_low {
	unsigned id; /* 0: none */
	uint64_t ts, x1, entry;
	struct ck_event exit;
};

#define L612F_MAX_PENDING 256u

struct l612f_rule {
	struct l612f_low low[CK_MAX_CPUS]; /* each CPU's in progress */
	/* Exits judged at the end: no finalisation before them yet. */
	struct l612f_low pending[L612F_MAX_PENDING];
	unsigned pending_count;
	uint64_t fin_ts; /* the earliest finalisation entry, or ~0 */
	struct l612f_cpu cpu[CK_MAX_CPUS];
	int boot_cpu;		 /* the CPU in __pkvm_init, or -1 */
	bool boot_seen;		 /* __pkvm_init was entered */
	uint64_t boot_entry;	 /* its entry's index */
	uint64_t s1_pgd, s2_pgd; /* first pages it allocated, or 0 */
	bool ttbr0_seen;	 /* TTBR0_EL2 written at boot */
	uint64_t vtcr, vttbr;	 /* the host's, from the first finalisation */
	bool vtcr_known, vttbr_known;
};

static void l612f_entry(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612f_rule *r = self;
	struct l612f_cpu *c = &r->cpu[ev->cpu];
	int hc = profile_hcall_id(ev->w);
	unsigned id = (unsigned)hc;

	c->in_call = false;
	if (hc < 0)
		return;
	if (id == PKVM_L612_HC_PKVM_INIT && !r->boot_seen) {
		r->boot_seen = true;
		r->boot_cpu = (int)ev->cpu;
		r->boot_entry = ev->index;
		return;
	}
	r->low[ev->cpu].id = 0;
	if (id >= 1 && id < PKVM_L612_HC_PKVM_PROT_FINALIZE)
		r->low[ev->cpu] = (struct l612f_low){
			id, ev->ts, ev->w[5], ev->index, { 0 }
		};
	if (id != PKVM_L612_HC_PKVM_PROT_FINALIZE)
		return;
	if (ev->ts < r->fin_ts)
		r->fin_ts = ev->ts;
	c->in_call = true;
	c->expect_eperm = c->vm;
	c->effect_seen = false;
	c->step = L612F_HCR;
	c->entry = ev->index;
	c->bad[0] = '\0';
	(void)env;
}

/* `what` happened in `c`'s call where step `c->step` was expected. */
static void l612f_out_of_place(struct l612f_cpu *c, const char *what)
{
	if (c->bad[0])
		return;
	if (c->expect_eperm)
		snprintf(c->bad, sizeof(c->bad),
			 "%s, though this CPU's HCR_EL2 already has VM (the "
			 "call must return -EPERM with no change)",
			 what);
	else
		snprintf(c->bad, sizeof(c->bad), "%s where %s was due", what,
			 c->step < L612F_DONE ? l612f_step_name[c->step]
					      : "the exit");
}

/* The next step is `step`: taken in order, or noted out of place. */
static void l612f_step(struct l612f_cpu *c, unsigned step, const char *what)
{
	if (!c->expect_eperm && c->step == step) {
		c->step++;
		return;
	}
	l612f_out_of_place(c, what);
}

static void l612f_sysreg(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct l612f_rule *r = self;
	struct l612f_cpu *c = &r->cpu[ev->cpu];
	uint64_t v = ev->w[1];
	char what[120];

	(void)env;
	if (ev->w[0] == PKVM_SYSREG_TTBR0_EL2) {
		bool in_boot = r->boot_cpu == (int)ev->cpu;

		if (r->ttbr0_seen || view_any_loss(env->view))
			return;
		r->ttbr0_seen = true;
		if (!in_boot || (r->s1_pgd && (v & L612F_ADDR) != r->s1_pgd))
			ck_finding(
				env->out, "sysreg", ev, v & L612F_ADDR,
				r->boot_seen, r->boot_entry,
				"TTBR0_EL2 = 0x%llx: the hyp stage-1 root is "
				"named once, inside __pkvm_init, with the "
				"pgd it allocated first (0x%llx) "
				"(LINUX-6.12.md 5.1)",
				(unsigned long long)v,
				(unsigned long long)r->s1_pgd);
		return;
	}
	if (ev->w[0] == PKVM_SYSREG_HCR_EL2 && (v & L612F_HCR_VM))
		c->vm = true;
	if (!c->in_call)
		return;
	snprintf(what, sizeof(what), "sysreg_write %s = 0x%llx",
		 ev->w[0] == PKVM_SYSREG_HCR_EL2     ? "hcr_el2"
		 : ev->w[0] == PKVM_SYSREG_VTCR_EL2  ? "vtcr_el2"
		 : ev->w[0] == PKVM_SYSREG_VTTBR_EL2 ? "vttbr_el2"
						     : "another register",
		 (unsigned long long)v);
	if (ev->w[0] == PKVM_SYSREG_HCR_EL2 && (v & L612F_HCR_VM))
		l612f_step(c, L612F_HCR, what);
	else if (ev->w[0] == PKVM_SYSREG_VTCR_EL2 &&
		 (!r->vtcr_known || v == r->vtcr))
		l612f_step(c, L612F_VTCR, what);
	else if (ev->w[0] == PKVM_SYSREG_VTTBR_EL2 && (v >> 48) == 0 &&
		 (r->vttbr_known ? v == r->vttbr
				 : !r->s2_pgd || (v & L612F_ADDR) == r->s2_pgd))
		l612f_step(c, L612F_VTTBR, what);
	else
		l612f_out_of_place(c, what);
	/* The host's: those of the first finalisation (every CPU's the
	 * same: one host_mmu). */
	if (ev->w[0] == PKVM_SYSREG_VTCR_EL2 && !r->vtcr_known) {
		r->vtcr = v;
		r->vtcr_known = true;
	}
	if (ev->w[0] == PKVM_SYSREG_VTTBR_EL2 && !r->vttbr_known &&
	    (v >> 48) == 0) {
		r->vttbr = v;
		r->vttbr_known = true;
	}
}

static void l612f_maintenance(void *self, const struct ck_env *env,
			      const struct ck_event *ev)
{
	struct l612f_rule *r = self;
	struct l612f_cpu *c = &r->cpu[ev->cpu];

	(void)env;
	if (!c->in_call)
		return;
	if (ev->kind == PKVM_EV_TLBI) {
		if (ev->w[0] == PKVM_TLBI_VMALLS12E1)
			l612f_step(c, L612F_TLBI, "tlbi vmalls12e1");
		else
			l612f_out_of_place(c, "another tlbi");
	} else if (ev->w[0] == PKVM_BARRIER_DSB_NSH && c->step == L612F_DSB) {
		l612f_step(c, L612F_DSB, "dsb nsh");
	} else if (ev->w[0] == PKVM_BARRIER_ISB && c->step == L612F_ISB) {
		l612f_step(c, L612F_ISB, "isb");
	} else if (c->expect_eperm) {
		l612f_out_of_place(c, "a barrier");
	}
}

static void l612f_nondet(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct l612f_rule *r = self;

	(void)env;
	if (r->boot_cpu != (int)ev->cpu || ev->w[0] != PKVM_NONDET_ALLOC_PAGE)
		return;
	if (ev->w[3] == PKVM_COMP_HYP_S1 && !r->s1_pgd)
		r->s1_pgd = ev->w[1];
	if (ev->w[3] == PKVM_COMP_HOST_S2 && !r->s2_pgd)
		r->s2_pgd = ev->w[1];
}

static void l612f_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612f_rule *r = self;
	struct l612f_cpu *c = &r->cpu[ev->cpu];
	uint64_t pa = ev->w[0] & 0x0000ffffffffffffull;

	if (!c->in_call || c->effect_seen)
		return;
	c->effect_seen = true;
	ck_finding(env->out, "hcall-effect", ev, pa, true, c->entry,
		   "__pkvm_prot_finalize (id 8) stores 0x%llx to the "
		   "descriptor at PA 0x%llx: it changes no table "
		   "(LINUX-6.12.md 5.2)",
		   (unsigned long long)ev->w[1], (unsigned long long)pa);
}

/* A call of ids 1-7 made once finalisation started: not dispatched. */
static void l612f_judge_low(const struct l612f_rule *r,
			    const struct ck_env *env, const struct l612f_low *l)
{
	const struct ck_event *ev = &l->exit;

	if (ev->w[0] == (uint64_t)-1 && ev->w[1] == l->x1)
		return;
	ck_finding(env->out, "hcall-return", ev, 0, true, l->entry,
		   "hypercall id %u, made after the host started finalisation "
		   "(the first __pkvm_prot_finalize entered at tick %llu), "
		   "returns x0=0x%llx x1=0x%llx; the spec: not dispatched, "
		   "x0=-1 and x1 unchanged (0x%llx) (LINUX-6.12.md 6)",
		   l->id, (unsigned long long)r->fin_ts,
		   (unsigned long long)ev->w[0], (unsigned long long)ev->w[1],
		   (unsigned long long)l->x1);
}

static void l612f_low_exit(struct l612f_rule *r, const struct ck_env *env,
			   const struct ck_event *ev)
{
	struct l612f_low *l = &r->low[ev->cpu];

	if (!l->id)
		return;
	l->exit = *ev;
	if (view_cpu_lost(env->view, ev->cpu)) {
		/* its entry's registers may be another call's */
		l->id = 0;
		return;
	}
	if (r->fin_ts < l->ts)
		l612f_judge_low(r, env, l);
	else if (r->pending_count < L612F_MAX_PENDING)
		r->pending[r->pending_count++] = *l;
	else
		ck_inconclusive(env->out,
				"hypercall id %u at event #%llu: too "
				"many calls of ids 1-7 to keep",
				l->id, (unsigned long long)ev->index);
	l->id = 0;
}

static void l612f_exit(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct l612f_rule *r = self;
	struct l612f_cpu *c = &r->cpu[ev->cpu];
	uint64_t want = c->expect_eperm ? L612F_EPERM : 0;

	l612f_low_exit(r, env, ev);

	if (r->boot_cpu == (int)ev->cpu)
		r->boot_cpu = -1;
	if (!c->in_call)
		return;
	c->in_call = false;
	if (view_cpu_lost(env->view, ev->cpu)) {
		ck_inconclusive(env->out,
				"cpu%u __pkvm_prot_finalize at event #%llu: "
				"records were lost",
				ev->cpu, (unsigned long long)ev->index);
		return;
	}
	if (ev->w[0] != 0 || ev->w[1] != want)
		ck_finding(env->out, "hcall-return", ev, 0, true, c->entry,
			   "__pkvm_prot_finalize (id 8) returns x0=0x%llx "
			   "x1=0x%llx; the spec: x0=0, x1=%s (this CPU's "
			   "HCR_EL2 %s VM) (LINUX-6.12.md 5.2)",
			   (unsigned long long)ev->w[0],
			   (unsigned long long)ev->w[1],
			   c->expect_eperm ? "-EPERM" : "0",
			   c->expect_eperm ? "already has" : "has no");
	/* Its saved HCR_EL2 has VM from a first call that returned 0 on. */
	if (ev->w[0] == 0 && ev->w[1] == 0)
		c->vm = true;
	if (!c->expect_eperm && c->step < L612F_DONE)
		l612f_out_of_place(c, "the exit");
	if (c->bad[0])
		ck_finding(env->out, "sysreg", ev, 0, true, c->entry,
			   "__pkvm_prot_finalize (id 8): %s; the spec: "
			   "HCR_EL2 with VM, VTCR_EL2 and VTTBR_EL2 (VMID 0, "
			   "the host stage-2 root, the same on every CPU), "
			   "tlbi vmalls12e1, dsb nsh, isb (LINUX-6.12.md "
			   "5.2)",
			   c->bad);
}

static void l612f_abandon(void *self, const struct ck_env *env, unsigned cpu,
			  const char *why)
{
	struct l612f_rule *r = self;

	(void)env;
	(void)why;
	r->cpu[cpu].in_call = false;
	r->low[cpu].id = 0;
	if (r->boot_cpu == (int)cpu)
		r->boot_cpu = -1;
}

static void l612f_end(void *self, const struct ck_env *env)
{
	struct l612f_rule *r = self;

	for (unsigned i = 0; i < r->pending_count; i++)
		if (r->fin_ts < r->pending[i].ts)
			l612f_judge_low(r, env, &r->pending[i]);
}

static void *l612f_create(const struct ck_env *env, unsigned cpu_count)
{
	struct l612f_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	r->boot_cpu = -1;
	r->fin_ts = ~0ull;
	return r;
}

const struct ck_rule rule_l612_final = {
	.name = "l612-final",
	.system = PKVM_SYSTEM_LINUX612,
	.create = l612f_create,
	.destroy = free,
	.trap_entry = l612f_entry,
	.trap_exit = l612f_exit,
	.trap_abandon = l612f_abandon,
	.store_before = l612f_store,
	.sysreg = l612f_sysreg,
	.maintenance = l612f_maintenance,
	.nondet = l612f_nondet,
	.end = l612f_end,
};
