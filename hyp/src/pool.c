/* SPDX-License-Identifier: MIT */
/*
 * Page-table page pool. The `pool` lock is innermost in the lock order
 * (host_s2 -> hyp_s1 -> pool), so any table code may allocate.
 */
#include <hyp/arch.h>
#include <hyp/hyp.h>
#include <hyp/lock.h>
#include <hyp/pool.h>

static struct hyp_lock pool_lock = HYP_LOCK_INIT(PKVM_LOCK_POOL);
static uint64_t pool_next; /* protected by pool_lock */
static uint64_t pool_end;  /* constant after pool_init() */

void pool_init(uint64_t start, uint64_t end)
{
	pool_next = start;
	pool_end = end;
}

uint64_t pool_alloc_page(enum pkvm_component comp)
{
	uint64_t pa = 0;

	hyp_lock_acquire(&pool_lock);
	if (pool_next < pool_end) {
		pa = pool_next;
		pool_next += HYP_PAGE_SIZE;
	}
	htrace_nondet(PKVM_NONDET_ALLOC_PAGE, pa, 0, comp);
	hyp_lock_release(&pool_lock);
	/*
	 * Zeroed before anyone can install it, outside the pool lock (the
	 * page is this CPU's alone now), and recorded: a table page whose
	 * zeroing the trace does not show is one whose old contents a checker
	 * cannot rule out (abi.h PAGE_ZEROED).
	 */
	if (pa) {
		memset(arch_pa_to_va(pa), 0, HYP_PAGE_SIZE);
		htrace_mark(PKVM_MARK_PAGE_ZEROED, pa);
	}
	return pa;
}

uint64_t pool_pages_left(void)
{
	return (pool_end - __atomic_load_n(&pool_next, __ATOMIC_RELAXED)) /
	       HYP_PAGE_SIZE;
}
