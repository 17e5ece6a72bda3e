// SPDX-License-Identifier: MIT
/*
 * Shadow page tables and the incremental page abstraction (model.h).
 *
 * Descriptor decoding follows abi.h and HYPERCALLS.md: 4 KiB granule,
 * walks start at level 1, bits[1:0] 0b11 table (levels 1-2) or page
 * (level 3), 0b01 block (levels 1-2), bit 0 clear invalid.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#define MODEL_OA_MASK 0x0000fffffffff000ull

/*
 * The walker's memory. Where a walk ends (the table and entry that cover a
 * page, or nowhere) depends only on the table descriptors on its way, the
 * tables' places (parent, slot, base, root) and which pages are tables:
 * never on a leaf or invalid entry's value. So `m->shape` counts the
 * changes to those, and a walk found while it had its present value is
 * still right. The rules walk the same few pages again and again between
 * such changes (each judges a section's pages at its end), and a store of
 * a leaf or invalid entry, nearly every store, leaves the memo valid.
 */
#define MODEL_MEMO_SIZE 1024u

struct model_walk_page {
	uint64_t shape; /* m->shape when found; 0: empty */
	uint64_t key;	/* page number << 2 | component */
	int32_t table;	/* model_walk_to's answer */
	uint32_t idx;
};

struct model_walk_memo {
	struct model_walk_page page[MODEL_MEMO_SIZE];
	/* Per component, the table the last walk ended in: a walk of any
	 * address it translates (the pages after the last one, mostly)
	 * takes the same way to it, so it starts there. */
	struct {
		uint64_t shape;
		int32_t table;
	} last[MODEL_COMP_COUNT];
};

static unsigned model_shift(int level)
{
	return (unsigned)(12 + 9 * (3 - level));
}

struct model *model_create(uint64_t ram_base, uint64_t ram_size)
{
	struct model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ram_base = ram_base;
	m->ram_size = ram_size;
	m->ram_pages = ram_size >> MODEL_PAGE_SHIFT;
	m->map_cap = 1024;
	m->map_key = calloc(m->map_cap, sizeof(*m->map_key));
	m->map_val = calloc(m->map_cap, sizeof(*m->map_val));
	m->memo = calloc(1, sizeof(*m->memo));
	m->shape = 1;
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++) {
		m->side[c] = calloc(m->ram_pages ? m->ram_pages : 1,
				    sizeof(struct model_side));
		m->root[c] = -1;
		if (!m->side[c])
			goto fail;
	}
	if (!m->map_key || !m->map_val || !m->memo)
		goto fail;
	return m;
fail:
	model_destroy(m);
	return NULL;
}

void model_destroy(struct model *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->table_count; i++)
		free(m->tables[i]);
	free(m->tables);
	free(m->map_key);
	free(m->map_val);
	free(m->memo);
	for (unsigned c = 0; c < MODEL_COMP_COUNT; c++)
		free(m->side[c]);
	free(m);
}

/* Fibonacci hashing of the page number: table pages are consecutive. */
static uint32_t model_hash(uint64_t pa, uint32_t cap)
{
	return (uint32_t)(((pa >> 12) * 0x9e3779b97f4a7c15ull) >> 32) &
	       (cap - 1);
}

int model_table_find(const struct model *m, uint64_t pa)
{
	uint64_t key = (pa & ~0xfffull) | 1;

	for (uint32_t h = model_hash(pa, m->map_cap);;
	     h = (h + 1) & (m->map_cap - 1)) {
		if (m->map_key[h] == 0)
			return -1;
		if (m->map_key[h] == key)
			return (int)m->map_val[h];
	}
}

static void model_map_put(uint64_t *keys, uint32_t *vals, uint32_t cap,
			  uint64_t key, uint32_t val)
{
	uint32_t h = model_hash(key, cap);

	while (keys[h] != 0)
		h = (h + 1) & (cap - 1);
	keys[h] = key;
	vals[h] = val;
}

