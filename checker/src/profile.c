// SPDX-License-Identifier: MIT
/*
 * Our hyp's components and locks (profile.h), as format/HYPERCALLS.md
 * "Locks and components" and hyp/src say:
 *
 * - host stage-2, under host_s2: the host's tables, and the pages tracing
 *   pinned. The pins are written by TRACE_LOAD with trace, host_s2 and
 *   hyp_s1 held and read by UNSHARE_HYP under host_s2 (hyp/src/tracing.c,
 *   tracing_pinned), so host_s2 is the lock a reader of them holds.
 * - hyp stage-1, under hyp_s1: the hyp's tables.
 * - the table pool, under pool: the allocator (no state the spec reads;
 *   the lock discipline rule keeps its own account of it).
 * - tracing, under trace: whether tracing is loaded and its configuration,
 *   read by TRACE_LOAD under trace.
 *
 * A piece of state's change takes effect when the trap that changed it
 * lets its component's lock go, and a trap reads it as it was when it took
 * that lock: every change of it is made under that lock.
 */
#include "profile.h"

#include <stddef.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/trace.h>

/* ---- the profiles (DESIGN.md 11) ------------------------------------ */

/*
 * pkvm-check-hyp: our hyp (format/HYPERCALLS.md). Every rule; locks by
 * abi.h's small ids, in abi.h's order; roots from BOOT. ABI 1 (the
 * recordings in samples/) and ABI 2, which adds the promises of the marks
 * and of the lock discipline (rules that need them say so on ABI 1).
 */
static const struct ck_profile profile_hyp = {
	.system = TRACE_SYSTEM_HYP,
	.abi_min = 1,
	.abi_max = PKVM_ABI_VERSION,
	.rules = NULL, /* all but the l612-* rules */
	.locks = PROFILE_LOCKS_BY_ID,
	.roots = PROFILE_ROOTS_BOOT,
	.boot_pool = true,
	.boot_cpu_alone = true,
};

/*
 * linux-6.12: pKVM in Linux 6.12 (format/LINUX-6.12.md). The checks that
 * need no pKVM specification: the architecture and lock rules of its
 * section 10 and 4, judged with its locks (named by lock_info records),
 * its order, its roots (announced by TTBR0_EL2 and VTTBR_EL2 writes,
 * section 2) and its exceptions (section 4: every store of __pkvm_init);
 * and its own rules: share and unshare (spec-l612), release stores
 * (10.5), host stage-2 faults (9.1), the page invariants (11), and the
 * boot: __pkvm_prot_finalize, TTBR0_EL2 and the boot state (5).
 */
static const char *const profile_l612_rules[] = {
	"tlb",
	"bbm",
	"locks",
	"lock-order",
	"spec-l612",
	"spec-l612-vm",
	"l612-guest",
	"l612-noeffect",
	"l612-release",
	"l612-fault",
	"l612-inv",
	"l612-tables",
	"l612-pins",
	"l612-ret",
	"l612-final",
	"l612-boot",
	"barrier-after-make", /* rule_barrier.c, LINUX-6.12.md 10.4 */
	NULL,
};

/* LINUX-6.12.md 4: the component each lock role protects. */
static const unsigned char profile_l612_role_comp[] = {
	[PKVM_LOCK_ROLE_HOST_S2] = PKVM_COMP_HOST_S2,
	[PKVM_LOCK_ROLE_HYP_S1] = PKVM_COMP_HYP_S1,
};

/*
 * LINUX-6.12.md 4, "Order", as the code takes them: vm_table_lock ->
 * host_mmu.lock -> pkvm_pgd_lock -> pool locks; vm_table_lock -> a VM's
 * lock -> that VM's pool lock; host_mmu.lock -> host_s2_pool;
 * pkvm_pgd_lock -> hpool. Pairs the closure does not order (a VM's lock
 * and host_mmu.lock) are not judged.
 */
#define PROFILE_POOL(comp) (PROFILE_CLASS_POOL + PKVM_COMP_##comp)
static const struct profile_order_pair profile_l612_order[] = {
	{ PKVM_LOCK_ROLE_VM_TABLE, PKVM_LOCK_ROLE_HOST_S2 },
	{ PKVM_LOCK_ROLE_HOST_S2, PKVM_LOCK_ROLE_HYP_S1 },
	{ PKVM_LOCK_ROLE_HYP_S1, PROFILE_POOL(HOST_S2) },
	{ PKVM_LOCK_ROLE_HYP_S1, PROFILE_POOL(HYP_S1) },
	{ PKVM_LOCK_ROLE_HYP_S1, PROFILE_POOL(GUEST_S2) },
	{ PKVM_LOCK_ROLE_VM_TABLE, PKVM_LOCK_ROLE_VM },
	{ PKVM_LOCK_ROLE_VM, PROFILE_POOL(GUEST_S2) },
};

