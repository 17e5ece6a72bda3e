// SPDX-License-Identifier: MIT
/*
 * Barriers after making an entry valid (check `barrier-after-make`;
 * HYPERCALLS.md "Barriers after making an entry valid").
 *
 * A store that turns an invalid entry valid (a page, block or table
 * descriptor, in either tree) reaches the other CPUs' table walkers only
 * after a DSB, and the storing CPU's own later instructions use a new
 * stage-1 entry only after a context synchronisation (Arm ARM, "Ordering
 * of translation table updates": a DSB after the store, and for the
 * translation regime of the PE itself an ISB after that). So after the
 * last such store of a component, and before the writer lets that
 * component's lock go (the next holder acts on the new entry), the writer
 * must show:
 *
 *   host stage-2:  a DSB (ishst, ish or sy)
 *   hyp stage-1:   a DSB (ishst, ish or sy), then an ISB
 *
 * One DSB covers every store before it, in both trees, and one ISB after
 * it serves the hyp stage-1 (the hyp issues both once, before it records
 * the release of the pair). Only the writer's own barriers count, and a
 * barrier before the last such store does not.
 *
 * Not required (HYPERCALLS.md says why): a store that only changes the
 * page-state bits of a live mapping, or any other valid -> valid store
 * (rule_bbm.c judges those), and one that removes a mapping (rule_tlb.c
 * requires its maintenance, DSBs included). A store made without the
 * component's lock is `pte-write-without-lock` (rule_locks.c) and not
 * judged here. A DMB orders nothing for the walkers and does not count; a
 * DSB NSH counts only on a one-CPU machine, as in rule_tlb.c.
 *
 * Loss: records of the writer lost between the store and the release
 * may have held the barriers, and a store whose old descriptor lost
 * records may have changed may not have made anything valid: both are
 * inconclusive, never a finding.
 *
 * ABI 2 promises the barriers; the ABI-1 hyp did not issue them
 * (samples/), so the check is not judged there (said once in the
 * summary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "rules.h"

/* What a component's last entry made valid still waits for. */
enum barrier_need {
	BARRIER_NONE,
	BARRIER_DSB, /* a DSB after the store */
	BARRIER_ISB, /* hyp stage-1: an ISB after that DSB */
};

/** One component's entries made valid by one CPU, not yet synchronised. */
struct barrier_pending {
	uint8_t need;	/* enum barrier_need */
	bool unsure;	/* records lost since, or the old entry unknown */
	uint64_t write; /* the last such store's event index */
	uint64_t pa, old, value, addr;
	int level;
};

struct barrier_rule {
	bool judged; /* ABI 2 or later */
	struct barrier_pending p[CK_MAX_CPUS][MODEL_COMP_COUNT];
};

/* Valid: a table, block or page descriptor (0b01 at level 3 is invalid). */
static bool barrier_valid(uint64_t d, int level)
{
	return (d & 1) && !(level == 3 && (d & 3) == 1);
}

static void barrier_boot(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct barrier_rule *r = self;
	unsigned abi = (unsigned)(ev->w[0] & 0xffffffffu);
	char why[64];

	/* linux-6.12 promises them at every ABI (LINUX-6.12.md 10.4) */
	r->judged = abi >= 2 || strcmp(view_profile(env->view)->system,
				       PKVM_SYSTEM_LINUX612) == 0;
	if (r->judged)
		return;
	snprintf(why, sizeof(why), "ABI %u does not promise them", abi);
	ck_not_judged(env->out, "barrier-after-make", why);
}

static void barrier_store(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct barrier_rule *r = self;
	const struct model *m = view_model(env->view);
	uint64_t pa = ev->w[0], value = ev->w[1], size;
	const struct model_table *t;
	struct barrier_pending *p;
	unsigned idx;
	int ti;

	if (!r->judged)
		return;
	ti = model_table_find(m, pa);
	if (ti < 0)
		return; /* not a table: rule_locks.c */
	t = m->tables[ti];
	idx = (unsigned)((pa & 0xfff) >> 3);
	if (!barrier_valid(value, t->level) ||
	    barrier_valid(t->desc[idx], t->level) ||
	    !view_cpu_holds_comp(env->view, ev->cpu, t->comp))
		return;
	p = &r->p[ev->cpu][t->comp];
	size = 1ull << (12 + 9 * (3 - t->level));
	p->need = BARRIER_DSB;
	p->write = ev->index;
	p->pa = pa;
	p->old = t->desc[idx];
	p->value = value;
	p->level = t->level;
	p->addr = t->base + idx * size;
	p->unsure = p->unsure ||
		    view_range_unsure(env->view, t->comp, p->addr, size);
}

