// SPDX-License-Identifier: MIT
/*
 * linux-6.12's host stage-2 faults (format/LINUX-6.12.md 9.1) against
 * their specification (checker/spec/spec_l612_fault.h), and the promise
 * of 9.1's last paragraph for every host trap: 6.12 never injects an
 * abort into the host.
 *
 * A host trap with EC 0x20 or 0x24 is a fault. The entry that covers its
 * address in the host stage-2 (HPFAR_EL2) is read from the model when the
 * trap takes host_mmu.lock (every store to that table is made under it),
 * and the spec says what the fault may do:
 *
 * - valid (another CPU mapped it first): nothing; any store that changes
 *   a host stage-2 entry is `trap-effect`;
 * - annotated (the hyp owns the page): 6.12 BUG()s. Any store is
 *   `trap-effect`, a return to the host is `trap-effect`, and the PANIC
 *   itself is the spec's outcome: reported `host-caused-panic`, and the
 *   run is inconclusive (LINUX-6.12.md 11), never clean; a PANIC on a
 *   fault 6.12 resolves is `hyp-panic`;
 * - zero: an identity mapping. When the lock is let go, every entry the
 *   fault changed is judged from its value before the fault's first store
 *   to it and its value now: a table over 0 (a new table); a valid leaf
 *   over 0 that maps its own address, within the RAM region (or MMIO gap)
 *   of the faulting address, AF, RW, normal write-back, executable for RAM
 *   and XN for MMIO, state 00 (else `bad-mapping`; LINUX-6.12.md 12 is
 *   loose about the granule: any such leaf over an empty entry maps only
 *   the host's pages); a valid leaf over an annotation is
 *   `host-maps-foreign-page`; any other change is `trap-effect`, but for
 *   6.12's MMIO recycling (9.1.4: after a NONDET alloc_page of 0 for the
 *   host stage-2, entries over MMIO only may be cleared). The faulting
 *   address must then be mapped (`missing-mapping`).
 *
 * A fault that never takes the lock (__get_fault_info failed) changes
 * nothing. At the exit, a fault resumes at the faulting instruction with
 * x0-x3 as they were (`abort-return`). A store of the fault to the hyp
 * stage-1 is `trap-effect`. Any host trap's exit with a non-zero
 * `inject_esr` or `inject_far` is `abort-injection`.
 *
 * Records lost on the way make the fault inconclusive.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "rules.h"
#include "spec_l612.h"
#include "spec_l612_fault.h"

#define FAULT_EC_IABT_LOW 0x20u
#define FAULT_EC_DABT_LOW 0x24u
#define FAULT_MAX_SLOTS 64u
#define FAULT_MAX_REGIONS 128u

/** An entry the fault stored to, and its value before its first store. */
struct fault_slot {
	uint64_t pa, old;
};

/** One CPU's fault in progress. */
struct fault_call {
	bool active;
	bool sectioned; /* it took host_mmu.lock */
	bool judged;	/* ... and let it go: the section was judged */
	bool unsure;	/* records were lost: inconclusive */
	bool reported;	/* a finding was made: one per fault */
	unsigned alloc_failed;
	struct l612_fault f;
	struct fault_slot slot[FAULT_MAX_SLOTS];
	unsigned slot_count;
	bool slots_lost; /* more than FAULT_MAX_SLOTS */
	const struct ck_event *entry;
};

struct fault_rule {
	uint64_t reg[FAULT_MAX_REGIONS][2];
	unsigned reg_count;
	bool lpa2, vtcr_seen;
	uint64_t ram_base, ram_size;
	struct fault_call call[CK_MAX_CPUS];
};

static struct l612_mem fault_mem(const struct fault_rule *r)
{
	struct l612_mem m = { r->reg, r->reg_count, r->lpa2 };

	return m;
}

/* ---- what the trace says of the machine --------------------------- */

static void fault_boot(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct fault_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);

	(void)ev;
	r->ram_base = b->ram_base;
	r->ram_size = b->ram_size;
}

/* A `region ram`: kept sorted (find_mem_range's hyp_memory[]). */
static void fault_region(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct fault_rule *r = self;
	unsigned i;

	(void)env;
	if (ev->w[0] != PKVM_REGION_RAM || !ev->w[2] ||
	    r->reg_count == FAULT_MAX_REGIONS)
		return;
	for (i = r->reg_count; i > 0 && r->reg[i - 1][0] > ev->w[1]; i--) {
		r->reg[i][0] = r->reg[i - 1][0];
		r->reg[i][1] = r->reg[i - 1][1];
	}
	r->reg[i][0] = ev->w[1];
	r->reg[i][1] = ev->w[2];
	r->reg_count++;
}

