/* SPDX-License-Identifier: MIT */
/*
 * Recorded ticket locks. Each lock records LOCK_ACQUIRE right after it is
 * taken and LOCK_RELEASE right before it is let go, with the holder's ticket
 * (0, 1, 2, ... per lock since boot), so that the checker can order every
 * CPU's critical sections.
 */
#ifndef HYP_LOCK_H
#define HYP_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <arch/spinlock.h>
#include <hyp/htrace.h>

/*
 * Lock discipline checks (format/include/pkvm/abi.h, PKVM_LOCK_ORDER_LIST
 * and PKVM_LOCK_NEEDS_LIST): on in the test builds (the fake arch, the
 * test image), where a lock taken against the order, or the hyp stage-1
 * written without host_s2, panics at once instead of waiting for the one
 * run that deadlocks; off in the production images, which pay nothing.
 */
#ifndef HYP_LOCK_CHECK
#define HYP_LOCK_CHECK 0
#endif

#if HYP_LOCK_CHECK
/** Per CPU: the locks it holds, bit n = lock id n. Written by that CPU. */
extern uint32_t hyp_locks_held[];

/** The calling CPU's held-lock bits. */
static inline uint32_t *hyp_locks_mine(void)
{
	return &hyp_locks_held[htrace_cpu()->cpu];
}

/* Out of line: it panics, naming the lock, when the order is broken. */
void hyp_lock_check_take(unsigned id);
#endif

/** Whether the calling CPU holds lock `id` (always true if unchecked). */
static inline bool hyp_lock_is_held(unsigned id)
{
#if HYP_LOCK_CHECK
	return (*hyp_locks_mine() >> id) & 1;
#else
	(void)id;
	return true;
#endif
}

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

/*
 * Take `l`'s next ticket and wait for it; returns the ticket. Records
 * nothing: the caller records the acquisition (the functions below, or a
 * compact event that also records something else).
 */
static inline uint32_t hyp_lock_take(struct hyp_lock *l)
{
#if HYP_LOCK_CHECK
	hyp_lock_check_take(l->id);
#endif
	uint32_t t = arch_spin_ticket(&l->al);

	if (!arch_spin_served(&l->al, t)) {
		/* Waiting: let the consumer see this CPU's records first. */
		htrace_publish();
		while (!arch_spin_served(&l->al, t))
			arch_relax();
	}
	return t;
}

/* Let go of `l`; the caller recorded the release. */
static inline void hyp_lock_let_go(struct hyp_lock *l)
{
#if HYP_LOCK_CHECK
	*hyp_locks_mine() &= ~(1u << l->id);
#endif
	arch_spin_unlock(&l->al);
}

/* Keep the holder's ticket for the LOCK_RELEASE record. */
static inline void hyp_lock_hold(struct hyp_lock *l, uint32_t t)
{
#if HYP_TRACE
	l->ticket = t;
#else
	(void)l;
	(void)t;
#endif
}

/*
 * Take `l` and record it, at `site` (htrace.h: HTRACE_SITE_HERE() where
 * the lock is taken, HTRACE_SITE_CALLER() in a helper such as
 * pgtable_lock). The same for the three below.
 */
HTRACE_INLINE void hyp_lock_acquire_at(struct hyp_lock *l, uint64_t site)
{
	uint32_t t = hyp_lock_take(l);

	hyp_lock_hold(l, t);
	htrace_lock(true, l->id, t, site);
}

/** Record the release of `l` and let it go. */
HTRACE_INLINE void hyp_lock_release_at(struct hyp_lock *l, uint64_t site)
{
	htrace_lock(false, l->id, l->ticket, site);
	hyp_lock_let_go(l);
}

/** Take `first` then `second` (lock order), recorded as one event. */
HTRACE_INLINE void hyp_lock_acquire2_at(struct hyp_lock *first,
					struct hyp_lock *second, uint64_t site)
{
	uint32_t t1 = hyp_lock_take(first);
	uint32_t t2 = hyp_lock_take(second);

	hyp_lock_hold(first, t1);
	hyp_lock_hold(second, t2);
	htrace_lock2(true, first->id, t1, second->id, t2, site);
}

/** Record letting go of `first` then `second` as one event, and do it. */
HTRACE_INLINE void hyp_lock_release2_at(struct hyp_lock *first,
					struct hyp_lock *second, uint64_t site)
{
	htrace_lock2(false, first->id, first->ticket, second->id,
		     second->ticket, site);
	hyp_lock_let_go(first);
	hyp_lock_let_go(second);
}

/* Taken and let go where they are written: the site is there. */
#define hyp_lock_acquire(l) hyp_lock_acquire_at((l), HTRACE_SITE_HERE())
#define hyp_lock_release(l) hyp_lock_release_at((l), HTRACE_SITE_HERE())

#endif /* HYP_LOCK_H */
