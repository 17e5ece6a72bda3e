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
int64_t mem_share_hyp(uint64_t pfn);
int64_t mem_unshare_hyp(uint64_t pfn);
int64_t mem_host_donate_hyp(uint64_t pfn, uint64_t nr);
int64_t mem_hyp_donate_host(uint64_t pfn, uint64_t nr);

/**
 * A host stage-2 fault at `ipa`: map it if the host may access it (true),
 * or return false for the caller to inject an abort.
 */
bool mem_host_fault(uint64_t ipa);

/** Boot: build both tables (roots from `root_host`, `root_hyp`). */
void mem_boot_tables(uint64_t root_host, uint64_t root_hyp);

#endif /* HYP_MEM_PROTECT_H */