static void fault_sysreg(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct fault_rule *r = self;

	(void)env;
	/* The host's VTCR_EL2 (__pkvm_prot_finalize) comes first. */
	if (ev->w[0] == PKVM_SYSREG_VTCR_EL2 && !r->vtcr_seen) {
		r->vtcr_seen = true;
		r->lpa2 = (ev->w[1] >> 32) & 1;
	}
}

/* ---- the fault's life ------------------------------------------------ */

static bool fault_is_fault(const struct ck_event *entry)
{
	unsigned ec = (unsigned)((entry->w[0] >> 26) & 0x3f);

	return ec == FAULT_EC_IABT_LOW || ec == FAULT_EC_DABT_LOW;
}

static void fault_entry(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct fault_rule *r = self;
	struct fault_call *c = &r->call[ev->cpu];

	c->active = false;
	if (!fault_is_fault(ev))
		return;
	memset(c, 0, sizeof(*c));
	c->active = true;
	c->unsure = view_cpu_lost(env->view, ev->cpu);
	c->f.ipa = (ev->w[3] & L612_HPFAR_MASK) << 8;
}

/* One finding per fault; inconclusive instead after lost records. */
static void fault_report(struct fault_call *c, const struct ck_env *env,
			 const char *check, const struct ck_event *ev,
			 uint64_t addr, const char *what)
{
	if (c->reported)
		return;
	c->reported = true;
	if (c->unsure || view_any_loss(env->view)) {
		ck_inconclusive(env->out,
				"cpu%u host stage-2 fault at 0x%llx: %s, after "
				"lost records",
				ev->cpu, (unsigned long long)c->f.ipa, what);
		return;
	}
	/* the page invariants (rule_l612_inv.c) say no more of it */
	ck_trap_reported(env->out, ev->cpu, addr >> 12);
	ck_finding(env->out, check, ev, addr, false, 0,
		   "host stage-2 fault at 0x%llx (LINUX-6.12.md 9.1): %s",
		   (unsigned long long)c->f.ipa, what);
}

static void fault_acquire(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct fault_rule *r = self;
	struct fault_call *c = &r->call[ev->cpu];
	const struct model *m = view_model(env->view);
	struct l612_mem mem;
	uint64_t d = 0;
	int level = 3;

	if (!c->active || c->sectioned || !m ||
	    view_lock_comp(env->view, (unsigned)ev->w[0]) != PKVM_COMP_HOST_S2)
		return;
	c->sectioned = true;
	if (!r->reg_count && r->ram_size) {
		/* no `region ram` records: BOOT's RAM is one region */
		r->reg[0][0] = r->ram_base;
		r->reg[0][1] = r->ram_size;
		r->reg_count = 1;
	}
	if (!model_leaf(m, PKVM_COMP_HOST_S2, c->f.ipa, &d, &level) ||
	    view_range_unsure(env->view, PKVM_COMP_HOST_S2, c->f.ipa, 0x1000))
		c->unsure = true;
	mem = fault_mem(r);
	l612_host_fault(&mem, c->f.ipa >> 8, d, level, &c->f);
}

static void fault_nondet(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct fault_call *c = &((struct fault_rule *)self)->call[ev->cpu];

	(void)env;
	if (c->active && ev->w[0] == PKVM_NONDET_ALLOC_PAGE && ev->w[1] == 0 &&
	    ev->w[3] == PKVM_COMP_HOST_S2)
		c->alloc_failed++;
}

static void fault_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct fault_call *c = &((struct fault_rule *)self)->call[ev->cpu];
	const struct model *m = view_model(env->view);
	const struct model_table *t;
	uint64_t pa = ev->w[0];
	int ti;

	if (!c->active || !m)
		return;
	ti = model_table_find(m, pa & ~0xfffull);
	if (ti < 0 || m->tables[ti]->orphan)
		return; /* not a table: the lock rule's */
	t = m->tables[ti];
	if (t->comp == PKVM_COMP_HYP_S1) {
		if (t->desc[(pa & 0xfff) >> 3] != ev->w[1])
			fault_report(c, env, "trap-effect", ev, pa,
				     "it changed a hyp stage-1 entry");
		return;
	}
	if (t->comp != PKVM_COMP_HOST_S2)
		return;
	if (c->judged || !c->sectioned) {
		if (t->desc[(pa & 0xfff) >> 3] != ev->w[1])
			fault_report(c, env, "trap-effect", ev, pa,
				     "it changed a host stage-2 entry outside "
				     "its critical section");
		return;
	}
	for (unsigned i = 0; i < c->slot_count; i++)
		if (c->slot[i].pa == pa)
			return;
	if (c->slot_count == FAULT_MAX_SLOTS) {
		c->slots_lost = true;
		return;
	}
	c->slot[c->slot_count].pa = pa;
	c->slot[c->slot_count].old = t->desc[(pa & 0xfff) >> 3];
	c->slot_count++;
}

/* ---- the verdict ------------------------------------------------------ */

