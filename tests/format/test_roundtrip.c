/* SPDX-License-Identifier: MIT */
/*
 * Round trips through the writer and reader: every kind, several CPUs,
 * the end summary, sequence wrap, versioning and stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>
#include <pkvm/trace.h>

#include "helpers.h"
#include "internal.h"

/* One event of every kind in events.def on `cpu`, starting at seq/ts. */
static size_t every_kind(struct pkvm_record *out, unsigned cpu, uint32_t seq,
			 uint64_t ts)
{
	size_t n = 0;

	for (unsigned k = 1; k <= PKVM_EV_MAX_KNOWN; k++) {
		for (unsigned c = 0; c <= pkvm_event_ncont(k); c++) {
			out[n] = rec_make(cpu, seq++, ts++, k, c,
					  0x1000ull * k + 2 * c,
					  0x1000ull * k + 2 * c + 1);
			n++;
		}
	}
	return n;
}

Test(format, every_kind_round_trips)
{
	/* Property: each kind, continuations and kind flags included, comes
	 * back from a file exactly as written. */
	struct pkvm_record in[128], out[128];
	struct trace_error err;
	size_t n = every_kind(in, 0, 100, 5000), got;
	char path[128];

	for (size_t i = 0; i < n; i++) {
		if (in[i].flags & PKVM_REC_F_CONT)
			continue;
		if (in[i].kind == PKVM_EV_PTE_WRITE)
			in[i].flags |= PKVM_REC_F_PTE_RELEASE;
		if (in[i].kind == PKVM_EV_TRAP_ENTRY ||
		    in[i].kind == PKVM_EV_HCALL_ENTRY ||
		    in[i].kind == PKVM_EV_HCALL_EXIT ||
		    in[i].kind == PKVM_EV_HCALL_ENTRY_LOCK2 ||
		    in[i].kind == PKVM_EV_HCALL_EXIT_UNLOCK2)
			in[i].flags |= 5u << PKVM_REC_F_KIND_SHIFT;
		if (in[i].kind == PKVM_EV_TLBI)
			in[i].flags |= PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
				       PKVM_REC_F_TLBI_DSB_ISH_AFTER |
				       PKVM_REC_F_TLBI_ISB_AFTER;
	}
	tmp_path(path, sizeof(path), "kinds");
	write_records(path, 1, in, n);
	cr_assert_eq(read_all(path, out, 128, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, n);
	cr_assert_eq(memcmp(in, out, n * sizeof(in[0])), 0);
	unlink(path);
}

/* Interleaved events on `cpus` CPUs, `per_cpu` records each. */
static struct pkvm_record *interleaved(unsigned cpus, size_t per_cpu, size_t *n)
{
	struct pkvm_record *v = malloc(cpus * (per_cpu + 8) * sizeof(*v));
	size_t k = 0;
	uint32_t seq[8] = { 0 };
	uint64_t ts = 1;

	for (size_t round = 0; round * 8 < per_cpu; round++)
		for (unsigned c = 0; c < cpus; c++) {
			v[k++] = rec_make(c, seq[c]++, ts++, PKVM_EV_TRAP_ENTRY,
					  0, round, c);
			for (unsigned i = 1; i <= 3; i++)
				v[k++] = rec_make(c, seq[c]++, ts++,
						  PKVM_EV_TRAP_ENTRY, i, i,
						  round);
			v[k++] = rec_make(c, seq[c]++, ts++,
					  PKVM_EV_LOCK_ACQUIRE, 0, 1, round);
			v[k++] = rec_make(c, seq[c]++, ts++, PKVM_EV_PTE_WRITE,
					  0, 0x40400000 + round * 8, round);
			v[k++] = rec_make(c, seq[c]++, ts++,
					  PKVM_EV_LOCK_RELEASE, 0, 1, round);
			v[k++] = rec_make(c, seq[c]++, ts++, PKVM_EV_LOST, 0, 3,
					  round);
		}
	*n = k;
	return v;
}

Test(format, per_cpu_cursor_returns_each_cpu_in_order)
{
	/* Property: over several frames, trace_reader_next(cpu) yields that
	 * CPU's records exactly in the order written, CPUs read round-robin. */
	size_t n, idx[4] = { 0 };
	struct pkvm_record *in = interleaved(4, 20000, &n), rec;
	struct trace_error err;
	struct trace_reader *r;
	unsigned live = 4;
	bool done[4] = { false };
	char path[128];

	tmp_path(path, sizeof(path), "multi");
	write_records(path, 4, in, n);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	cr_assert_eq(trace_reader_info(r)->cpu_count, 4);
	while (live) {
		for (unsigned c = 0; c < 4; c++) {
			int rc;

			if (done[c])
				continue;
			rc = trace_reader_next(r, c, &rec, &err);
			cr_assert_geq(rc, 0, "%s", err.message);
			if (rc == 0) {
				done[c] = true;
				live--;
				continue;
			}
			while (in[idx[c]].cpu != c)
				idx[c]++;
			cr_assert_eq(memcmp(&rec, &in[idx[c]], sizeof(rec)), 0,
				     "cpu %u record %zu differs", c, idx[c]);
			idx[c]++;
		}
	}
	cr_assert_gt(trace_reader_frames_decoded(r), 4);
	for (unsigned c = 0; c < 4; c++) {
		const struct trace_cpu_summary *s = trace_reader_summary(r, c);

		cr_assert_not_null(s);
		cr_assert_eq(s->records, 20000);
		cr_assert_eq(s->lost, 3 * 2500);
		cr_assert_eq(s->last_seq, 19999);
		cr_assert_eq(trace_reader_last_seq(r, c), 19999);
	}
	cr_assert_not(trace_reader_truncated(r, NULL));
	trace_reader_close(r);
	free(in);
	unlink(path);
}

Test(format, runs_are_the_records_of_the_per_cpu_cursor)
{
	/* Property: trace_reader_next_run hands out, without copying, the
	 * same records in the same order as trace_reader_next, each run
	 * within one page of one frame (trace_reader_offset gives the
	 * frame), CPUs read round-robin one run at a time. */
	size_t n, idx[4] = { 0 }, runs = 0;
	struct pkvm_record *in = interleaved(4, 20000, &n);
	struct trace_error err;
	struct trace_reader *r;
	unsigned live = 4;
	bool done[4] = { false };
	char path[128];

	tmp_path(path, sizeof(path), "runs");
	write_records(path, 4, in, n);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	while (live) {
		for (unsigned c = 0; c < 4; c++) {
			const struct pkvm_record *run;
			int rc;

			if (done[c])
				continue;
			rc = trace_reader_next_run(r, c, &run, &err);
			cr_assert_geq(rc, 0, "%s", err.message);
			if (rc == 0) {
				done[c] = true;
				live--;
				continue;
			}
			cr_assert_leq((unsigned)rc, TRACE_PAGE_RECORDS);
			runs++;
			for (int i = 0; i < rc; i++) {
				while (in[idx[c]].cpu != c)
					idx[c]++;
				cr_assert_eq(memcmp(&run[i], &in[idx[c]],
						    sizeof(run[i])),
					     0, "cpu %u record %zu differs", c,
					     idx[c]);
				idx[c]++;
			}
		}
	}
	cr_assert_lt(runs, n / 8, "runs of more than one record");
	for (unsigned c = 0; c < 4; c++)
		cr_assert_eq(trace_reader_summary(r, c)->records, 20000);
	trace_reader_close(r);
	free(in);
	unlink(path);
}
Test(format, file_order_cursor_returns_every_record)
{
	/* Property: trace_reader_next_any returns every record once, each
	 * CPU's records in the order written. */
	size_t n, got;
	struct pkvm_record *in = interleaved(3, 3000, &n);
	struct pkvm_record *out = malloc(n * sizeof(*out));
	struct trace_error err;
	size_t pos[3] = { 0 };
	char path[128];

	tmp_path(path, sizeof(path), "any");
	write_records(path, 3, in, n);
	cr_assert_eq(read_all(path, out, n, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, n);
	for (size_t i = 0; i < n; i++) {
		unsigned c = out[i].cpu;

		while (in[pos[c]].cpu != c)
			pos[c]++;
		cr_assert_eq(memcmp(&out[i], &in[pos[c]], sizeof(out[i])), 0);
		pos[c]++;
	}
	free(in);
	free(out);
	unlink(path);
}

Test(format, sequence_numbers_wrap_into_64_bits)
{
	/* Property: a 32-bit seq that wraps keeps counting in the extended
	 * sequence the reader and the summary report. */
	struct pkvm_record in[600];
	struct trace_error err;
	struct trace_reader *r;
	struct pkvm_record rec;
	char path[128];

	for (unsigned i = 0; i < 600; i++)
		in[i] = rec_make(0, 0xFFFFFF00u + i, 10 + i, PKVM_EV_BARRIER, 0,
				 1, 0);
	tmp_path(path, sizeof(path), "wrap");
	write_records(path, 1, in, 600);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	while (trace_reader_next(r, 0, &rec, &err) == 1)
		;
	cr_assert_eq(trace_reader_last_seq(r, 0), 0xFFFFFF00ull + 599);
	cr_assert_eq(trace_reader_summary(r, 0)->last_seq, 0xFFFFFF00ull + 599);
	trace_reader_close(r);
	unlink(path);
}

Test(format, header_info_round_trips)
{
	/* Property: the file header keeps CPU count, frequency, ABI version,
	 * identity, the system (our hyp's by default) and the format
	 * version. */
	struct pkvm_record one = rec_make(1, 0, 1, PKVM_EV_MARK, 0, 1, 2);
	struct trace_error err;
	struct trace_reader *r;
	char path[128];

	tmp_path(path, sizeof(path), "info");
	write_records(path, 2, &one, 1);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_eq(trace_reader_info(r)->cpu_count, 2);
	cr_assert_eq(trace_reader_info(r)->counter_freq, 62500000);
	cr_assert_eq(trace_reader_info(r)->abi_version, 1);
	cr_assert_eq(trace_reader_info(r)->version_major, 5);
	cr_assert_eq(trace_reader_info(r)->version_minor, 0);
	cr_assert_str_eq(trace_reader_info(r)->identity, "test=format\n");
	cr_assert_str_eq(trace_reader_info(r)->system, TRACE_SYSTEM_HYP);
	trace_reader_close(r);
	unlink(path);
}

Test(format, system_name_round_trips)
{
	/* Property: a system name of up to 16 bytes comes back exactly. */
	static const char *const names[] = { "linux-6.12", "0123456789abcdef" };
	struct trace_info info = info_make(1);
	struct trace_error err;
	struct trace_writer *w;
	struct trace_reader *r;
	char path[128];

	for (unsigned i = 0; i < 2; i++) {
		tmp_path(path, sizeof(path), "system");
		snprintf(info.system, sizeof(info.system), "%s", names[i]);
		w = trace_writer_open(path, &info, &err);
		cr_assert_not_null(w);
		cr_assert_eq(trace_writer_close(w, &err), 0);
		r = trace_reader_open(path, &err);
		cr_assert_not_null(r, "%s", err.message);
		cr_assert_str_eq(trace_reader_info(r)->system, names[i]);
		trace_reader_close(r);
		unlink(path);
	}
}

Test(format, run_outcome_and_producer_counters_round_trip)
{
	/* Property: the outcome, the reason and each CPU's producer counters
	 * given to the writer come back from the end summary, with the pages
	 * counted; a writer never told says "unknown" and unknown counters. */
	struct pkvm_record one = rec_make(1, 0, 1, PKVM_EV_MARK, 0, 1, 2);
	struct trace_info info = info_make(2);
	const struct trace_cpu_summary *s;
	const struct trace_run *run;
	struct trace_error err;
	struct trace_writer *w;
	struct trace_reader *r;
	struct pkvm_record rec;
	char path[128];

	tmp_path(path, sizeof(path), "outcome");
	w = trace_writer_open(path, &info, &err);
	cr_assert_not_null(w);
	cr_assert_eq(trace_writer_add(w, 1, &one, 1, &err), 0);
	trace_writer_set_outcome(w, TRACE_OUTCOME_TIMEOUT,
				 "timeout after 2 s, QEMU stopped");
	cr_assert_eq(trace_writer_set_producer(w, 1, 5, 4, &err), 0);
	cr_assert_eq(trace_writer_set_producer(w, 2, 5, 4, &err), -1);
	cr_assert_eq(err.code, TRACE_E_USAGE);
	cr_assert_eq(trace_writer_close(w, &err), 0);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	run = trace_reader_run(r);
	cr_assert_not_null(run);
	cr_assert_eq(run->outcome, TRACE_OUTCOME_TIMEOUT);
	cr_assert_str_eq(run->why, "timeout after 2 s, QEMU stopped");
	cr_assert_str_eq(trace_outcome_name(run->outcome), "timeout");
	s = trace_reader_summary(r, 1);
	cr_assert_eq(s->produced, 5);
	cr_assert_eq(s->dropped, 4);
	cr_assert_eq(s->pages, 1);
	s = trace_reader_summary(r, 0);
	cr_assert_eq(s->produced, TRACE_COUNT_UNKNOWN);
	cr_assert_eq(s->pages, 0);
	while (trace_reader_next_any(r, &rec, &err) == 1)
		;
	trace_reader_close(r);
	write_records(path, 1, &one, 0);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	cr_assert_eq(trace_reader_run(r)->outcome, TRACE_OUTCOME_UNKNOWN);
	cr_assert_eq(trace_reader_summary(r, 0)->dropped, TRACE_COUNT_UNKNOWN);
	trace_reader_close(r);
	unlink(path);
}

Test(format, older_layouts_read_with_unknown_outcome)
{
	/* Property: a 3.0 file (48-byte header, 16-byte summary head, 32
	 * bytes per CPU) reads back, as our hyp's system, with an unknown
	 * outcome and unknown producer counters. */
	struct pkvm_record one = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 1, 2);
	struct pkvm_record out[2];
	struct trace_error err;
	struct trace_reader *r;
	size_t got;
	char path[128];

	tmp_path(path, sizeof(path), "v3layout");
	write_records(path, 1, &one, 1);
	file_set_version(path, 3, 0);
	cr_assert_eq(read_all(path, out, 2, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, 1);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	cr_assert_str_eq(trace_reader_info(r)->system, TRACE_SYSTEM_HYP);
	cr_assert_eq(trace_reader_run(r)->outcome, TRACE_OUTCOME_UNKNOWN);
	cr_assert_eq(trace_reader_summary(r, 0)->records, 1);
	cr_assert_eq(trace_reader_summary(r, 0)->produced, TRACE_COUNT_UNKNOWN);
	trace_reader_close(r);
	unlink(path);
}

/* Write a file with an unknown kind (200, two continuations) in it. */
static void write_with_unknown(const char *path, uint16_t major, uint16_t minor)
{
	struct pkvm_record in[5];

	in[0] = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 1, 0);
	in[1] = rec_make(0, 1, 2, 200, 0, 7, 7);
	in[1].flags = 2;
	in[2] = rec_make(0, 2, 3, 200, 1, 8, 8);
	in[3] = rec_make(0, 3, 4, 200, 2, 9, 9);
	in[4] = rec_make(0, 4, 5, PKVM_EV_MARK, 0, 2, 0);
	write_records(path, 1, in, 5);
	file_set_version(path, major, minor);
}

Test(format, newer_minor_version_kinds_are_skipped)
{
	/* Property: in a file of a newer minor version (of any major this
	 * reader reads), a kind it does not know is skipped with its
	 * continuations. */
	static const uint16_t versions[][2] = {
		{ 1, 1 }, { 2, 1 }, { 3, 1 }, { 4, 2 }, { 5, 1 }
	};
	struct pkvm_record out[8];
	struct trace_error err;
	size_t got;
	char path[128];

	for (unsigned v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		tmp_path(path, sizeof(path), "minor");
		write_with_unknown(path, versions[v][0], versions[v][1]);
		cr_assert_eq(read_all(path, out, 8, &got, &err, NULL), 0, "%s",
			     err.message);
		cr_assert_eq(got, 2);
		cr_assert_eq(out[0].a, 1);
		cr_assert_eq(out[1].a, 2);
		unlink(path);
	}
}

Test(format, unknown_kind_of_known_version_is_an_error)
{
	/* Property: a kind this reader does not know, in a file of a version
	 * it knows entirely (1.0, 2.0, 3.0, 4.0, 5.0), is BAD_RECORD. */
	struct pkvm_record out[8];
	struct trace_error err;
	size_t got;
	char path[128];

	for (uint16_t major = 1; major <= 5; major++) {
		tmp_path(path, sizeof(path), "minor0");
		write_with_unknown(path, major, 0);
		cr_assert_eq(read_all(path, out, 8, &got, &err, NULL), -1);
		cr_assert_eq(err.code, TRACE_E_BAD_RECORD, "%s",
			     trace_error_name(err.code));
		cr_assert_eq(got, 1);
		unlink(path);
	}
}

Test(format, newer_major_version_is_refused)
{
	/* Property: a major version this reader does not know (6, and 0)
	 * is refused at open with BAD_VERSION and a message naming it and
	 * the versions this reader reads. */
	struct trace_error err;
	char path[128];

	tmp_path(path, sizeof(path), "major");
	write_with_unknown(path, 6, 0);
	cr_assert_null(trace_reader_open(path, &err));
	cr_assert_eq(err.code, TRACE_E_BAD_VERSION);
	cr_assert_eq(err.offset, 16);
	cr_assert_not_null(strstr(err.message, "version 6.0"), "%s",
			   err.message);
	cr_assert_not_null(strstr(err.message, "1.x to 4.x and 5.x"), "%s",
			   err.message);
	file_set_version(path, 0, 9);
	cr_assert_null(trace_reader_open(path, &err));
	cr_assert_eq(err.code, TRACE_E_BAD_VERSION);
	unlink(path);
}

/* Every kind of format 1.0, as a 1.0 writer wrote them. */
static size_t every_v1_kind(struct pkvm_record *out)
{
	size_t n = 0;

	for (unsigned k = 1; k <= PKVM_EV_MARK; k++)
		for (unsigned c = 0; c <= pkvm_event_ncont(k); c++, n++)
			out[n] = rec_make(0, (uint32_t)n, 10 + n, k, c, k, c);
	return n;
}

Test(format, version_1_0_files_are_read)
{
	/* Property: a 1.0 file (a saved recording) reads back exactly, every
	 * kind and flag 1.0 defined included. */
	struct pkvm_record in[128], out[128];
	struct trace_error err;
	size_t n = every_v1_kind(in), got;
	char path[128];

	for (size_t i = 0; i < n; i++)
		if (in[i].kind == PKVM_EV_TRAP_EXIT &&
		    !(in[i].flags & PKVM_REC_F_CONT))
			in[i].flags |= 2u << PKVM_REC_F_KIND_SHIFT;
	tmp_path(path, sizeof(path), "v1");
	write_records(path, 1, in, n);
	file_set_version(path, 1, 0);
	cr_assert_eq(read_all(path, out, 128, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, n);
	cr_assert_eq(memcmp(in, out, n * sizeof(in[0])), 0);
	unlink(path);
}

/* A 1.0 file of one MARK then `bad`; the error reading it. */
static struct trace_error v1_with(struct pkvm_record bad, size_t *got)
{
	struct pkvm_record in[2], out[4];
	struct trace_error err;
	char path[128];

	in[0] = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 1, 0);
	in[1] = bad;
	tmp_path(path, sizeof(path), "v1bad");
	write_records(path, 1, in, 2);
	file_set_version(path, 1, 0);
	cr_assert_eq(read_all(path, out, 4, got, &err, NULL), -1);
	unlink(path);
	return err;
}

Test(format, version_2_additions_are_errors_in_a_1_0_file)
{
	/* Property: in a 1.0 file the kinds 2.0 added are BAD_RECORD and
	 * the TLBI barrier flags RESERVED_BITS, as a 1.0 reader had them. */
	static const unsigned kinds[] = { PKVM_EV_HCALL_ENTRY,
					  PKVM_EV_HCALL_EXIT,
					  PKVM_EV_LOCK_ACQUIRE2,
					  PKVM_EV_LOCK_RELEASE2 };
	struct pkvm_record bad;
	struct trace_error err;
	size_t got;

	for (unsigned i = 0; i < 4; i++) {
		bad = rec_make(0, 1, 2, kinds[i], 0, 1, 2);
		err = v1_with(bad, &got);
		cr_assert_eq(err.code, TRACE_E_BAD_RECORD, "kind %u: %s",
			     kinds[i], trace_error_name(err.code));
		cr_assert_eq(got, 1);
	}
	bad = rec_make(0, 1, 2, PKVM_EV_TLBI, 0, 1, 2);
	bad.flags |= PKVM_REC_F_TLBI_ISB_AFTER;
	err = v1_with(bad, &got);
	cr_assert_eq(err.code, TRACE_E_RESERVED_BITS, "%s",
		     trace_error_name(err.code));
}

/* The events of one hypercall as 3.0 writes it, from `seq` on cpu1. */
static size_t fused_call(struct pkvm_record *out, uint32_t seq)
{
	out[0] = rec_make(1, seq, 100, PKVM_EV_HCALL_ENTRY_LOCK2, 0, 0x41000abc,
			  PKVM_HC_BASE | PKVM_HC_SHARE_HYP);
	out[0].flags |= 3u << PKVM_REC_F_KIND_SHIFT;
	out[1] = rec_make(1, seq + 1, 101, PKVM_EV_HCALL_ENTRY_LOCK2, 1,
			  0x41234, 0);
	out[2] = rec_make(1, seq + 2, 102, PKVM_EV_HCALL_ENTRY_LOCK2, 2,
			  PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32,
			  7 | 9ull << 32);
	out[3] = rec_make(1, seq + 3, 103, PKVM_EV_PTE_WRITE, 0, 0x40304000,
			  0x41234403);
	out[4] = rec_make(1, seq + 4, 104, PKVM_EV_HCALL_EXIT_UNLOCK2, 0, 0,
			  (uint64_t)-PKVM_EPERM);
	out[4].flags |= 3u << PKVM_REC_F_KIND_SHIFT;
	return 5;
}

Test(format, fused_kinds_round_trip)
{
	/* Property: HCALL_ENTRY_LOCK2 (two continuations) and
	 * HCALL_EXIT_UNLOCK2, source bits included, come back exactly, in
	 * file order and per CPU, split across pages too. */
	struct pkvm_record in[600], out[600], rec;
	struct trace_error err;
	struct trace_reader *r;
	size_t n = 0, got;
	char path[128];

	while (n + 5 <= 600)
		n += fused_call(&in[n], (uint32_t)n);
	tmp_path(path, sizeof(path), "fused");
	write_records(path, 2, in, n);
	cr_assert_eq(read_all(path, out, 600, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, n);
	cr_assert_eq(memcmp(in, out, n * sizeof(in[0])), 0);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	for (got = 0; trace_reader_next(r, 1, &rec, &err) == 1; got++)
		cr_assert_eq(memcmp(&rec, &in[got], sizeof(rec)), 0,
			     "record %zu", got);
	cr_assert_eq(got, n, "%s", err.message);
	trace_reader_close(r);
	unlink(path);
}

/* A file of `major`.0 holding one MARK then `bad`; the error reading it. */
static struct trace_error old_major_with(uint16_t major,
					 const struct pkvm_record *bad,
					 size_t nbad, size_t *got)
{
	struct pkvm_record in[8], out[8];
	struct trace_error err;
	char path[128];

	in[0] = rec_make(1, 0, 1, PKVM_EV_MARK, 0, 1, 0);
	memcpy(&in[1], bad, nbad * sizeof(*bad));
	tmp_path(path, sizeof(path), "oldmajor");
	write_records(path, 2, in, 1 + nbad);
	file_set_version(path, major, 0);
	cr_assert_eq(read_all(path, out, 8, got, &err, NULL), -1);
	unlink(path);
	return err;
}

Test(format, version_3_additions_are_errors_in_older_files)
{
	/* Property: in a 2.0 file (and a 1.0 one) the kinds 3.0 added are
	 * unknown kinds of a known version: BAD_RECORD, as a 2.0 reader
	 * had them, and nothing of the event is returned. */
	struct pkvm_record call[5];
	struct trace_error err;
	size_t got;

	fused_call(call, 1);
	for (uint16_t major = 1; major <= 2; major++) {
		err = old_major_with(major, &call[0], 3, &got);
		cr_assert_eq(err.code, TRACE_E_BAD_RECORD, "%u.0 entry: %s",
			     major, trace_error_name(err.code));
		cr_assert_eq(got, 1);
		cr_assert_not_null(strstr(err.message, "unknown kind"), "%s",
				   err.message);
		call[4].seq = 1;
		err = old_major_with(major, &call[4], 1, &got);
		cr_assert_eq(err.code, TRACE_E_BAD_RECORD, "%u.0 exit: %s",
			     major, trace_error_name(err.code));
		cr_assert_eq(got, 1);
	}
}

Test(format, version_2_0_files_are_read)
{
	/* Property: a 2.0 file (a saved recording) with every kind and flag
	 * 2.0 defined reads back exactly. */
	struct pkvm_record in[128], out[128];
	struct trace_error err;
	size_t n = 0, got;
	char path[128];

	for (unsigned k = 1; k <= PKVM_EV_LOCK_RELEASE2; k++)
		for (unsigned c = 0; c <= pkvm_event_ncont(k); c++, n++)
			in[n] = rec_make(0, (uint32_t)n, 10 + n, k, c, k, c);
	for (size_t i = 0; i < n; i++)
		if (in[i].kind == PKVM_EV_TLBI)
			in[i].flags |= PKVM_REC_F_TLBI_ISB_AFTER;
		else if (in[i].kind == PKVM_EV_HCALL_EXIT)
			in[i].flags |= 2u << PKVM_REC_F_KIND_SHIFT;
	tmp_path(path, sizeof(path), "v2");
	write_records(path, 1, in, n);
	file_set_version(path, 2, 0);
	cr_assert_eq(read_all(path, out, 128, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, n);
	cr_assert_eq(memcmp(in, out, n * sizeof(in[0])), 0);
	unlink(path);
}

Test(format, stdin_reads_without_seeking)
{
	/* Property: "-" reads the trace from standard input, with the same
	 * records, checks and summary, and refuses to seek. */
	size_t n, count = 0;
	struct pkvm_record *in = interleaved(2, 2000, &n), rec;
	struct trace_error err;
	struct trace_reader *r;
	char path[128];

	tmp_path(path, sizeof(path), "stdin");
	write_records(path, 2, in, n);
	cr_assert_not_null(freopen(path, "rb", stdin));
	r = trace_reader_open("-", &err);
	cr_assert_not_null(r, "%s", err.message);
	cr_assert_eq(trace_reader_seek_time(r, 5, &err), -1);
	cr_assert_eq(err.code, TRACE_E_USAGE);
	while (trace_reader_next_any(r, &rec, &err) == 1)
		count++;
	cr_assert_eq(count, n);
	cr_assert_not(trace_reader_truncated(r, NULL));
	cr_assert_eq(trace_reader_summary(r, 1)->records, 2000);
	trace_reader_close(r);
	free(in);
	unlink(path);
}

Test(format, flush_mid_event_keeps_the_event_whole)
{
	/* Property: a flush between an event's head and its continuations
	 * (a recorder draining a ring mid-event) still reads back whole. */
	struct pkvm_record in[4], out[4];
	struct trace_info info = info_make(1);
	struct trace_error err;
	struct trace_writer *w;
	size_t got;
	char path[128];

	for (unsigned i = 0; i < 4; i++)
		in[i] = rec_make(0, i, i, PKVM_EV_TRAP_EXIT, i, i, i);
	tmp_path(path, sizeof(path), "flush");
	w = trace_writer_open(path, &info, &err);
	cr_assert_not_null(w);
	cr_assert_eq(trace_writer_add(w, 0, in, 2, &err), 0);
	cr_assert_eq(trace_writer_flush(w, &err), 0);
	cr_assert_eq(trace_writer_add(w, 0, in + 2, 2, &err), 0);
	cr_assert_eq(trace_writer_close(w, &err), 0);
	cr_assert_eq(read_all(path, out, 4, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, 4);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	unlink(path);
}

Test(format, names_come_from_the_lists)
{
	/* Property: kind, field and enum names match events.def and abi.h. */
	cr_assert_str_eq(trace_kind_name(PKVM_EV_PTE_WRITE), "pte_write");
	cr_assert_eq(trace_kind_from_name("lock_release"),
		     PKVM_EV_LOCK_RELEASE);
	cr_assert_eq(trace_kind_from_name("nope"), 0);
	cr_assert_null(trace_kind_name(0));
	cr_assert_str_eq(trace_field_name(PKVM_EV_BOOT, 13), "boot_flags");
	cr_assert_str_eq(trace_field_name(PKVM_EV_NONDET, 2), "addr");
	cr_assert_null(trace_field_name(PKVM_EV_TLBI, 2));
	cr_assert_str_eq(trace_hcall_name(PKVM_HC_HOST_DONATE_HYP),
			 "host_donate_hyp");
	cr_assert_str_eq(trace_lock_name(PKVM_LOCK_POOL), "pool");
	cr_assert_str_eq(trace_sysreg_name(PKVM_SYSREG_HCR_EL2), "hcr_el2");
	cr_assert_str_eq(trace_tlbi_name(PKVM_TLBI_IPAS2E1IS | 1u << 16),
			 "ipas2e1is");
	cr_assert_str_eq(trace_barrier_name(PKVM_BARRIER_ISB), "isb");
	cr_assert_str_eq(trace_nondet_name(PKVM_NONDET_HOST_READ), "host_read");
	cr_assert_str_eq(trace_mark_name(PKVM_MARK_CPU_OFF), "cpu_off");
	cr_assert_str_eq(trace_errno_name(-22), "EINVAL");
	cr_assert_null(trace_errno_name(-99));
	cr_assert_str_eq(trace_error_name(TRACE_E_SKEW), "SKEW");
}

Test(format, killed_writer_leaves_a_readable_prefix)
{
	/* Property: a writer that dies without closing leaves every frame it
	 * filled on disk; the file reads as a truncated prefix. */
	char path[128];
	struct pkvm_record out[1];
	struct trace_error err;
	size_t got;
	bool trunc;
	int status;
	pid_t pid;

	tmp_path(path, sizeof(path), "killed");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct trace_info info = info_make(2);
		struct trace_writer *w = trace_writer_open(path, &info, &err);

		for (uint32_t i = 0; w && i < 100000; i++) {
			struct pkvm_record r = rec_make(
				i % 2, i / 2, i, PKVM_EV_BARRIER, 0, 1, 0);

			trace_writer_add(w, i % 2, &r, 1, &err);
		}
		_exit(0); /* no close: as if killed */
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert_eq(read_all(path, out, 0, &got, &err, &trunc), 0, "%s",
		     err.message);
	cr_assert(trunc);
	/* 64 pages of 127 records per frame: at least 12 frames made it. */
	cr_assert_geq(got, 12 * 64 * 127);
	cr_assert_lt(got, 100000);
	unlink(path);
}

Test(format, layout_and_zeroing_marks_round_trip)
{
	/* Property: the records a hyp writes for its image layout and for
	 * each page it zeroes (abi.h MARK text_end, rodata_end, page_zeroed)
	 * come back from a file as written, right after BOOT, and a dump
	 * names them. */
	struct pkvm_record in[11], out[11];
	struct trace_error err;
	size_t n = 0, got;
	char path[128], line[256];

	for (unsigned c = 0; c <= pkvm_event_ncont(PKVM_EV_BOOT); c++, n++)
		in[n] = rec_make(0, (uint32_t)n, 10 + n, PKVM_EV_BOOT, c,
				 c ? 0x40000000ull * c : 1 | 1ull << 32,
				 62500000);
	in[n] = rec_make(0, (uint32_t)n, 10 + n, PKVM_EV_MARK, 0,
			 PKVM_MARK_TEXT_END, 0x40207000);
	n++;
	in[n] = rec_make(0, (uint32_t)n, 10 + n, PKVM_EV_MARK, 0,
			 PKVM_MARK_RODATA_END, 0x40208000);
	n++;
	in[n] = rec_make(0, (uint32_t)n, 10 + n, PKVM_EV_MARK, 0,
			 PKVM_MARK_PAGE_ZEROED, 0x40499000);
	n++;
	cr_assert_eq(n, 10);
	tmp_path(path, sizeof(path), "marks");
	write_records(path, 1, in, n);
	cr_assert_eq(read_all(path, out, 11, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, n);
	cr_assert_eq(memcmp(in, out, n * sizeof(in[0])), 0);
	trace_format_event(line, sizeof(line), &out[7], 1);
	cr_assert_str_eq(
		line, "cpu0 seq=7 ticks=17 mark what=text_end arg=0x40207000");
	trace_format_event(line, sizeof(line), &out[8], 1);
	cr_assert_str_eq(
		line,
		"cpu0 seq=8 ticks=18 mark what=rodata_end arg=0x40208000");
	trace_format_event(line, sizeof(line), &out[9], 1);
	cr_assert_str_eq(
		line,
		"cpu0 seq=9 ticks=19 mark what=page_zeroed arg=0x40499000");
	unlink(path);
}
