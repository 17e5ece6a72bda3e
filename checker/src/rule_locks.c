// SPDX-License-Identifier: MIT
/*
 * Lock discipline (HYPERCALLS.md "Locks and components", "Boot state"):
 *
 * - a descriptor store happens only in a page-table page of host stage-2
 *   or hyp stage-1 (`pte-write-not-table`), by the CPU that holds that
 *   component's lock (`pte-write-without-lock`);
 * - a new table page is one the pool handed out (a NONDET alloc_page) in
 *   the same trap, or during boot, and never installed before
 *   (`table-not-from-pool`); a table page belongs to one tree
 *   (`table-reuse`);
 * - the pool hands out each of its pages once (`pool-alloc`).
 *
 * After lost records, what the lost records could have done (taken a
 * lock, handed out a page) makes these inconclusive instead.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

/* Pool page bits. */
#define LOCKS_HANDED_OUT 1u
#define LOCKS_INSTALLED 2u

/**
 * Per CPU: the pool pages handed out in its current trap (or, before its
 * first, during boot), and the trap they belong to (its entry's index).
 */
struct locks_cpu {
	uint64_t *allocs;
	size_t count, cap;
	uint64_t trap;
};

struct locks_rule {
	uint8_t *pool; /* per pool page: LOCKS_* bits */
	uint64_t pool_pages;
	struct locks_cpu cpu[CK_MAX_CPUS];
};

static void locks_boot(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct locks_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);

	(void)ev;
	r->pool_pages = (b->pool_end - b->pool_start) >> 12;
	r->pool = calloc(r->pool_pages ? r->pool_pages : 1, 1);
	CK_CHECK(r->pool != NULL);
}

/*
 * The pages handed out in `cpu`'s current trap: a new trap starts with
 * none. (Looked at lazily, when a page is handed out or a table installed,
 * rather than at every trap entry.) Outside traps they add up, as during
 * boot.
 */
static struct locks_cpu *locks_allocs(struct locks_rule *r,
				      const struct ck_env *env, unsigned cpu)
{
	struct locks_cpu *c = &r->cpu[cpu];
	const struct ck_event *trap = view_trap(env->view, cpu);

	if (trap && trap->index != c->trap) {
		c->count = 0;
		c->trap = trap->index;
	}
	return c;
}

/* The pool hands out a page: once each, from the pool only. */
static void locks_nondet(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct locks_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);
	uint64_t pa = ev->w[1];
	struct locks_cpu *c;

	if (ev->w[0] != PKVM_NONDET_ALLOC_PAGE || pa == 0 ||
	    !view_profile(env->view)->boot_pool)
		return; /* 0: the pool ran out (rule_spec.c) */
	c = locks_allocs(r, env, ev->cpu);
	if (pa < b->pool_start || pa >= b->pool_end || (pa & 0xfff) ||
	    (r->pool[(pa - b->pool_start) >> 12] & LOCKS_HANDED_OUT))
		ck_finding(env->out, "pool-alloc", ev, pa, false, 0,
			   "the pool must hand out each page of [0x%llx, "
			   "0x%llx) once; it handed out 0x%llx",
			   (unsigned long long)b->pool_start,
			   (unsigned long long)b->pool_end,
			   (unsigned long long)pa);
	else
		r->pool[(pa - b->pool_start) >> 12] |= LOCKS_HANDED_OUT;
	if (c->count == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->allocs = realloc(c->allocs, c->cap * sizeof(uint64_t));
		CK_CHECK(c->allocs != NULL);
	}
	c->allocs[c->count++] = pa;
}

static bool locks_alloc_seen(const struct locks_cpu *c, uint64_t pa)
{
	for (size_t i = 0; i < c->count; i++)
		if (c->allocs[i] == pa)
			return true;
	return false;
}

