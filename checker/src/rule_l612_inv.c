// SPDX-License-Identifier: MIT
/*
 * linux-6.12's page invariants (format/LINUX-6.12.md 11, invariants 1-3
 * and 5), on every page a trap's stores touched, when it lets go of its
 * last component lock.
 *
 * What is touched. Every store of a trap to an attached host stage-2 or
 * hyp stage-1 table is remembered: the entry itself, and the RAM pages
 * its input range covers (host stage-2: the IPA = PA; hyp stage-1: the
 * linear map, VA - hyp_va_offset; a range outside RAM, such as the
 * private range with its stacks and fixmap slots, covers none). When the
 * trap lets go of host_mmu.lock or pkvm_pgd_lock holding neither after it
 * (an ownership change holds both for its whole check-then-do,
 * LINUX-6.12.md 4, so both sides are then as the trap left them), they
 * are judged and forgotten. Stores made holding neither lock (the boot
 * trap's, whose state is section 5.3's; a fixmap slot's) are forgotten at
 * the trap's exit, unjudged.
 *
 * The invariants, each side read as LINUX-6.12.md 3 encodes it (as
 * rule_spec_l612.c reads it: allowed memory is BOOT's RAM):
 *
 * - one owner (1): the hyp's linear map maps no page whose host side is
 *   OWNED or SHARED_OWNED as OWNED or SHARED_OWNED, nor any page whose
 *   host side is OWNED (`hyp-maps-foreign-page`); the host maps no page
 *   the hyp owns (`host-maps-foreign-page`: a valid host leaf over a page
 *   whose hyp side is OWNED or SHARED_OWNED while its own state claims it
 *   too). Fixmap slots (7.4) are in the private range, not the linear
 *   map: the reading never sees them;
 * - shared pages paired (2): host SHARED_OWNED exactly when hyp
 *   SHARED_BORROWED, host SHARED_BORROWED exactly when hyp SHARED_OWNED
 *   (`invariant-share-pairing`);
 * - annotations (3): a touched host stage-2 entry that is invalid and
 *   not 0 is `0x4` (owner hyp) at level 3; none is `LOCKED` (0x400) once
 *   the lock is let go; a touched linear-map entry of the hyp stage-1 is
 *   valid or 0 (`bad-annotation`);
 * - state bits (5): no touched valid leaf has software bits 56:55 = 11,
 *   nor bits 58:57 set (`invalid-state-bits`).
 *
 * One finding per page per trap. After lost records the pages the replay
 * marks unknown are not judged, and a trap with lost records is
 * inconclusive instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "rules.h"
#include "spec_l612.h"

#define INV_MAX 64u
#define INV_SW_UNUSED (3ull << 57) /* bits 58:57: unused by 6.12 */

/** RAM pages a store covered, from the side it changed. */
struct inv_range {
	uint64_t first_pfn, count;
	unsigned comp;
};

/** What one CPU's trap touched since it last let its locks go. */
struct inv_cpu {
	struct inv_range range[INV_MAX];
	unsigned range_count;
	uint64_t slot[INV_MAX]; /* descriptor PAs stored */
	unsigned slot_count;
	bool overflow;
};

struct inv_rule {
	uint64_t hyp_off, ram_base, ram_size;
	struct inv_cpu cpu[CK_MAX_CPUS];
};

static void inv_boot(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct inv_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);

	r->ram_base = b->ram_base;
	r->ram_size = b->ram_size;
	r->hyp_off = ev->w[12];
}

static void inv_forget(struct inv_cpu *c)
{
	c->range_count = 0;
	c->slot_count = 0;
	c->overflow = false;
}

static void inv_add_range(struct inv_rule *r, struct inv_cpu *c, unsigned comp,
			  uint64_t first, uint64_t size)
{
	uint64_t ram_first = r->ram_base >> 12,
		 ram_end = ram_first + (r->ram_size >> 12);
	uint64_t lo = first >> 12, hi = lo + (size >> 12);
	struct inv_range *last;

	if (lo < ram_first)
		lo = ram_first;
	if (hi > ram_end || hi < lo)
		hi = ram_end;
	if (lo >= hi)
		return; /* no RAM under it */
	last = c->range_count ? &c->range[c->range_count - 1] : NULL;
	if (last && last->comp == comp && last->first_pfn <= lo &&
	    lo <= last->first_pfn + last->count) {
		if (hi > last->first_pfn + last->count)
			last->count = hi - last->first_pfn;
		return;
	}
	if (c->range_count == INV_MAX) {
		c->overflow = true;
		return;
	}
	c->range[c->range_count].first_pfn = lo;
	c->range[c->range_count].count = hi - lo;
	c->range[c->range_count].comp = comp;
	c->range_count++;
}

