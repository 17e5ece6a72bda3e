// SPDX-License-Identifier: MIT
/*
 * linux-6.12: what each host trap returns, what SMCs and guest traps may
 * not do, and which PANICs the spec names (format/LINUX-6.12.md 6, 6.6,
 * 6.7, 8, 9 and 11).
 *
 * Hypercalls (EC 0x16). x0 & ~bit 16 minus 0xC6000000 is the id; the call
 * is not dispatched when the id is 0 or at least 26 (then x0 = -1 and x1
 * as it was: `hcall-return`), or, for ids 1-7, once the host started
 * finalisation (judged by rule_l612_final.c, in counter time; this rule
 * leaves a CPU's ids 1-7 to it from that CPU's own finalisation on, and
 * before that lets them go either way). Dispatched, x0 = 0 and x1:
 * as it was for the ids whose handler writes none (5, 6, 11, 13-22); 0 or
 * -EINVAL for __pkvm_cpu_set_vector (4) as its slot is one of the four
 * vectors; for __kvm_vcpu_run (12) -EINVAL exactly when the VM table
 * lookup fails (from the values read from host memory, and the table as
 * rule_spec_l612_vm.c keeps it when the call takes vm_table_lock) or
 * nothing was read (SME state: SVCR is not recorded), else an exit code
 * (ARM_EXCEPTION_* 0-3, bit 31 for a pending SError, sign-extended).
 * Ids 1, 3 and 7 return the hyp's values in x1 (loose: MDCR_EL2, a hyp
 * VA, the GIC configuration); __pkvm_init (2) returns 0 or a negative
 * errno, sign-extended (5.1; dispatched: the boot call comes before any
 * finalisation); the results of ids 8 (5.2), 9, 10 and 23-25 are other
 * rules'. No handler writes x2 or x3, and
 * an HVC returns where it was (`trap-return`). A trap that reads one host word
 * twice is `host-read-twice` (but 23, 24: rule_spec_l612_vm.c).
 *
 * SMCs (EC 0x17, 9.2): ELR moves on by 4 (`trap-return`); a PSCI call
 * (the 0.2 function ids the relay takes: QEMU's virt has PSCI 1.1) returns
 * x1-x3 zero (`smc-return`; x0 is the PSCI result, and what EL3 answers a
 * forwarded call is EL3's); no descriptor store (`trap-effect`). Any other
 * host exception class BUG()s: a return from one is `trap-return`.
 *
 * Guest traps (8, promise 2): no descriptor store and no lock
 * (`trap-effect`).
 *
 * Host pointers (6.7): x1 of ids 11, 12, 14-18 and 20-22 must point into a
 * page the hyp borrows from the host; another is `host-pointer-not-shared`,
 * a note about the host (inconclusive, not a finding).
 *
 * PANICs (11): a PANIC in a host stage-2 fault is rule_l612_fault.c's; a
 * PANIC in __pkvm_teardown_vm of a VM with a loaded vCPU is the outcome
 * 6.5 names (rule_spec_l612_vm.c reports it, `host-caused-panic`); any
 * other is `hyp-panic`.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/record.h>

#include "rule_spec_l612.h"
#include "l612_hcalls.h"
#include "profile.h"
#include "rules.h"

#define RET_EC_HVC64 0x16u
#define RET_EC_SMC64 0x17u
#define RET_EC_IABT_LOW 0x20u
#define RET_EC_DABT_LOW 0x24u
#define RET_HCALLS PKVM_L612_HC_COUNT
#define RET_EINVAL 22
#define RET_MAX_ERRNO 4095
#define RET_MAX_READS 8u
#define RET_PA_MASK 0x0000ffffffffffffull

enum ret_kind { RET_NONE, RET_HVC, RET_SMC, RET_ABORT, RET_OTHER };

struct ret_cpu {
	unsigned kind;	 /* enum ret_kind of the host trap in progress */
	uint64_t e[8];	 /* its entry: esr, elr, far, hpfar, x0-x3 */
	uint64_t at;	 /* the entry's index */
	unsigned id;	 /* HVC: the id (RET_HCALLS and up: none) */
	bool finalised;	 /* this CPU entered __pkvm_prot_finalize */
	unsigned nreads; /* NONDET host_read of the trap */
	uint64_t read_pa[RET_MAX_READS], read_val[RET_MAX_READS];
	int lookup;	  /* id 12: 1 found, 0 not, -1 unknown */
	bool looked;	  /* ... decided at vm_table_lock */
	bool effect_said; /* its trap-effect finding is made */
	bool guest;	  /* inside a guest trap */
	bool guest_said;
};

