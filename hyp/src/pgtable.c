/* SPDX-License-Identifier: MIT */
/*
 * The page-table walker. Portable: descriptor bits only through arch_pte_*.
 *
 * Every store into a table goes through pgtable_store(), which records it
 * (PTE_WRITE) right after the store; the caller holds the table's lock,
 * which the pgtable_locked witness in every signature stands for.
 */
#include <hyp/arch.h>
#include <hyp/hyp.h>
#include <hyp/pgtable.h>
#include <hyp/pool.h>

#include <arch/pte.h>

/*
 * The helpers below record at their caller's site (htrace.h
 * HTRACE_SITE_CALLER), so they stay out of line: their return address is
 * then their caller's.
 */
__attribute__((noinline)) void hyp_tlbi(enum pkvm_tlbi_op op, uint64_t operand)
{
	arch_tlbi(op, operand);
	htrace_tlbi(op, 0, operand, 0, HTRACE_SITE_CALLER());
}

__attribute__((noinline)) void hyp_barrier(enum pkvm_barrier_op op)
{
	arch_barrier(op);
	htrace_barrier(op, HTRACE_SITE_CALLER());
}

__attribute__((noinline)) struct pgtable_locked pgtable_lock(struct pgtable *pt)
{
	hyp_lock_acquire_at(&pt->lock, HTRACE_SITE_CALLER());
	return (struct pgtable_locked){ pt };
}

/*
 * A store that makes an entry valid reaches the other CPUs' table walkers
 * only after a DSB (Arm ARM, "Ordering of translation table updates"), and
 * this CPU's own later instructions use a new stage-1 entry only after a
 * context synchronisation: without them another CPU that takes the lock
 * next, or the host resuming at the faulting instruction, may still fault
 * on the entry. One DSB covers every store made before it, so the barriers
 * come once, before the lock goes, as upstream pKVM's map paths do.
 */
static void pgtable_barriers(bool dsb, bool isb)
{
	if (dsb)
		hyp_barrier(PKVM_BARRIER_DSB_ISHST);
	if (isb)
		hyp_barrier(PKVM_BARRIER_ISB);
}

void pgtable_sync(struct pgtable_locked ptl)
{
	struct pgtable *pt = ptl.pt;

	pgtable_barriers(pt->unsynced, pt->unsynced && !pt->stage2);
	pt->unsynced = false;
}

void pgtable_sync2(struct pgtable_locked first, struct pgtable_locked second)
{
	struct pgtable *a = first.pt, *b = second.pt;

	pgtable_barriers(a->unsynced || b->unsynced,
			 (a->unsynced && !a->stage2) ||
				 (b->unsynced && !b->stage2));
	a->unsynced = b->unsynced = false;
}

__attribute__((noinline)) void pgtable_unlock(struct pgtable_locked ptl)
{
	pgtable_sync(ptl);
	hyp_lock_release_at(&ptl.pt->lock, HTRACE_SITE_CALLER());
}

__attribute__((noinline)) void pgtable_lock2(struct pgtable *first,
					     struct pgtable *second,
					     struct pgtable_locked *l1,
					     struct pgtable_locked *l2)
{
	hyp_lock_acquire2_at(&first->lock, &second->lock, HTRACE_SITE_CALLER());
	*l1 = (struct pgtable_locked){ first };
	*l2 = (struct pgtable_locked){ second };
}

__attribute__((noinline)) void pgtable_unlock2(struct pgtable_locked first,
					       struct pgtable_locked second)
{
	pgtable_sync2(first, second);
	hyp_lock_release2_at(&first.pt->lock, &second.pt->lock,
			     HTRACE_SITE_CALLER());
}

uint64_t pgtable_take2(struct pgtable *first, struct pgtable *second,
		       struct pgtable_locked *l1, struct pgtable_locked *l2)
{
	uint32_t t1 = hyp_lock_take(&first->lock);
	uint32_t t2 = hyp_lock_take(&second->lock);

	*l1 = (struct pgtable_locked){ first };
	*l2 = (struct pgtable_locked){ second };
	return t1 | (uint64_t)t2 << 32;
}

void pgtable_let_go2(struct pgtable_locked first, struct pgtable_locked second)
{
	hyp_lock_let_go(&first.pt->lock);
	hyp_lock_let_go(&second.pt->lock);
}

