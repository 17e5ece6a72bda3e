// SPDX-License-Identifier: MIT
/*
 * The model's one walker (model_walk, model_leaf) against the per-page
 * abstraction the model keeps from each store, on small trees: the walk
 * of an address must find what the incremental view says, through a
 * level-2 block, a level-3 page, an invalid entry with an owner, and the
 * second page of a concatenated root, also after the tree's shape
 * changes under walks the model remembers. And the rules' table: a rule
 * for one system is only created for traces of that system.
 */
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "model.h"
#include "rules.h"

#define RAM_BASE 0x40000000ull
#define RAM_SIZE 0x01000000ull /* 16 MiB: 4096 pages */
#define ROOT 0x40100000ull     /* level 1 */
#define L2 0x40101000ull
#define L3 0x40102000ull

static void store(struct model *m, uint64_t pa, uint64_t value)
{
	struct model_write w;

	cr_assert_eq(model_pte_write(m, pa, value, 1, &w), 0);
}

/* Index of `addr`'s entry in a table at `level` translating from 0. */
static uint64_t slot(uint64_t addr, int level)
{
	return ((addr >> (12 + 9 * (3 - level))) & 511) * 8;
}

/* A host stage-2 tree: RAM_BASE as a 2 MiB block, the next 2 MiB through
 * a level-3 table with one page mapped and one annotated. */
static struct model *tree(void)
{
	struct model *m = model_create(RAM_BASE, RAM_SIZE);
	uint64_t page = RAM_BASE + 0x200000ull;

	cr_assert_not_null(m);
	cr_assert_eq(model_set_root(m, PKVM_COMP_HOST_S2, ROOT), 0);
	store(m, ROOT + slot(RAM_BASE, 1), L2 | 3);
	/* A block (0b01) at level 2, state bits 1 (shared-owned). */
	store(m, L2 + slot(RAM_BASE, 2),
	      RAM_BASE | (1ull << PKVM_PTE_STATE_SHIFT) | 0x4c1);
	store(m, L2 + slot(page, 2), L3 | 3);
	store(m, L3 + slot(page + 0x3000, 3), (page + 0x3000) | 0x4c3);
	store(m, L3 + slot(page + 0x5000, 3),
	      (uint64_t)PKVM_OWNER_HYP << PKVM_PTE_OWNER_SHIFT);
	return m;
}

/* Every page's walk (remembered or not) equals the incremental view. */
static void walks_match_view(struct model *m, const char *after)
{
	for (uint64_t i = 0; i < m->ram_pages; i++) {
		struct model_side s;
		uint64_t addr = RAM_BASE + (i << 12);

		model_walk(m, PKVM_COMP_HOST_S2, addr, &s);
		cr_assert(memcmp(&s, &m->side[PKVM_COMP_HOST_S2][i],
				 sizeof(s)) == 0,
			  "after %s, page 0x%llx: the walk and the view differ",
			  after, (unsigned long long)addr);
	}
}

/** model_walk of every RAM page equals the view the model derived. */
Test(model, walk_matches_the_incremental_view)
{
	struct model *m = tree();

	walks_match_view(m, "the tree is built");
	model_destroy(m);
}

/** model_leaf finds the descriptor and level the walk decodes. */
Test(model, leaf_finds_the_covering_descriptor)
{
	struct model *m = tree();
	uint64_t page = RAM_BASE + 0x200000ull, d;
	int level;

	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, RAM_BASE + 0x1234, &d,
			     &level));
	cr_assert_eq(level, 2);
	cr_assert_eq(d & 3, 1);
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, page + 0x3000, &d, &level));
	cr_assert_eq(level, 3);
	cr_assert_eq(d, (page + 0x3000) | 0x4c3);
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, page + 0x5000, &d, &level));
	cr_assert_eq(d, (uint64_t)PKVM_OWNER_HYP << PKVM_PTE_OWNER_SHIFT);
	/* Below RAM: the root's invalid entry 0 covers it. */
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, 0x1000, &d, &level));
	cr_assert_eq(level, 1);
	cr_assert_eq(d, 0);
	/* A component with no root: nothing covers anything. */
	cr_assert_not(model_leaf(m, PKVM_COMP_HYP_S1, RAM_BASE, &d, &level));
	model_destroy(m);
}

/** Past its first page, a concatenated root walks in its next page. */
Test(model, walk_crosses_concatenated_root_pages)
{
	struct model *m = model_create(RAM_BASE, RAM_SIZE);
	uint64_t root = 0x40200000ull, d;
	int level;
	struct model_side s;

	cr_assert_not_null(m);
	/* Two level-1 pages: the second translates from 512 GiB. */
	cr_assert_eq(model_set_root_at(m, PKVM_COMP_HOST_S2, root, 1, 2), 0);
	store(m, root + 0x1000, 0x40000000ull | 0x4c1);
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, (1ull << 39) + 0x5000, &d,
			     &level));
	cr_assert_eq(level, 1);
	cr_assert_eq(d, 0x40000000ull | 0x4c1);
	model_walk(m, PKVM_COMP_HOST_S2, (1ull << 39) + 0x5000, &s);
	cr_assert(s.flags & MODEL_SIDE_VALID);
	cr_assert_eq(s.out_pfn, (0x40000000ull + 0x5000) >> 12);
	/* Beyond the two pages: nothing. */
	cr_assert_not(model_leaf(m, PKVM_COMP_HOST_S2, 2ull << 39, &d, &level));
	model_walk(m, PKVM_COMP_HOST_S2, 2ull << 39, &s);
	cr_assert_eq(s.flags, 0);
	model_destroy(m);
}

