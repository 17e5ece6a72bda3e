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

/*
 * The calling CPU's producer is its per-CPU data: the arch keeps a pointer
 * to it (TPIDR_EL2 on the real machine), installed from hyp_cpu_data()
 * before anything else runs on the CPU, so that every record finds it in
 * one instruction.
 */
static inline struct producer_cpu *htrace_cpu(void)
{
	return (struct producer_cpu *)arch_this_cpu();
}

/*
 * Every hook is inlined into its caller, so that a site taken in it
 * (arch_site_here) is the caller's code, not a shared copy's.
 */
#define HTRACE_INLINE static inline __attribute__((always_inline))

/*
 * Sites (record.h PKVM_SITE_SHIFT): where in the code an event was made,
 * in bits 48-63 of its first word. HTRACE_SITE_HERE() is this point;
 * HTRACE_SITE_CALLER() is the call that reached the current function
 * (its BL, the return address less 4), for the small out-of-line helpers
 * every caller goes through (pgtable_lock, hyp_tlbi ...), whose own code
 * would name the helper and never the caller. Those helpers are noinline,
 * so that the return address is theirs. 0 on an arch without sites.
 */
#define HTRACE_SITE_HERE() arch_site_here()
#define HTRACE_SITE_CALLER()                                                   \
	arch_site_of(                                                          \
		(uint64_t)(__UINTPTR_TYPE__)__builtin_extract_return_addr(     \
			__builtin_return_address(0)) -                         \
		4)

/** Emit an event of `n` records on the calling CPU. */
static inline void htrace_emit(unsigned kind, unsigned kflags,
			       const uint64_t *words, unsigned n)
{
#if HYP_TRACE
	producer_emit_at(htrace_cpu(), arch_counter(), kind, kflags, words, n);
#else
	(void)kind;
	(void)kflags;
	(void)words;
	(void)n;
#endif
}

/**
 * A sync point (producer.h): once tracing is loaded, move to the ring. The
 * panic path takes one so that its PANIC record lands in the ring (traps
 * take theirs in tracing_cpu_leave()).
 */
static inline void htrace_sync(void)
{
#if HYP_TRACE
	producer_sync(&hyp_producer, htrace_cpu());
#endif
}

/**
 * Make the calling CPU's records visible to the consumer (producer.h):
 * before returning to the host, before waiting on a lock, when stopping.
 */
static inline void htrace_publish(void)
{
#if HYP_TRACE
	producer_publish(htrace_cpu());
#endif
}

/** Emit a one-record event on the calling CPU. */
static inline void htrace1(unsigned kind, unsigned kflags, uint64_t a,
			   uint64_t b)
{
	uint64_t w[2] = { a, b };
	htrace_emit(kind, kflags, w, 1);
}

/*
 * A descriptor store into an installed table or a root. `site`, here and
 * below: HTRACE_SITE_HERE() written in the .c function that does it (not
 * in a header: the checker names the innermost function outside headers),
 * or HTRACE_SITE_CALLER().
 */
HTRACE_INLINE void htrace_pte_write(uint64_t pa, uint64_t value, bool release,
				    uint64_t site)
{
	htrace1(PKVM_EV_PTE_WRITE, release ? PKVM_REC_F_PTE_RELEASE : 0,
		pa | site, value);
}

/* `around`: PKVM_REC_F_TLBI_* barriers issued right around it. */
HTRACE_INLINE void htrace_tlbi(unsigned op, unsigned vmid, uint64_t operand,
			       unsigned around, uint64_t site)
{
	htrace1(PKVM_EV_TLBI, around, op | ((uint64_t)vmid << 16) | site,
		operand);
}

HTRACE_INLINE void htrace_barrier(unsigned op, uint64_t site)
{
	htrace1(PKVM_EV_BARRIER, 0, op | site, 0);
}

HTRACE_INLINE void htrace_lock(bool acquire, unsigned lock, uint32_t ticket,
			       uint64_t site)
{
	htrace1(acquire ? PKVM_EV_LOCK_ACQUIRE : PKVM_EV_LOCK_RELEASE, 0,
		lock | site, ticket);
}

/* Two locks taken (or let go) back to back: LOCK_ACQUIRE2/LOCK_RELEASE2. */
HTRACE_INLINE void htrace_lock2(bool acquire, unsigned lock1, uint32_t ticket1,
				unsigned lock2, uint32_t ticket2, uint64_t site)
{
	htrace1(acquire ? PKVM_EV_LOCK_ACQUIRE2 : PKVM_EV_LOCK_RELEASE2, 0,
		lock1 | (uint64_t)lock2 << 32 | site,
		ticket1 | (uint64_t)ticket2 << 32);
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
