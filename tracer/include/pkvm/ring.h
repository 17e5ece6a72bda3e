/* SPDX-License-Identifier: MIT */
/*
 * The ring protocol between the hypervisor (producer, one per CPU) and a
 * consumer (pkvm-record, or a device-side agent): tracer/README.md.
 * Freestanding.
 *
 * The host lays out, in pages it owns, one control page and one record array
 * per CPU, shares every one of those pages with the hyp (SHARE_HYP), fills in
 * the host-written fields below and calls TRACE_LOAD(control page PFN). The
 * hyp reads the host-written fields once, validates them (alignment, bounds,
 * every page shared with it, no overlaps, power-of-two sizes) and from then on
 * uses only its private copy. Until TRACE_LOAD each CPU writes into a small
 * hyp-private early buffer; the first record that CPU writes after TRACE_LOAD
 * first copies its early buffer into its ring.
 *
 * Indices count records, never wrap (64-bit), and a record lives at slot
 * (index & (nr_records - 1)). The producer writes records, then publishes
 * `head` (store-release) - at the end of every trap, before it waits for
 * anything, and when it stops; the consumer reads `head` with a
 * load-acquire, copies records [tail, head), then publishes `tail` with a
 * store-release. In WAIT mode the producer spins until there is room
 * (counting the ticks in `wait_ticks`), but only where it holds no lock:
 * meanwhile it keeps its records in a private spill, in order (see
 * producer.h), so the consumer never sees the difference; in DROP mode it
 * drops records
 * instead, still consuming their sequence numbers, and writes a LOST record
 * (count, first lost seq) before anything else once there is room again.
 * No loss is silent. `written` (records produced: the next sequence
 * number) is stored before `head` at every publish, and at once when
 * records are dropped: after a load-acquire of `head` a consumer reads a
 * `written` at least as new, so at the end of a run `written` minus the
 * records it got is exactly what was lost.
 */
#ifndef PKVM_RING_H
#define PKVM_RING_H

#include <stdint.h>

#define PKVM_RING_MAGIC 0x4c5254434b564b50ull /* "PKVKCTRL" */
#define PKVM_RING_VERSION 1u
#define PKVM_RING_MAX_CPUS 8u

enum pkvm_ring_mode {
	PKVM_RING_WAIT = 0, /* lossless: the producer waits for room */
	PKVM_RING_DROP = 1, /* the producer never waits; losses are recorded */
};

/* `state` of the control block, written by the hyp. */
enum pkvm_ring_state {
	PKVM_RING_STATE_SETUP = 0, /* host wrote the block; not accepted yet */
	PKVM_RING_STATE_RUNNING = 1, /* hyp accepted it and is producing */
	PKVM_RING_STATE_STOPPED = 2, /* SYSTEM_OFF: every record is published */
	PKVM_RING_STATE_PANIC = 3,   /* hyp panicked; `panic_code` says why */
};

/** One CPU's ring, 64 bytes, in the control page. */
struct pkvm_ring_cpu {
	uint64_t base_pa;    /* host: page-aligned PA of the record array */
	uint64_t nr_records; /* host: capacity, a power of two */
	uint64_t head;	     /* hyp: records published (store-release) */
	uint64_t tail;	     /* consumer: records consumed (store-release) */
	uint64_t dropped;    /* hyp: records dropped so far (DROP mode) */
	uint64_t wait_ticks; /* hyp: counter ticks spent waiting (WAIT mode) */
	uint64_t written;    /* hyp: records produced, dropped ones included,
				as of the last publish or drop */
	uint64_t reserved;
};

/** The control page. */
struct pkvm_ring_ctrl {
	uint64_t magic;	       /* host: PKVM_RING_MAGIC */
	uint32_t version;      /* host: PKVM_RING_VERSION */
	uint32_t cpu_count;    /* host: rings described, = CPUs running */
	uint32_t mode;	       /* host: enum pkvm_ring_mode */
	uint32_t state;	       /* hyp: enum pkvm_ring_state */
	uint64_t counter_freq; /* hyp: CNTFRQ_EL0 */
	uint64_t panic_code;   /* hyp: PKVM_PANIC_* when state is PANIC */
	uint64_t panic_addr;   /* hyp: where */
	uint64_t reserved[2];
	struct pkvm_ring_cpu cpu[PKVM_RING_MAX_CPUS];
};

_Static_assert(sizeof(struct pkvm_ring_cpu) == 64, "ring cpu is 64 bytes");
_Static_assert(sizeof(struct pkvm_ring_ctrl) == 64 + 64 * PKVM_RING_MAX_CPUS,
	       "control block layout");

#endif /* PKVM_RING_H */
