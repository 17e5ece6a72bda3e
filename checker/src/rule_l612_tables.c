// SPDX-License-Identifier: MIT
/*
 * linux-6.12's table pages (format/LINUX-6.12.md 7.3, 10.3, invariant 4):
 * where a new table page comes from, that it is zero, and when it may go
 * back to its pool. Host stage-2 and hyp stage-1 only (the components
 * the model shadows; a VM's stage-2 is never loaded, section 8).
 *
 * - `pool-alloc`: a NONDET alloc_page of component c hands out a page of
 *   c's pool (hyp stage-1: BOOT's pool, the early allocator's and
 *   `hpool`'s; host stage-2: the `region host_s2_pool`, when recorded)
 *   that the pool holds free: never handed out before, or given back
 *   (NONDET free_page) since it last was.
 * - `table-not-from-pool`: a table descriptor stored in an attached table
 *   of c, where the entry did not link that page already, links one c's pool
 *   handed out on that CPU in that critical section (since the trap's
 *   entry or its last section's end).
 * - `table-not-zeroed`: that page is zero when linked. 6.12's allocator
 *   keeps only zeroed pages free (hyp_pool_init attaches, and so zeroes,
 *   every page it does not reserve; the early allocator zeroes what it
 *   hands out; the last hyp_put_page zeroes a page before it rejoins the
 *   free lists), none of which is recorded: the checker vouches for a
 *   page the pool held free (`pool-alloc` otherwise), and a descriptor
 *   store to it between its hand-out and its link makes it not zero.
 * - `table-reuse` (beside rule_locks.c's, a page linked in two places):
 *   a page goes back to its pool (free_page) only once no table
 *   descriptor links it and, after the store that unlinked it, the CPU
 *   that unlinked it issued a TLBI of the component's kind (hyp stage-1:
 *   vae2is or any EL2 form; stage-2: ipas2e1is, a range or a VMID-wide
 *   form).
 *
 * Tables built before their root is announced (the boot trap, section 2:
 * model orphans) are adopted by the model, never linked as new: not
 * judged here. After lost records each finding is inconclusive instead.
 * Cost: a byte per RAM page, a few per store.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "rules.h"
#include "spec_l612.h"

/* Per RAM page. */
#define TAB_OUT 1u	 /* handed out by its pool, not given back since */
#define TAB_LINKED 2u	 /* linked as a table since its hand-out */
#define TAB_DIRTY 4u	 /* written before its link */
#define TAB_UNLINKED 8u	 /* its link cleared, not invalidated yet */
#define TAB_COMP_SHIFT 4 /* bits 5:4: the component that took it */

/* A table descriptor's next-level address (bits 49:12: with LPA2 too). */
#define TAB_OA_MASK (((1ull << 50) - 1) & ~0xfffull)

#define TAB_MAX_ALLOCS 64u
#define TAB_MAX_UNLINKS 64u

struct tab_cpu {
	uint64_t alloc[TAB_MAX_ALLOCS]; /* pa | comp, this section */
	unsigned alloc_count;
	bool alloc_overflow;
	uint64_t unlink[TAB_MAX_UNLINKS]; /* pages awaiting their TLBI */
	unsigned unlink_count;
};

struct tab_rule {
	uint64_t ram_base, ram_pages;
	uint8_t *page;
	uint64_t pool[MODEL_COMP_COUNT][2]; /* [start, end), 0: unknown */
	struct tab_cpu cpu[CK_MAX_CPUS];
};

static uint8_t *tab_page(struct tab_rule *r, uint64_t pa)
{
	uint64_t i = (pa >> 12) - (r->ram_base >> 12);

	if (!r->page || pa < r->ram_base || i >= r->ram_pages)
		return NULL;
	return &r->page[i];
}

