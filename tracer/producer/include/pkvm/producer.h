/* SPDX-License-Identifier: MIT */
/*
 * The producer half of the ring protocol (tracer/include/pkvm/ring.h):
 * one producer per CPU, compiled into the hypervisor (bare metal) and into
 * its fake-arch native library. Freestanding: no libc, C11 atomics only.
 *
 * Each CPU starts writing into a private early buffer. Once the hyp accepts
 * a control block (producer_load), each CPU, at its next sync point
 * (producer_sync), copies its early buffer into its ring (MARK
 * early_copied, preceded by a LOST record if the early buffer overflowed)
 * and from then on writes into the ring.
 *
 * Writing an event (producer_emit) is inline and costs one compare and the
 * stores: the CPU writes at `wp` while the event ends below `wend`, the end
 * of the room it last made (tail + capacity as last seen), capped at the end
 * of the buffer. Everything else happens in producer_emit_slow(), out of
 * line, when an event does not fit there: wrapping to the ring's start,
 * looking at the consumer's tail again, spilling (WAIT mode, below), or
 * dropping the event (DROP mode, a full early buffer or a full spill),
 * which is counted and reported by a LOST record before the next record
 * written. While a LOST record is pending, `wend` is `wp`, so that every
 * emit takes the slow path and no record is written ahead of it.
 *
 * The hyp never waits for the consumer (the host) while it may hold a lock:
 * a host that stops draining must not stall every CPU. So an emit never
 * waits. In WAIT mode, an event that finds the ring full goes to the CPU's
 * spill buffer instead (hyp-private: its early buffer, free once copied),
 * and so does everything after it, in order, until the CPU leaves the hyp
 * (producer_leave: it holds no lock then), where it waits for room and
 * copies the spill into the ring. So WAIT mode stays lossless as long as
 * one trap's records fit in the spill; what does not fit is dropped,
 * counted and reported by a LOST record, as in DROP mode.
 *
 * Records become visible to the consumer when they are published
 * (producer_publish: `head`, with a store-release): the hyp
 * publishes before returning from every trap, before waiting on a lock, and
 * when it stops or panics; the slow path publishes before it waits for room.
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
 * One CPU's producer state, written only by its own CPU (or, through
 * producer_flush_others(), on its behalf while it is held outside the hyp).
 *
 * The index of the next record (`head` in ring.h) is lap + (wp - slots).
 * Records produced so far (the sequence-number source, 64-bit) are
 * head + seq_base: the slow path adjusts `seq_base` when sequence numbers
 * are consumed without a slot (drops) or when the CPU starts again in a new
 * buffer.
 */
struct producer_cpu {
	/* Hot: read by every emit, in this order. */
	struct pkvm_record *wp;	  /* the next record's slot */
	struct pkvm_record *wend; /* an event may end here without a look */
	uint64_t hdr;		  /* the next record's second word: its seq
				     << 32 | cpu << 16, kind and flags 0 */
	uint32_t where;		  /* PRODUCER_CPU_*: producer_enter() */
	uint32_t spilling;	  /* writing into `spill`: producer_leave() */
	/* Read once per trap (producer_publish). */
	struct pkvm_record *slots; /* early buffer or ring records */
	uint64_t lap;		   /* index of slots[0] in this pass */
	uint64_t *pub_head;	   /* &pub->head */

	/* Cold. */
	uint64_t seq_base;	   /* produced - head */
	struct pkvm_ring_cpu *pub; /* where the CPU's ring state is published */
	uint64_t cap;		   /* records in `slots`, a power of two */
	uint64_t limit;		   /* head may reach this: tail + cap as last
				      seen (the early buffer: its capacity) */
	uint16_t cpu;
	bool in_ring;		   /* writing into the shared ring */
	uint32_t mode;		   /* enum pkvm_ring_mode, once in_ring */
	uint64_t lost_pending;	   /* dropped records not yet reported */
	uint64_t lost_first;	   /* produced-index of the first of them */
	uint64_t dropped;	   /* all records dropped in the ring */
	uint64_t wait_ticks;	   /* counter ticks spent waiting for room */
	struct pkvm_record *early; /* the early buffer; its capacity is the
				      initial `cap` (it is never drained) */
	/*
	 * WAIT mode's spill (the early buffer, once in the ring) and where
	 * the ring was when spilling began. `no_wait`: never wait, not even
	 * where no lock is held (a panic).
	 */
	struct pkvm_record *spill;
	uint64_t spill_cap;
	uint64_t ring_head;
	bool no_wait;
	struct pkvm_ring_cpu local; /* publication target before loading, and
				       of `head` while spilling */
} __attribute__((aligned(256)));    /* finding a CPU's is a shift */

