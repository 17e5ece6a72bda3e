/* SPDX-License-Identifier: MIT */
/*
 * Memory ownership (format/HYPERCALLS.md): the host stage-2 and the hyp
 * stage-1, the page states read back from them, and the ownership
 * transitions the hypercalls and host aborts make.
 */
#ifndef HYP_MEM_PROTECT_H
#define HYP_MEM_PROTECT_H

#include <stdbool.h>
#include <stdint.h>

#include <hyp/pgtable.h>

/** A page's state on one side (host or hyp). */
enum mem_state {
	MEM_OWNED = 0,
	MEM_SHARED_OWNED = 1,
	MEM_SHARED_BORROWED = 2,
	MEM_NOPAGE = 3,
};

/** The host stage-2 (lock host_s2) and hyp stage-1 (lock hyp_s1). */
extern struct pgtable mem_host_s2;
extern struct pgtable mem_hyp_s1;

/** Host-side state of `pfn` (RAM) from the host stage-2. */
enum mem_state mem_host_state(struct pgtable_locked host, uint64_t pfn);

/** Hyp-side state of `pfn` (RAM) from the hyp stage-1. */
enum mem_state mem_hyp_state(struct pgtable_locked hyp, uint64_t pfn);

/* Hypercalls: 0 or -PKVM_E*, per HYPERCALLS.md. */
/** The two tables every ownership hypercall changes, both locked. */
struct mem_locked {
	struct pgtable_locked host;
	struct pgtable_locked hyp;
};

/* Lock ids of the pair, in lock order, as LOCK_ACQUIRE2 records them. */
#define MEM_PAIR_LOCK_IDS                                                      \
	((uint64_t)PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32)

/**
 * Lock host_s2 then hyp_s1 without recording it: the caller records the
 * acquisition, with the returned tickets (host | hyp << 32), and later the
 * release, before mem_let_go_pair().
 */
uint64_t mem_take_pair(struct mem_locked *m);

/**
 * The barriers for the entries the pair's call made valid (pgtable_sync2()),
 * recorded: the caller makes them before it records the release.
 */
void mem_sync_pair(struct mem_locked m);

/** Unlock hyp_s1 then host_s2 (the release is the caller's to record). */
void mem_let_go_pair(struct mem_locked m);

/**
 * The ownership hypercalls (format/HYPERCALLS.md), run with the pair held:
 * check (read-only), prepare (may fail, changing nothing), do (cannot
 * fail). `a1` and `a2` are the call's x1 and x2, read once by the caller.
 * Return 0 or -PKVM_E*.
 */
typedef int64_t mem_hcall_fn(struct mem_locked m, uint64_t a1, uint64_t a2);
mem_hcall_fn mem_share_hyp;	  /* (pfn) */
mem_hcall_fn mem_unshare_hyp;	  /* (pfn) */
mem_hcall_fn mem_host_donate_hyp; /* (pfn, nr) */
mem_hcall_fn mem_hyp_donate_host; /* (pfn, nr) */

/** A host stage-2 fault, as the syndrome describes it. */
struct mem_fault {
	uint64_t ipa;
	bool exec;	  /* an instruction fetch (else a data access) */
	bool translation; /* a translation fault (nothing mapped there) */
};

/**
 * A host stage-2 fault: map what the host may access and return true (the
 * host retries the access, which now succeeds), or return false for the
 * caller to inject an abort. Never "nothing done" for a fault that would
 * come back: every fault is answered in one trap (format/HYPERCALLS.md
 * "Stage-2 abort").
 */
bool mem_host_fault(const struct mem_fault *f);

/** Boot: build both tables (roots from `root_host`, `root_hyp`). */
void mem_boot_tables(uint64_t root_host, uint64_t root_hyp);

#endif /* HYP_MEM_PROTECT_H */