static void inv_store(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct inv_rule *r = self;
	struct inv_cpu *c = &r->cpu[ev->cpu];
	const struct model_write *w = view_store_write(env->view);
	const struct model *m = view_model(env->view);
	const struct model_table *t;
	uint64_t pa = ev->w[0], size, in;
	unsigned i;

	if (!m || w->table < 0 || !w->attached ||
	    (w->comp != PKVM_COMP_HOST_S2 && w->comp != PKVM_COMP_HYP_S1) ||
	    !view_trap(env->view, ev->cpu))
		return;
	t = m->tables[w->table];
	size = model_entry_size(t->level);
	in = t->base + ((pa & 0xfff) >> 3) * size;
	if (w->comp == PKVM_COMP_HYP_S1)
		in -= r->hyp_off;
	inv_add_range(r, c, w->comp, in, size);
	for (i = 0; i < c->slot_count && c->slot[i] != pa; i++)
		;
	if (i < c->slot_count)
		return;
	if (c->slot_count == INV_MAX)
		c->overflow = true;
	else
		c->slot[c->slot_count++] = pa;
}

/* ---- the verdict ------------------------------------------------------ */

/* One finding per page per trap: `text` says what is wrong. */
static void inv_report(const struct ck_env *env, const struct ck_event *ev,
		       const char *check, uint64_t pfn, const char *text)
{
	if (ck_trap_was_reported(env->out, ev->cpu, pfn))
		return;
	ck_trap_reported(env->out, ev->cpu, pfn);
	ck_finding(env->out, check, ev, pfn << 12, false, 0,
		   "%s (LINUX-6.12.md 11)", text);
}

/* Invariants 3 and 5 on one entry the trap stored. */
static void inv_judge_slot(const struct inv_rule *r, const struct ck_env *env,
			   const struct ck_event *ev, uint64_t pa)
{
	const struct model *m = view_model(env->view);
	int ti = model_table_find(m, pa & ~0xfffull);
	const struct model_table *t;
	uint64_t d, in;
	char text[256];

	if (ti < 0 || !model_table_attached(m, ti))
		return;
	t = m->tables[ti];
	d = t->desc[(pa & 0xfff) >> 3];
	in = t->base + ((pa & 0xfff) >> 3) * model_entry_size(t->level);
	if (t->comp == PKVM_COMP_HYP_S1)
		in -= r->hyp_off;
	if (view_range_unsure(env->view, t->comp, in,
			      model_entry_size(t->level)))
		return;
	if (l612_is_leaf(d, t->level)) {
		if ((d & L612_PTE_SW_MASK) != L612_PTE_SW_MASK &&
		    !(d & INV_SW_UNUSED))
			return;
		snprintf(text, sizeof(text),
			 "the valid leaf 0x%llx at 0x%llx has %s",
			 (unsigned long long)d, (unsigned long long)pa,
			 (d & INV_SW_UNUSED) ? "bits 58:57 set"
					     : "state bits 11");
		inv_report(env, ev, "invalid-state-bits", in >> 12, text);
		return;
	}
	if (d == 0 || l612_is_table(d, t->level))
		return;
	if (t->comp == PKVM_COMP_HOST_S2 && d == L612_PTE_LOCKED)
		snprintf(text, sizeof(text),
			 "host stage-2 entry 0x%llx (for 0x%llx) is still "
			 "LOCKED when host_mmu.lock is let go",
			 (unsigned long long)pa, (unsigned long long)in);
	else if (t->comp == PKVM_COMP_HOST_S2 &&
		 (d != (L612_OWNER_HYP << L612_PTE_OWNER_SHIFT) ||
		  t->level != 3))
		snprintf(text, sizeof(text),
			 "host stage-2 annotation 0x%llx for 0x%llx at level "
			 "%d: only owner 1 (0x4), only at level 3",
			 (unsigned long long)d, (unsigned long long)in,
			 t->level);
	else if (t->comp == PKVM_COMP_HYP_S1 && in >= r->ram_base &&
		 in - r->ram_base < r->ram_size)
		snprintf(text, sizeof(text),
			 "hyp stage-1 linear-map entry 0x%llx for 0x%llx: "
			 "annotations are only in the host stage-2",
			 (unsigned long long)d, (unsigned long long)in);
	else
		return;
	inv_report(env, ev, "bad-annotation", in >> 12, text);
}

static bool inv_owns(unsigned st)
{
	return st == SPEC_ST_OWNED || st == SPEC_ST_SHARED_OWNED;
}