/* Keep the map at most half full; rehash into twice the size. */
static int model_map_grow(struct model *m)
{
	uint32_t cap = m->map_cap * 2;
	uint64_t *keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = calloc(cap, sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (uint32_t i = 0; i < m->map_cap; i++)
		if (m->map_key[i])
			model_map_put(keys, vals, cap, m->map_key[i],
				      m->map_val[i]);
	free(m->map_key);
	free(m->map_val);
	m->map_key = keys;
	m->map_val = vals;
	m->map_cap = cap;
	return 0;
}

static int model_table_new(struct model *m, uint64_t pa, unsigned comp,
			   int level, uint64_t base)
{
	struct model_table *t;

	if ((m->table_count + 1) * 2 > m->map_cap && model_map_grow(m))
		return -1;
	if (m->table_count == m->table_cap) {
		uint32_t cap = m->table_cap ? m->table_cap * 2 : 64;
		struct model_table **n =
			realloc(m->tables, cap * sizeof(*m->tables));

		if (!n)
			return -1;
		m->tables = n;
		m->table_cap = cap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->pa = pa & ~0xfffull;
	t->comp = (uint8_t)comp;
	t->level = (int8_t)level;
	t->base = base;
	t->parent = -1;
	m->shape++;
	m->tables[m->table_count] = t;
	model_map_put(m->map_key, m->map_val, m->map_cap, t->pa | 1,
		      m->table_count);
	return (int)m->table_count++;
}

static bool model_is_table_desc(uint64_t d, int level);
static void model_derive(struct model *m, int ti, unsigned idx);

/*
 * Orphan table `ti` becomes a table of `comp` at `level` translating from
 * `base` (its parent's entry `slot`, or a root: -1), and so, through its
 * table descriptors, do the orphans under it.
 */
static void model_adopt(struct model *m, int ti, unsigned comp, int level,
			uint64_t base, int parent, unsigned slot)
{
	struct model_table *t = m->tables[ti];
	uint64_t size;

	m->shape++;
	t->orphan = false;
	t->comp = (uint8_t)comp;
	t->level = (int8_t)level;
	t->base = base;
	t->parent = parent;
	t->slot = slot;
	if (level >= 3)
		return;
	size = 1ull << model_shift(level);
	for (unsigned i = 0; i < MODEL_PTRS; i++) {
		int c;

		if (!model_is_table_desc(t->desc[i], level))
			continue;
		c = model_table_find(m, t->desc[i] & MODEL_OA_MASK);
		if (c >= 0 && m->tables[c]->orphan)
			model_adopt(m, c, comp, level + 1, base + i * size, ti,
				    i);
	}
}

int model_set_root(struct model *m, unsigned comp, uint64_t pa)
{
	return model_set_root_at(m, comp, pa, 1, 1);
}

int model_set_root_at(struct model *m, unsigned comp, uint64_t pa, int level,
		      unsigned pages)
{
	uint64_t span = MODEL_PTRS * (1ull << model_shift(level));

	if (comp == 0 || comp >= MODEL_COMP_COUNT || level < -1 || level > 3 ||
	    pages == 0 || pages > 16)
		return -1;
	for (unsigned i = 0; i < pages; i++) {
		int t = model_table_find(m, pa + i * 0x1000ull);

		if (t >= 0 && !m->tables[t]->orphan)
			return -1;
	}
	/* Concatenated pages translate consecutive input ranges; the first
	 * is the component's root for walks, each is a root for the
	 * attachment test. */
	for (unsigned i = 0; i < pages; i++) {
		uint64_t base = level < 0 ? 0 : i * span;
		int t = model_table_find(m, pa + i * 0x1000ull);

		if (t >= 0)
			model_adopt(m, t, comp, level, base, -1, 0);
		else
			t = model_table_new(m, pa + i * 0x1000ull, comp, level,
					    base);
		if (t < 0)
			return -1;
		m->tables[t]->root = true;
		if (i == 0)
			m->root[comp] = t;
		m->shape++;
	}
	/* Every page starts unmapped: the side arrays are zero already. */
	return 0;
}

int model_adopt_root(struct model *m, unsigned comp, uint64_t pa, int level,
		     unsigned pages)
{
	int rc = model_set_root_at(m, comp, pa, level, pages);

	if (rc)
		return rc;
	for (unsigned i = 0; i < pages; i++) {
		int t = model_table_find(m, pa + i * 0x1000ull);

		for (unsigned e = 0; t >= 0 && e < MODEL_PTRS; e++)
			model_derive(m, t, e);
	}
	return 0;
}

static bool model_is_table_desc(uint64_t d, int level)
{
	return level < 3 && (d & 3) == 3;
}

/* Reachable from its component's root through table descriptors. */
static bool model_attached_walk(const struct model *m, int idx)
{
	const struct model_table *t = m->tables[idx];

	while (t->parent >= 0) {
		const struct model_table *p = m->tables[t->parent];
		uint64_t d = p->desc[t->slot];

		if (!model_is_table_desc(d, p->level) ||
		    (d & MODEL_OA_MASK) != t->pa)
			return false;
		idx = t->parent;
		t = p;
	}
	return t->root && t->comp < MODEL_COMP_COUNT && m->root[t->comp] >= 0 &&
	       m->tables[m->root[t->comp]]->level == t->level;
}

/*
 * model_attached_walk, remembered per table: attachment, like a walk's
 * end, depends only on what m->shape counts (the table descriptors above
 * the table, the tables' places and the roots). Every store asks it of the
 * table it writes.
 */
static bool model_attached(const struct model *m, int idx)
{
	struct model_table *t = m->tables[idx];

	if (t->attached_shape != m->shape) {
		t->attached = model_attached_walk(m, idx);
		t->attached_shape = m->shape;
	}
	return t->attached;
}

bool model_table_attached(const struct model *m, int idx)
{
	return model_attached(m, idx);
}

/* Decode one leaf or invalid descriptor into a side view. */
static void model_decode(unsigned comp, int level, uint64_t d,
			 struct model_side *s)
{
	memset(s, 0, sizeof(*s));
	if ((d & 1) == 0 || (level == 3 && (d & 3) == 1)) {
		if (comp == PKVM_COMP_HOST_S2 && (d & 1) == 0)
			s->owner = (uint8_t)((d & PKVM_PTE_OWNER_MASK) >>
					     PKVM_PTE_OWNER_SHIFT);
		return;
	}
	s->flags = MODEL_SIDE_VALID;
	s->out_pfn = (uint32_t)((d & MODEL_OA_MASK) >> MODEL_PAGE_SHIFT);
	s->state = (uint8_t)((d & PKVM_PTE_STATE_MASK) >> PKVM_PTE_STATE_SHIFT);
	if (comp == PKVM_COMP_HOST_S2) {
		s->attr = (uint8_t)((d >> 2) & 0xf);
		if (((d >> 6) & 3) == 3)
			s->flags |= MODEL_SIDE_WRITABLE;
	} else {
		s->attr = (uint8_t)((d >> 2) & 0x7);
		if ((d & (1ull << 7)) == 0)
			s->flags |= MODEL_SIDE_WRITABLE;
	}
}

static bool model_side_eq(const struct model_side *a,
			  const struct model_side *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* Set the view of every RAM page of [va, va + size) from one descriptor. */
static void model_fill(struct model *m, unsigned comp, uint64_t va,
		       uint64_t size, const struct model_side *s)
{
	uint64_t ram_end = m->ram_base + m->ram_size;
	uint64_t lo = va > m->ram_base ? va : m->ram_base;
	uint64_t hi = va + size < ram_end ? va + size : ram_end;
	struct model_side *arr = m->side[comp];

	for (uint64_t a = lo; a < hi; a += 1ull << MODEL_PAGE_SHIFT) {
		uint64_t i = (a - m->ram_base) >> MODEL_PAGE_SHIFT;
		struct model_side n = *s, old;

		if (n.flags & MODEL_SIDE_VALID)
			n.out_pfn += (uint32_t)((a - va) >> MODEL_PAGE_SHIFT);
		if (model_side_eq(&arr[i], &n))
			continue;
		old = arr[i];
		arr[i] = n;
		if (m->on_change)
			m->on_change(m->cb_ctx, comp, a >> MODEL_PAGE_SHIFT,
				     &old);
	}
}

static bool model_overlaps_ram(const struct model *m, uint64_t va,
			       uint64_t size)
{
	return va < m->ram_base + m->ram_size && m->ram_base < va + size;
}

/* Recompute the abstraction under entry `idx` of table `ti`. */
static void model_derive(struct model *m, int ti, unsigned idx)
{
	struct model_table *t = m->tables[ti];
	uint64_t size = 1ull << model_shift(t->level);
	uint64_t va = t->base + idx * size;
	uint64_t d = t->desc[idx];
	struct model_side s;

	if (!model_overlaps_ram(m, va, size))
		return;
	if (model_is_table_desc(d, t->level)) {
		int c = model_table_find(m, d & MODEL_OA_MASK);

		if (c >= 0 && m->tables[c]->parent == ti &&
		    m->tables[c]->slot == idx) {
			for (unsigned i = 0; i < MODEL_PTRS; i++)
				model_derive(m, c, i);
			return;
		}
		/* A table we could not shadow: nothing is mapped through it. */
		d = 0;
	}
	model_decode(t->comp, t->level, d, &s);
	model_fill(m, t->comp, va, size, &s);
}

/* A table descriptor was stored: find or create the shadow of its target. */
static int model_install(struct model *m, int ti, unsigned idx,
			 struct model_write *w)
{
	struct model_table *t = m->tables[ti];
	uint64_t child_pa = t->desc[idx] & MODEL_OA_MASK;
	uint64_t base = t->base + idx * (1ull << model_shift(t->level));
	int c = model_table_find(m, child_pa);

	w->child_pa = child_pa;
	if (c < 0) {
		c = model_table_new(m, child_pa, t->comp, t->level + 1, base);
		if (c < 0)
			return -1;
		w->installed_new = true;
	} else if (m->tables[c]->orphan) {
		/* Written before it was linked: it is linked now. */
		model_adopt(m, c, t->comp, t->level + 1, base, ti, idx);
		return 0;
	} else if (m->tables[c]->parent == ti && m->tables[c]->slot == idx) {
		return 0;
	} else if (model_attached(m, c) || m->tables[c]->comp != t->comp ||
		   m->tables[c]->level != t->level + 1) {
		w->conflict = true;
		return 0;
	} else {
		w->reattached = true;
		m->tables[c]->base = base;
	}
	m->tables[c]->parent = ti;
	m->tables[c]->slot = idx;
	return 0;
}

int model_pte_write(struct model *m, uint64_t pa, uint64_t value,
		    uint64_t writer, struct model_write *w)
{
	int ti = model_table_find(m, pa);
	struct model_table *t;
	unsigned idx;

	memset(w, 0, sizeof(*w));
	w->table = ti;
	if (ti >= 0 && m->tables[ti]->orphan) {
		/* No walk goes through a table no root reaches: the memo
		 * stays right. */
		m->tables[ti]->desc[(pa & 0xfff) >> 3] = value;
		m->tables[ti]->writer[(pa & 0xfff) >> 3] = writer;
		w->table = -1;
		w->orphan = true;
		return 0;
	}
	if (ti < 0) {
		if (!m->keep_orphans)
			return 0;
		ti = model_table_new(m, pa, PKVM_COMP_NONE, 3, 0);
		if (ti < 0)
			return -1;
		m->tables[ti]->orphan = true;
		m->tables[ti]->desc[(pa & 0xfff) >> 3] = value;
		m->tables[ti]->writer[(pa & 0xfff) >> 3] = writer;
		w->orphan = true;
		return 0;
	}
	t = m->tables[ti];
	w->comp = t->comp;
	w->level = t->level;
	idx = (unsigned)((pa & 0xfff) >> 3);
	if (t->desc[idx] == value) {
		w->attached = model_attached(m, ti);
		return 0;
	}
	if (model_is_table_desc(value, t->level) ||
	    model_is_table_desc(t->desc[idx], t->level))
		m->shape++; /* a walk may take another way now */
	t->desc[idx] = value;
	t->writer[idx] = writer;
	if (model_is_table_desc(value, t->level) &&
	    model_install(m, ti, idx, w))
		return -1;
	w->attached = model_attached(m, ti);
	if (w->attached)
		model_derive(m, ti, idx);
	return 0;
}

void model_page_zeroed(struct model *m, uint64_t pa)
{
	int ti = model_table_find(m, pa & ~0xfffull);
	struct model_table *t;

	if (ti < 0)
		return;
	t = m->tables[ti];
	if (t->root || model_table_attached(m, ti))
		return;
	memset(t->desc, 0, sizeof(t->desc));
	memset(t->writer, 0, sizeof(t->writer));
	m->shape++; /* its table descriptors are gone */
}

/*
 * The one walker: from the component's root to the descriptor that covers
 * `addr` (a leaf, an invalid entry or a table descriptor that leads to no
 * shadow table), through the pages of a concatenated root. Returns the
 * index of the table that holds it (its entry in `*idx`), or -1 when no
 * table reaches `addr`, or a table descriptor leads to no shadow table.
 */
static int model_walk_from(const struct model *m, unsigned comp, int ti,
			   uint64_t addr, unsigned *idx)
{
	*idx = 0;
	while (ti >= 0) {
		const struct model_table *t = m->tables[ti];
		uint64_t d;
		int c;

		if (addr < t->base)
			return -1;
		*idx = (unsigned)((addr - t->base) >> model_shift(t->level));
		if (*idx >= MODEL_PTRS) {
			/* The next page of a concatenated root, if any. */
			int next =
				t->root ? model_table_find(
						  m,
						  t->pa + (*idx / MODEL_PTRS) *
								  0x1000ull)
					: -1;

			if (next < 0 || !m->tables[next]->root || next == ti ||
			    m->tables[next]->comp != comp)
				return -1;
			ti = next;
			continue;
		}
		d = t->desc[*idx];
		if (!model_is_table_desc(d, t->level))
			return ti;
		c = model_table_find(m, d & MODEL_OA_MASK);
		if (c < 0 || m->tables[c]->parent != ti ||
		    m->tables[c]->slot != *idx)
			return -1;
		ti = c;
	}
	return -1;
}

/* Where the last walk of `comp` ended, if `addr` is under it: or -1. */
static int model_walk_hint(const struct model *m, unsigned comp, uint64_t addr)
{
	int ti = m->memo->last[comp].table;
	const struct model_table *t;

	if (m->memo->last[comp].shape != m->shape || ti < 0)
		return -1;
	t = m->tables[ti];
	if (addr < t->base ||
	    (addr - t->base) >> model_shift(t->level) >= MODEL_PTRS)
		return -1;
	return ti;
}

/* model_walk_from the root, answered from the memo when it can be. */
static int model_walk_to(const struct model *m, unsigned comp, uint64_t addr,
			 unsigned *idx)
{
	uint64_t key = (addr >> MODEL_PAGE_SHIFT) << 2 | comp;
	struct model_walk_memo *memo = m->memo;
	struct model_walk_page *e;
	int start;

	if (comp >= MODEL_COMP_COUNT) {
		*idx = 0;
		return -1;
	}
	e = &memo->page[(uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40) &
			(MODEL_MEMO_SIZE - 1)];
	if (e->shape == m->shape && e->key == key) {
		*idx = e->idx;
		return e->table;
	}
	start = model_walk_hint(m, comp, addr);
	e->table = model_walk_from(m, comp, start >= 0 ? start : m->root[comp],
				   addr, idx);
	e->idx = *idx;
	e->key = key;
	e->shape = m->shape;
	if (e->table >= 0) {
		memo->last[comp].table = e->table;
		memo->last[comp].shape = m->shape;
	}
	return e->table;
}

void model_walk(const struct model *m, unsigned comp, uint64_t addr,
		struct model_side *out)
{
	unsigned idx;
	int ti = model_walk_to(m, comp, addr, &idx);
	const struct model_table *t;
	unsigned shift;

	memset(out, 0, sizeof(*out));
	if (ti < 0)
		return;
	t = m->tables[ti];
	shift = model_shift(t->level);
	model_decode(comp, t->level, t->desc[idx], out);
	if (out->flags & MODEL_SIDE_VALID)
		out->out_pfn +=
			(uint32_t)(((addr - t->base) & ((1ull << shift) - 1)) >>
				   MODEL_PAGE_SHIFT);
}

bool model_leaf(const struct model *m, unsigned comp, uint64_t addr,
		uint64_t *desc, int *level)
{
	unsigned idx;
	int ti = model_walk_to(m, comp, addr, &idx);

	if (ti < 0)
		return false;
	*desc = m->tables[ti]->desc[idx];
	*level = m->tables[ti]->level;
	return true;
}

bool model_side_normal(const struct model *m, unsigned comp,
		       const struct model_side *s)
{
	if (comp == PKVM_COMP_HOST_S2)
		return (s->attr & 0xc) != 0; /* MemAttr[3:2] 0b00 is device */
	if (!m->mair_known)
		return true; /* attributes unknown: do not judge */
	return ((m->mair >> (8 * s->attr)) & 0xf0) != 0;
}