struct ret_rule {
	bool conv; /* BOOT_LINUX: kernel pointer -> hyp VA */
	uint64_t kva_mask, kva_tag, kvm_size, hyp_off;
	struct ret_cpu cpu[CK_MAX_CPUS];
};

static const char *ret_name(unsigned id)
{
	const char *name = l612_hcall_name(id);

	return name ? name : "an unknown id";
}

static void ret_boot(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	(void)env;
	((struct ret_rule *)self)->hyp_off = ev->w[12];
}

static void ret_boot_linux(void *self, const struct ck_env *env,
			   const struct ck_event *ev)
{
	struct ret_rule *r = self;

	(void)env;
	r->conv = true;
	r->kva_mask = ev->w[0];
	r->kva_tag = ev->w[1];
	r->kvm_size = ev->w[5] & 0xffffffffull;
}

/* 6.7: the ids whose x1 is a host pointer the hyp reads or writes. */
static bool ret_takes_pointer(unsigned id)
{
	return id == PKVM_L612_HC_KVM_ADJUST_PC ||
	       id == PKVM_L612_HC_KVM_VCPU_RUN ||
	       (id >= PKVM_L612_HC_KVM_TLB_FLUSH_VMID_IPA &&
		id <= PKVM_L612_HC_KVM_FLUSH_CPU_CONTEXT) ||
	       (id >= PKVM_L612_HC_VGIC_V3_SAVE_VMCR_APRS &&
		id <= PKVM_L612_HC_PKVM_VCPU_INIT_TRAPS);
}

/*
 * 6.7: the host passes pointers only into pages it shares with the hyp.
 * A pointer into another page is the host's broken promise, not the
 * hyp's: a note (`host-pointer-not-shared`), and the run inconclusive.
 */
static void ret_pointer(const struct ret_rule *r, const struct ck_env *env,
			const struct ck_event *ev, unsigned id)
{
	const struct ck_boot *b = view_boot(env->view);
	struct l612_where w;
	uint64_t pa, out;
	unsigned st;

	if (!r->conv || !b || !ret_takes_pointer(id) ||
	    view_any_loss(env->view))
		return;
	w.ram_base = b->ram_base;
	w.ram_size = b->ram_size;
	w.hyp_off = r->hyp_off;
	pa = (((ev->w[5] & r->kva_mask) | r->kva_tag) - r->hyp_off) &
	     RET_PA_MASK;
	st = l612_page_side(env, &w, PKVM_COMP_HYP_S1, pa & ~0xfffull, &out);
	if (st == SPEC_ST_SHARED_BORROWED || st == SPEC_ST_UNKNOWN)
		return;
	ck_inconclusive(env->out,
			"%s: cpu%u %s at event #%llu passes 0x%llx (PA "
			"0x%llx), a page it does not share with the hyp (hyp "
			"side %s): LINUX-6.12.md 6.7 leaves the hyp's answer "
			"unspecified",
			"host-pointer-not-shared", ev->cpu, ret_name(id),
			(unsigned long long)ev->index,
			(unsigned long long)ev->w[5], (unsigned long long)pa,
			spec_state_name(st));
}