/* Invariants 1 and 2 on one RAM page. */
static void inv_judge_page(const struct inv_rule *r, const struct ck_env *env,
			   const struct ck_event *ev, uint64_t pfn)
{
	const struct model *m = view_model(env->view);
	uint64_t hd = 0, yd = 0, pa = pfn << 12;
	int hl = 3, yl = 3;
	unsigned h, y;
	bool hmapped, ymapped;
	const char *check;
	char text[256];

	if (view_unknown(env->view, PKVM_COMP_HOST_S2, pfn) ||
	    view_unknown(env->view, PKVM_COMP_HYP_S1, pfn))
		return;
	if (!model_leaf(m, PKVM_COMP_HOST_S2, pa, &hd, &hl))
		hd = 0;
	if (!model_leaf(m, PKVM_COMP_HYP_S1, pa + r->hyp_off, &yd, &yl))
		yd = 0;
	h = l612_host_state(hd, hl, true);
	y = l612_hyp_state(yd, yl);
	if (h == SPEC_ST_BAD || y == SPEC_ST_BAD || h == SPEC_ST_UNKNOWN ||
	    y == SPEC_ST_UNKNOWN)
		return; /* state bits 11: invalid-state-bits' */
	hmapped = l612_is_leaf(hd, hl);
	ymapped = l612_is_leaf(yd, yl);
	/* both claim it: a host leaf over a page the hyp claims is the
	 * host's mapping of a foreign page; else the hyp's mapping is */
	if (hmapped && inv_owns(h) && inv_owns(y))
		check = "host-maps-foreign-page";
	else if (ymapped &&
		 (h == SPEC_ST_OWNED || (inv_owns(h) && inv_owns(y))))
		check = "hyp-maps-foreign-page";
	else if ((h == SPEC_ST_SHARED_OWNED) !=
			 (y == SPEC_ST_SHARED_BORROWED) ||
		 (h == SPEC_ST_SHARED_BORROWED) != (y == SPEC_ST_SHARED_OWNED))
		check = "invariant-share-pairing";
	else
		return;
	snprintf(text, sizeof(text),
		 "page 0x%llx is host %s (entry 0x%llx), hyp %s (entry 0x%llx)",
		 (unsigned long long)pa, spec_state_name(h),
		 (unsigned long long)hd, spec_state_name(y),
		 (unsigned long long)yd);
	inv_report(env, ev, check, pfn, text);
}

static void inv_release(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct inv_rule *r = self;
	struct inv_cpu *c = &r->cpu[ev->cpu];
	unsigned comp = view_lock_comp(env->view, (unsigned)ev->w[0]);
	unsigned other = comp == PKVM_COMP_HOST_S2 ? PKVM_COMP_HYP_S1
						   : PKVM_COMP_HOST_S2;

	if ((comp != PKVM_COMP_HOST_S2 && comp != PKVM_COMP_HYP_S1) ||
	    view_cpu_holds_comp(env->view, ev->cpu, other) ||
	    !view_model(env->view))
		return;
	if (view_cpu_lost(env->view, ev->cpu) || c->overflow) {
		if (c->slot_count)
			ck_inconclusive(env->out,
					"cpu%u's invariants at event #%llu: %s",
					ev->cpu, (unsigned long long)ev->index,
					c->overflow ? "too many entries changed"
						    : "records were lost");
		inv_forget(c);
		return;
	}
	for (unsigned i = 0; i < c->slot_count; i++)
		inv_judge_slot(r, env, ev, c->slot[i]);
	for (unsigned i = 0; i < c->range_count; i++)
		for (uint64_t p = 0; p < c->range[i].count; p++)
			inv_judge_page(r, env, ev, c->range[i].first_pfn + p);
	inv_forget(c);
}

static void inv_exit(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	(void)env;
	inv_forget(&((struct inv_rule *)self)->cpu[ev->cpu]);
}

static void inv_abandon(void *self, const struct ck_env *env, unsigned cpu,
			const char *why)
{
	(void)env;
	(void)why;
	inv_forget(&((struct inv_rule *)self)->cpu[cpu]);
}

static void *inv_create(const struct ck_env *env, unsigned cpu_count)
{
	struct inv_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_l612_inv = {
	.name = "l612-inv",
	.system = PKVM_SYSTEM_LINUX612,
	.create = inv_create,
	.destroy = free,
	.boot = inv_boot,
	.store_after = inv_store,
	.lock_release = inv_release,
	.trap_exit = inv_exit,
	.trap_abandon = inv_abandon,
};
