/* SPDX-License-Identifier: MIT */
/*
 * A host-side stand-in for the hyp's producer, for the recorder's tests: it
 * lays out guest-RAM-like memory (control page + per-CPU rings) and writes
 * events into the rings following tracer/include/pkvm/ring.h exactly
 * (store-release of head, WAIT or DROP mode, LOST records).
 */
#ifndef PKVM_TEST_FAKE_PRODUCER_H
#define PKVM_TEST_FAKE_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>

#include <pkvm/record.h>
#include <pkvm/ring.h>

/* Where the fake lays things out, relative to the start of its memory. */
#define FAKE_CTRL_OFFSET 0x3000u
#define FAKE_RING_OFFSET 0x10000u
#define FAKE_PA_BASE 0x40000000ull

/** One fake hyp: per-CPU producer state over shared memory. */
struct fake_producer {
	uint8_t *mem;
	struct pkvm_ring_ctrl *ctrl;
	struct pkvm_record *ring[PKVM_RING_MAX_CPUS];
	uint32_t seq[PKVM_RING_MAX_CPUS];
	uint64_t pending_lost[PKVM_RING_MAX_CPUS]; /* dropped, no LOST yet */
	uint32_t first_lost[PKVM_RING_MAX_CPUS];
};

/** Bytes of memory fake_producer_init needs for these rings. */
uint64_t fake_producer_mem_size(unsigned cpus, uint64_t nr_records);

/**
 * Lay out a control block for `cpus` rings of `nr_records` each in `mem`
 * (zeroed, fake_producer_mem_size bytes), as the workload would, and mark
 * it accepted (state RUNNING) as the hyp would.
 */
void fake_producer_init(struct fake_producer *p, uint8_t *mem, unsigned cpus,
			uint64_t nr_records, unsigned mode);

/**
 * Emit one event of `kind` on `cpu`: the head record and the kind's
 * continuation records, payload derived from the sequence number so a
 * reader can check it (fake_payload_ok). Returns false if DROP mode
 * dropped it.
 */
bool fake_producer_emit(struct fake_producer *p, unsigned cpu, unsigned kind);

/** The `a` payload word fake_producer_emit gives record `seq` of `cpu`. */
uint64_t fake_payload(unsigned cpu, uint32_t seq);

#endif /* PKVM_TEST_FAKE_PRODUCER_H */
