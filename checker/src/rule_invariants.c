// SPDX-License-Identifier: MIT
/*
 * The page invariants (DESIGN.md 5), checked on every page a trap changed
 * when its critical section ends and reported at its exit, and, after
 * boot, on every page a descriptor store outside any trap changed (no spec
 * answers for such a store), at once:
 *
 * - one owner per page: host stage-2 maps no page the hyp owns, hyp
 *   stage-1 no page the host owns and has not shared;
 * - a SHARED_OWNED side pairs with a SHARED_BORROWED side;
 * - no valid descriptor carries the reserved page state 0b11.
 *
 * "One owner" needs no check of its own: page states are read from the
 * tables, so a hyp-side owner is mapped in hyp stage-1, and a host-side
 * owner is either mapped in host stage-2 (the first check) or unmapped
 * with no annotation, i.e. host OWNED (the second). A page that already
 * has an effect finding in the trap (rule_spec.c) is not reported again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "rules.h"

#define INV_HOST PKVM_COMP_HOST_S2
#define INV_HYP PKVM_COMP_HYP_S1
#define INV_MAX_PENDING 32u

/** An invariant broken in a trap, reported when the trap ends. */
struct inv_pending {
	const char *check;
	uint64_t pfn;
	uint64_t explain;
	bool has_explain;
	char text[320];
};

struct inv_cpu {
	struct inv_pending pend[INV_MAX_PENDING];
	unsigned count;
};

struct inv_rule {
	struct inv_cpu cpu[CK_MAX_CPUS];
};

static bool inv_owns(unsigned st)
{
	return st == SPEC_ST_OWNED || st == SPEC_ST_SHARED_OWNED;
}

/* Host stage-2 maps `pfn` to a page the hyp owns: the name, or NULL. */
static const char *inv_host_foreign(const struct ck_view *v, uint64_t pfn,
				    const struct model_side *h, char *msg,
				    size_t len)
{
	const struct model *m = view_model(v);

	if (!(h->flags & MODEL_SIDE_VALID) ||
	    model_page_index(m, h->out_pfn) < 0 ||
	    !inv_owns(view_page(v, h->out_pfn).hyp))
		return NULL;
	snprintf(msg, len,
		 "host stage-2 maps 0x%llx to page 0x%llx, which the hyp %s",
		 (unsigned long long)(pfn << 12),
		 (unsigned long long)h->out_pfn << 12,
		 spec_state_name(view_page(v, h->out_pfn).hyp));
	return "host-maps-foreign-page";
}

/* Hyp stage-1 maps `pfn` to a page the host owns: the name, or NULL. */
static const char *inv_hyp_foreign(const struct ck_view *v, uint64_t pfn,
				   const struct model_side *y, char *msg,
				   size_t len)
{
	const struct model *m = view_model(v);

	if (!(y->flags & MODEL_SIDE_VALID) ||
	    model_page_index(m, y->out_pfn) < 0 ||
	    view_page(v, y->out_pfn).host != SPEC_ST_OWNED)
		return NULL;
	snprintf(msg, len,
		 "hyp stage-1 maps 0x%llx to page 0x%llx, which the host "
		 "owns and has not shared",
		 (unsigned long long)(pfn << 12),
		 (unsigned long long)y->out_pfn << 12);
	return "hyp-maps-foreign-page";
}

/** The first page invariant `pfn` breaks now, or NULL; `msg` says how. */
static const char *inv_check(const struct ck_view *v, uint64_t pfn, char *msg,
			     size_t len)
{
	const struct model *m = view_model(v);
	int64_t i = model_page_index(m, pfn);
	const struct model_side *h = &m->side[INV_HOST][i];
	const struct model_side *y = &m->side[INV_HYP][i];
	struct spec_page p = view_page(v, pfn);
	const char *check;

	if (p.host == SPEC_ST_UNKNOWN || p.hyp == SPEC_ST_UNKNOWN)
		return NULL;
	if (p.host == SPEC_ST_BAD || p.hyp == SPEC_ST_BAD) {
		snprintf(msg, len,
			 "page 0x%llx: a valid descriptor carries the "
			 "reserved page state 0b11",
			 (unsigned long long)(pfn << 12));
		return "invalid-state-bits";
	}
	check = inv_host_foreign(v, pfn, h, msg, len);
	if (!check)
		check = inv_hyp_foreign(v, pfn, y, msg, len);
	if (check)
		return check;
	if ((p.host == SPEC_ST_SHARED_OWNED) !=
		    (p.hyp == SPEC_ST_SHARED_BORROWED) ||
	    (p.hyp == SPEC_ST_SHARED_OWNED) !=
		    (p.host == SPEC_ST_SHARED_BORROWED)) {
		snprintf(msg, len,
			 "page 0x%llx: host side %s with hyp side %s; "
			 "SHARED_OWNED on one side must pair with "
			 "SHARED_BORROWED on the other",
			 (unsigned long long)(pfn << 12),
			 spec_state_name(p.host), spec_state_name(p.hyp));
		return "invariant-share-pairing";
	}
	return NULL;
}

