// SPDX-License-Identifier: MIT
/*
 * linux-6.12: the host hypercalls that own nothing change no descriptor
 * (LINUX-6.12.md 6.6 and 6.7; check `hcall-effect`).
 *
 * `__kvm_get_mdcr_el2` (1), the pre-finalisation set-up calls 4-7,
 * `__kvm_adjust_pc` (11), `__kvm_vcpu_run` (12), the TLB calls (13-18),
 * the timer (19), the vGIC (20, 21) and `__pkvm_vcpu_init_traps` (22)
 * change no page state and write no host stage-2 or hyp stage-1
 * descriptor: what they touch is TLBs, EL2 and EL1 registers and host
 * memory through host pointers. So any descriptor store a CPU makes
 * inside one of them, in its own handling, is a finding: one per call, at
 * its first store. A store in a guest trap nested in `__kvm_vcpu_run` is
 * the guest trap's (`trap-effect`, rule_l612_ret.c).
 *
 * A call the hyp does not dispatch (LINUX-6.12.md 6: x0 = -1, no effect)
 * stores nothing either: an id of 0 or at least 26 is never dispatched
 * (any store inside one is a finding at once), and `__pkvm_init` (2, but
 * the boot call that opens the trace) and `__pkvm_create_private_mapping`
 * (3) are judged at their exit: refused (x0 = -1), a store inside is
 * `hcall-effect`. Dispatched, a second `__pkvm_init` and any id 3 map
 * what this checker does not judge (5.1, 6.7): an inconclusive note per
 * call, so a trace without one can be judged whole.
 */
#include <stdlib.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/record.h>

#include "l612_hcalls.h"
#include "profile.h"
#include "rules.h"

#define L612N_EC_HVC64 0x16u
#define L612N_PA_MASK 0x0000ffffffffffffull

/* What the call in progress may store (r->kind). */
enum l612n_kind {
	L612N_NONE,
	L612N_NO_EFFECT, /* 1, 4-7, 11-22: nothing */
	L612N_NOT_DISP,	 /* 0, >= 26: never dispatched, nothing */
	L612N_AT_EXIT,	 /* 2 (not the boot), 3: nothing if refused */
};

struct l612n_rule {
	unsigned id[CK_MAX_CPUS];   /* the call in progress */
	unsigned kind[CK_MAX_CPUS]; /* enum l612n_kind */
	bool boot_seen;		    /* the boot's __pkvm_init was entered */
	uint64_t x0[CK_MAX_CPUS];   /* its x0 at entry */
	uint64_t store_pa[CK_MAX_CPUS], store_val[CK_MAX_CPUS];
	bool reported[CK_MAX_CPUS];  /* its finding is made */
	uint64_t entry[CK_MAX_CPUS]; /* the index of its entry */
	bool guest[CK_MAX_CPUS];     /* inside a guest trap */
};

static void l612n_entry(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612n_rule *r = self;
	int hc = profile_hcall_id(ev->w);
	/* 0: an id 6.12 does not dispatch, or not PKVM_HC_BASE | id */
	unsigned id = hc > 0 && hc < (int)PKVM_L612_HC_COUNT ? (unsigned)hc : 0;

	(void)env;
	r->kind[ev->cpu] = L612N_NONE;
	/* (the replay passes host traps only) */
	if (((ev->w[0] >> 26) & 0x3f) != L612N_EC_HVC64)
		return;
	if (id == 0)
		r->kind[ev->cpu] = L612N_NOT_DISP;
	else if (l612_hcall_no_effect(id))
		r->kind[ev->cpu] = L612N_NO_EFFECT;
	else if (id == PKVM_L612_HC_PKVM_CREATE_PRIVATE_MAPPING ||
		 (id == PKVM_L612_HC_PKVM_INIT && r->boot_seen))
		r->kind[ev->cpu] = L612N_AT_EXIT;
	if (id == PKVM_L612_HC_PKVM_INIT)
		r->boot_seen = true;
	r->id[ev->cpu] = id;
	r->x0[ev->cpu] = ev->w[4];
	r->reported[ev->cpu] = false;
	r->entry[ev->cpu] = ev->index;
}

