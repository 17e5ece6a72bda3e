/* SPDX-License-Identifier: MIT */
/*
 * Fake arch per-CPU basics: each native thread plays one CPU (its per-CPU
 * pointer in a thread-local), and the counter is a global tick count so that
 * records get increasing timestamps.
 */
#ifndef ARCH_CPU_H
#define ARCH_CPU_H

#include <sched.h>
#include <stdint.h>

extern _Thread_local void *fake_this_cpu;
extern uint64_t fake_ticks;

/** The calling CPU's per-CPU pointer: the thread's (fake_set_cpu()). */
static inline void *arch_this_cpu(void)
{
	return fake_this_cpu;
}

static inline void arch_set_this_cpu(void *p)
{
	fake_this_cpu = p;
}

/** A counter that advances by one per read, shared by all threads. */
static inline uint64_t arch_counter(void)
{
	return __atomic_fetch_add(&fake_ticks, 1, __ATOMIC_RELAXED);
}

/*
 * No sites: the records of the fake arch's native code name no place in
 * a hyp image, and its BOOT does not set PKVM_BOOT_F_SITES.
 */
#define ARCH_TRACE_SITES 0

static inline uint64_t arch_site_here(void)
{
	return 0;
}

static inline uint64_t arch_site_of(uint64_t pc)
{
	(void)pc;
	return 0;
}

/** Spin-loop hint: let another thread (CPU) run. */
static inline void arch_relax(void)
{
	sched_yield();
}

/* The same EL2 configuration values as the real machine reports. */
#define ARCH_VTCR_EL2                                                          \
	(32ull | (1ull << 6) | (1ull << 8) | (1ull << 10) | (3ull << 12) |     \
	 (2ull << 16) | (1ull << 31))
#define ARCH_TCR_EL2                                                           \
	(32ull | (1ull << 8) | (1ull << 10) | (3ull << 12) | (2ull << 16) |    \
	 (1ull << 23) | (1ull << 31))
#define ARCH_SCTLR_EL2                                                         \
	(0x30C50830ull | 1ull | 4ull | 8ull | 0x1000ull | (1ull << 19))
#define ARCH_HCR_EL2                                                           \
	((1ull << 0) | (1ull << 1) | (1ull << 12) | (1ull << 19) | (1ull << 31))
#define ARCH_VTTBR(root) ((uint64_t)(root))
#define ARCH_TTBR0(root) ((uint64_t)(root))

#endif /* ARCH_CPU_H */
