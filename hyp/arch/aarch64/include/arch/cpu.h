/* SPDX-License-Identifier: MIT */
/*
 * Per-CPU basics the record fast path needs inline: the per-CPU pointer
 * (kept in TPIDR_EL2) and the counter. Also the EL2 configuration values
 * the BOOT record reports.
 */
#ifndef ARCH_CPU_H
#define ARCH_CPU_H

#include <stdint.h>

/**
 * The calling CPU's per-CPU pointer (TPIDR_EL2), set by
 * arch_set_this_cpu() before anything else runs on the CPU.
 */
static inline void *arch_this_cpu(void)
{
	void *v;

	/* Not volatile: constant for the CPU's life, so reads may be merged. */
	__asm__("mrs %0, tpidr_el2" : "=r"(v));
	return v;
}

static inline void arch_set_this_cpu(void *p)
{
	__asm__ volatile("msr tpidr_el2, %0" : : "r"(p) : "memory");
}

/** The virtual counter (CNTVOFF_EL2 is 0, so it equals the physical one). */
static inline uint64_t arch_counter(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v;
}

/*
 * Sites (format/include/pkvm/record.h PKVM_SITE_SHIFT): where in the code
 * a record was made, in the bits 48-63 of its first word that the hyp's
 * records leave free: (pc - hyp_start) / 4. The image starts on a 256 KiB
 * boundary and its text fits in 256 KiB (hyp.ld asserts both), so that
 * is just bits 2-17 of the PC, which a shift by 46 puts in place (bits
 * 0-1 of a PC are 0): one ADR and an ORR with a shifted operand.
 */
#define ARCH_TRACE_SITES 1

/** The site of this point in the code (always inlined: its caller's). */
static inline __attribute__((always_inline)) uint64_t arch_site_here(void)
{
	uint64_t pc;

	/* Volatile: never merged with another site's or moved far. */
	__asm__ volatile("adr %0, ." : "=r"(pc));
	return pc << 46;
}

/** The site of the instruction at `pc`. */
static inline uint64_t arch_site_of(uint64_t pc)
{
	return pc << 46;
}

/** Spin-loop hint: YIELD (QEMU's round-robin TCG runs another vCPU). */
static inline void arch_relax(void)
{
	__asm__ volatile("yield" ::: "memory");
}

/*
 * VTCR_EL2: T0SZ 32 (4 GiB IPA), SL0 1 (start at level 1), inner/outer WB
 * RA/WA walks, inner shareable, 4 KiB granule, PS 40 bits, RES1 bit 31.
 */
#define ARCH_VTCR_EL2                                                          \
	(32ull | (1ull << 6) | (1ull << 8) | (1ull << 10) | (3ull << 12) |     \
	 (2ull << 16) | (1ull << 31))
/* TCR_EL2 (non-VHE): T0SZ 32, WB walks, inner shareable, 4 KiB, PS 40 bits. */
#define ARCH_TCR_EL2                                                           \
	(32ull | (1ull << 8) | (1ull << 10) | (3ull << 12) | (2ull << 16) |    \
	 (1ull << 23) | (1ull << 31))
/*
 * SCTLR_EL2: RES1 bits, M, C, SA, I, WXN (a writable page is never
 * executable, whatever its XN bit says).
 */
#define ARCH_SCTLR_EL2                                                         \
	(0x30C50830ull | 1ull | 4ull | 8ull | 0x1000ull | (1ull << 19))
/*
 * HCR_EL2: VM (stage-2 on), SWIO, DC (the host runs with its MMU off; DC
 * makes its accesses normal cacheable so its atomics work), TSC (trap SMC,
 * so PSCI goes through the hyp), RW (EL1 is AArch64).
 */
#define ARCH_HCR_EL2                                                           \
	((1ull << 0) | (1ull << 1) | (1ull << 12) | (1ull << 19) | (1ull << 31))
/* VTTBR_EL2 for the host: VMID 0 in bits 63:48. */
#define ARCH_VTTBR(root) ((uint64_t)(root))
/* TTBR0_EL2 for the hyp. */
#define ARCH_TTBR0(root) ((uint64_t)(root))

#endif /* ARCH_CPU_H */