/* ---- in a trap ------------------------------------------------------ */

static void inv_pend(const struct ck_env *env, struct inv_cpu *c, uint64_t pfn,
		     uint64_t explain)
{
	struct inv_pending *p;
	char msg[320];
	const char *check = inv_check(env->view, pfn, msg, sizeof(msg));

	if (!check)
		return;
	if (c->count == INV_MAX_PENDING) {
		ck_inconclusive(env->out,
				"more than %u broken invariants in one trap",
				INV_MAX_PENDING);
		return;
	}
	p = &c->pend[c->count++];
	p->check = check;
	p->pfn = pfn;
	p->explain = explain;
	p->has_explain = explain != UINT64_MAX;
	memcpy(p->text, msg, sizeof(p->text));
}

/* The trap's section ended: the pages it changed, once each. */
static void inv_section_end(void *self, const struct ck_env *env,
			    const struct ck_event *ev)
{
	struct inv_cpu *c = &((struct inv_rule *)self)->cpu[ev->cpu];
	const struct ck_touch *touch;
	size_t count;

	touch = view_section_touches(env->view, ev->cpu, &count);
	for (size_t k = 0; k < count; k++) {
		const struct ck_touch *e = &touch[k];

		/* One check per page, even if both sides changed. */
		if (e->comp == INV_HYP &&
		    view_touch_find(env->view, ev->cpu, INV_HOST, e->pfn))
			continue;
		inv_pend(env, c, e->pfn, e->pre_last);
	}
}

/*
 * Report what the trap broke, unless it cannot be judged; the next trap
 * starts with nothing pending.
 */
static void inv_flush(const struct ck_env *env, struct inv_cpu *c, unsigned cpu,
		      const struct ck_event *ev)
{
	unsigned count = c->count;

	c->count = 0;
	if (ck_trap_is_unsure(env->out, cpu))
		return;
	for (unsigned i = 0; i < count; i++) {
		const struct inv_pending *p = &c->pend[i];

		if (ck_trap_was_reported(env->out, cpu, p->pfn))
			continue;
		ck_finding(env->out, p->check, ev, p->pfn << 12, p->has_explain,
			   p->explain, "%s", p->text);
	}
}

static void inv_trap_exit(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	inv_flush(env, &((struct inv_rule *)self)->cpu[ev->cpu], ev->cpu, ev);
}

static void inv_trap_abandon(void *self, const struct ck_env *env, unsigned cpu,
			     const char *why)
{
	(void)why;
	inv_flush(env, &((struct inv_rule *)self)->cpu[cpu], cpu,
		  view_trap(env->view, cpu));
}

/* ---- outside traps -------------------------------------------------- */

/*
 * After boot, every descriptor store belongs to a trap, whose effect the
 * spec judges. A store outside any trap has no spec to answer to, so the
 * page invariants are its judge: checked on each page it changed, at once.
 */
static void inv_store(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	const uint64_t *pages;
	unsigned count;
	char msg[320];

	(void)self;
	if (view_trap(env->view, ev->cpu) || !view_boot_done(env->view))
		return;
	pages = view_store_pages(env->view, &count);
	if (count && view_entry_maybe_lost(env->view, ev->cpu)) {
		/* Likely inside a trap whose entry was lost: not judged. */
		ck_inconclusive(env->out,
				"cpu%u stores a descriptor outside any known "
				"trap after its lost records (the trap's "
				"entry may be among them)",
				ev->cpu);
		return;
	}
	for (unsigned k = 0; k < count; k++) {
		const char *check =
			inv_check(env->view, pages[k], msg, sizeof(msg));

		if (check)
			ck_finding(env->out, check, ev, pages[k] << 12, false,
				   0,
				   "%s (after a descriptor store outside any "
				   "trap)",
				   msg);
	}
}

static void *inv_create(const struct ck_env *env, unsigned cpu_count)
{
	struct inv_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_invariants = {
	.name = "invariants",
	.create = inv_create,
	.destroy = free,
	.section_end = inv_section_end,
	.trap_exit = inv_trap_exit,
	.trap_abandon = inv_trap_abandon,
	.store_after = inv_store,
};