static void ret_entry(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct ret_rule *r = self;
	struct ret_cpu *c = &r->cpu[ev->cpu];
	unsigned ec = (unsigned)((ev->w[0] >> 26) & 0x3f);
	uint64_t x0 = profile_hc_x0(ev->w);

	memcpy(c->e, ev->w, sizeof(c->e));
	c->at = ev->index;
	c->nreads = 0;
	c->lookup = -1;
	c->looked = false;
	c->effect_said = false;
	c->guest = false;
	c->id = RET_HCALLS;
	if (ec == RET_EC_HVC64) {
		c->kind = RET_HVC;
		if (x0 - PKVM_HC_BASE < RET_HCALLS)
			c->id = (unsigned)(x0 - PKVM_HC_BASE);
		if (c->id == PKVM_L612_HC_PKVM_PROT_FINALIZE)
			c->finalised = true;
		ret_pointer(r, env, ev, c->id);
	} else if (ec == RET_EC_SMC64) {
		c->kind = RET_SMC;
	} else if (ec == RET_EC_IABT_LOW || ec == RET_EC_DABT_LOW) {
		c->kind = RET_ABORT;
	} else {
		c->kind = RET_OTHER;
	}
}

/* A host word read through a host pointer (NONDET host_read). */
/* Keep host read `ev` of the trap on `c`. */
static inline void ret_read_keep(struct ret_cpu *c, const struct ck_event *ev)
{
	if (c->nreads < RET_MAX_READS) {
		c->read_pa[c->nreads] = ev->w[2];
		c->read_val[c->nreads] = ev->w[1];
	}
	c->nreads++;
}

/*
 * Host read `ev` reads again what read `i` of the trap did. Apart, and
 * called last, so that ret_host_read, once per host read, need save no
 * registers for it.
 */
static __attribute__((noinline)) void ret_read_twice(const struct ck_env *env,
						     const struct ck_event *ev,
						     struct ret_cpu *c,
						     unsigned i)
{
	ck_finding(env->out, "host-read-twice", ev, ev->w[2], true, c->at,
		   "%s (id %u) read host memory at 0x%llx "
		   "twice (0x%llx, then 0x%llx); "
		   "LINUX-6.12.md 6.6 reads each host value "
		   "once",
		   ret_name(c->id), c->id, (unsigned long long)ev->w[2],
		   (unsigned long long)c->read_val[i],
		   (unsigned long long)ev->w[1]);
	ret_read_keep(c, ev);
}

static void ret_host_read(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct ret_cpu *c = &((struct ret_rule *)self)->cpu[ev->cpu];

	if (c->kind != RET_HVC || c->id == PKVM_L612_HC_PKVM_INIT_VM ||
	    c->id == PKVM_L612_HC_PKVM_INIT_VCPU)
		return;
	for (unsigned i = 0; i < c->nreads && i < RET_MAX_READS; i++)
		if (c->read_pa[i] == ev->w[2]) {
			ret_read_twice(env, ev, c, i);
			return;
		}
	ret_read_keep(c, ev);
}

/*
 * __kvm_vcpu_run's lookup (6.6, pkvm_load_hyp_vcpu), when it takes
 * vm_table_lock: the handle read from the host's struct kvm (the page
 * range the first read, vcpu->kvm, points at) and the vCPU index read
 * from the host vCPU, against the VM table.
 */
static int ret_vcpu_lookup(const struct ret_rule *r, const struct ck_env *env,
			   const struct ret_cpu *c)
{
	uint64_t kvm_pa, handle = 0, idx = 0;
	unsigned nh = 0, ni = 0, nr = 0, loaded = 0;
	int found;

	if (!r->conv || c->nreads != 3)
		return -1;
	kvm_pa = (((c->read_val[0] & r->kva_mask) | r->kva_tag) - r->hyp_off) &
		 RET_PA_MASK;
	for (unsigned i = 1; i < 3; i++) {
		if (c->read_pa[i] - kvm_pa < (r->kvm_size ? r->kvm_size : 1)) {
			handle = c->read_val[i];
			nh++;
		} else {
			idx = c->read_val[i];
			ni++;
		}
	}
	if (nh != 1 || ni != 1)
		return -1;
	found = l612_vm_lookup(env, handle, &nr, &loaded);
	if (found < 0)
		return -1;
	return found && (uint32_t)idx < nr;
}

