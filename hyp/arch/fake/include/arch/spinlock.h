/* SPDX-License-Identifier: MIT */
/*
 * Ticket spinlock for the fake (native) arch: the same algorithm as the
 * AArch64 one, written with C11 atomics so that threads in unit tests can
 * contend on it.
 */
#ifndef ARCH_SPINLOCK_H
#define ARCH_SPINLOCK_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

/** A ticket lock: `next` ticket to hand out, `serving` current holder. */
struct arch_spinlock {
	uint32_t next;
	uint32_t serving;
};

/** Take the next ticket; the lock is ours once it is being served. */
static inline uint32_t arch_spin_ticket(struct arch_spinlock *l)
{
	return __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
}

/** True once `ticket` is served: the lock is held (acquire semantics). */
static inline bool arch_spin_served(struct arch_spinlock *l, uint32_t ticket)
{
	return __atomic_load_n(&l->serving, __ATOMIC_ACQUIRE) == ticket;
}

/** Hand the lock to the next ticket (release semantics). */
static inline void arch_spin_unlock(struct arch_spinlock *l)
{
	uint32_t next = __atomic_load_n(&l->serving, __ATOMIC_RELAXED) + 1;

	__atomic_store_n(&l->serving, next, __ATOMIC_RELEASE);
}

#endif /* ARCH_SPINLOCK_H */