static void tab_boot(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct tab_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);

	(void)ev;
	r->ram_base = b->ram_base;
	r->ram_pages = b->ram_size >> 12;
	r->page = calloc(r->ram_pages ? r->ram_pages : 1, 1);
	CK_CHECK(r->page != NULL);
	r->pool[PKVM_COMP_HYP_S1][0] = b->pool_start;
	r->pool[PKVM_COMP_HYP_S1][1] = b->pool_end;
	/* Our hyp's checks that name no promise of 6.12's. */
	ck_not_judged(env->out, "hyp-s1-without-host-s2",
		      "not a 6.12 promise: LINUX-6.12.md 4: pkvm_pgd_lock is "
		      "taken alone by private mappings and the fixmap");
	ck_not_judged(env->out, "unexpected-mapping",
		      "not a 6.12 promise: LINUX-6.12.md 11: its cases are "
		      "hcall-effect, trap-effect and invariant 1 there");
	ck_not_judged(env->out, "enomem-with-effect",
		      "not a 6.12 promise: LINUX-6.12.md 12: ownership calls "
		      "cannot run out; the -ENOMEM of ids 23-24 is judged as "
		      "hcall-effect");
}

static void tab_region(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct tab_rule *r = self;

	(void)env;
	if (ev->w[0] == PKVM_REGION_HOST_S2_POOL && ev->w[2]) {
		r->pool[PKVM_COMP_HOST_S2][0] = ev->w[1];
		r->pool[PKVM_COMP_HOST_S2][1] = ev->w[1] + ev->w[2];
	}
}

static const char *tab_comp_name(unsigned comp)
{
	return comp == PKVM_COMP_HOST_S2 ? "host stage-2" : "hyp stage-1";
}

/* A finding, or after lost records an inconclusive verdict. */
#define TAB_REPORT(env, check, ev, pa, ...)                                    \
	do {                                                                   \
		if (view_any_loss((env)->view))                                \
			ck_inconclusive((env)->out,                            \
					"%s for page 0x%llx: records were "    \
					"lost",                                \
					check, (unsigned long long)(pa));      \
		else                                                           \
			ck_finding((env)->out, check, ev, pa, false, 0,        \
				   __VA_ARGS__);                               \
	} while (0)

static void tab_alloc(struct tab_rule *r, const struct ck_env *env,
		      const struct ck_event *ev, uint64_t pa, unsigned comp)
{
	struct tab_cpu *c = &r->cpu[ev->cpu];
	const uint64_t *pool = r->pool[comp];
	uint8_t *p = tab_page(r, pa);

	if ((pa & 0xfff) || !p || (pool[1] && (pa < pool[0] || pa >= pool[1])))
		TAB_REPORT(env, "pool-alloc", ev, pa,
			   "the %s pool handed out 0x%llx, which is not one "
			   "of its pages [0x%llx, 0x%llx) (LINUX-6.12.md 7.3)",
			   tab_comp_name(comp), (unsigned long long)pa,
			   (unsigned long long)pool[0],
			   (unsigned long long)pool[1]);
	else if (*p & TAB_OUT)
		TAB_REPORT(env, "pool-alloc", ev, pa,
			   "the %s pool handed out 0x%llx again, with no "
			   "free_page of it since it last did: only a free "
			   "page is known to be zero and unused "
			   "(LINUX-6.12.md 7.3)",
			   tab_comp_name(comp), (unsigned long long)pa);
	if (p)
		*p = (uint8_t)(TAB_OUT | comp << TAB_COMP_SHIFT);
	if (c->alloc_count == TAB_MAX_ALLOCS)
		c->alloc_overflow = true;
	else
		c->alloc[c->alloc_count++] = (pa & ~0xfffull) | comp;
}

