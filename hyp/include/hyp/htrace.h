/* SPDX-License-Identifier: MIT */
/*
 * Trace emission: one small inline per event kind, each writing the records
 * the checker expects (format/include/pkvm/events.def) on the calling CPU.
 *
 * Built with HYP_TRACE=0 (hyp-notrace.elf) every function here is an empty
 * inline, so the overhead of recording can be measured against nothing.
 */
#ifndef HYP_HTRACE_H
#define HYP_HTRACE_H

#include <stdbool.h>
#include <stdint.h>

#include <hyp/arch.h>
#include <pkvm/abi.h>
#include <pkvm/producer.h>
#include <pkvm/record.h>

#ifndef HYP_TRACE
#define HYP_TRACE 1
#endif

/** Every CPU's producer (tracer/producer). */
extern struct producer hyp_producer;

/** Emit an event of `n` records on the calling CPU. */
static inline void htrace_emit(unsigned kind, unsigned kflags,
			       const uint64_t *words, unsigned n)
{
#if HYP_TRACE
	producer_emit(&hyp_producer, &hyp_producer.cpu[arch_cpu_index()], kind,
		      kflags, words, n);
#else
	(void)kind;
	(void)kflags;
	(void)words;
	(void)n;
#endif
}

/** Emit a one-record event on the calling CPU. */
static inline void htrace1(unsigned kind, unsigned kflags, uint64_t a,
			   uint64_t b)
{
	uint64_t w[2] = { a, b };
	htrace_emit(kind, kflags, w, 1);
}

/** A descriptor store into an installed table or a root. */
static inline void htrace_pte_write(uint64_t pa, uint64_t value, bool release)
{
	htrace1(PKVM_EV_PTE_WRITE, release ? PKVM_REC_F_PTE_RELEASE : 0, pa,
		value);
}

static inline void htrace_tlbi(unsigned op, unsigned vmid, uint64_t operand)
{
	htrace1(PKVM_EV_TLBI, 0, op | ((uint64_t)vmid << 16), operand);
}

static inline void htrace_barrier(unsigned op)
{
	htrace1(PKVM_EV_BARRIER, 0, op, 0);
}

static inline void htrace_lock(bool acquire, unsigned lock, uint32_t ticket)
{
	htrace1(acquire ? PKVM_EV_LOCK_ACQUIRE : PKVM_EV_LOCK_RELEASE, 0, lock,
		ticket);
}

static inline void htrace_sysreg(unsigned reg, uint64_t value)
{
	htrace1(PKVM_EV_SYSREG_WRITE, 0, reg, value);
}

static inline void htrace_nondet(unsigned what, uint64_t value, uint64_t addr,
				 uint64_t aux)
{
	uint64_t w[4] = { what, value, addr, aux };
	htrace_emit(PKVM_EV_NONDET, 0, w, 2);
}

static inline void htrace_mark(unsigned what, uint64_t arg)
{
	htrace1(PKVM_EV_MARK, 0, what, arg);
}

#endif /* HYP_HTRACE_H */
