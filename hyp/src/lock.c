/* SPDX-License-Identifier: MIT */
/*
 * The lock discipline check of the test builds (hyp/include/hyp/lock.h):
 * every acquisition is held against the order written once in
 * format/include/pkvm/abi.h, so a path that breaks it panics the first
 * time it runs rather than deadlocking in the one run where two CPUs meet
 * it the wrong way round.
 */
#include <hyp/hyp.h>
#include <hyp/lock.h>
#include <pkvm/ring.h>

#if HYP_LOCK_CHECK
uint32_t hyp_locks_held[PKVM_RING_MAX_CPUS];

void hyp_lock_check_take(unsigned id)
{
	uint32_t *held = hyp_locks_mine();

	if (!pkvm_lock_may_take(*held, id)) {
		hyp_puts("hyp: lock ");
		hyp_put_dec(id);
		hyp_puts(" taken while holding locks ");
		hyp_put_hex(*held);
		hyp_puts("\n");
		hyp_check_failed("lock taken against PKVM_LOCK_ORDER_LIST or "
				 "without the lock PKVM_LOCK_NEEDS_LIST names");
	}
	*held |= 1u << id;
}
#endif
