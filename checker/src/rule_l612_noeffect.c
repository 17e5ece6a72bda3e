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
 */
#include <stdlib.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/record.h>

#include "rules.h"

#define L612N_EC_HVC64 0x16u
#define L612N_PA_MASK 0x0000ffffffffffffull

struct l612n_rule {
	unsigned id[CK_MAX_CPUS];    /* the call in progress, or 0 */
	bool reported[CK_MAX_CPUS];  /* its finding is made */
	uint64_t entry[CK_MAX_CPUS]; /* the index of its entry */
	bool guest[CK_MAX_CPUS];     /* inside a guest trap */
};

static const char *const l612n_names[] = {
#define L612N_NAME(name, id, nargs, str) [id] = str,
	PKVM_L612_HCALL_LIST(L612N_NAME)
#undef L612N_NAME
};

/** LINUX-6.12.md 6.6, 6.7: the ids that change no descriptor. */
static bool l612n_no_effect(unsigned id)
{
	switch (id) {
	case PKVM_L612_HC_KVM_GET_MDCR_EL2:
	case PKVM_L612_HC_PKVM_CPU_SET_VECTOR:
	case PKVM_L612_HC_KVM_ENABLE_SSBS:
	case PKVM_L612_HC_VGIC_V3_INIT_LRS:
	case PKVM_L612_HC_VGIC_V3_GET_GIC_CONFIG:
	case PKVM_L612_HC_KVM_ADJUST_PC:
	case PKVM_L612_HC_KVM_VCPU_RUN:
	case PKVM_L612_HC_KVM_FLUSH_VM_CONTEXT:
	case PKVM_L612_HC_KVM_TLB_FLUSH_VMID_IPA:
	case PKVM_L612_HC_KVM_TLB_FLUSH_VMID_IPA_NSH:
	case PKVM_L612_HC_KVM_TLB_FLUSH_VMID:
	case PKVM_L612_HC_KVM_TLB_FLUSH_VMID_RANGE:
	case PKVM_L612_HC_KVM_FLUSH_CPU_CONTEXT:
	case PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF:
	case PKVM_L612_HC_VGIC_V3_SAVE_VMCR_APRS:
	case PKVM_L612_HC_VGIC_V3_RESTORE_VMCR_APRS:
	case PKVM_L612_HC_PKVM_VCPU_INIT_TRAPS:
		return true;
	default:
		return false;
	}
}

static void l612n_entry(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612n_rule *r = self;
	uint64_t x0 = ev->w[4] & ~(1ull << 16);
	unsigned id = (unsigned)(x0 & 0xffff);

	(void)env;
	r->id[ev->cpu] = 0;
	/* (the replay passes host traps only) */
	if (((ev->w[0] >> 26) & 0x3f) != L612N_EC_HVC64 ||
	    (x0 & ~0xffffull) != PKVM_HC_BASE || !l612n_no_effect(id))
		return;
	r->id[ev->cpu] = id;
	r->reported[ev->cpu] = false;
	r->entry[ev->cpu] = ev->index;
}

static void l612n_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612n_rule *r = self;
	unsigned id = r->id[ev->cpu];

	if (!id || r->reported[ev->cpu] || r->guest[ev->cpu])
		return;
	r->reported[ev->cpu] = true;
	ck_finding(env->out, "hcall-effect", ev, ev->w[0] & L612N_PA_MASK, true,
		   r->entry[ev->cpu],
		   "%s (id %u) stores 0x%llx to the descriptor at PA 0x%llx: "
		   "it writes no host stage-2 or hyp stage-1 descriptor and "
		   "changes no page's state (LINUX-6.12.md 6.7)",
		   l612n_names[id], id, (unsigned long long)ev->w[1],
		   (unsigned long long)(ev->w[0] & L612N_PA_MASK));
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

	(void)env;
	r->id[ev->cpu] = 0;
	r->guest[ev->cpu] = false;
}

static void l612n_abandon(void *self, const struct ck_env *env, unsigned cpu,
			  const char *why)
{
	struct l612n_rule *r = self;

	(void)env;
	(void)why;
	r->id[cpu] = 0;
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