/*
 * Judge one entry a mapping fault changed, from `old` to the model's
 * value now: NULL if 9.1.3 (or 9.1.4's recycling) allows it, else what is
 * wrong and under which check.
 */
static const char *fault_judge_slot(const struct fault_rule *r,
				    const struct fault_call *c,
				    const struct model_table *t, unsigned idx,
				    uint64_t old, const char **check, char *buf,
				    size_t len)
{
	struct l612_mem mem = fault_mem(r);
	uint64_t d = t->desc[idx], size = model_entry_size(t->level);
	uint64_t in = t->base + (uint64_t)idx * size;
	bool recycled = c->alloc_failed && l612_mem_is_mmio(&mem, in, size);
	const char *why;

	*check = "trap-effect";
	if (d == old || d == L612_PTE_LOCKED)
		return NULL; /* no change; LOCKED: the invariants' */
	if (d == 0)
		return recycled ? NULL : "it cleared a host stage-2 entry";
	if (l612_is_table(d, t->level))
		return old == 0 || recycled
			       ? NULL
			       : "it replaced a host stage-2 entry "
				 "with a table";
	if (!l612_is_leaf(d, t->level))
		return "it stored an owner annotation";
	if (old != 0 && !recycled) {
		if (!l612_is_leaf(old, t->level) &&
		    !l612_is_table(old, t->level) && old != L612_PTE_LOCKED) {
			*check = "host-maps-foreign-page";
			snprintf(buf, len,
				 "it mapped 0x%llx (%llu KiB) over the "
				 "annotation 0x%llx: a page the host does not "
				 "own",
				 (unsigned long long)in,
				 (unsigned long long)(size >> 10),
				 (unsigned long long)old);
			return buf;
		}
		return "it replaced a host stage-2 entry that was not empty";
	}
	why = l612_fault_leaf_wrong(&mem, &c->f, in, t->level, d);
	if (!why)
		return NULL;
	*check = "bad-mapping";
	snprintf(buf, len,
		 "its leaf 0x%llx for 0x%llx (%llu KiB, level %d): %s",
		 (unsigned long long)d, (unsigned long long)in,
		 (unsigned long long)(size >> 10), t->level, why);
	return buf;
}

/* A section that may change nothing (valid, annotated): did it (true)? */
static bool fault_judge_nothing(struct fault_call *c, const struct ck_env *env,
				const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);

	for (unsigned i = 0; i < c->slot_count; i++) {
		int ti = model_table_find(m, c->slot[i].pa & ~0xfffull);
		const struct model_table *t = m->tables[ti];

		if (t->desc[(c->slot[i].pa & 0xfff) >> 3] == c->slot[i].old)
			continue;
		fault_report(c, env, "trap-effect", ev,
			     t->base + ((c->slot[i].pa & 0xfff) >> 3) *
					       model_entry_size(t->level),
			     c->f.kind == L612_FAULT_RETRY
				     ? "the address was mapped already: 6.12 "
				       "changes nothing (-EAGAIN)"
				     : "the page is annotated (the hyp's): "
				       "6.12 changes nothing and panics");
		return true;
	}
	return false;
}

/*
 * The entries a mapping fault changed, as far as they were kept: a wrong
 * one is reported (true). Each kept entry's value before the fault's
 * first store to it is known for sure, so a wrong one is a finding even
 * when more entries changed than the fault keeps.
 */
static bool fault_judge_slots(struct fault_rule *r, struct fault_call *c,
			      const struct ck_env *env,
			      const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	const char *check, *why;
	char buf[256];

	for (unsigned i = 0; i < c->slot_count; i++) {
		const struct model_table *t = m->tables[model_table_find(
			m, c->slot[i].pa & ~0xfffull)];
		unsigned idx = (unsigned)((c->slot[i].pa & 0xfff) >> 3);

		why = fault_judge_slot(r, c, t, idx, c->slot[i].old, &check,
				       buf, sizeof(buf));
		if (why) {
			/* reported at the address the entry translates */
			fault_report(c, env, check, ev,
				     t->base + idx * model_entry_size(t->level),
				     why);
			return true;
		}
	}
	return false;
}

static void fault_judge_map(struct fault_rule *r, struct fault_call *c,
			    const struct ck_env *env, const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	uint64_t d = 0;
	int level = 3;

	if (fault_judge_slots(r, c, env, ev))
		return;
	if (!model_leaf(m, PKVM_COMP_HOST_S2, c->f.ipa, &d, &level) ||
	    !l612_is_leaf(d, level))
		fault_report(c, env, "missing-mapping", ev, c->f.ipa,
			     "the empty entry is still not mapped when "
			     "host_mmu.lock is let go");
}