static void l612n_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612n_rule *r = self;
	unsigned id = r->id[ev->cpu], kind = r->kind[ev->cpu];

	if (kind == L612N_NONE || r->reported[ev->cpu] || r->guest[ev->cpu])
		return;
	r->reported[ev->cpu] = true;
	if (kind == L612N_AT_EXIT) { /* judged when x0 says it was refused */
		r->store_pa[ev->cpu] = ev->w[0] & L612N_PA_MASK;
		r->store_val[ev->cpu] = ev->w[1];
		return;
	}
	if (kind == L612N_NOT_DISP) {
		ck_finding(env->out, "hcall-effect", ev,
			   ev->w[0] & L612N_PA_MASK, true, r->entry[ev->cpu],
			   "a hypercall never dispatched (x0=0x%llx) stores "
			   "0x%llx to the descriptor at PA 0x%llx: a call "
			   "the hyp does not dispatch has no effect "
			   "(LINUX-6.12.md 6)",
			   (unsigned long long)r->x0[ev->cpu],
			   (unsigned long long)ev->w[1],
			   (unsigned long long)(ev->w[0] & L612N_PA_MASK));
		return;
	}
	ck_finding(env->out, "hcall-effect", ev, ev->w[0] & L612N_PA_MASK, true,
		   r->entry[ev->cpu],
		   "%s (id %u) stores 0x%llx to the descriptor at PA 0x%llx: "
		   "it writes no host stage-2 or hyp stage-1 descriptor and "
		   "changes no page's state (LINUX-6.12.md 6.7)",
		   l612_hcall_name(id), id, (unsigned long long)ev->w[1],
		   (unsigned long long)(ev->w[0] & L612N_PA_MASK));
}

/* Ids 2 (not the boot) and 3 at their exit (see the head comment). */
static void l612n_judge_exit(struct l612n_rule *r, const struct ck_env *env,
			     const struct ck_event *ev)
{
	unsigned cpu = ev->cpu, id = r->id[cpu];

	if (ev->incomplete || view_any_loss(env->view) ||
	    ck_trap_is_unsure(env->out, cpu))
		return;
	if (ev->w[0] == ~0ull) {
		if (r->reported[cpu])
			ck_finding(env->out, "hcall-effect", ev,
				   r->store_pa[cpu], true, r->entry[cpu],
				   "%s (id %u) was refused (x0 = -1) but "
				   "stored 0x%llx to the descriptor at PA "
				   "0x%llx: a call the hyp does not dispatch "
				   "has no effect (LINUX-6.12.md 6)",
				   l612_hcall_name(id), id,
				   (unsigned long long)r->store_val[cpu],
				   (unsigned long long)r->store_pa[cpu]);
	} else if (ev->w[0] == 0) {
		ck_inconclusive(env->out, "cpu%u %s at event #%llu: %s", cpu,
				l612_hcall_name(id),
				(unsigned long long)ev->index,
				id == PKVM_L612_HC_PKVM_INIT
					? "a second __pkvm_init's effect is "
					  "not judged: LINUX-6.12.md 5.1"
					: "__pkvm_create_private_mapping's "
					  "mapping is not judged: "
					  "LINUX-6.12.md 6.7");
	}
}

static void l612n_guest_trap(void *self, const struct ck_env *env,
			     const struct ck_event *ev)
{
	struct l612n_rule *r = self;

	(void)env;
	r->guest[ev->cpu] = ev->kind == PKVM_EV_TRAP_ENTRY;
}

static void l612n_exit(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct l612n_rule *r = self;

	if (r->kind[ev->cpu] == L612N_AT_EXIT)
		l612n_judge_exit(r, env, ev);
	r->kind[ev->cpu] = L612N_NONE;
	r->guest[ev->cpu] = false;
}

static void l612n_abandon(void *self, const struct ck_env *env, unsigned cpu,
			  const char *why)
{
	struct l612n_rule *r = self;

	(void)env;
	(void)why;
	r->kind[cpu] = L612N_NONE;
	r->guest[cpu] = false;
}

static void *l612n_create(const struct ck_env *env, unsigned cpu_count)
{
	struct l612n_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_l612_noeffect = {
	.name = "l612-noeffect",
	.system = PKVM_SYSTEM_LINUX612,
	.create = l612n_create,
	.destroy = free,
	.trap_entry = l612n_entry,
	.store_before = l612n_store,
	.trap_exit = l612n_exit,
	.guest_trap = l612n_guest_trap,
	.trap_abandon = l612n_abandon,
};
