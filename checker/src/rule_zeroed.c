// SPDX-License-Identifier: MIT
/*
 * New table pages are known to be zero (check `table-not-zeroed`;
 * HYPERCALLS.md "Boot state"). The model starts every new table empty;
 * that is true only if the hyp zeroed the page, and the trace says so
 * with a MARK page_zeroed (arg the page's PA):
 *
 * - a pool page linked as a table (a table descriptor that installs it)
 *   must have one on the CPU that took it (its NONDET alloc_page), after
 *   that alloc_page and before the link;
 * - each root (BOOT) must have one on the boot CPU, after BOOT and before
 *   the root's first descriptor store.
 *
 * A mark anywhere else vouches for nothing: on another CPU (the page was
 * not its to zero), before the page was handed out, or after the link
 * (pages are never freed, so a live table is never zeroed again). A page
 * linked from outside the pool is `table-not-from-pool` (rule_locks.c).
 *
 * ABI 2 promises these marks; an ABI-1 trace records none, so the check
 * is not judged there (said once in the summary). After lost records a
 * missing mark may be among them: inconclusive.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

/* Per pool page. */
#define ZEROED_TAKEN 1u	 /* handed out (by `taker`) */
#define ZEROED_ZEROED 2u /* a MARK page_zeroed since, on the taker */
#define ZEROED_LINKED 4u /* installed as a table */

struct zeroed_page {
	uint8_t bits;
	uint8_t taker;	/* the CPU that took it */
	uint64_t alloc; /* index of its alloc_page event */
};

struct zeroed_rule {
	bool judged; /* ABI 2 or later */
	uint64_t pool_start, pool_pages;
	struct zeroed_page *pool;
	unsigned boot_cpu;
	uint64_t root[MODEL_COMP_COUNT];
	bool root_zeroed[MODEL_COMP_COUNT];
	bool root_written[MODEL_COMP_COUNT];
};

static void zeroed_boot(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct zeroed_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);
	unsigned abi = (unsigned)(ev->w[0] & 0xffffffffu);

	r->judged = abi >= 2;
	if (!r->judged) {
		char why[64];

		snprintf(why, sizeof(why), "ABI %u records no page zeroing",
			 abi);
		ck_not_judged(env->out, "table-not-zeroed", why);
		return;
	}
	r->boot_cpu = ev->cpu;
	r->root[PKVM_COMP_HOST_S2] = ev->w[8];
	r->root[PKVM_COMP_HYP_S1] = ev->w[9];
	r->pool_start = b->pool_start;
	r->pool_pages = (b->pool_end - b->pool_start) >> 12;
	r->pool = calloc(r->pool_pages ? r->pool_pages : 1, sizeof(*r->pool));
	CK_CHECK(r->pool != NULL);
}

static struct zeroed_page *zeroed_page(struct zeroed_rule *r, uint64_t pa)
{
	uint64_t i = (pa - r->pool_start) >> 12;

	if (!r->pool || pa < r->pool_start || i >= r->pool_pages)
		return NULL;
	return &r->pool[i];
}

static void zeroed_nondet(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct zeroed_page *p;

	(void)env;
	if (ev->w[0] != PKVM_NONDET_ALLOC_PAGE)
		return;
	p = zeroed_page(self, ev->w[1]);
	if (!p || (p->bits & ZEROED_LINKED))
		return; /* outside the pool, or twice: rule_locks.c */
	p->bits = ZEROED_TAKEN;
	p->taker = (uint8_t)ev->cpu;
	p->alloc = ev->index;
}

static void zeroed_mark(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct zeroed_rule *r = self;
	uint64_t pa = ev->w[1];
	struct zeroed_page *p;

	(void)env;
	if (ev->w[0] != PKVM_MARK_PAGE_ZEROED || !r->judged)
		return;
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++)
		if (pa == r->root[c] && ev->cpu == r->boot_cpu &&
		    !r->root_written[c])
			r->root_zeroed[c] = true;
	p = zeroed_page(r, pa);
	if (p && (p->bits & ZEROED_TAKEN) && !(p->bits & ZEROED_LINKED) &&
	    p->taker == ev->cpu)
		p->bits |= ZEROED_ZEROED;
}

static void zeroed_report(const struct ck_env *env, const struct ck_event *ev,
			  uint64_t page, const char *what)
{
	if (view_any_loss(env->view)) {
		ck_inconclusive(env->out,
				"table page 0x%llx: its MARK page_zeroed may "
				"have been lost",
				(unsigned long long)page);
		return;
	}
	ck_finding(env->out, "table-not-zeroed", ev, page, false, 0,
		   "table page 0x%llx %s; a table page must be zeroed, and a "
		   "MARK page_zeroed say so, before it is used (HYPERCALLS.md "
		   "\"Boot state\"): its old contents are unknown",
		   (unsigned long long)page, what);
}

static void zeroed_store(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct zeroed_rule *r = self;
	const struct model_write *w = view_store_write(env->view);
	const struct model *m = view_model(env->view);
	struct zeroed_page *p;
	char what[160];

	if (!r->judged || w->table < 0)
		return;
	if (w->table == m->root[w->comp] && !r->root_written[w->comp]) {
		r->root_written[w->comp] = true;
		if (!r->root_zeroed[w->comp]) {
			snprintf(what, sizeof(what),
				 "(the %s root) is written with no MARK "
				 "page_zeroed for it on cpu%u since BOOT",
				 w->comp == PKVM_COMP_HOST_S2 ? "host stage-2"
							      : "hyp stage-1",
				 r->boot_cpu);
			zeroed_report(env, ev, r->root[w->comp], what);
		}
	}
	if (!w->installed_new || !(p = zeroed_page(r, w->child_pa)) ||
	    !(p->bits & ZEROED_TAKEN) || (p->bits & ZEROED_LINKED))
		return; /* not a fresh pool page: rule_locks.c */
	p->bits |= ZEROED_LINKED;
	if (p->bits & ZEROED_ZEROED)
		return;
	snprintf(what, sizeof(what),
		 "is linked as a table with no MARK page_zeroed for it on "
		 "cpu%u between its alloc_page (#%llu) and the link",
		 p->taker, (unsigned long long)p->alloc);
	zeroed_report(env, ev, w->child_pa, what);
}

static void *zeroed_create(const struct ck_env *env, unsigned cpu_count)
{
	struct zeroed_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

static void zeroed_destroy(void *self)
{
	struct zeroed_rule *r = self;

	free(r->pool);
	free(r);
}

const struct ck_rule rule_zeroed = {
	.name = "table-not-zeroed",
	.create = zeroed_create,
	.destroy = zeroed_destroy,
	.boot = zeroed_boot,
	.nondet = zeroed_nondet,
	.mark = zeroed_mark,
	.store_after = zeroed_store,
};