static void barrier_maintenance(void *self, const struct ck_env *env,
				const struct ck_event *ev)
{
	struct barrier_rule *r = self;
	struct barrier_pending *p = r->p[ev->cpu];
	unsigned op = (unsigned)ev->w[0];
	bool dsb = op == PKVM_BARRIER_DSB_ISHST || op == PKVM_BARRIER_DSB_ISH ||
		   op == PKVM_BARRIER_DSB_SY ||
		   (op == PKVM_BARRIER_DSB_NSH &&
		    view_boot(env->view)->cpu_count == 1);

	if (!r->judged || ev->kind != PKVM_EV_BARRIER)
		return;
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++) {
		if (dsb && p[c].need == BARRIER_DSB)
			p[c].need = c == PKVM_COMP_HYP_S1 ? BARRIER_ISB
							  : BARRIER_NONE;
		else if (op == PKVM_BARRIER_ISB && p[c].need == BARRIER_ISB)
			p[c].need = BARRIER_NONE;
		if (p[c].need == BARRIER_NONE)
			p[c].unsure = false;
	}
}

/* Before a component lock goes: its entries made valid are synchronised. */
static void barrier_release(void *self, const struct ck_env *env,
			    const struct ck_event *ev)
{
	unsigned comp = view_lock_comp(env->view, (unsigned)ev->w[0]);
	struct barrier_pending *p;
	bool s1 = comp == PKVM_COMP_HYP_S1;

	if (!((struct barrier_rule *)self)->judged ||
	    (comp != PKVM_COMP_HOST_S2 && comp != PKVM_COMP_HYP_S1))
		return;
	p = &((struct barrier_rule *)self)->p[ev->cpu][comp];
	if (p->need == BARRIER_NONE)
		return;
	if (p->unsure || view_cpu_lost(env->view, ev->cpu))
		ck_inconclusive(env->out,
				"cpu%u: the barriers after the entry made "
				"valid at #%llu: records were lost",
				ev->cpu, (unsigned long long)p->write);
	else
		ck_finding(
			env->out, "barrier-after-make", ev, p->addr, true,
			p->write,
			"%s: the store at #%llu (level-%d descriptor at "
			"0x%llx, "
			"0x%llx -> 0x%llx) made the entry for 0x%llx valid; "
			"before cpu%u lets %s go it must issue a DSB (ishst, "
			"ish or sy) after its last such store%s; missing: %s",
			s1 ? "hyp stage-1" : "host stage-2",
			(unsigned long long)p->write, p->level,
			(unsigned long long)p->pa, (unsigned long long)p->old,
			(unsigned long long)p->value,
			(unsigned long long)p->addr, ev->cpu,
			s1 ? "hyp_s1" : "host_s2", s1 ? ", then an ISB" : "",
			p->need == BARRIER_DSB ? "the DSB after the store"
					       : "the ISB after the DSB");
	p->need = BARRIER_NONE;
	p->unsure = false;
}

static void barrier_loss(void *self, const struct ck_env *env, unsigned cpu)
{
	struct barrier_pending *p = ((struct barrier_rule *)self)->p[cpu];

	(void)env;
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++)
		if (p[c].need != BARRIER_NONE)
			p[c].unsure = true;
}

static void *barrier_create(const struct ck_env *env, unsigned cpu_count)
{
	struct barrier_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_barrier = {
	.name = "barrier-after-make",
	.create = barrier_create,
	.destroy = free,
	.boot = barrier_boot,
	.store_before = barrier_store,
	.maintenance = barrier_maintenance,
	.lock_release = barrier_release,
	.loss = barrier_loss,
};
