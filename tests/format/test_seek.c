/* SPDX-License-Identifier: MIT */
/*
 * Window reads: seeking by time through the seek table and the summary's
 * frame index decodes no frame before the window and loses no record in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/trace.h>

#include "helpers.h"

#define SEEK_CPUS 4u
#define SEEK_RECORDS 200000u

/* Records round-robin over the CPUs, one timestamp tick apart. */
static struct pkvm_record *seek_file(const char *path)
{
	struct pkvm_record *v = malloc(SEEK_RECORDS * sizeof(*v));

	for (uint32_t i = 0; i < SEEK_RECORDS; i++)
		v[i] = rec_make(i % SEEK_CPUS, i / SEEK_CPUS, 1000 + i,
				PKVM_EV_PTE_WRITE, 0, i, (uint64_t)i * 7);
	write_records(path, SEEK_CPUS, v, SEEK_RECORDS);
	return v;
}

/* Count of records with ts >= t (the fixture's ts is 1000 + index). */
static uint64_t at_or_after(uint64_t t)
{
	return t <= 1000 ? SEEK_RECORDS : SEEK_RECORDS - (t - 1000);
}

static uint64_t full_frames(const char *path)
{
	struct trace_error err;
	struct trace_reader *r = trace_reader_open(path, &err);
	struct pkvm_record rec;
	uint64_t n;

	cr_assert_not_null(r);
	while (trace_reader_next_any(r, &rec, &err) == 1)
		;
	n = trace_reader_frames_decoded(r);
	trace_reader_close(r);
	return n;
}

Test(format, seek_time_skips_earlier_frames)
{
	/* Property: after seeking to t, every record with ts >= t is read,
	 * and the frames before the window are never decompressed. */
	char path[128];
	struct pkvm_record *v, rec;
	struct trace_error err;
	struct trace_reader *r;
	uint64_t t = 1000 + SEEK_RECORDS * 3 / 4, later = 0, frames;

	tmp_path(path, sizeof(path), "seek");
	v = seek_file(path);
	frames = full_frames(path);
	cr_assert_gt(frames, 8);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_eq(trace_reader_seek_time(r, t, &err), 0, "%s", err.message);
	while (trace_reader_next_any(r, &rec, &err) == 1) {
		cr_assert_eq(memcmp(&rec, &v[rec.ts - 1000], sizeof(rec)), 0);
		later += rec.ts >= t;
	}
	cr_assert_eq(later, at_or_after(t));
	/* A quarter of the records, so about a quarter of the frames. */
	cr_assert_leq(trace_reader_frames_decoded(r), frames / 4 + 2,
		      "decoded %llu of %llu frames",
		      (unsigned long long)trace_reader_frames_decoded(r),
		      (unsigned long long)frames);
	trace_reader_close(r);
	free(v);
	unlink(path);
}

Test(format, seek_time_per_cpu_keeps_extended_seq)
{
	/* Property: per-CPU reads after a seek start each CPU mid-stream
	 * with the right 64-bit sequence and miss no record after t. */
	char path[128];
	struct pkvm_record *v, rec;
	struct trace_error err;
	struct trace_reader *r;
	uint64_t t = 1000 + SEEK_RECORDS / 2, later = 0;

	tmp_path(path, sizeof(path), "seekcpu");
	v = seek_file(path);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_eq(trace_reader_seek_time(r, t, &err), 0);
	for (unsigned c = 0; c < SEEK_CPUS; c++) {
		while (trace_reader_next(r, c, &rec, &err) == 1) {
			cr_assert_eq(rec.cpu, c);
			cr_assert_eq(trace_reader_last_seq(r, c), rec.seq);
			later += rec.ts >= t;
		}
	}
	cr_assert_eq(later, at_or_after(t));
	trace_reader_close(r);
	free(v);
	unlink(path);
}

Test(format, seek_time_without_summary_scans)
{
	/* Property: a truncated file (no summary, no seek table) still seeks,
	 * by scanning, and returns the same window. */
	char path[128];
	struct pkvm_record *v, rec;
	struct trace_error err;
	struct trace_reader *r;
	uint64_t t = 1000 + SEEK_RECORDS / 3, later = 0, total = 0;
	uint8_t *buf;
	size_t len;

	tmp_path(path, sizeof(path), "seekscan");
	v = seek_file(path);
	buf = file_load(path, &len);
	file_store(path, buf, len - 20); /* cut into the seek table */
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_null(trace_reader_summary(r, 0));
	cr_assert_eq(trace_reader_seek_time(r, t, &err), 0, "%s", err.message);
	while (trace_reader_next_any(r, &rec, &err) == 1) {
		later += rec.ts >= t;
		total++;
	}
	cr_assert_eq(later, at_or_after(t));
	cr_assert_lt(total, SEEK_RECORDS);
	cr_assert(trace_reader_truncated(r, NULL));
	trace_reader_close(r);
	free(buf);
	free(v);
	unlink(path);
}

Test(format, seek_past_the_end_reads_nothing)
{
	/* Property: seeking beyond the last timestamp leaves nothing to read
	 * and decodes no frame. */
	char path[128];
	struct pkvm_record *v, rec;
	struct trace_error err;
	struct trace_reader *r;

	tmp_path(path, sizeof(path), "seekend");
	v = seek_file(path);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_eq(trace_reader_seek_time(r, UINT64_MAX, &err), 0);
	cr_assert_eq(trace_reader_next_any(r, &rec, &err), 0);
	cr_assert_eq(trace_reader_frames_decoded(r), 0);
	trace_reader_close(r);
	free(v);
	unlink(path);
}
