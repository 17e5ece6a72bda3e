// SPDX-License-Identifier: MIT
/*
 * linux-6.12: the host's stage-2 is loaded again whenever a host trap
 * returns (LINUX-6.12.md 8, promises 3 and 4; check
 * `guest-stage2-not-restored`).
 *
 * `__kvm_vcpu_run` loads the stage-2 the host's vCPU names (VTCR_EL2 and
 * VTTBR_EL2 from the host's kvm_s2_mmu), and the TLB hypercalls switch to
 * a guest's VMID for their invalidation; before the call returns, the hyp
 * must load the host's again, or the host runs on the guest's tables.
 * The host's are the values `__pkvm_prot_finalize` loads: the first
 * VTTBR_EL2 with VMID 0 in the trace, and the VTCR_EL2 written before it.
 * From a CPU's first VTTBR_EL2 write on, each host trap exit of that CPU
 * must find the last VTTBR_EL2 and VTCR_EL2 written on it equal to the
 * host's. A CPU whose records were lost is not judged until it writes
 * both again.
 *
 * Only for the linux-6.12 profile; our hyp never loads a guest stage-2.
 */
#include <stdlib.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/record.h>

#include "profile.h"
#include "rules.h"

#define L612G_VMID_SHIFT 48

struct l612g_cpu {
	/* The host trap in progress: known (from its entry on, until a
	 * loss), and whether it is __kvm_vcpu_run. */
	bool host_known, in_host, in_run;
	uint64_t run_entry; /* the index of that entry */
	bool vttbr_known, vtcr_known;
	uint64_t vttbr, vtcr;
	uint64_t vttbr_at; /* the event that wrote it */
};

struct l612g_rule {
	bool host_known;
	uint64_t host_vttbr, host_vtcr;
	uint64_t last_vtcr; /* written anywhere, before the host's VTTBR */
	struct l612g_cpu cpu[CK_MAX_CPUS];
};

static void l612g_sysreg(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct l612g_rule *r = self;
	struct l612g_cpu *c = &r->cpu[ev->cpu];

	(void)env;
	if (ev->w[0] == PKVM_SYSREG_VTCR_EL2) {
		c->vtcr = ev->w[1];
		c->vtcr_known = true;
		if (!r->host_known)
			r->last_vtcr = ev->w[1];
	} else if (ev->w[0] == PKVM_SYSREG_VTTBR_EL2) {
		c->vttbr = ev->w[1];
		c->vttbr_known = true;
		c->vttbr_at = ev->index;
		if (!r->host_known && !(ev->w[1] >> L612G_VMID_SHIFT)) {
			r->host_known = true;
			r->host_vttbr = ev->w[1];
			r->host_vtcr = r->last_vtcr;
		}
	}
}

static void l612g_entry(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612g_cpu *c = &((struct l612g_rule *)self)->cpu[ev->cpu];

	(void)env;
	c->host_known = true;
	c->in_host = true;
	c->in_run = profile_is_hcall(ev->w, PKVM_L612_HC_KVM_VCPU_RUN);
	c->run_entry = ev->index;
}

/*
 * LINUX-6.12.md 8, promise 1: a guest runs only inside the host's
 * __kvm_vcpu_run on that CPU, so each of its traps nests in one.
 */
static void l612g_guest_trap(void *self, const struct ck_env *env,
			     const struct ck_event *ev)
{
	struct l612g_cpu *c = &((struct l612g_rule *)self)->cpu[ev->cpu];

	if (ev->kind != PKVM_EV_TRAP_ENTRY || !c->host_known || c->in_run)
		return;
	ck_finding(env->out, "guest-outside-vcpu-run", ev, 0, false, 0,
		   "cpu%u takes a guest's trap (source %u) %s: a guest runs "
		   "only inside the host's __kvm_vcpu_run on its CPU "
		   "(LINUX-6.12.md 8, promise 1)",
		   ev->cpu, (unsigned)(ev->kbits >> PKVM_REC_F_KIND_SHIFT),
		   c->in_host ? "inside a host trap that is not __kvm_vcpu_run"
			      : "outside any host trap");
}

static void l612g_exit(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct l612g_rule *r = self;
	struct l612g_cpu *c = &r->cpu[ev->cpu];
	const char *what = NULL;
	uint64_t got = 0, want = 0;

	c->in_host = false;
	c->in_run = false;
	if (!r->host_known || !c->vttbr_known)
		return;
	if (c->vttbr != r->host_vttbr) {
		what = "VTTBR_EL2";
		got = c->vttbr;
		want = r->host_vttbr;
	} else if (c->vtcr_known && r->host_vtcr && c->vtcr != r->host_vtcr) {
		what = "VTCR_EL2";
		got = c->vtcr;
		want = r->host_vtcr;
	}
	if (!what)
		return;
	ck_finding(env->out, "guest-stage2-not-restored", ev, 0, true,
		   c->vttbr_at,
		   "cpu%u returns to the host with %s 0x%llx (VMID %llu) "
		   "loaded, not the host's 0x%llx: the hyp must load the "
		   "host's stage-2 again before a host trap returns "
		   "(LINUX-6.12.md 8, promise 3)",
		   ev->cpu, what, (unsigned long long)got,
		   (unsigned long long)(c->vttbr >> L612G_VMID_SHIFT),
		   (unsigned long long)want);
	/* One finding per switch: judged again after the next write. */
	c->vttbr_known = false;
}

static void l612g_loss(void *self, const struct ck_env *env, unsigned cpu)
{
	struct l612g_rule *r = self;

	(void)env;
	r->cpu[cpu].vttbr_known = false;
	r->cpu[cpu].vtcr_known = false;
	r->cpu[cpu].host_known = false;
}

static void l612g_abandon(void *self, const struct ck_env *env, unsigned cpu,
			  const char *why)
{
	struct l612g_rule *r = self;

	(void)env;
	(void)why;
	r->cpu[cpu].in_host = false;
	r->cpu[cpu].in_run = false;
}

static void *l612g_create(const struct ck_env *env, unsigned cpu_count)
{
	struct l612g_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_l612_guest = {
	.name = "l612-guest",
	.system = PKVM_SYSTEM_LINUX612,
	.create = l612g_create,
	.destroy = free,
	.sysreg = l612g_sysreg,
	.trap_entry = l612g_entry,
	.trap_exit = l612g_exit,
	.trap_abandon = l612g_abandon,
	.guest_trap = l612g_guest_trap,
	.loss = l612g_loss,
};
