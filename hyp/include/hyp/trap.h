/* SPDX-License-Identifier: MIT */
/*
 * Exceptions the host takes to EL2: the saved context and the portable
 * dispatcher (hypercalls, stage-2 aborts, SMC).
 */
#ifndef HYP_TRAP_H
#define HYP_TRAP_H

#include <stdint.h>

/**
 * The host's context at a trap: x0..x30, ELR_EL2 and SPSR_EL2 as saved by
 * the vectors (this order is the assembly's frame layout), then the
 * syndrome registers read by the arch code.
 */
struct trap_ctx {
	uint64_t regs[31];
	uint64_t elr;
	uint64_t spsr;
	uint64_t esr;
	uint64_t far;
	uint64_t hpfar;
};

/* ESR_EL2 exception classes the hyp handles. */
#define TRAP_EC_HVC64 0x16u
#define TRAP_EC_SMC64 0x17u
#define TRAP_EC_IABT_LOW 0x20u
#define TRAP_EC_DABT_LOW 0x24u
/*
 * The same aborts taken without a change of level (EC 0x21, 0x25): the
 * lower-EL class with this bit set. An abort injected into a host that
 * was at EL1 carries it (HYPERCALLS.md "Stage-2 abort", ABI 3).
 */
#define TRAP_EC_SAME_EL_BIT 0x1u
#define TRAP_ESR_EC_SHIFT 26

/* PSTATE for entering the host's abort vector: EL1h, DAIF masked. */
#define TRAP_SPSR_EL1H_MASKED 0x3C5ull
/*
 * The PSTATE bits exception entry to EL1 keeps from the host's (N, Z, C,
 * V, DIT, PAN) or sets from SCTLR_EL1 (PAN, SSBS), as Linux 6.12's
 * enter_exception64 builds it (Arm ARM D1.3; HYPERCALLS.md "Stage-2
 * abort" rule 3, ABI 3).
 */
#define TRAP_PSTATE_KEPT 0xF1400000ull /* N Z C V (31:28), DIT 24, PAN 22 */
#define TRAP_PSTATE_PAN (1ull << 22)
#define TRAP_PSTATE_SSBS (1ull << 12)
#define TRAP_SCTLR_EL1_SPAN (1ull << 23)
#define TRAP_SCTLR_EL1_DSSBS (1ull << 44)
/* SPSR M[4:0]: the mode, and the two EL1 ones. */
#define TRAP_SPSR_MODE_MASK 0x1Full
#define TRAP_SPSR_EL1T 0x4ull
#define TRAP_SPSR_EL1H 0x5ull

/** Handle a synchronous exception from the host (records entry and exit). */
void trap_host_sync(struct trap_ctx *ctx);

/** Handle an asynchronous exception from the host (nothing to do). */
void trap_host_async(struct trap_ctx *ctx);

#endif /* HYP_TRAP_H */
