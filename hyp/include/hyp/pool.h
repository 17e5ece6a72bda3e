/* SPDX-License-Identifier: MIT */
/*
 * The page-table page pool: a bump allocator over [pool_start, pool_end),
 * under the `pool` lock (innermost in the lock order). Pages are zeroed when
 * handed out and never freed.
 */
#ifndef HYP_POOL_H
#define HYP_POOL_H

#include <stdint.h>

#include <pkvm/abi.h>

/** Hand out pages from [start, end) (page aligned). Boot only. */
void pool_init(uint64_t start, uint64_t end);

/**
 * Take one zeroed page for `comp` (NONDET alloc_page record under the pool
 * lock). Returns its PA, or 0 if the pool is empty.
 */
uint64_t pool_alloc_page(enum pkvm_component comp);

/** Pages left (for tests and statistics; takes no lock). */
uint64_t pool_pages_left(void);

#endif /* HYP_POOL_H */
