/* SPDX-License-Identifier: MIT */
/*
 * The producer half of the ring protocol (tracer/include/pkvm/ring.h):
 * one producer per CPU, compiled into the hypervisor (bare metal) and into
 * its fake-arch native library. Freestanding: no libc, C11 atomics only.
 *
 * Each CPU starts writing into a private early buffer. Once the hyp accepts
 * a control block (producer_load), each CPU, at its next sync point, copies
 * its early buffer into its ring (MARK early_copied, preceded by a LOST
 * record if the early buffer overflowed) and from then on writes into the
 * ring.
 *
 * Writing a record (producer_emit) is kept to a bounds check and the stores,
 * with no call, so that it costs a dozen instructions wherever it is inlined.
 * `limit` is the index up to which the CPU may write (tail + nr_records as
 * last seen). An emit past it drops its records, counts them in `overflow`
 * and closes the buffer (limit 0) until the next sync point, so that no
 * record is written after one that was lost; nothing else happens on that
 * path.
 *
 * Everything else - moving to the ring, waiting for room (WAIT), turning
 * drops into a LOST record - happens at sync points: producer_sync() at the
 * end of every trap (so the next one starts with room) and
 * producer_reserve() before each page-table store, both asking for room for
 * PRODUCER_SYNC_RECORDS records.
 * Between two sync points the hyp writes fewer records than that, so in WAIT
 * mode nothing is ever dropped; should a path write more, the excess is
 * counted and reported in a LOST record, never lost silently.
 *
 * Records become visible to the consumer when they are published
 * (producer_publish: `written`, then `head` with a store-release): the hyp
 * publishes before returning from every trap, before waiting on a lock or
 * for room, and when it stops or panics.
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
 * Room a sync point makes: more than the records the hyp writes between two
 * sync points (format/HYPERCALLS.md's largest trap without a page-table
 * store writes about 40). Rings hold at least 128 records.
 */
#define PRODUCER_SYNC_RECORDS 64u

/**
 * One CPU's producer state, written only by its own CPU (or, through
 * producer_flush_early(), on its behalf while it is held outside the hyp).
 *
 * Records produced so far (the sequence-number source, 64-bit) is
 * head + seq_base: emits move only `head`; the slow path adjusts `seq_base`
 * when sequence numbers are consumed without a slot (drops) or when `head`
 * starts again in a new buffer.
 */
struct producer_cpu {
	/* Hot: read on every record, in the order producer_emit reads them. */
	uint64_t head;		   /* next index to write */
	uint64_t limit;		   /* head may reach this without a check */
	struct pkvm_record *slots; /* early buffer or ring records */
	uint64_t mask;		   /* capacity - 1 (capacity a power of two) */
	uint64_t hdr_base;	   /* seq_base << 32 | cpu << 16: the record's
				      second word for head 0, kind/flags 0 */
	uint64_t overflow;	   /* records emitted past `limit` (dropped)
				      since the last sync point */

	/* Cold. */
	uint64_t seq_base;	   /* produced - head */
	struct pkvm_ring_cpu *pub; /* where head/written are published */
	uint16_t cpu;
	bool in_ring;		    /* writing into the shared ring */
	uint32_t mode;		    /* enum pkvm_ring_mode, once in_ring */
	uint64_t lost_pending;	    /* dropped records not yet reported */
	uint64_t lost_first;	    /* produced-index of the first of them */
	uint64_t dropped;	    /* all records dropped in the ring */
	uint64_t wait_ticks;	    /* counter ticks spent waiting for room */
	struct pkvm_record *early;  /* the early buffer; its capacity is the
				       initial limit (it is never drained) */
	struct pkvm_ring_cpu local; /* publication target before loading */
} __attribute__((aligned(256)));    /* finding a CPU's is a shift */

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
 * buffer at its own next sync point (or producer_flush_early()).
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

/** Slow path of producer_sync(). */
void producer_slow(struct producer *p, struct producer_cpu *pc, unsigned n);

/** Records `pc` produced so far (dropped and early ones included). */
static inline uint64_t producer_cpu_produced(const struct producer_cpu *pc)
{
	return pc->head + pc->seq_base;
}

/*
 * The second word of a record: kind, flags, CPU and the low 32 bits of the
 * sequence number (struct pkvm_record, little-endian), as one value.
 */
#define PRODUCER_HDR(kind, flags) ((uint64_t)(kind) | (uint64_t)(flags) << 8)

/**
 * Emit one event of `n` records (head + continuations) stamped `ts`:
 * `words` holds 2 * n payload words. `kflags` are the head's kind-specific
 * flag bits (already shifted into bits 3-6). Past `limit` the event is
 * dropped and counted in `overflow` (see above).
 *
 * The records are written but not published (producer_publish()).
 */
static inline void producer_emit_at(struct producer_cpu *pc, uint64_t ts,
				    unsigned kind, unsigned kflags,
				    const uint64_t *words, unsigned n)
{
	uint64_t head = pc->head;

	if (__builtin_expect(head + n > pc->limit, 0)) {
		/* Dropped; so is everything after it until the next sync
		 * point, so that records never overtake a lost one. */
		pc->overflow += n;
		pc->limit = 0;
		return;
	}
	struct pkvm_record *slots = pc->slots;
	uint64_t mask = pc->mask;
	uint64_t hdr = pc->hdr_base + (head << 32);

	for (unsigned i = 0; i < n; i++) {
		struct pkvm_record *r = &slots[(head + i) & mask];
		uint64_t w1 = hdr + ((uint64_t)i << 32) +
			      PRODUCER_HDR(kind, i ? (PKVM_REC_F_CONT | i)
						   : (kflags | (n - 1)));

		r->ts = ts;
		/* kind, flags, cpu, seq: one 8-byte store */
		__builtin_memcpy(&r->kind, &w1, sizeof(w1));
		r->a = words[2 * i];
		r->b = words[2 * i + 1];
	}
	pc->head = head + n;
}

/**
 * Make room for `n` records (at most PRODUCER_SYNC_RECORDS; waiting in WAIT
 * mode), reporting earlier drops in a LOST record first. Inline when there
 * is room: an overflow sets `limit` to 0, so one compare covers both.
 */
static inline void producer_reserve(struct producer *p, struct producer_cpu *pc,
				    unsigned n)
{
	if (__builtin_expect(pc->head + n > pc->limit, 0))
		producer_slow(p, pc, n);
}

/**
 * A sync point: producer_reserve(), and also move to the ring once the
 * control block is loaded.
 */
static inline void producer_sync(struct producer *p, struct producer_cpu *pc,
				 unsigned n)
{
	if (__builtin_expect(
		    pc->head + n > pc->limit ||
			    (!pc->in_ring &&
			     __atomic_load_n(&p->loaded, __ATOMIC_RELAXED)),
		    0))
		producer_slow(p, pc, n);
}

/** producer_emit_at() stamped with producer_now(). */
static inline void producer_emit(struct producer_cpu *pc, unsigned kind,
				 unsigned kflags, const uint64_t *words,
				 unsigned n)
{
	producer_emit_at(pc, producer_now(), kind, kflags, words, n);
}

/**
 * Make every record `pc` wrote visible to the consumer: `written`, then
 * `head` with a store-release.
 */
static inline void producer_publish(struct producer_cpu *pc)
{
	struct pkvm_ring_cpu *pub = pc->pub;

	pub->written = producer_cpu_produced(pc);
	__atomic_store_n(&pub->head, pc->head, __ATOMIC_RELEASE);
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