void pgtable_init(struct pgtable *pt, uint64_t root_pa,
		  enum pkvm_component comp, bool stage2, unsigned lock_id)
{
	pt->root = root_pa;
	pt->comp = comp;
	pt->stage2 = stage2;
	pt->lock = (struct hyp_lock)HYP_LOCK_INIT(lock_id);
	pt->unsynced = false;
	/* A root starts empty, and the trace says so (abi.h PAGE_ZEROED). */
	memset(arch_pa_to_va(root_pa), 0, HYP_PAGE_SIZE);
	htrace_mark(PKVM_MARK_PAGE_ZEROED, root_pa);
}

static uint64_t *pgtable_slot(uint64_t table_pa, uint64_t addr, int level)
{
	uint64_t *table = arch_pa_to_va(table_pa);

	return &table[arch_pt_index(addr, level)];
}

/*
 * The one place descriptors are stored: store, then record. `site`: the
 * caller's HTRACE_SITE_HERE(), so that the record names the caller's line
 * rather than this one, which every store shares.
 */
__attribute__((always_inline)) static inline void
pgtable_store(uint64_t table_pa, unsigned index, uint64_t pte, bool release,
	      uint64_t site)
{
	uint64_t *table = arch_pa_to_va(table_pa);

	arch_pte_store(&table[index], pte, release);
	htrace_pte_write(table_pa + 8ull * index, pte, release, site);
}

/*
 * TLBI `op` of `operand` with the barriers `around` (PKVM_REC_F_TLBI_*)
 * names right around it, recorded as one TLBI record carrying them. The
 * barriers issued and the record's flags are read from the one value, so
 * no barrier can go missing from what runs and stay in the trace.
 */
__attribute__((always_inline)) static inline void
pgtable_tlbi(enum pkvm_tlbi_op op, uint64_t operand, unsigned around,
	     uint64_t site)
{
	if (around & PKVM_REC_F_TLBI_DSB_ISHST_BEFORE)
		arch_barrier(PKVM_BARRIER_DSB_ISHST);
	arch_tlbi(op, operand);
	if (around & PKVM_REC_F_TLBI_DSB_ISH_AFTER)
		arch_barrier(PKVM_BARRIER_DSB_ISH);
	if (around & PKVM_REC_F_TLBI_ISB_AFTER)
		arch_barrier(PKVM_BARRIER_ISB);
	htrace_tlbi(op, 0, operand, around, site);
}

/* Invalidate the TLB entries for `addr` after a valid mapping went away. */
static void pgtable_tlb_flush(const struct pgtable *pt, uint64_t addr)
{
	if (pt->stage2) {
		pgtable_tlbi(PKVM_TLBI_IPAS2E1IS, addr >> 12,
			     PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
				     PKVM_REC_F_TLBI_DSB_ISH_AFTER,
			     HTRACE_SITE_HERE());
		/* Combined stage-1+2 entries are tagged by VA: drop them all.
		 */
		pgtable_tlbi(PKVM_TLBI_VMALLE1IS, 0,
			     PKVM_REC_F_TLBI_DSB_ISH_AFTER |
				     PKVM_REC_F_TLBI_ISB_AFTER,
			     HTRACE_SITE_HERE());
	} else {
		pgtable_tlbi(PKVM_TLBI_VAE2IS, addr >> 12,
			     PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
				     PKVM_REC_F_TLBI_DSB_ISH_AFTER |
				     PKVM_REC_F_TLBI_ISB_AFTER,
			     HTRACE_SITE_HERE());
	}
}

void pgtable_walk(struct pgtable_locked ptl, uint64_t addr,
		  struct pgtable_walk *w)
{
	uint64_t table = ptl.pt->root;

	for (int level = ARCH_PT_FIRST_LEVEL;; level++) {
		uint64_t *slot = pgtable_slot(table, addr, level);
		uint64_t pte = __atomic_load_n(slot, __ATOMIC_RELAXED);

		if (!arch_pte_is_table(pte, level)) {
			w->pte = pte;
			w->level = level;
			w->pte_pa = table + 8ull * arch_pt_index(addr, level);
			return;
		}
		table = arch_pte_table_pa(pte);
	}
}

/* A table prepare() has promised: the region it covers and its level. */
struct pgtable_need {
	uint64_t base;
	int level;
};

static bool pgtable_need_add(struct pgtable_need *need, unsigned *count,
			     uint64_t base, int level)
{
	for (unsigned i = 0; i < *count; i++)
		if (need[i].base == base && need[i].level == level)
			return true;
	if (*count == PGTABLE_MEMCACHE_MAX)
		return false;
	need[*count].base = base;
	need[*count].level = level;
	(*count)++;
	return true;
}

