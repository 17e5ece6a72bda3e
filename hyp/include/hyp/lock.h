/* SPDX-License-Identifier: MIT */
/*
 * Recorded ticket locks. Each lock records LOCK_ACQUIRE right after it is
 * taken and LOCK_RELEASE right before it is let go, with the holder's ticket
 * (0, 1, 2, ... per lock since boot), so that the checker can order every
 * CPU's critical sections.
 */
#ifndef HYP_LOCK_H
#define HYP_LOCK_H

#include <stdint.h>

#include <arch/spinlock.h>
#include <hyp/htrace.h>

/** A ticket lock with its PKVM_LOCK_* id. */
struct hyp_lock {
	struct arch_spinlock al;
	uint32_t id;	 /* enum pkvm_lock_id; constant */
	uint32_t ticket; /* the holder's ticket; written by the holder */
};

#define HYP_LOCK_INIT(lock_id)                                                 \
	{                                                                      \
		.al = { 0, 0 }, .id = (lock_id), .ticket = 0                   \
	}

/** Take `l` and record it. */
static inline void hyp_lock_acquire(struct hyp_lock *l)
{
	uint32_t t = arch_spin_lock(&l->al);

	l->ticket = t;
	htrace_lock(true, l->id, t);
}

/** Record the release of `l` and let it go. */
static inline void hyp_lock_release(struct hyp_lock *l)
{
	htrace_lock(false, l->id, l->ticket);
	arch_spin_unlock(&l->al);
}

#endif /* HYP_LOCK_H */
