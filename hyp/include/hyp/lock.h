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

/* Take `l`'s next ticket and wait for it; returns the ticket. */
static inline uint32_t hyp_lock_take(struct hyp_lock *l)
{
	uint32_t t = arch_spin_ticket(&l->al);

	if (!arch_spin_served(&l->al, t)) {
		/* Waiting: let the consumer see this CPU's records first. */
		htrace_publish();
		while (!arch_spin_served(&l->al, t))
			arch_relax();
	}
#if HYP_TRACE
	l->ticket = t; /* only the RELEASE record needs it */
#endif
	return t;
}

/** Take `l` and record it. */
static inline void hyp_lock_acquire(struct hyp_lock *l)
{
	uint32_t t = hyp_lock_take(l);

	htrace_lock(true, l->id, t);
}

/** Record the release of `l` and let it go. */
static inline void hyp_lock_release(struct hyp_lock *l)
{
	htrace_lock(false, l->id, l->ticket);
	arch_spin_unlock(&l->al);
}

/**
 * Take `first`, then `second` (the lock order), recorded as one
 * LOCK_ACQUIRE2: nothing happens on this CPU between the two.
 */
static inline void hyp_lock_acquire2(struct hyp_lock *first,
				     struct hyp_lock *second)
{
	uint32_t t1 = hyp_lock_take(first);
	uint32_t t2 = hyp_lock_take(second);

	htrace_lock2(true, first->id, t1, second->id, t2);
}

/** Let go of `first`, then `second`, recorded as one LOCK_RELEASE2. */
static inline void hyp_lock_release2(struct hyp_lock *first,
				     struct hyp_lock *second)
{
	htrace_lock2(false, first->id, first->ticket, second->id,
		     second->ticket);
	arch_spin_unlock(&first->al);
	arch_spin_unlock(&second->al);
}

#endif /* HYP_LOCK_H */