int pgtable_prepare(struct pgtable_locked ptl, uint64_t addr, uint64_t size,
		    int level, struct pgtable_memcache *mc)
{
	struct pgtable_need need[PGTABLE_MEMCACHE_MAX];
	unsigned count = 0;
	uint64_t step = arch_pt_level_size(level);

	mc->count = 0;
	for (uint64_t a = addr; a < addr + size; a += step) {
		struct pgtable_walk w;

		pgtable_walk(ptl, a, &w);
		/* A table for each level between the walk's end and `level`. */
		for (int l = w.level + 1; l <= level; l++) {
			uint64_t base = a & ~(arch_pt_level_size(l - 1) - 1);
			/* Callers keep ranges small (<= 16 pages). */
			CHECK(pgtable_need_add(need, &count, base, l));
		}
	}
	for (unsigned i = 0; i < count; i++) {
		uint64_t pa = pool_alloc_page(ptl.pt->comp);

		if (!pa)
			return -PKVM_ENOMEM;
		mc->pages[mc->count++] = pa;
	}
	return 0;
}

/*
 * Replace the non-table descriptor at `slot_idx` of `table` (level `level`,
 * covering `base`) with a new table that keeps what it meant: a valid block
 * is broken before the table is made (invalid, DSB, TLBI, DSB), an owner
 * annotation is copied into every entry. The new table is installed first
 * and filled after, so that every descriptor it gets is recorded.
 */
static uint64_t pgtable_split(struct pgtable_locked ptl, uint64_t table,
			      uint64_t base, int level, uint64_t old,
			      struct pgtable_memcache *mc)
{
	unsigned idx = arch_pt_index(base, level);
	uint64_t sub = arch_pt_level_size(level + 1);
	uint64_t next;

	CHECK(mc->count > 0);
	next = mc->pages[--mc->count];
	if (arch_pte_is_valid(old)) {
		pgtable_store(table, idx, arch_pte_make_annot(PKVM_OWNER_HOST),
			      false, HTRACE_SITE_HERE());
		pgtable_tlb_flush(ptl.pt, base);
	}
	pgtable_store(table, idx, arch_pte_make_table(next), true,
		      HTRACE_SITE_HERE());
	ptl.pt->unsynced = true;
	if (arch_pte_is_valid(old)) {
		uint64_t pa = arch_pte_leaf_pa(old, level);
		for (unsigned i = 0; i < ARCH_PT_ENTRIES; i++)
			pgtable_store(next, i,
				      arch_pte_leaf_relevel(old, level,
							    level + 1,
							    pa + i * sub),
				      false, HTRACE_SITE_HERE());
	} else if (old) {
		for (unsigned i = 0; i < ARCH_PT_ENTRIES; i++)
			pgtable_store(next, i, old, false, HTRACE_SITE_HERE());
	}
	return next;
}

/*
 * The writer holds the table's lock and the one that lock needs (abi.h
 * PKVM_LOCK_NEEDS_LIST: the hyp stage-1 is written with host_s2 held).
 * Checked in the test builds only: lock.h says why.
 */
static inline void pgtable_check_writer(struct pgtable_locked ptl)
{
	unsigned id = ptl.pt->lock.id, needs = pkvm_lock_needs(id);

	CHECK(hyp_lock_is_held(id) && (!needs || hyp_lock_is_held(needs)));
}

void pgtable_set(struct pgtable_locked ptl, uint64_t addr, int level,
		 uint64_t pte, struct pgtable_memcache *mc)
{
	uint64_t table = ptl.pt->root;
	uint64_t old;

	pgtable_check_writer(ptl);

	for (int l = ARCH_PT_FIRST_LEVEL; l < level; l++) {
		uint64_t cur = *pgtable_slot(table, addr, l);

		if (arch_pte_is_table(cur, l))
			table = arch_pte_table_pa(cur);
		else
			table = pgtable_split(
				ptl, table, addr & ~(arch_pt_level_size(l) - 1),
				l, cur, mc);
	}
	old = *pgtable_slot(table, addr, level);
	/* Only state bits may change under a live mapping (no BBM needed). */
	CHECK(!arch_pte_is_valid(old) || !arch_pte_is_valid(pte) ||
	      arch_pte_set_state(old, 0) == arch_pte_set_state(pte, 0));
	pgtable_store(table, arch_pt_index(addr, level), pte, false,
		      HTRACE_SITE_HERE());
	if (arch_pte_is_valid(old) && !arch_pte_is_valid(pte))
		pgtable_tlb_flush(ptl.pt, addr);
	/* A new translation (not a state-bit change under a live one). */
	if (!arch_pte_is_valid(old) && arch_pte_is_valid(pte))
		ptl.pt->unsynced = true;
}