static void ret_acquire(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct ret_rule *r = self;
	struct ret_cpu *c = &r->cpu[ev->cpu];

	if (c->guest && !c->guest_said) {
		c->guest_said = true;
		ck_finding(env->out, "trap-effect", ev, 0, true, c->at,
			   "a guest trap took lock 0x%llx: guest traps take "
			   "no lock (LINUX-6.12.md 8, promise 2)",
			   (unsigned long long)view_lock_raw(
				   env->view, (unsigned)ev->w[0]));
		return;
	}
	if (c->kind != RET_HVC || c->id != PKVM_L612_HC_KVM_VCPU_RUN ||
	    c->looked ||
	    view_lock_class(env->view, (unsigned)ev->w[0]) !=
		    PKVM_LOCK_ROLE_VM_TABLE)
		return;
	c->looked = true;
	c->lookup = ret_vcpu_lookup(r, env, c);
}

static void ret_store(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct ret_cpu *c = &((struct ret_rule *)self)->cpu[ev->cpu];
	uint64_t pa = ev->w[0] & RET_PA_MASK;

	if (c->guest && !c->guest_said) {
		c->guest_said = true;
		ck_finding(env->out, "trap-effect", ev, pa, true, c->at,
			   "a guest trap stores 0x%llx to the descriptor at "
			   "PA 0x%llx: guest traps change no descriptor "
			   "(LINUX-6.12.md 8, promise 2)",
			   (unsigned long long)ev->w[1],
			   (unsigned long long)pa);
	} else if (!c->guest && c->kind == RET_SMC && !c->effect_said) {
		c->effect_said = true;
		ck_finding(env->out, "trap-effect", ev, pa, true, c->at,
			   "an SMC (x0=0x%llx) stores 0x%llx to the descriptor "
			   "at PA 0x%llx: SMCs change no table "
			   "(LINUX-6.12.md 9.2)",
			   (unsigned long long)c->e[4],
			   (unsigned long long)ev->w[1],
			   (unsigned long long)pa);
	}
}

static void ret_guest_trap(void *self, const struct ck_env *env,
			   const struct ck_event *ev)
{
	struct ret_cpu *c = &((struct ret_rule *)self)->cpu[ev->cpu];

	(void)env;
	c->guest = ev->kind == PKVM_EV_TRAP_ENTRY;
	c->guest_said = false;
}

/* An exit code of __kvm_vcpu_run (int, sign-extended into x1). */
static bool ret_exit_code(uint64_t x1)
{
	uint32_t v = (uint32_t)x1;

	return x1 == (uint64_t)(int64_t)(int32_t)v && (v & 0x7fffffffu) <= 3;
}

static void ret_bad(const struct ck_env *env, const struct ret_cpu *c,
		    const struct ck_event *ev, const char *check,
		    const char *want)
{
	ck_finding(env->out, check, ev, 0, true, c->at,
		   "%s (x0=0x%llx, x1=0x%llx) returned x0=0x%llx x1=0x%llx "
		   "x2=0x%llx x3=0x%llx elr=0x%llx; %s",
		   c->kind == RET_SMC ? "an SMC" : ret_name(c->id),
		   (unsigned long long)c->e[4], (unsigned long long)c->e[5],
		   (unsigned long long)ev->w[0], (unsigned long long)ev->w[1],
		   (unsigned long long)ev->w[2], (unsigned long long)ev->w[3],
		   (unsigned long long)ev->w[6], want);
}