/*
 * What linux-6.12 does not judge yet: the boot rules. Everything else is
 * judged by a rule of its own: share and unshare and the VM lifecycle
 * (spec_l612.c; the spec-l612 rule lists hcall-return for id 8 and
 * hcall-effect for ids 2, 3 and 8), the calls that own nothing
 * (rule_l612_noeffect.c), host stage-2 faults (rule_l612_fault.c), the
 * page invariants 1-3 and 5 (rule_l612_inv.c), release stores
 * (rule_l612_release.c), the host's stage-2 restored on return
 * (rule_l612_guest.c), table pages (rule_l612_tables.c, which also says
 * which checks 6.12 does not promise at all), barriers (rule_barrier.c),
 * pins (rule_l612_pins.c), and every trap's result, SMCs, guest traps and
 * PANICs (rule_l612_ret.c).
 */

static const struct ck_profile profile_l612 = {
	.system = PKVM_SYSTEM_LINUX612,
	.abi_min = PKVM_L612_ABI_VERSION,
	.abi_max = PKVM_L612_ABI_VERSION,
	.rules = profile_l612_rules,
	.locks = PROFILE_LOCKS_BY_INFO,
	.role_comp = profile_l612_role_comp,
	.role_count = sizeof(profile_l612_role_comp),
	.order = profile_l612_order,
	.order_count =
		sizeof(profile_l612_order) / sizeof(profile_l612_order[0]),
	.order_text = "vm_table -> host_s2 -> hyp_s1 -> pool, vm_table -> vm "
		      "-> pool:guest_s2 (LINUX-6.12.md 4)",
	.roots = PROFILE_ROOTS_SYSREG,
	.boot_trap_unlocked = true,
	.boot_hcall = PKVM_L612_HC_PKVM_INIT,
	.after_boot_hcall = PKVM_L612_HC_PKVM_PROT_FINALIZE,
	.boot_pool = false,
	.alloc_zeroed = true,
	/* Every promise of LINUX-6.12.md is judged: a clean, whole,
	 * lossless run conforms (exit 0). */
	.unjudged_reason = NULL,
};

static const struct ck_profile *const profiles[] = {
	&profile_hyp,
	&profile_l612,
};

const struct ck_profile *profile_find(const char *system)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i]->system, system) == 0)
			return profiles[i];
	return NULL;
}

const struct ck_profile *profile_at(unsigned i)
{
	return i < sizeof(profiles) / sizeof(profiles[0]) ? profiles[i] : NULL;
}

bool profile_runs(const struct ck_profile *p, const char *name)
{
	/* NULL: every rule but those of the linux-6.12 profile ("l612-*",
	 * written for its encoding and its kernel's behaviour). */
	if (!p->rules)
		return strncmp(name, "l612-", 5) != 0;
	for (const char *const *r = p->rules; *r; r++)
		if (strcmp(*r, name) == 0)
			return true;
	return false;
}

unsigned profile_role_class(unsigned role, unsigned arg)
{
	if (role == PKVM_LOCK_ROLE_POOL)
		return arg < PROFILE_CLASS_COUNT - PROFILE_CLASS_POOL
			       ? PROFILE_CLASS_POOL + arg
			       : 0;
	return role < PROFILE_CLASS_POOL ? role : 0;
}

unsigned profile_role_comp(const struct ck_profile *p, unsigned role,
			   unsigned arg)
{
	(void)arg;
	return role < p->role_count ? p->role_comp[role] : 0;
}

/* ---- our hyp's components ------------------------------------------- */

static const struct profile_component profile_components[] = {
	{ "host stage-2", PKVM_LOCK_HOST_S2, PKVM_COMP_HOST_S2, true },
	{ "hyp stage-1", PKVM_LOCK_HYP_S1, PKVM_COMP_HYP_S1, true },
	{ "table pool", PKVM_LOCK_POOL, PKVM_COMP_NONE, false },
	{ "tracing", PKVM_LOCK_TRACE, PKVM_COMP_NONE, true },
};

#define PROFILE_COUNT                                                          \
	(sizeof(profile_components) / sizeof(profile_components[0]))

/* The lock of each piece of state: the one map of state to locks. */
static const unsigned profile_state_lock[PROFILE_STATE_COUNT] = {
	[PROFILE_HOST_S2_TABLES] = PKVM_LOCK_HOST_S2,
	[PROFILE_HYP_S1_TABLES] = PKVM_LOCK_HYP_S1,
	[PROFILE_TRACE_PINS] = PKVM_LOCK_HOST_S2,
	[PROFILE_TRACE_LOADED] = PKVM_LOCK_TRACE,
	[PROFILE_TRACE_CONFIG] = PKVM_LOCK_TRACE,
};

unsigned profile_lock_of(enum profile_state s)
{
	return profile_state_lock[s];
}

const struct profile_component *profile_component_of(unsigned id)
{
	for (size_t i = 0; i < PROFILE_COUNT; i++)
		if (profile_components[i].lock == id)
			return &profile_components[i];
	return NULL;
}

unsigned profile_spec_locks(void)
{
	unsigned mask = 0;

	for (size_t i = 0; i < PROFILE_COUNT; i++)
		if (profile_components[i].spec)
			mask |= 1u << profile_components[i].lock;
	return mask;
}
