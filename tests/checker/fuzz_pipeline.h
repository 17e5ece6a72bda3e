/* SPDX-License-Identifier: MIT */
/*
 * The input format of the whole-pipeline fuzzer (fuzz_pipeline.c), shared
 * with the tool that turns real recordings into seeds (fuzz_seed.c).
 *
 * An input is an 8-byte prefix and then records, 32 bytes each, as struct
 * pkvm_record lays them out; a partial record at the end is ignored:
 *
 *   byte 0   CPU count - 1 (modulo FUZZ_MAX_CPUS)
 *   byte 1   FUZZ_F_* flags
 *   byte 2   the outcome written into the end summary (modulo the known
 *            outcomes)
 *   byte 3   reserved
 *   bytes 4-7 with FUZZ_F_CUT: how many bytes to cut off the end of the
 *            file (little-endian, modulo its length)
 *
 * Each record goes to CPU (its `cpu` field modulo the CPU count), in input
 * order. With FUZZ_F_RENUMBER its sequence number and timestamp are
 * rewritten to move forward from that CPU's previous record by the step the
 * input gives (clamped to 1..65536 for seq, 0..2^20 for ts), so that
 * mutations keep most streams readable while real gaps in the seeds stay.
 */
#ifndef PKVM_TESTS_FUZZ_PIPELINE_H
#define PKVM_TESTS_FUZZ_PIPELINE_H

#define FUZZ_PREFIX 8u
#define FUZZ_MAX_CPUS 4u

#define FUZZ_F_RENUMBER 0x01u  /* rewrite seq/ts as forward steps */
#define FUZZ_F_SUMMARY 0x02u   /* close the writer (summary, seek table) */
#define FUZZ_F_COUNTERS 0x04u  /* producer counters: last seq + 1 + extra */
#define FUZZ_F_CUT 0x08u       /* cut bytes 4-7 off the end of the file */
#define FUZZ_F_TAIL_LOSS 0x10u /* counters claim one record more */

#endif /* PKVM_TESTS_FUZZ_PIPELINE_H */