static void tab_free(struct tab_rule *r, const struct ck_env *env,
		     const struct ck_event *ev, uint64_t pa, unsigned comp)
{
	const struct model *m = view_model(env->view);
	uint8_t *p = tab_page(r, pa);
	int ti = m ? model_table_find(m, pa & ~0xfffull) : -1;

	if (ti >= 0 && !m->tables[ti]->orphan && !m->tables[ti]->root &&
	    model_table_attached(m, ti))
		TAB_REPORT(env, "table-reuse", ev, pa,
			   "%s table page 0x%llx goes back to its pool while "
			   "a table descriptor still links it (LINUX-6.12.md "
			   "10.3)",
			   tab_comp_name(comp), (unsigned long long)pa);
	else if (p && (*p & TAB_UNLINKED))
		TAB_REPORT(env, "table-reuse", ev, pa,
			   "%s table page 0x%llx goes back to its pool before "
			   "the TLB invalidation after its unlinking: walkers "
			   "may still reach it (LINUX-6.12.md 10.3)",
			   tab_comp_name(comp), (unsigned long long)pa);
	if (p)
		*p = 0;
}

static void tab_nondet(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	unsigned comp = (unsigned)ev->w[3];

	if (comp != PKVM_COMP_HOST_S2 && comp != PKVM_COMP_HYP_S1)
		return; /* a VM's stage-2: not shadowed */
	if (ev->w[0] == PKVM_NONDET_ALLOC_PAGE && ev->w[1])
		tab_alloc(self, env, ev, ev->w[1], comp);
	else if (ev->w[0] == PKVM_NONDET_FREE_PAGE)
		tab_free(self, env, ev, ev->w[1], comp);
}

static bool tab_allocated(const struct tab_cpu *c, uint64_t pa, unsigned comp)
{
	for (unsigned i = 0; i < c->alloc_count; i++)
		if (c->alloc[i] == (pa | comp))
			return true;
	return c->alloc_overflow;
}

/*
 * A table descriptor of `comp` links page `pa` where it was not linked
 * (the model's view is no help: a page linked again at its old slot is
 * neither new nor reattached to it).
 */
static void tab_link(struct tab_rule *r, const struct ck_env *env,
		     const struct ck_event *ev, uint64_t pa, unsigned comp)
{
	uint8_t *p = tab_page(r, pa);

	if (!tab_allocated(&r->cpu[ev->cpu], pa, comp))
		TAB_REPORT(env, "table-not-from-pool", ev, pa,
			   "a %s table descriptor links page 0x%llx, which "
			   "the %s pool did not hand out (NONDET alloc_page) "
			   "on cpu%u in this critical section%s "
			   "(LINUX-6.12.md 10.3)",
			   tab_comp_name(comp), (unsigned long long)pa,
			   tab_comp_name(comp), ev->cpu,
			   p && (*p & TAB_LINKED) ? ": it was linked before"
						  : "");
	else if (p && (*p & TAB_DIRTY))
		TAB_REPORT(env, "table-not-zeroed", ev, pa,
			   "%s table page 0x%llx is linked after descriptor "
			   "stores wrote to it since the pool handed it out: "
			   "a new table must be zero (LINUX-6.12.md 7.3)",
			   tab_comp_name(comp), (unsigned long long)pa);
	if (p)
		*p = (uint8_t)((*p & ~(TAB_DIRTY | TAB_UNLINKED)) | TAB_LINKED);
}

/* Before the model applies a store: a link, an unlink, or a write to a
 * page between its hand-out and its link. */
