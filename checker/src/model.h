/* SPDX-License-Identifier: MIT */
/*
 * The machine model: a shadow of every page-table page of the two
 * components (host stage-2, hyp stage-1) and, kept up to date from each
 * descriptor store, the abstraction the spec reads: for every RAM page its
 * host-side and hyp-side mapping and state.
 *
 * The per-page arrays are sized by RAM, never by trace length, and a store
 * costs O(pages under the descriptor): one page for a level-3 entry, 512 for
 * a 2 MiB block.
 */
#ifndef PKVM_CHECKER_MODEL_H
#define PKVM_CHECKER_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "../spec/spec.h"

#define MODEL_PAGE_SHIFT 12
#define MODEL_PTRS 512u

/* Components, as abi.h enum pkvm_component; index 0 unused. */
#define MODEL_COMP_COUNT 3u

/** One side's view of a page: what the descriptor covering it says. */
struct model_side {
	uint32_t out_pfn; /* output page, when valid */
	uint8_t flags;	  /* MODEL_SIDE_* */
	uint8_t owner;	  /* owner annotation of an invalid host s2 entry */
	uint8_t attr;	  /* stage-2 MemAttr[3:0] or stage-1 AttrIndx */
	uint8_t state;	  /* state bits 56:55 of a valid entry */
};

#define MODEL_SIDE_VALID 0x1u
#define MODEL_SIDE_WRITABLE 0x2u

/** A shadow page-table page. */
struct model_table {
	uint64_t pa;
	uint64_t base;	/* first input address it translates */
	uint8_t comp;	/* enum pkvm_component */
	int8_t level;	/* -1..3 (our hyp: 1..3) */
	bool root;	/* one page of its component's root */
	bool orphan;	/* written before any root reached it (comp 0) */
	int32_t parent; /* index of the parent table, -1 for a root */
	uint32_t slot;	/* entry of the parent that points here */
	uint64_t desc[MODEL_PTRS];
	/* Per entry: index + 1 of the event that stored it, 0 unknown
	 * (rule_bbm.c names it as the maker of a descriptor). */
	uint64_t writer[MODEL_PTRS];
	/* model_table_attached's answer while the model's shape is
	 * `attached_shape` (model.c; 0: not asked yet). */
	uint64_t attached_shape;
	bool attached;
};

/** Called for every RAM page whose side changes; `old` is its old view. */
typedef void (*model_change_fn)(void *ctx, unsigned comp, uint64_t pfn,
				const struct model_side *old);

struct model {
	uint64_t ram_base, ram_size, ram_pages;
	uint64_t mair; /* MAIR_EL2 as last written (stage-1 attributes) */
	bool mair_known;
	struct model_side *side[MODEL_COMP_COUNT]; /* per RAM page */
	struct model_table **tables;
	uint32_t table_count, table_cap;
	/* open-addressed map table PA -> index + 1 (0 = empty) */
	uint64_t *map_key;
	uint32_t *map_val;
	uint32_t map_cap;
	int32_t root[MODEL_COMP_COUNT];
	/* Keep stores to pages that are no table yet, for a root announced
	 * after its tables were built (model_adopt_root). */
	bool keep_orphans;
	model_change_fn on_change;
	void *cb_ctx;
	/* What the walker found lately (model.c); valid while `shape` is the
	 * generation it was found in. */
	struct model_walk_memo *memo;
	uint64_t shape;
};

/** What one descriptor store did, for the lock and pool checks. */
struct model_write {
	int table;	    /* index of the table written, -1: not a table */
	unsigned comp;	    /* its component */
	int level;	    /* its level */
	bool attached;	    /* reachable from its root (else no abstraction) */
	bool installed_new; /* a table descriptor installed a fresh page */
	bool reattached;    /* ... installed a detached shadow table again */
	bool conflict;	    /* ... pointed at a table attached elsewhere */
	uint64_t child_pa;  /* the page a table descriptor points at */
	bool orphan;	    /* a page no root reaches yet (model_adopt) */
};

/** Create the model for RAM [ram_base, ram_base + ram_size). NULL: no memory.
 */
struct model *model_create(uint64_t ram_base, uint64_t ram_size);
void model_destroy(struct model *m);

/** Install the root of a component (from BOOT): level 1; 0 on success. */
int model_set_root(struct model *m, unsigned comp, uint64_t pa);

/**
 * Install the root of a component that starts at `level` (-1..3) and is
 * `pages` concatenated pages from `pa` (stage 2 may concatenate up to 16):
 * 0 on success, -1 if a page is already a table or no memory.
 */
int model_set_root_at(struct model *m, unsigned comp, uint64_t pa, int level,
		      unsigned pages);

/**
 * Like model_set_root_at, for a root announced after its tables were
 * written (keep_orphans): the pages written so far that the root reaches
 * through table descriptors become its tables, and the abstraction is
 * derived from them. Returns 0, or -1 as model_set_root_at.
 */
int model_adopt_root(struct model *m, unsigned comp, uint64_t pa, int level,
		     unsigned pages);

/** Bytes one entry of a table at `level` translates (4 KiB granule). */
static inline uint64_t model_entry_size(int level)
{
	return 1ull << (12 + 9 * (3 - level));
}

/**
 * Apply one descriptor store; fills `w`. `writer` is the index + 1 of the
 * event that makes it (kept per entry when the value changes). Returns -1
 * only on no memory.
 */
int model_pte_write(struct model *m, uint64_t pa, uint64_t value,
		    uint64_t writer, struct model_write *w);

/**
 * Page `pa` was zeroed behind the model's back (handed out by a pool that
 * zeroes its free pages): a shadow table there that no root reaches
 * forgets its entries, so linking it again links an empty table. A root
 * or a table still attached is left alone (the rules judge handing out
 * a linked page: table-reuse, pool-alloc).
 */
void model_page_zeroed(struct model *m, uint64_t pa);

/** Index of the shadow table at page `pa`, or -1. */
int model_table_find(const struct model *m, uint64_t pa);

/** True if table `idx` is reachable from its component's root. */
bool model_table_attached(const struct model *m, int idx);

/** Walk a component's shadow tables for `addr` (MMIO and checks). */
void model_walk(const struct model *m, unsigned comp, uint64_t addr,
		struct model_side *out);

/**
 * The raw leaf or invalid descriptor covering `addr` in a component's
 * shadow tables and its level; false if no attached table reaches it.
 */
bool model_leaf(const struct model *m, unsigned comp, uint64_t addr,
		uint64_t *desc, int *level);

/** The spec state of a side view (HYPERCALLS.md "Page state per side"). */
static inline unsigned model_state(unsigned comp, const struct model_side *s)
{
	if (s->flags & MODEL_SIDE_VALID)
		return spec_sw_state(s->state);
	if (comp == PKVM_COMP_HOST_S2 && s->owner == PKVM_OWNER_HOST)
		return SPEC_ST_OWNED; /* host page, not mapped yet */
	return SPEC_ST_NOPAGE;
}

/** True if the view maps normal memory (device otherwise). */
bool model_side_normal(const struct model *m, unsigned comp,
		       const struct model_side *s);

/** RAM page index of `pfn`, or -1 when outside RAM. */
static inline int64_t model_page_index(const struct model *m, uint64_t pfn)
{
	uint64_t first = m->ram_base >> MODEL_PAGE_SHIFT;

	if (pfn < first || pfn - first >= m->ram_pages)
		return -1;
	return (int64_t)(pfn - first);
}

#endif /* PKVM_CHECKER_MODEL_H */