/* x0/x1 of a hypercall (LINUX-6.12.md 6), or NULL if they are right. */
static const char *ret_hvc_wrong(const struct ret_cpu *c, bool *checked,
				 const struct ck_event *ev)
{
	uint64_t x0 = ev->w[0], x1 = ev->w[1], in1 = c->e[5];
	unsigned id = c->id;
	bool refused = x0 == ~0ull && x1 == in1;
	bool nd = id >= RET_HCALLS || id == 0;
	unsigned want = nd ? L612_X1_ELSEWHERE : l612_hcall_x1(id);

	*checked = true;
	/* ids 1-7 once this CPU finalised: rule_l612_final.c judges them
	 * not dispatched from the first finalisation on any CPU */
	if (!nd && id < PKVM_L612_HC_PKVM_PROT_FINALIZE && c->finalised)
		return NULL;
	if (nd)
		return refused ? NULL
			       : "LINUX-6.12.md 6: not dispatched, x0 = -1 "
				 "and x1 as it was";
	/* ids 1-7 before this CPU's finalisation: dispatched or not */
	if (id < PKVM_L612_HC_PKVM_PROT_FINALIZE && refused)
		return NULL;
	if (want == L612_X1_ELSEWHERE) {
		*checked = false;
		return NULL;
	}
	if (x0 != 0)
		return "LINUX-6.12.md 6: a dispatched call returns x0 = 0";
	switch (want) {
	case L612_X1_SAME:
		return x1 == in1 ? NULL
				 : "LINUX-6.12.md 6: its handler does not "
				   "write x1";
	case L612_X1_VECTOR:
		return x1 == ((uint32_t)in1 <= 3 ? 0 : (uint64_t)-RET_EINVAL)
			       ? NULL
			       : "LINUX-6.12.md 6: 0 for the four vector "
				 "slots (0-3), else -EINVAL";
	case L612_X1_VCPU_RUN:
		if (c->nreads == 0 || c->lookup == 0)
			return x1 == (uint64_t)-RET_EINVAL
				       ? NULL
				       : (c->nreads ? "LINUX-6.12.md 6.6: no "
						      "such VM or vCPU, -EINVAL"
						    : "LINUX-6.12.md 6.6: "
						      "nothing read from the "
						      "host (SME state), "
						      "-EINVAL");
		if (c->lookup == 1)
			return ret_exit_code(x1)
				       ? NULL
				       : "LINUX-6.12.md 6.6: the vCPU was "
					 "found, an exit code (0-3, bit 31 "
					 "for an SError) comes back";
		return ret_exit_code(x1) || x1 == (uint64_t)-RET_EINVAL
			       ? NULL
			       : "LINUX-6.12.md 6.6: an exit code or -EINVAL";
	case L612_X1_INIT:
		/* an int: 0 or -errno (MAX_ERRNO 4095), sign-extended */
		return x1 == 0 || x1 >= (uint64_t)-RET_MAX_ERRNO
			       ? NULL
			       : "LINUX-6.12.md 5.1: 0 or a negative errno "
				 "(-4095..-1), sign-extended";
	default:
		return NULL;
	}
}

/* An SMC's entry words `e` call a PSCI 0.2 function (kvm_host_psci_handler
 * relays them). */
static bool ret_psci(const uint64_t *e)
{
	uint64_t f = profile_hc_x0(e);

	return f - 0x84000000ull < 32 || f - 0xc4000000ull < 32;
}