/*
 * `where` a CPU is, so that the early buffers of CPUs that stay outside
 * the hyp can be copied into their rings on their behalf
 * (producer_flush_others()): PRODUCING from boot and while the CPU runs in
 * the hyp, AWAY while it runs the host, FLUSHING while another CPU copies
 * its early buffer, and IN_RING once it writes into its ring for good: from
 * then on no other CPU touches its producer, and producer_enter() is one
 * load. Changed with atomics only.
 */
enum {
	PRODUCER_CPU_PRODUCING = 0,
	PRODUCER_CPU_AWAY = 1,
	PRODUCER_CPU_FLUSHING = 2,
	PRODUCER_CPU_IN_RING = 3,
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
 * buffer at its own next sync point (or producer_flush_others()).
 */
void producer_load(struct producer *p, struct pkvm_ring_ctrl *ctrl,
		   const struct producer_ring *rings, uint32_t mode,
		   uint64_t counter_freq);

/**
 * Move every other CPU that is AWAY to its ring now, on its behalf (copy
 * its early buffer, LOST, MARK early_copied), holding it out of the
 * producer meanwhile: at loading, so that CPUs idling in the host do not
 * keep their early records, and before stopping. `self` is the caller's.
 */
void producer_flush_others(struct producer *p, struct producer_cpu *self);

/** The index of the next record (`head` in ring.h). */
static inline uint64_t producer_head(const struct producer_cpu *pc)
{
	return pc->lap + (uint64_t)(pc->wp - pc->slots);
}

/** Records `pc` produced so far (dropped and early ones included). */
static inline uint64_t producer_cpu_produced(const struct producer_cpu *pc)
{
	return producer_head(pc) + pc->seq_base;
}

/*
 * The second word of a record: kind, flags, CPU and the low 32 bits of the
 * sequence number (struct pkvm_record, little-endian), as one value.
 */
#define PRODUCER_HDR(kind, flags) ((uint64_t)(kind) | (uint64_t)(flags) << 8)

/**
 * Out of line: an event of `n` records that does not fit below `wend`.
 * Writes it (after a pending LOST record, wrapping at the ring's end,
 * waiting for room in WAIT mode) or drops it, counted.
 */
void producer_emit_slow(struct producer_cpu *pc, uint64_t ts, unsigned kind,
			unsigned kflags, const uint64_t *words, unsigned n);

/**
 * Emit one event of `n` records (head + continuations) stamped `ts`:
 * `words` holds 2 * n payload words. `kflags` are the head's kind-specific
 * flag bits (already shifted into bits 3-6).
 *
 * The records are written but not published (producer_publish()).
 */
static inline void producer_emit_at(struct producer_cpu *pc, uint64_t ts,
				    unsigned kind, unsigned kflags,
				    const uint64_t *words, unsigned n)
{
	struct pkvm_record *r = pc->wp;
	uint64_t hdr = pc->hdr;

	if (__builtin_expect(
		    (uintptr_t)r + n * sizeof(*r) > (uintptr_t)pc->wend, 0)) {
		/* Only here do the words need to be in memory. */
		uint64_t copy[2 * PKVM_EVENT_MAX_RECORDS];

		for (unsigned i = 0; i < 2 * n; i++)
			copy[i] = words[i];
		producer_emit_slow(pc, ts, kind, kflags, copy, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t w1 = hdr + ((uint64_t)i << 32) +
			      PRODUCER_HDR(kind, i ? (PKVM_REC_F_CONT | i)
						   : (kflags | (n - 1)));

		r[i].ts = ts;
		/* kind, flags, cpu, seq: one 8-byte store */
		__builtin_memcpy(&r[i].kind, &w1, sizeof(w1));
		r[i].a = words[2 * i];
		r[i].b = words[2 * i + 1];
	}
	pc->wp = r + n;
	pc->hdr = hdr + ((uint64_t)n << 32);
}

/** Slow path of producer_sync(). */
void producer_sync_slow(struct producer *p, struct producer_cpu *pc);

/**
 * A sync point: once the control block is loaded, move to the ring (copy
 * the early buffer). Before returning to the host until the CPU is in its
 * ring.
 */
static inline void producer_sync(struct producer *p, struct producer_cpu *pc)
{
	if (__builtin_expect(!pc->in_ring && __atomic_load_n(&p->loaded,
							     __ATOMIC_RELAXED),
			     0))
		producer_sync_slow(p, pc);
}

/** producer_enter() until the CPU is in its ring for good. */
void producer_enter_slow(struct producer_cpu *pc);

/** producer_leave() until the CPU is in its ring for good. */
void producer_leave_slow(struct producer *p, struct producer_cpu *pc);

/**
 * The CPU starts producing (a trap): waits out a flush of its early buffer
 * by another CPU. Returns true if it is in its ring for good; pass that to
 * producer_leave().
 */
static inline bool producer_enter(struct producer_cpu *pc)
{
	/* Acquire: a flusher's writes to our producer come before IN_RING. */
	if (__builtin_expect(__atomic_load_n(&pc->where, __ATOMIC_ACQUIRE) ==
				     PRODUCER_CPU_IN_RING,
			     1))
		return true;
	producer_enter_slow(pc);
	return false;
}

/**
 * The CPU stops producing for now (returns to the host, holding no lock):
 * publish its records; if it spilled, first copy the spill into the ring
 * (WAIT mode: waiting for room); until it is in its ring, also a sync point
 * and AWAY.
 */
static inline void producer_leave(struct producer *p, struct producer_cpu *pc,
				  bool in_ring);

/** producer_emit_at() stamped with producer_now(). */
static inline void producer_emit(struct producer_cpu *pc, unsigned kind,
				 unsigned kflags, const uint64_t *words,
				 unsigned n)
{
	producer_emit_at(pc, producer_now(), kind, kflags, words, n);
}

/* From `head` to `written` in struct pkvm_ring_cpu, in bytes. */
#define PRODUCER_WRITTEN_FROM_HEAD                                             \
	(__builtin_offsetof(struct pkvm_ring_cpu, written) -                   \
	 __builtin_offsetof(struct pkvm_ring_cpu, head))

/**
 * Make every record `pc` wrote visible to the consumer: `written`, then
 * `head` with a store-release, so that a consumer that load-acquires `head`
 * reads a `written` at least as new. Both on every publish: a CPU whose
 * last records went into its ring without a drop would otherwise leave a
 * stale `written`, and the consumer could not tell its records at the end
 * of the run from a loss. `seq_base` shares the hot cache line, so this is
 * one load, one add and one store more per trap.
 */
static inline void producer_publish(struct producer_cpu *pc)
{
	uint64_t head = producer_head(pc);
	/* &pub->written, found from &pub->head without another load. */
	uint64_t *written =
		pc->pub_head + PRODUCER_WRITTEN_FROM_HEAD / sizeof(uint64_t);

	__atomic_store_n(written, head + pc->seq_base, __ATOMIC_RELAXED);
	__atomic_store_n(pc->pub_head, head, __ATOMIC_RELEASE);
}

static inline void producer_leave(struct producer *p, struct producer_cpu *pc,
				  bool in_ring)
{
	if (__builtin_expect(in_ring && !pc->spilling, 1))
		producer_publish(pc);
	else
		producer_leave_slow(p, pc);
}

/**
 * Publish the final ring state (STOPPED or PANIC) for the consumer, and the
 * calling CPU's `pc` `written` and `head`, its spill copied first (waiting
 * for room unless the CPU may not wait: producer_no_wait()). Other CPUs'
 * records are published by themselves (or flushed on their behalf) before
 * this.
 */
void producer_set_state(struct producer *p, struct producer_cpu *pc,
			uint32_t state, uint64_t code, uint64_t addr);

/**
 * From now on `pc` never waits for the consumer, not even where it holds
 * no lock (a panic: the CPU may hold locks, and it stops anyway); what
 * does not fit is counted as lost.
 */
void producer_no_wait(struct producer_cpu *pc);

/** Records produced by `cpu` so far (incl. dropped and early). */
uint64_t producer_produced(const struct producer *p, unsigned cpu);

#endif /* PKVM_PRODUCER_H */