static void fault_release(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct fault_rule *r = self;
	struct fault_call *c = &r->call[ev->cpu];

	if (!c->active || !c->sectioned || c->judged ||
	    view_lock_comp(env->view, (unsigned)ev->w[0]) != PKVM_COMP_HOST_S2)
		return;
	c->judged = true;
	if (c->slots_lost) {
		/* The kept entries are judged all the same (mutant 15 of
		 * tests/mutants/linux-6.12 maps 1 GiB of MMIO page by page,
		 * every leaf executable); only the others are not. */
		if (c->f.kind == L612_FAULT_MAP
			    ? fault_judge_slots(r, c, env, ev)
			    : fault_judge_nothing(c, env, ev))
			return;
		ck_inconclusive(env->out,
				"cpu%u host stage-2 fault at 0x%llx: more than "
				"%u entries changed",
				ev->cpu, (unsigned long long)c->f.ipa,
				FAULT_MAX_SLOTS);
		c->reported = true;
		return;
	}
	if (c->f.kind == L612_FAULT_MAP)
		fault_judge_map(r, c, env, ev);
	else
		fault_judge_nothing(c, env, ev);
}

/* Any host trap: 6.12 injects nothing (9.1); a fault resumes as it was. */
static void fault_exit(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct fault_rule *r = self;
	struct fault_call *c = &r->call[ev->cpu];
	const struct ck_event *entry = view_trap(env->view, ev->cpu);

	if (ev->w[4] || ev->w[5]) {
		if (view_cpu_lost(env->view, ev->cpu))
			ck_inconclusive(env->out,
					"cpu%u trap exit with an injection "
					"after lost records",
					ev->cpu);
		else
			ck_finding(env->out, "abort-injection", ev, ev->w[5],
				   false, 0,
				   "a host trap's exit injects ESR 0x%llx FAR "
				   "0x%llx: 6.12 never injects an abort into "
				   "the host (LINUX-6.12.md 9.1)",
				   (unsigned long long)ev->w[4],
				   (unsigned long long)ev->w[5]);
	}
	if (!c->active)
		return;
	c->active = false;
	if (c->sectioned && c->f.kind == L612_FAULT_PANIC)
		fault_report(c, env, "trap-effect", ev, c->f.ipa,
			     "the page is annotated (the hyp's): 6.12 panics, "
			     "it never returns to the host");
	else if (entry && !ev->incomplete &&
		 (ev->w[6] != entry->w[1] ||
		  memcmp(&ev->w[0], &entry->w[4], 4 * sizeof(uint64_t)) != 0))
		fault_report(c, env, "abort-return", ev, c->f.ipa,
			     "it returns other than to the faulting "
			     "instruction with x0-x3 as they were");
	if (c->reported)
		return;
	if (c->unsure && c->sectioned)
		ck_inconclusive(env->out,
				"cpu%u host stage-2 fault at 0x%llx: its entry "
				"may have changed in lost records",
				ev->cpu, (unsigned long long)c->f.ipa);
	else
		ck_trap_checked(env->out);
}

static void fault_panic(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct fault_call *c = &((struct fault_rule *)self)->call[ev->cpu];

	if (!c->active)
		return;
	c->active = false;
	if (c->sectioned && c->f.kind == L612_FAULT_PANIC)
		ck_inconclusive(env->out,
				"%s: cpu%u's host stage-2 fault at 0x%llx, a "
				"page the hyp owns: 6.12 BUG()s (LINUX-6.12.md "
				"9.1.2); the run did not end cleanly",
				"host-caused-panic", ev->cpu,
				(unsigned long long)c->f.ipa);
	else if (c->alloc_failed >= 2)
		ck_inconclusive(env->out,
				"cpu%u's host stage-2 fault at 0x%llx: the "
				"host stage-2 pool ran out twice and the hyp "
				"panicked (LINUX-6.12.md 9.1.4)",
				ev->cpu, (unsigned long long)c->f.ipa);
	else
		fault_report(c, env, "hyp-panic", ev, c->f.ipa,
			     "the hyp panicked on a fault 6.12 resolves");
}

static void fault_abandon(void *self, const struct ck_env *env, unsigned cpu,
			  const char *why)
{
	struct fault_rule *r = self;

	(void)env;
	(void)why;
	r->call[cpu].active = false;
}

static void *fault_create(const struct ck_env *env, unsigned cpu_count)
{
	struct fault_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_l612_fault = {
	.name = "l612-fault",
	.system = PKVM_SYSTEM_LINUX612,
	.create = fault_create,
	.destroy = free,
	.boot = fault_boot,
	.region = fault_region,
	.sysreg = fault_sysreg,
	.trap_entry = fault_entry,
	.lock_acquire = fault_acquire,
	.lock_release = fault_release,
	.store_before = fault_store,
	.nondet = fault_nondet,
	.trap_exit = fault_exit,
	.panic = fault_panic,
	.trap_abandon = fault_abandon,
};
