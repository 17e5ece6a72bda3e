/* SPDX-License-Identifier: MIT */
/*
 * The one page-table walker, shared by the host stage-2 and the hyp stage-1.
 *
 * Changing a table is two steps: pgtable_prepare() works out which new
 * tables a change needs and takes them all from the pool (it may fail with
 * -ENOMEM, having written nothing); pgtable_set() then makes the change and
 * cannot fail. Every descriptor store is recorded (PTE_WRITE), and every
 * store that removes or splits a valid mapping is followed by the TLB
 * maintenance it needs, also recorded.
 */
#ifndef HYP_PGTABLE_H
#define HYP_PGTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <hyp/lock.h>
#include <pkvm/abi.h>

/** A translation table and the lock that protects all of its descriptors. */
struct pgtable {
	uint64_t root;		  /* PA of the level-1 table; constant */
	enum pkvm_component comp; /* constant */
	bool stage2;		  /* host stage-2 (else hyp stage-1) */
	struct hyp_lock lock;	  /* protects every descriptor below root */
	/*
	 * An entry was made valid since the last pgtable_sync(): the walkers
	 * may not see it yet. Written with `lock` held.
	 */
	bool unsynced;
};

/** Witness that the caller holds `pt->lock`. */
struct pgtable_locked {
	struct pgtable *pt;
};

/** Take `pt`'s lock (recorded) and return the witness. */
struct pgtable_locked pgtable_lock(struct pgtable *pt);

/**
 * Release the lock the witness stands for, after pgtable_sync(): no entry
 * made valid under a lock is left for another CPU to find unsynchronised.
 */
void pgtable_unlock(struct pgtable_locked ptl);

/**
 * Make the entries made valid since the last sync visible to the table
 * walkers (format/HYPERCALLS.md "Barriers"): DSB ISHST, and for a stage-1
 * (the hyp's own) an ISB after it, each recorded. Nothing if nothing was
 * made valid. Call before letting the lock go.
 */
void pgtable_sync(struct pgtable_locked ptl);

/** pgtable_sync() of two tables with one DSB. */
void pgtable_sync2(struct pgtable_locked first, struct pgtable_locked second);

/** Lock `first` then `second` (lock order), recorded as one event. */
void pgtable_lock2(struct pgtable *first, struct pgtable *second,
		   struct pgtable_locked *l1, struct pgtable_locked *l2);

/** Sync both, then unlock `first` then `second`, recorded as one event. */
void pgtable_unlock2(struct pgtable_locked first, struct pgtable_locked second);

/**
 * Lock `first` then `second` (lock order) *without* recording it, for a
 * caller that records the acquisition in a compact event of its own.
 * Returns the tickets: first | second << 32.
 */
uint64_t pgtable_take2(struct pgtable *first, struct pgtable *second,
		       struct pgtable_locked *l1, struct pgtable_locked *l2);

/**
 * Unlock `first` then `second` without recording it (see above); the caller
 * has synced both (pgtable_sync2()) before it recorded the release.
 */
void pgtable_let_go2(struct pgtable_locked first, struct pgtable_locked second);

/** Pages taken by pgtable_prepare() for pgtable_set() to install. */
#define PGTABLE_MEMCACHE_MAX 8
struct pgtable_memcache {
	uint64_t pages[PGTABLE_MEMCACHE_MAX];
	unsigned count;
};

/** What a walk found for one address: the last descriptor and its level. */
struct pgtable_walk {
	uint64_t pte;
	int level;
	uint64_t pte_pa; /* PA of the descriptor */
};

/** Walk to the leaf or invalid descriptor that covers `addr`. */
void pgtable_walk(struct pgtable_locked ptl, uint64_t addr,
		  struct pgtable_walk *w);

/**
 * Take from the pool every table that setting each level-`level` entry of
 * [addr, addr + size) would need. 0, or -PKVM_ENOMEM (nothing written;
 * pages already taken stay allocated).
 */
int pgtable_prepare(struct pgtable_locked ptl, uint64_t addr, uint64_t size,
		    int level, struct pgtable_memcache *mc);

/**
 * Store `pte` as the level-`level` descriptor for `addr`, installing tables
 * from `mc` and splitting blocks on the way (break-before-make), then doing
 * the TLB maintenance the change needs.
 */
void pgtable_set(struct pgtable_locked ptl, uint64_t addr, int level,
		 uint64_t pte, struct pgtable_memcache *mc);

/** Install the root (zeroed page from the pool) of an empty table. */
void pgtable_init(struct pgtable *pt, uint64_t root_pa,
		  enum pkvm_component comp, bool stage2, unsigned lock_id);

/** Recorded TLBI and barriers (the arch does the operation). */
void hyp_tlbi(enum pkvm_tlbi_op op, uint64_t operand);
void hyp_barrier(enum pkvm_barrier_op op);

#endif /* HYP_PGTABLE_H */
