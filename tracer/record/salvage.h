/* SPDX-License-Identifier: MIT */
/*
 * Salvage (tracer/README.md "Salvage"): after the machine stopped, read
 * what our hyp wrote but never published out of guest RAM, by its own
 * producer state, and add it to the trace: the early buffer of a CPU that
 * never reached its ring (a hyp that died before or during TRACE_LOAD), and
 * the records a CPU wrote into its ring after its last publish. Only for
 * our own hyp (system pkvm-check-hyp), whose image says where its producer
 * state is (`hyp_producer`) and whose VAs are PAs.
 */
#ifndef PKVM_RECORD_SALVAGE_H
#define PKVM_RECORD_SALVAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "elfsym.h"
#include "record.h"

/** Where the hyp keeps its producer state, from its image. */
struct salvage_image {
	uint64_t producer_pa;	/* &hyp_producer (hyp VA = PA) */
	uint64_t producer_size; /* its size in the image: the layout check */
	/* The end of the object (early buffer) holding `addr`, or 0. */
	uint64_t (*object_end)(const void *ctx, uint64_t addr);
	const void *ctx;
};

/**
 * Our hyp's image: `hyp_producer` (its producer state) and the sized
 * objects that hold the early buffers. `elf` must outlive `img`. Returns
 * 0, or -1 with `msg` when the image is not ours (another machine, no
 * such symbol).
 */
int salvage_image_from_elf(struct salvage_image *img, const struct elfsym *elf,
			   char *msg, size_t msg_len);

/** What salvage found for one CPU. */
struct salvage_cpu {
	bool known;	      /* the producer state was read and is sane */
	uint64_t produced;    /* records the producer made (the LOST record
				 salvage writes for it included) */
	uint64_t dropped;     /* its ring drops */
	uint64_t early;	      /* records taken from its early buffer */
	uint64_t unpublished; /* records taken from its ring past `head` */
	bool lost_record;     /* a LOST record was written for it */
	char why[160];	      /* why not known */
};

/** The whole salvage. */
struct salvage_result {
	struct salvage_cpu cpu[PKVM_RING_MAX_CPUS];
	uint64_t records;  /* records added to the trace */
	char message[256]; /* why nothing could be salvaged, or "" */
};

/**
 * Read the hyp's producer state from `mem` and add what `d` did not drain
 * to the trace, per CPU in sequence order after the drained records. `d`
 * is attached to the control block the hyp accepted, or to none
 * (record_drain_attach_none) if tracing never started. Returns 0 (see
 * `res` for what was found), or -1 when the trace writer failed.
 */
int salvage_run(const struct salvage_image *img, const struct record_mem *mem,
		struct record_drain *d, struct salvage_result *res);

/** Print what could not be salvaged, and why, to `log`. */
void salvage_report(const struct salvage_result *r, unsigned cpus, FILE *log);

/**
 * Each CPU's producer counters for the end summary: salvage's, where it
 * read them (`sv` may be NULL), else the control block's `written` and
 * `dropped` when `attached`, else TRACE_COUNT_UNKNOWN.
 */
void salvage_counters(const struct record_drain *d, bool attached,
		      const struct salvage_result *sv, uint64_t *produced,
		      uint64_t *dropped);

#endif /* PKVM_RECORD_SALVAGE_H */