static void ret_exit(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct ret_cpu *c = &((struct ret_rule *)self)->cpu[ev->cpu];
	unsigned kind = c->kind;
	const char *why;
	bool checked = false;

	c->kind = RET_NONE;
	c->guest = false;
	if (ev->incomplete || view_any_loss(env->view) ||
	    ck_trap_is_unsure(env->out, ev->cpu))
		return;
	if (kind == RET_HVC) {
		why = ret_hvc_wrong(c, &checked, ev);
		if (why)
			ret_bad(env, c, ev, "hcall-return", why);
		else if (ev->w[2] != c->e[6] || ev->w[3] != c->e[7])
			ret_bad(env, c, ev, "hcall-return",
				"LINUX-6.12.md 6: no handler writes x2 or x3");
		else if (ev->w[6] != c->e[1])
			ret_bad(env, c, ev, "trap-return",
				"LINUX-6.12.md 6: an HVC returns to the "
				"instruction after it, ELR as it was");
		else if (checked)
			ck_trap_checked(env->out);
	} else if (kind == RET_SMC) {
		if (ev->w[6] != c->e[1] + 4)
			ret_bad(env, c, ev, "trap-return",
				"LINUX-6.12.md 9.2: ELR moves past the SMC "
				"(+4)");
		else if (ret_psci(c->e) && (ev->w[1] || ev->w[2] || ev->w[3]))
			ret_bad(env, c, ev, "smc-return",
				"LINUX-6.12.md 9.2: a PSCI call returns x1-x3 "
				"zero");
		else
			ck_trap_checked(env->out);
	} else if (kind == RET_OTHER) {
		ret_bad(env, c, ev, "trap-return",
			"LINUX-6.12.md 9: a host exception class other than "
			"HVC, SMC and aborts BUG()s, it never returns");
	}
}

static void ret_panic(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct ret_cpu *c = &((struct ret_rule *)self)->cpu[ev->cpu];
	unsigned nr = 0, loaded = 0;
	int found;

	if (c->kind == RET_ABORT && !c->guest)
		return; /* rule_l612_fault.c: 9.1.2 and 9.1.4 */
	if (c->kind == RET_HVC && !c->guest &&
	    c->id == PKVM_L612_HC_PKVM_TEARDOWN_VM) {
		found = l612_vm_lookup(env, c->e[5], &nr, &loaded);
		if (found < 0 || (found && loaded))
			return; /* 6.5 case 2: rule_spec_l612_vm.c */
	}
	ck_finding(env->out, "hyp-panic", ev, ev->w[1], c->kind != RET_NONE,
		   c->at,
		   "the hyp panicked (code %llu, at 0x%llx) in %s%s: "
		   "LINUX-6.12.md 11 names no panic there",
		   (unsigned long long)ev->w[0], (unsigned long long)ev->w[1],
		   c->kind == RET_NONE	? "no trap"
		   : c->kind == RET_SMC ? "an SMC"
		   : c->kind == RET_HVC ? ret_name(c->id)
					: "a host trap",
		   c->guest ? " (a guest trap)" : "");
}

static void ret_abandon(void *self, const struct ck_env *env, unsigned cpu,
			const char *why)
{
	struct ret_cpu *c = &((struct ret_rule *)self)->cpu[cpu];

	(void)env;
	(void)why;
	c->kind = RET_NONE;
	c->guest = false;
}

static void *ret_create(const struct ck_env *env, unsigned cpu_count)
{
	struct ret_rule *r = calloc(1, sizeof(*r));

	(void)cpu_count;
	CK_CHECK(r != NULL);
	ck_not_judged(env->out, "missing-mapping",
		      "ids other than 9, 10 and 23-25: not a 6.12 promise: "
		      "LINUX-6.12.md 6.7, they map nothing (a mapping they "
		      "make is hcall-effect)");
	ck_not_judged(env->out, "bad-mapping",
		      "ids other than 9, 10 and 23-25: not a 6.12 promise: "
		      "LINUX-6.12.md 6.7, they map nothing (a mapping they "
		      "make is hcall-effect)");
	return r;
}

const struct ck_rule rule_l612_ret = {
	.name = "l612-ret",
	.system = PKVM_SYSTEM_LINUX612,
	.create = ret_create,
	.destroy = free,
	.boot = ret_boot,
	.boot_linux = ret_boot_linux,
	.trap_entry = ret_entry,
	.host_read = ret_host_read,
	.lock_acquire = ret_acquire,
	.store_before = ret_store,
	.guest_trap = ret_guest_trap,
	.trap_exit = ret_exit,
	.panic = ret_panic,
	.trap_abandon = ret_abandon,
};
