// SPDX-License-Identifier: MIT
/*
 * The table of rules. Adding a rule: write rule_NAME.c with one
 * `const struct ck_rule rule_NAME` (rules.h says what its hooks see),
 * declare it below, add its line to the table and its file to
 * checker/meson.build.
 *
 * The order of the table is the order in which the rules see each event,
 * and so the order of their verdicts on one event: the TLB rule judges a
 * trap's unmaps at its exit before the spec judges the trap, the spec
 * before the invariants of the pages the trap touched, and so on.
 */
#include <stdlib.h>
#include <string.h>

#include "rules.h"

extern const struct ck_rule rule_tlb;
extern const struct ck_rule rule_bbm;
extern const struct ck_rule rule_spec;
extern const struct ck_rule rule_invariants;
extern const struct ck_rule rule_locks;
extern const struct ck_rule rule_boot;
extern const struct ck_rule rule_lock_order;
extern const struct ck_rule rule_lock_needs;
extern const struct ck_rule rule_lock_exit;
extern const struct ck_rule rule_barrier;
extern const struct ck_rule rule_zeroed;
extern const struct ck_rule rule_attrs;
extern const struct ck_rule rule_sysreg;
extern const struct ck_rule rule_inject;
extern const struct ck_rule rule_spec_l612;
extern const struct ck_rule rule_spec_l612_vm;
extern const struct ck_rule rule_l612_guest;
extern const struct ck_rule rule_l612_noeffect;
extern const struct ck_rule rule_l612_release;
extern const struct ck_rule rule_l612_fault;
extern const struct ck_rule rule_l612_inv;
extern const struct ck_rule rule_l612_tables;
extern const struct ck_rule rule_l612_pins;
extern const struct ck_rule rule_l612_ret;
extern const struct ck_rule rule_l612_final;
extern const struct ck_rule rule_l612_boot;

static const struct ck_rule *const rules_table[] = {
	&rule_tlb,	  /* TLB invalidation after an unmap */
	&rule_bbm,	  /* break-before-make (builds on rule_tlb) */
	&rule_spec,	  /* each trap against the specification */
	&rule_spec_l612,  /* linux-6.12's hypercalls against theirs */
	&rule_inject,	  /* an injected abort: the registers written */
	&rule_invariants, /* the page invariants */
	&rule_locks,	  /* stores under their lock, tables from the pool */
	&rule_boot,	  /* the boot state, when the host is first entered */
	&rule_lock_order, /* locks taken in abi.h's order */
	&rule_lock_needs, /* hyp_s1 only with host_s2 held */
	&rule_lock_exit,  /* no lock held when a trap returns */
	&rule_barrier,	  /* DSB (and ISB) after making an entry valid */
	&rule_zeroed,	  /* table pages zeroed before they are linked */
	&rule_attrs,	  /* the hyp stage-1's attributes by page kind */
	&rule_sysreg,	  /* the EL2 system registers */
	/* linux-6.12's VM lifecycle (ids 23-25) */
	&rule_spec_l612_vm,
	&rule_l612_guest,    /* linux-6.12: the host's stage-2 back on return */
	&rule_l612_noeffect, /* linux-6.12: calls that change no descriptor */
	/* linux-6.12: stores that must be releases */
	&rule_l612_release,
	/* linux-6.12: host stage-2 faults, injections */
	&rule_l612_fault,
	/* linux-6.12: the page invariants */
	&rule_l612_inv,
	&rule_l612_tables, /* linux-6.12: table pages and their pools */
	&rule_l612_pins,   /* linux-6.12: pinned pages stay shared */
	/* linux-6.12: every trap's results, SMCs, guest traps, panics */
	&rule_l612_ret,
	&rule_l612_final, /* linux-6.12: __pkvm_prot_finalize, TTBR0_EL2 */
	&rule_l612_boot,  /* linux-6.12: the boot state and its attributes */
};

_Static_assert(sizeof(rules_table) / sizeof(rules_table[0]) <= CK_MAX_RULES,
	       "CK_MAX_RULES is too small for the table");

static void rules_add(struct ck_hook_list *list, ck_hook fn, void *self)
{
	unsigned n = 0;

	if (!fn)
		return;
	while (list->at[n].fn)
		n++;
	list->at[n].fn = fn;
	list->at[n].self = self;
}

struct ck_rules *rules_create(const struct ck_env *env, unsigned cpu_count)
{
	struct ck_rules *rules = calloc(1, sizeof(*rules));

	CK_CHECK(rules != NULL);
	for (unsigned i = 0; i < sizeof(rules_table) / sizeof(rules_table[0]);
	     i++) {
		const struct ck_rule *r = rules_table[i];
		void *self;

		/* The profile of the trace's system says which rules run,
		 * and a rule may be for one system only. */
		if (!profile_runs(view_profile(env->view), r->name) ||
		    (r->system &&
		     strcmp(r->system, view_profile(env->view)->system) != 0))
			continue;
		self = r->create ? r->create(env, cpu_count) : NULL;
		rules->rule[rules->count] = r;
		rules->self[rules->count] = self;
		rules->count++;
#define CK_RULES_ADD(name) rules_add(&rules->name, r->name, self);
		CK_EVENT_HOOKS(CK_RULES_ADD)
#undef CK_RULES_ADD
	}
	return rules;
}

void rules_destroy(struct ck_rules *rules)
{
	if (!rules)
		return;
	for (unsigned i = 0; i < rules->count; i++)
		if (rules->rule[i]->destroy)
			rules->rule[i]->destroy(rules->self[i]);
	free(rules);
}

void *rules_self(const struct ck_rules *rules, const struct ck_rule *rule)
{
	for (unsigned i = 0; i < rules->count; i++)
		if (rules->rule[i] == rule)
			return rules->self[i];
	return NULL;
}

/* The hooks that are not on one event: rare, so no lists of their own. */

void rules_trap_abandon(const struct ck_rules *rules, const struct ck_env *env,
			unsigned cpu, const char *why)
{
	for (unsigned i = 0; i < rules->count; i++)
		if (rules->rule[i]->trap_abandon)
			rules->rule[i]->trap_abandon(rules->self[i], env, cpu,
						     why);
}

void rules_loss(const struct ck_rules *rules, const struct ck_env *env,
		unsigned cpu)
{
	for (unsigned i = 0; i < rules->count; i++)
		if (rules->rule[i]->loss)
			rules->rule[i]->loss(rules->self[i], env, cpu);
}

void rules_comp_unknown(const struct ck_rules *rules, const struct ck_env *env,
			unsigned id)
{
	for (unsigned i = 0; i < rules->count; i++)
		if (rules->rule[i]->comp_unknown)
			rules->rule[i]->comp_unknown(rules->self[i], env, id);
}

void rules_end(const struct ck_rules *rules, const struct ck_env *env)
{
	for (unsigned i = 0; i < rules->count; i++)
		if (rules->rule[i]->end)
			rules->rule[i]->end(rules->self[i], env);
}