/* A table descriptor installed a new page: it must come from the pool. */
static void locks_install(struct locks_rule *r, const struct ck_env *env,
			  const struct ck_event *ev,
			  const struct model_write *w)
{
	const struct ck_boot *b = view_boot(env->view);
	uint64_t pa = w->child_pa;
	bool in_pool = pa >= b->pool_start && pa < b->pool_end;
	uint64_t pi = (pa - b->pool_start) >> 12;

	if (w->conflict) {
		ck_finding(env->out, "table-reuse", ev, pa, false, 0,
			   "table descriptor points at page 0x%llx, which is "
			   "already a table elsewhere in the page tables; a "
			   "table page belongs to exactly one tree",
			   (unsigned long long)pa);
		return;
	}
	if (!w->installed_new || !view_profile(env->view)->boot_pool)
		return;
	if (!in_pool || !locks_alloc_seen(locks_allocs(r, env, ev->cpu), pa) ||
	    (r->pool[pi] & LOCKS_INSTALLED)) {
		if (view_any_loss(env->view)) {
			ck_inconclusive(env->out,
					"table page 0x%llx: its allocation "
					"may have been lost",
					(unsigned long long)pa);
			return;
		}
		ck_finding(env->out, "table-not-from-pool", ev, pa, false, 0,
			   "a new table page must be one handed out by the "
			   "pool [0x%llx, 0x%llx) in the same trap and never "
			   "used before; page 0x%llx %s",
			   (unsigned long long)b->pool_start,
			   (unsigned long long)b->pool_end,
			   (unsigned long long)pa,
			   !in_pool ? "is outside the pool"
			   : (r->pool[pi] & LOCKS_INSTALLED)
				   ? "was already installed as a table"
				   : "was not handed out (NONDET alloc_page) "
				     "in this trap");
	}
	if (in_pool)
		r->pool[pi] |= LOCKS_INSTALLED;
}

/*
 * The trap BOOT opens, on a profile whose tables are built there by one
 * CPU before any other runs on them (LINUX-6.12.md 4, exception (a)).
 */
static bool locks_boot_trap(const struct ck_env *env, unsigned cpu)
{
	const struct ck_profile *p = view_profile(env->view);
	const struct ck_event *t = view_trap(env->view, cpu);

	return p->boot_trap_unlocked && t &&
	       profile_is_hcall(t->w, p->boot_hcall);
}

/* The store went to a table of some component, under its lock? */
static void locks_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	const struct model_write *w = view_store_write(env->view);
	uint64_t pa = ev->w[0];
	int holder;

	if (w->table < 0) {
		/* Before both roots are announced, a page no root reaches
		 * yet may be one of theirs (model keep_orphans). */
		if (w->orphan &&
		    (view_model(env->view)->root[PKVM_COMP_HOST_S2] < 0 ||
		     view_model(env->view)->root[PKVM_COMP_HYP_S1] < 0))
			return;
		if (view_any_loss(env->view))
			ck_inconclusive(env->out,
					"descriptor store to 0x%llx after lost "
					"records",
					(unsigned long long)pa);
		else
			ck_finding(
				env->out, "pte-write-not-table", ev, pa, false,
				0,
				"descriptor store to 0x%llx, which is not in "
				"any page-table page of host stage-2 or hyp "
				"stage-1",
				(unsigned long long)pa);
		return;
	}
	holder = view_comp_holder(env->view, w->comp);
	if (holder != (int)ev->cpu && !locks_boot_trap(env, ev->cpu)) {
		if (view_cpu_lost(env->view, ev->cpu))
			ck_inconclusive(env->out,
					"descriptor store by cpu%u after its "
					"lost records",
					ev->cpu);
		else
			ck_finding(env->out, "pte-write-without-lock", ev, pa,
				   false, 0,
				   "descriptor store to a %s table (0x%llx) by "
				   "cpu%u, which does not hold the %s lock%s",
				   w->comp == PKVM_COMP_HOST_S2 ? "host stage-2"
								: "hyp stage-1",
				   (unsigned long long)pa, ev->cpu,
				   w->comp == PKVM_COMP_HOST_S2 ? "host_s2"
								: "hyp_s1",
				   holder >= 0 ? " (another CPU holds it)"
					       : "");
	}
	locks_install(self, env, ev, w);
}

static void *locks_create(const struct ck_env *env, unsigned cpu_count)
{
	struct locks_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	for (unsigned i = 0; i < CK_MAX_CPUS; i++)
		r->cpu[i].trap = UINT64_MAX; /* boot: no trap yet */
	return r;
}

static void locks_destroy(void *self)
{
	struct locks_rule *r = self;

	for (unsigned i = 0; i < CK_MAX_CPUS; i++)
		free(r->cpu[i].allocs);
	free(r->pool);
	free(r);
}

const struct ck_rule rule_locks = {
	.name = "locks",
	.create = locks_create,
	.destroy = locks_destroy,
	.boot = locks_boot,
	.nondet = locks_nondet,
	.store_after = locks_store,
};
