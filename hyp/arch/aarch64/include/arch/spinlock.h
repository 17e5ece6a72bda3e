/* SPDX-License-Identifier: MIT */
/*
 * Ticket spinlock for AArch64 (Armv8.0: LDAXR/STXR, no LSE, as on the
 * Cortex-A72 QEMU models). The ticket is returned so that the caller can
 * record it: tickets are handed out 0, 1, 2, ... in acquisition order.
 */
#ifndef ARCH_SPINLOCK_H
#define ARCH_SPINLOCK_H

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
	uint32_t ticket, newv, fail;

	__asm__ volatile("1:	ldaxr	%w0, [%3]\n"
			 "	add	%w1, %w0, #1\n"
			 "	stxr	%w2, %w1, [%3]\n"
			 "	cbnz	%w2, 1b\n"
			 : "=&r"(ticket), "=&r"(newv), "=&r"(fail)
			 : "r"(&l->next)
			 : "memory");
	return ticket;
}

/** True once `ticket` is served: the lock is held (acquire semantics). */
static inline bool arch_spin_served(struct arch_spinlock *l, uint32_t ticket)
{
	uint32_t cur;

	__asm__ volatile("ldar	%w0, [%1]"
			 : "=r"(cur)
			 : "r"(&l->serving)
			 : "memory");
	return cur == ticket;
}

/** Hand the lock to the next ticket (release semantics). */
static inline void arch_spin_unlock(struct arch_spinlock *l)
{
	uint32_t next = l->serving + 1;

	__asm__ volatile("stlr	%w0, [%1]"
			 :
			 : "r"(next), "r"(&l->serving)
			 : "memory");
}

#endif /* ARCH_SPINLOCK_H */