static void tab_store_before(void *self, const struct ck_env *env,
			     const struct ck_event *ev)
{
	struct tab_rule *r = self;
	const struct model *m = view_model(env->view);
	uint64_t pa = ev->w[0], nw = ev->w[1], old;
	const struct model_table *t;
	struct tab_cpu *c = &r->cpu[ev->cpu];
	uint8_t *p = tab_page(r, pa);
	int ti;

	if (p && (*p & TAB_OUT) && !(*p & TAB_LINKED) && nw)
		*p |= TAB_DIRTY;
	ti = m ? model_table_find(m, pa & ~0xfffull) : -1;
	if (ti < 0 || m->tables[ti]->orphan)
		return;
	t = m->tables[ti];
	old = t->desc[(pa & 0xfff) >> 3];
	if (l612_is_table(nw, t->level) &&
	    (t->comp == PKVM_COMP_HOST_S2 || t->comp == PKVM_COMP_HYP_S1) &&
	    !(l612_is_table(old, t->level) &&
	      (nw & TAB_OA_MASK) == (old & TAB_OA_MASK)) &&
	    model_table_attached(m, ti))
		tab_link(r, env, ev, nw & TAB_OA_MASK, t->comp);
	if (!l612_is_table(old, t->level) ||
	    (l612_is_table(nw, t->level) &&
	     (nw & TAB_OA_MASK) == (old & TAB_OA_MASK)))
		return;
	p = tab_page(r, old & TAB_OA_MASK);
	if (!p)
		return;
	*p = (uint8_t)((*p & ~(3u << TAB_COMP_SHIFT)) | TAB_UNLINKED |
		       t->comp << TAB_COMP_SHIFT);
	if (c->unlink_count < TAB_MAX_UNLINKS)
		c->unlink[c->unlink_count++] = old & TAB_OA_MASK;
	else
		*p &= (uint8_t)~TAB_UNLINKED; /* too many to follow: trusted */
}

/* A TLBI of the kind that forgets a table of `comp`. */
static bool tab_tlbi_for(unsigned op, unsigned comp)
{
	switch (op) {
	case PKVM_TLBI_VAE2IS:
	case PKVM_TLBI_ALLE2IS:
	case PKVM_TLBI_VALE2IS:
	case PKVM_TLBI_RVAE2IS:
	case PKVM_TLBI_RVALE2IS:
		return comp == PKVM_COMP_HYP_S1;
	case PKVM_TLBI_IPAS2E1IS:
	case PKVM_TLBI_RIPAS2E1IS:
	case PKVM_TLBI_VMALLS12E1IS:
	case PKVM_TLBI_ALLE1IS:
		return comp == PKVM_COMP_HOST_S2;
	default:
		return false;
	}
}

static void tab_maintenance(void *self, const struct ck_env *env,
			    const struct ck_event *ev)
{
	struct tab_rule *r = self;
	struct tab_cpu *c = &r->cpu[ev->cpu];

	(void)env;
	if (ev->kind != PKVM_EV_TLBI || !c->unlink_count)
		return;
	for (unsigned i = c->unlink_count; i-- > 0;) {
		uint8_t *p = tab_page(r, c->unlink[i]);
		unsigned comp = p ? *p >> TAB_COMP_SHIFT : 0;

		if (p && !tab_tlbi_for((unsigned)ev->w[0], comp))
			continue;
		if (p)
			*p &= (uint8_t)~TAB_UNLINKED;
		c->unlink[i] = c->unlink[--c->unlink_count];
	}
}

/* A critical section, or the trap, is over: its hand-outs are used up. */
static void tab_section_over(void *self, const struct ck_env *env,
			     const struct ck_event *ev)
{
	struct tab_cpu *c = &((struct tab_rule *)self)->cpu[ev->cpu];

	(void)env;
	c->alloc_count = 0;
	c->alloc_overflow = false;
}

static void *tab_create(const struct ck_env *env, unsigned cpu_count)
{
	struct tab_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

static void tab_destroy(void *self)
{
	struct tab_rule *r = self;

	free(r->page);
	free(r);
}

const struct ck_rule rule_l612_tables = {
	.name = "l612-tables",
	.system = PKVM_SYSTEM_LINUX612,
	.create = tab_create,
	.destroy = tab_destroy,
	.boot = tab_boot,
	.region = tab_region,
	.nondet = tab_nondet,
	.store_before = tab_store_before,
	.maintenance = tab_maintenance,
	.trap_entry = tab_section_over,
	.section_end = tab_section_over,
};
