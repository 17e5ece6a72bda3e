/* SPDX-License-Identifier: MIT */
/*
 * The producer half of the ring protocol (tracer/include/pkvm/ring.h):
 * one producer per CPU, compiled into the hypervisor (bare metal) and into
 * its fake-arch native library. Freestanding: no libc, C11 atomics only.
 *
 * Each CPU starts writing into a private early buffer. Once the hyp accepts
 * a control block (producer_load), each CPU, on its next emit, copies its
 * early buffer into its ring (MARK early_copied, preceded by a LOST record if
 * the early buffer overflowed) and from then on writes into the ring.
 *
 * The fast path is one compare against a precomputed limit: `limit` is the
 * index up to which the CPU may write without looking at the consumer's
 * tail (tail + nr_records, as last seen). Everything else - loading, waiting,
 * dropping, writing LOST records - lives in the slow path.
 *
 * The hyp provides producer_now() (the counter behind `ts`) and
 * producer_relax() (a spin-loop hint).
 */
#ifndef PKVM_PRODUCER_H
#define PKVM_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>

#include <pkvm/abi.h>
#include <pkvm/record.h>

#include <pkvm/ring.h>

/** Counter ticks for `ts` (CNTVCT_EL0 on the real machine); hyp-provided. */
uint64_t producer_now(void);

/** Pause in a wait loop (YIELD: lets QEMU run another vCPU); hyp-provided. */
void producer_relax(void);

/**
 * One CPU's producer state. Only its own CPU writes it, except `limit`,
 * which producer_load() zeroes once to send every CPU to the slow path.
 */
struct producer_cpu {
	/* Hot: read on every record. */
	struct pkvm_record *slots; /* early buffer or ring records */
	uint64_t mask;		   /* capacity - 1 (capacity a power of two) */
	uint64_t head;		   /* next index to write */
	uint64_t limit;		   /* head may reach this without a check */
	uint64_t produced;	   /* records produced (seq source), 64-bit */
	struct pkvm_ring_cpu *pub; /* where head/written are published */
	uint16_t cpu;

	/* Cold. */
	bool in_ring;		    /* writing into the shared ring */
	uint32_t mode;		    /* enum pkvm_ring_mode, once in_ring */
	uint64_t lost_pending;	    /* dropped records not yet reported */
	uint64_t lost_first;	    /* produced-index of the first of them */
	uint64_t dropped;	    /* all records dropped in the ring */
	uint64_t wait_ticks;	    /* counter ticks spent waiting for room */
	struct pkvm_record *early;  /* the early buffer */
	uint64_t early_cap;	    /* its capacity, a power of two */
	struct pkvm_ring_cpu local; /* publication target before loading */
};

/** All CPUs' producers and the control block once loaded. */
struct producer {
	struct producer_cpu cpu[PKVM_RING_MAX_CPUS];
	unsigned cpu_count;
	struct pkvm_ring_ctrl *ctrl; /* set before `loaded` */
	struct producer_ring_desc {
		struct pkvm_record *records;
		uint64_t nr_records;
	} rings[PKVM_RING_MAX_CPUS]; /* set before `loaded` */
	uint32_t mode;		     /* enum pkvm_ring_mode */
	uint32_t loaded;	     /* 1 once ctrl and rings are valid */
};

/**
 * Set up `cpu`'s early buffer (`cap` records, a power of two). Called once per
 * CPU at boot, before that CPU emits anything.
 */
void producer_init_cpu(struct producer *p, unsigned cpu,
		       struct pkvm_record *early, uint64_t cap);

/**
 * Validated ring description for one CPU, as the hyp hands it over:
 * `records` already translated to a hyp pointer.
 */
struct producer_ring {
	struct pkvm_record *records;
	uint64_t nr_records;
};

/**
 * Switch every CPU to its ring. `ctrl` must be validated (ring.h rules) by
 * the caller; `rings` has p->cpu_count entries. Each CPU copies its early
 * buffer on its own next emit.
 */
void producer_load(struct producer *p, struct pkvm_ring_ctrl *ctrl,
		   const struct producer_ring *rings, uint32_t mode,
		   uint64_t counter_freq);

/**
 * Move `cpu` to its ring now, on its behalf: copy its early buffer (and
 * LOST, MARK early_copied). The caller guarantees that `cpu` is not
 * producing meanwhile (it is outside the hyp and held out of it). Does
 * nothing before loading or if `cpu` already moved.
 */
void producer_flush_early(struct producer *p, unsigned cpu);

/** Slow path of producer_emit(): returns false if the event is dropped. */
bool producer_slow(struct producer *p, struct producer_cpu *pc, unsigned n);

/**
 * Emit one event of `n` records (head + continuations): `words` holds
 * 2 * n payload words. `kflags` are the head's kind-specific flag bits
 * (already shifted into bits 3-6).
 */
static inline void producer_emit(struct producer *p, struct producer_cpu *pc,
				 unsigned kind, unsigned kflags,
				 const uint64_t *words, unsigned n)
{
	uint64_t head = pc->head;

	if (head + n > __atomic_load_n(&pc->limit, __ATOMIC_RELAXED)) {
		if (!producer_slow(p, pc, n))
			return;
		head = pc->head;
	}
	uint64_t ts = producer_now();
	uint64_t seq = pc->produced;
	for (unsigned i = 0; i < n; i++) {
		struct pkvm_record *r = &pc->slots[(head + i) & pc->mask];
		r->ts = ts;
		r->kind = (uint8_t)kind;
		r->flags = (uint8_t)(i ? (PKVM_REC_F_CONT | i)
				       : (kflags | (n - 1)));
		r->cpu = pc->cpu;
		r->seq = (uint32_t)(seq + i);
		r->a = words[2 * i];
		r->b = words[2 * i + 1];
	}
	pc->head = head + n;
	pc->produced = seq + n;
	pc->pub->written = seq + n;
	__atomic_store_n(&pc->pub->head, head + n, __ATOMIC_RELEASE);
}

/** Emit a one-record event. */
static inline void producer_emit1(struct producer *p, struct producer_cpu *pc,
				  unsigned kind, unsigned kflags, uint64_t a,
				  uint64_t b)
{
	uint64_t w[2] = { a, b };
	producer_emit(p, pc, kind, kflags, w, 1);
}

/**
 * Publish the final ring state (STOPPED or PANIC) for the consumer. Records
 * are already published per event; this only writes the control block.
 */
void producer_set_state(struct producer *p, uint32_t state, uint64_t code,
			uint64_t addr);

/** Records produced by `cpu` so far (incl. dropped and early). */
uint64_t producer_produced(const struct producer *p, unsigned cpu);

#endif /* PKVM_PRODUCER_H */
