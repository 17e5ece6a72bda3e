/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the whole checking pipeline: structured input
 * (fuzz_pipeline.h: a few flags, then records) is written into a trace
 * file in memory by the format library's writer, and that file goes
 * through what `pkvm-check TRACE` runs: the reader, linearisation, the
 * machine model, the spec and every rule.
 *
 * Whatever the input: no crash, no hang, no undefined behaviour (ASan and
 * UBSan), no internal error (CK_CHECK exits 70, which libFuzzer reports as
 * a crash), and a verdict that is one of the documented exit codes. And the
 * verdict is honest: a file that does not hold a whole run (no summary, cut
 * short, an outcome other than clean, producer counters unknown or showing
 * a tail loss) never conforms.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pkvm/trace.h>

#include "checker.h"
#include "cli.h"
#include "fuzz_pipeline.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_fd = -1;
static char fuzz_path[64];

static void fuzz_sink(void *ctx, const struct ck_finding *f)
{
	(*(uint64_t *)ctx)++;
	/* Every finding names a check and says something. */
	if (!f->check || !f->check[0] || !f->text[0] || !f->event)
		abort();
}

static uint32_t fuzz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Per-CPU state while the records are written. */
struct fuzz_cpu {
	bool any;
	uint32_t in_seq, out_seq; /* the input's previous seq, and ours */
	uint64_t in_ts, out_ts;
	uint64_t next_seq; /* 64-bit: the producer counter to claim */
};

/* One input record, renumbered if asked, written to its CPU. */
static int fuzz_add(struct trace_writer *w, struct fuzz_cpu *c, unsigned cpus,
		    const uint8_t *raw, bool renumber)
{
	struct trace_error err;
	struct pkvm_record r;
	unsigned cpu;

	memcpy(&r, raw, sizeof(r));
	cpu = r.cpu % cpus;
	c += cpu;
	if (renumber) {
		uint32_t dseq = r.seq - c->in_seq;
		uint64_t dts = r.ts - c->in_ts;

		c->in_seq = r.seq;
		c->in_ts = r.ts;
		if (dseq == 0 || dseq > 65536)
			dseq = 1;
		if (dts > (1u << 20))
			dts = 1;
		c->out_seq = c->any ? c->out_seq + dseq : r.seq % 65536;
		c->out_ts = c->any ? c->out_ts + dts : r.ts % (1u << 30);
		r.seq = c->out_seq;
		r.ts = c->out_ts;
		r.cpu = (uint16_t)cpu;
	}
	/* The writer keeps the 64-bit count; 32-bit wraps are rare here. */
	c->next_seq = (c->next_seq & ~0xffffffffull) + r.seq + 1ull;
	c->any = true;
	return trace_writer_add(w, cpu, &r, 1, &err);
}

/* Write the input's trace into the memory file; false to skip it. */
static bool fuzz_write(const uint8_t *data, size_t size, bool *whole)
{
	static struct trace_info info;
	struct fuzz_cpu cpu[FUZZ_MAX_CPUS];
	unsigned cpus = data[0] % FUZZ_MAX_CPUS + 1, flags = data[1];
	unsigned outcome = data[2] % (TRACE_OUTCOME_RUNNING + 1);
	struct trace_error err;
	struct trace_writer *w;
	struct stat st;
	off_t body = 0, end;

	memset(cpu, 0, sizeof(cpu));
	memset(&info, 0, sizeof(info));
	info.cpu_count = cpus;
	info.counter_freq = 62500000;
	info.abi_version = 1;
	if (ftruncate(fuzz_fd, 0) < 0)
		abort();
	w = trace_writer_open(fuzz_path, &info, &err);
	if (!w)
		abort();
	for (size_t off = FUZZ_PREFIX; off + sizeof(struct pkvm_record) <= size;
	     off += sizeof(struct pkvm_record))
		if (fuzz_add(w, cpu, cpus, data + off, flags & FUZZ_F_RENUMBER))
			break;
	trace_writer_set_outcome(w, (enum trace_outcome)outcome, "fuzz");
	for (unsigned i = 0; i < cpus && (flags & FUZZ_F_COUNTERS); i++)
		trace_writer_set_producer(
			w, i, cpu[i].next_seq + !!(flags & FUZZ_F_TAIL_LOSS), 0,
			&err);
	if (trace_writer_flush(w, &err) == 0 && fstat(fuzz_fd, &st) == 0)
		body = st.st_size;
	if (trace_writer_close(w, &err) < 0 || fstat(fuzz_fd, &st) < 0)
		return false;
	end = st.st_size;
	if (!(flags & FUZZ_F_SUMMARY))
		end = body; /* a recorder killed before its summary */
	if ((flags & FUZZ_F_CUT) && end > 0)
		end -= (off_t)(fuzz_le32(data + 4) % (uint32_t)end);
	if (end != st.st_size && ftruncate(fuzz_fd, end) < 0)
		abort();
	*whole = end == st.st_size && outcome == TRACE_OUTCOME_CLEAN &&
		 (flags & FUZZ_F_COUNTERS) && !(flags & FUZZ_F_TAIL_LOSS);
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* One thread: the decompression thread adds nothing to find here
	 * (the reader fuzzer covers it) and costs a thread per input. */
	setenv("PKVM_TRACE_THREAD", "0", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ck_options opt = { .max_findings = 8, .context = 3 };
	struct ck_summary sum;
	struct filesrc fs;
	uint64_t findings = 0;
	struct ck_sink sink = { .ctx = &findings, .finding = fuzz_sink };
	bool whole = false;
	char msg[600];
	int rc;

	if (size < FUZZ_PREFIX)
		return 0;
	if (fuzz_fd < 0) {
		fuzz_fd = memfd_create("pkvm-fuzz-trace", 0);
		if (fuzz_fd < 0)
			abort();
		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
			 fuzz_fd);
	}
	if (!fuzz_write(data, size, &whole))
		return 0;
	memset(&fs, 0, sizeof(fs));
	if (filesrc_open(&fs, fuzz_path, msg, sizeof(msg)))
		return 0; /* unreadable at open: exit 3, nothing more to run */
	rc = ck_run(&fs.src, &opt, &sink, &sum);
	filesrc_close(&fs);
	if (rc != CK_EXIT_OK && rc != CK_EXIT_FINDINGS &&
	    rc != CK_EXIT_CORRUPT && rc != CK_EXIT_INCONCLUSIVE)
		abort();
	if (rc == CK_EXIT_FINDINGS && findings == 0)
		abort(); /* exit 1 without a finding to show */
#ifdef FUZZ_CHECK_VERDICT
	if (rc == CK_EXIT_OK && !whole)
		abort(); /* a partial run taken for a whole one */
#else
	(void)whole;
#endif
	return 0;
}
