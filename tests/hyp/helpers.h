/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the hyp unit tests: boot the core on the fake arch, query
 * page states through the core's own walk, set up tracing in fake RAM and
 * read the records back.
 */
#ifndef TESTS_HYP_HELPERS_H
#define TESTS_HYP_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <arch/fake.h>
#include <hyp/hyp.h>
#include <hyp/mem_protect.h>
#include <pkvm/producer.h>
#include <pkvm/record.h>

/* Pages the tests use: plain host RAM, well away from the hyp's range. */
#define TH_RAM_PFN 0x48000ull
#define TH_MMIO_PFN 0x9000ull
#define TH_HYPMEM_PFN 0x40300ull
#define TH_CTRL_PA 0x4c000000ull
#define TH_RING_PA(i) (0x4c100000ull + (uint64_t)(i)*0x100000ull)

/** Boot with `cpus` CPUs and a pool of `pool_pages` (plenty if 0). */
void th_boot(unsigned cpus, unsigned pool_pages);

/** Host-side and hyp-side state of `pfn` (NOPAGE outside RAM). */
enum mem_state th_host_state(uint64_t pfn);
enum mem_state th_hyp_state(uint64_t pfn);

/** Walk the host stage-2 / hyp stage-1 for `addr`. */
struct pgtable_walk th_host_walk(uint64_t addr);
struct pgtable_walk th_hyp_walk(uint64_t addr);

/** Hypercall returning x1 (the result); fails the test if x0 != 0. */
int64_t th_call(unsigned id, uint64_t a1, uint64_t a2);

/**
 * Write a valid control block for the booted CPUs at TH_CTRL_PA, rings of
 * `nr` records at TH_RING_PA(i), in `mode`; share them all if `share`.
 */
void th_trace_prepare(uint32_t mode, uint64_t nr, bool share);

/** Prepare (shared, `nr` records per CPU, DROP mode) and load tracing. */
void th_trace_on(uint64_t nr);

/** The control block in fake RAM. */
struct pkvm_ring_ctrl *th_ctrl(void);

/** Records of `cpu`'s ring published so far (up to `max`); returns count. */
size_t th_ring_records(unsigned cpu, struct pkvm_record *out, size_t max);

/** Count records of `kind` (and head field a == `a` unless a is ~0). */
size_t th_count(const struct pkvm_record *r, size_t n, unsigned kind,
		uint64_t a);

#endif /* TESTS_HYP_HELPERS_H */