/**
 * The walker remembers where walks ended and which tables are attached:
 * every change of a table's place (unlinked, linked again, a table
 * replaced by a block and back) is seen by the next walk, and a leaf's
 * new value by the next read of it.
 */
Test(model, remembered_walks_follow_every_change)
{
	struct model *m = tree();
	uint64_t page = RAM_BASE + 0x200000ull, d;
	int l3 = model_table_find(m, L3), level;

	walks_match_view(m, "the tree is built");
	cr_assert(model_table_attached(m, l3));
	store(m, L3 + slot(page + 0x3000, 3), (page + 0x7000) | 0x4c3);
	walks_match_view(m, "a leaf changed");
	/* Walked just before each change: remembered, if anything is. */
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, page + 0x3000, &d, &level));
	cr_assert_eq(level, 3);
	store(m, L2 + slot(page, 2), page | 0x4c1);
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, page + 0x3000, &d, &level));
	cr_assert_eq(level, 2);
	walks_match_view(m, "the level-3 table became a block");
	cr_assert_not(model_table_attached(m, l3));
	store(m, L2 + slot(page, 2), L3 | 3);
	walks_match_view(m, "the level-3 table was linked again");
	cr_assert(model_table_attached(m, l3));
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, page + 0x3000, &d, &level));
	cr_assert_eq(level, 3);
	cr_assert(model_table_attached(m, l3));
	store(m, ROOT + slot(RAM_BASE, 1), 0);
	walks_match_view(m, "the level-2 table was unlinked");
	cr_assert_not(model_table_attached(m, l3));
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, page + 0x3000, &d, &level));
	cr_assert_eq(level, 1);
	store(m, ROOT + slot(RAM_BASE, 1), L2 | 3);
	walks_match_view(m, "the level-2 table was linked again");
	cr_assert(model_table_attached(m, l3));
	model_destroy(m);
}

Test(model, a_page_zeroed_by_its_pool_links_as_an_empty_table)
{
	/* Property: a detached table whose page its pool handed out again
	 * (zeroed, unrecorded: LINUX-6.12.md 7.3) links as an empty table,
	 * not with the entries it held before; an attached table is left
	 * alone. */
	struct model *m = tree();
	uint64_t page = RAM_BASE + 0x200000ull, d;
	int level;

	store(m, L3 + slot(page + 0x3000, 3), (page + 0x7000) | 0x4c3);
	model_page_zeroed(m, L3); /* attached: kept */
	cr_assert(model_leaf(m, PKVM_COMP_HOST_S2, page + 0x3000, &d, &level));
	cr_assert_eq(d, (page + 0x7000) | 0x4c3);
	store(m, L2 + slot(page, 2), page | 0x4c1); /* a block replaces it */
	model_page_zeroed(m, L3 + 0x123);	    /* any address in it */
	store(m, L2 + slot(page, 2), L3 | 3);	    /* linked again */
	walks_match_view(m, "the zeroed table was linked again");
	cr_assert_not(
		model_leaf(m, PKVM_COMP_HOST_S2, page + 0x3000, &d, &level) &&
			d != 0,
		"a stale entry came back: %#llx at level %d",
		(unsigned long long)d, level);
	model_destroy(m);
}

extern const struct ck_rule rule_spec_l612;
extern const struct ck_rule rule_spec;

static void no_finding(void *ctx, const struct ck_finding *f)
{
	(void)ctx;
	(void)f;
}

/* The rules the table creates for a trace of `system`. */
static void rules_of(const char *system, bool *spec, bool *l612)
{
	struct ck_view view;
	struct ck_options opt = { 0 };
	struct ck_sink sink = { NULL, no_finding };
	struct ck_summary sum;
	bool stop = false;
	struct ck_env env;
	struct ck_rules *rules;

	memset(&view, 0, sizeof(view));
	memset(&sum, 0, sizeof(sum));
	view.profile = profile_find(system);
	cr_assert_not_null(view.profile);
	env.view = &view;
	env.out = findings_create(&view, &opt, &sink, &sum, &stop);
	env.rules = NULL;
	rules = rules_create(&env, 2);
	*spec = rules_self(rules, &rule_spec) != NULL;
	*l612 = rules_self(rules, &rule_spec_l612) != NULL;
	rules_destroy(rules);
	findings_destroy(env.out);
}

/** A rule for linux-6.12 only is not created for our hyp's traces. */
Test(rules, a_rule_for_one_system_runs_for_that_system_only)
{
	bool spec, l612;

	rules_of("pkvm-check-hyp", &spec, &l612);
	cr_assert(spec, "our hyp's traces run the spec rule");
	cr_assert_not(l612, "spec-l612 is for linux-6.12 traces only");
	rules_of(PKVM_SYSTEM_LINUX612, &spec, &l612);
	cr_assert(l612, "linux-6.12 traces run spec-l612");
	cr_assert_not(spec, "the linux-6.12 profile does not run spec");
}
