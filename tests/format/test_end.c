/* SPDX-License-Identifier: MIT */
/*
 * The end of a file (FORMAT.md 5.3, 5.4, 7): trace_reader_finish reads and
 * checks everything a cursor left, so a file is accepted or refused the
 * same way from a path and from a pipe, per CPU and in file order; a cut
 * file says where it ends; the end summary's frame index and producer
 * counts are checked against the data; nothing may follow the seek table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <pkvm/trace.h>

#include "helpers.h"
#include "internal.h"

/* How a file is read: from its path or a pipe, per CPU or in file order. */
enum way { PATH_PER_CPU, PATH_FILE_ORDER, PIPE_PER_CPU, PIPE_FILE_ORDER };
static const char *const way_name[] = { "path, per CPU", "path, file order",
					"pipe, per CPU", "pipe, file order" };

/** What reading a file to its end gave. */
struct end {
	int rc; /* 0, -1 error (err), -2 refused at open */
	struct trace_error err;
	bool truncated;
	enum trace_cut cut;
	uint64_t file_end;
	uint64_t records;
};

/*
 * Read `path` the given way to its very end: every CPU's stream (round
 * robin, as the checker does), then trace_reader_finish.
 */
static struct end read_to_end(const char *path, enum way way)
{
	bool pipe = way == PIPE_PER_CPU || way == PIPE_FILE_ORDER;
	struct end e = { 0 };
	struct trace_reader *r;
	struct pkvm_record rec;
	int rc = 0;

	if (pipe)
		cr_assert_not_null(freopen(path, "rb", stdin));
	r = trace_reader_open(pipe ? "-" : path, &e.err);
	if (!r) {
		e.rc = -2;
		return e;
	}
	if (way == PATH_FILE_ORDER || way == PIPE_FILE_ORDER) {
		while ((rc = trace_reader_next_any(r, &rec, &e.err)) == 1)
			e.records++;
	} else {
		unsigned cpus = trace_reader_info(r)->cpu_count, open = cpus;
		bool done[8] = { false };

		while (open && rc >= 0)
			for (unsigned c = 0; c < cpus && rc >= 0; c++) {
				if (done[c])
					continue;
				rc = trace_reader_next(r, c, &rec, &e.err);
				e.records += rc == 1;
				if (rc == 0) {
					done[c] = true;
					open--;
				}
			}
	}
	if (rc >= 0)
		rc = trace_reader_finish(r, &e.err);
	e.rc = rc < 0 ? -1 : 0;
	e.truncated = trace_reader_truncated(r, NULL);
	e.cut = trace_reader_cut(r, &e.file_end);
	trace_reader_close(r);
	return e;
}

/* Every way of reading `path` fails with `code`. */
static void expect_refused(const char *path, enum trace_error_code code)
{
	for (int w = PATH_PER_CPU; w <= PIPE_FILE_ORDER; w++) {
		struct end e = read_to_end(path, (enum way)w);

		cr_assert_neq(e.rc, 0, "%s: read to the end", way_name[w]);
		cr_assert_eq(e.err.code, code, "%s: %s (%s), want %s",
			     way_name[w], trace_error_name(e.err.code),
			     e.err.message, trace_error_name(code));
	}
}

/*
 * Two CPUs in three data frames: records of both in each frame, cpu1's
 * last ones in the last frame only. `produced_extra` is added to the
 * producer count the summary gives cpu1 (-1: one short).
 */
static void two_cpus(const char *path, int64_t produced_extra)
{
	struct trace_info info = info_make(2);
	struct trace_error err;
	struct trace_writer *w = trace_writer_open(path, &info, &err);
	struct pkvm_record rec;

	cr_assert_not_null(w);
	for (uint32_t i = 0; i < 30; i++) {
		for (unsigned c = 0; c < 2; c++) {
			if (c == 0 && i >= 25)
				continue;
			rec = rec_make(c, i, 100 + 10 * i + c,
				       PKVM_EV_LOCK_ACQUIRE, 0, 1, i);
			cr_assert_eq(trace_writer_add(w, c, &rec, 1, &err), 0);
		}
		if (i % 10 == 9)
			cr_assert_eq(trace_writer_flush(w, &err), 0);
	}
	trace_writer_set_outcome(w, TRACE_OUTCOME_CLEAN, "done");
	cr_assert_eq(trace_writer_set_producer(w, 0, 25, 0, &err), 0);
	cr_assert_eq(trace_writer_set_producer(
			     w, 1, (uint64_t)(30 + produced_extra), 0, &err),
		     0);
	cr_assert_eq(trace_writer_close(w, &err), 0);
}

/* The end summary's payload in `buf`, its per-CPU table and frame index. */
static uint8_t *summary_of(uint8_t *buf, const struct layout *l, uint8_t **cpu,
			   uint8_t **index)
{
	uint8_t *p = buf + l->off[l->count - 1] + 8;

	*cpu = p + TRACE_SUMMARY_FIXED;
	*index = *cpu + TRACE_SUMMARY_CPU * (size_t)trace_le32(p + 8);
	return p;
}

/*
 * Write `buf` with data frame `f` (a layout index) written twice, listed
 * twice in the summary's frame count and index and in the seek table:
 * a file that agrees with itself everywhere but in its pages.
 */
static void store_repeated(const char *path, const uint8_t *buf, size_t len,
			   const struct layout *l, size_t f)
{
	size_t n = l->count, sum = n - 1, slen = l->csize[sum];
	uint8_t *out = malloc(len + l->csize[f] + 16 + 8), *q = out, *cpu,
		*index, *s;
	const uint8_t *entries = buf + len - 9 - 8 * n;
	uint32_t frames;

	cr_assert_not_null(out);
	s = summary_of((uint8_t *)buf, l, &cpu, &index);
	frames = trace_le32(s + 12);
	memcpy(q, buf, l->off[f] + l->csize[f]);
	q += l->off[f] + l->csize[f];
	memcpy(q, buf + l->off[f], l->csize[f]);
	q += l->csize[f];
	memcpy(q, buf + l->off[f + 1], l->off[sum] - l->off[f + 1]);
	q += l->off[sum] - l->off[f + 1];
	/* The summary: the frame counted and its time range listed twice. */
	memcpy(q, buf + l->off[sum], (size_t)(index - buf - l->off[sum]));
	trace_put32(q + 4, (uint32_t)(slen - 8 + 16));
	trace_put32(q + 8 + 12, frames + 1);
	q += index - buf - l->off[sum];
	for (uint32_t i = 0; i < frames; i++) {
		memcpy(q, index + 16 * i, 16);
		q += 16;
		if (i + 1 == f) {
			memcpy(q, index + 16 * i, 16);
			q += 16;
		}
	}
	/* The seek table: the entry repeated, the summary's 16 bytes longer. */
	trace_put32(q, TRACE_SKIP_SEEK);
	trace_put32(q + 4, (uint32_t)(8 * (n + 1) + 9));
	q += 8;
	for (size_t i = 0; i < n; i++) {
		memcpy(q, entries + 8 * i, 8);
		if (i == sum)
			trace_put32(q, l->csize[sum] + 16);
		q += 8;
		if (i == f) {
			memcpy(q, entries + 8 * i, 8);
			q += 8;
		}
	}
	memcpy(q, buf + len - 9, 9);
	trace_put32(q, (uint32_t)n + 1);
	q += 9;
	file_store(path, out, (size_t)(q - out));
	free(out);
}

Test(format, every_cut_says_where_the_file_ends)
{
	/* Property: a file cut after its header is truncated whichever way
	 * it is read to its end, ending where the cut is, in the frame the
	 * cut falls in; whole, it is not. */
	struct layout l;
	char path[128], cut[128];
	size_t len;
	uint8_t *buf;

	tmp_path(path, sizeof(path), "cuts");
	tmp_path(cut, sizeof(cut), "cuts-cut");
	two_cpus(path, 0);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	for (int w = PATH_PER_CPU; w <= PIPE_FILE_ORDER; w++) {
		struct end e = read_to_end(path, (enum way)w);

		cr_assert_eq(e.rc, 0, "%s: %s", way_name[w], e.err.message);
		cr_assert_not(e.truncated);
		cr_assert_eq(e.cut, TRACE_CUT_NONE);
		cr_assert_eq(e.records, 55);
	}
	for (size_t at = l.csize[0]; at < len; at++) {
		size_t f = 0;
		enum trace_cut at_start, inside;

		while (f + 1 < l.count && l.off[f + 1] <= at)
			f++;
		if (at >= len - 8 - 8 * l.count - 9) {
			at_start = TRACE_CUT_NO_SEEK_TABLE;
			inside = TRACE_CUT_SEEK_TABLE;
		} else if (f == l.count - 1) {
			at_start = TRACE_CUT_NO_SUMMARY;
			inside = TRACE_CUT_SUMMARY;
		} else {
			at_start = TRACE_CUT_NO_SUMMARY;
			inside = TRACE_CUT_DATA_FRAME;
		}
		file_store(cut, buf, at);
		for (int w = PATH_PER_CPU; w <= PIPE_FILE_ORDER; w++) {
			struct end e = read_to_end(cut, (enum way)w);
			bool start = at == l.off[f] ||
				     at == len - 8 - 8 * l.count - 9;

			cr_assert_eq(e.rc, 0, "cut at %zu, %s: %s", at,
				     way_name[w], e.err.message);
			cr_assert(e.truncated, "cut at %zu, %s", at,
				  way_name[w]);
			cr_assert_eq(
				e.file_end, at, "cut at %zu, %s: ends %llu", at,
				way_name[w], (unsigned long long)e.file_end);
			if (start)
				cr_assert_eq(
					e.cut, at_start, "cut at %zu, %s: %s",
					at, way_name[w], trace_cut_text(e.cut));
			else
				cr_assert(
					e.cut == inside ||
						e.cut == TRACE_CUT_FRAME_HEADER,
					"cut at %zu, %s: %s", at, way_name[w],
					trace_cut_text(e.cut));
		}
	}
	free(buf);
	unlink(path);
	unlink(cut);
}

Test(format, a_repeated_frame_is_found_however_the_file_is_read)
{
	/* Property: a data frame written twice, and listed twice in a
	 * summary and seek table that agree, is PAGE_ORDER read from a path
	 * or a pipe, per CPU or in file order, even though a per-CPU cursor
	 * on a path ends every stream before it (the summary's counts). */
	struct trace_reader *r;
	struct pkvm_record rec;
	struct trace_error err;
	struct layout l;
	char path[128], bad[128];
	size_t len;
	uint8_t *buf;

	tmp_path(path, sizeof(path), "repeat");
	tmp_path(bad, sizeof(bad), "repeat-bad");
	two_cpus(path, 0);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	store_repeated(bad, buf, len, &l, l.count - 2);
	r = trace_reader_open(bad, &err);
	cr_assert_not_null(r, "%s", err.message);
	for (unsigned c = 0; c < 2; c++) {
		int rc;

		while ((rc = trace_reader_next(r, c, &rec, &err)) == 1)
			;
		cr_assert_eq(rc, 0, "cpu%u: %s", c, err.message);
	}
	cr_assert_eq(trace_reader_finish(r, &err), -1);
	cr_assert_eq(err.code, TRACE_E_PAGE_ORDER, "%s", err.message);
	trace_reader_close(r);
	expect_refused(bad, TRACE_E_PAGE_ORDER);
	free(buf);
	unlink(path);
	unlink(bad);
}

Test(format, nothing_may_follow_the_seek_table)
{
	/* Property: bytes after the seek table (another frame, a copy of
	 * the table, anything) are BAD_SEEK_TABLE whichever way. */
	static const uint8_t junk[] = "more";
	struct layout l;
	char path[128], bad[128];
	size_t len;
	uint8_t *buf, *more;

	tmp_path(path, sizeof(path), "after");
	tmp_path(bad, sizeof(bad), "after-bad");
	two_cpus(path, 0);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	more = malloc(len + l.csize[1]);
	cr_assert_not_null(more);
	/* A data frame after the table. */
	memcpy(more, buf, len);
	memcpy(more + len, buf + l.off[1], l.csize[1]);
	file_store(bad, more, len + l.csize[1]);
	expect_refused(bad, TRACE_E_BAD_SEEK_TABLE);
	/* A few bytes. */
	memcpy(more + len, junk, 4);
	file_store(bad, more, len + 4);
	expect_refused(bad, TRACE_E_BAD_SEEK_TABLE);
	free(more);
	free(buf);
	unlink(path);
	unlink(bad);
}

Test(format, a_frame_the_seek_table_does_not_list_is_refused)
{
	/* Property: a file with a seek table holds only the frames it
	 * lists: a second end summary, or another tool's skippable frame,
	 * is refused from a path and from a pipe alike; without a seek table
	 * (a truncated file) the other frame is only skipped. */
	struct layout l;
	char path[128], bad[128];
	size_t len, sum;
	uint8_t *buf, *more, other[16] = { 0 };

	tmp_path(path, sizeof(path), "unlisted");
	tmp_path(bad, sizeof(bad), "unlisted-bad");
	two_cpus(path, 0);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	sum = l.count - 1;
	more = malloc(len + l.csize[sum]);
	cr_assert_not_null(more);
	memcpy(more, buf, l.off[sum] + l.csize[sum]);
	memcpy(more + l.off[sum] + l.csize[sum], buf + l.off[sum],
	       len - l.off[sum]);
	file_store(bad, more, len + l.csize[sum]);
	for (int w = PATH_PER_CPU; w <= PIPE_FILE_ORDER; w++)
		cr_assert_neq(read_to_end(bad, (enum way)w).rc, 0,
			      "second summary, %s", way_name[w]);
	trace_put32(other, 0x184D2A55u);
	trace_put32(other + 4, 8);
	memcpy(more, buf, l.off[2]);
	memcpy(more + l.off[2], other, sizeof(other));
	memcpy(more + l.off[2] + sizeof(other), buf + l.off[2], len - l.off[2]);
	file_store(bad, more, len + sizeof(other));
	expect_refused(bad, TRACE_E_BAD_SEEK_TABLE);
	/* Cut before the summary: no table to list it, so it is skipped. */
	file_store(bad, more, l.off[sum] + sizeof(other));
	for (int w = PATH_PER_CPU; w <= PIPE_FILE_ORDER; w++) {
		struct end e = read_to_end(bad, (enum way)w);

		cr_assert_eq(e.rc, 0, "%s: %s", way_name[w], e.err.message);
		cr_assert(e.truncated);
	}
	free(more);
	free(buf);
	unlink(path);
	unlink(bad);
}

Test(format, the_frame_index_must_match_the_records)
{
	/* Property: a summary whose frame index gives a data frame another
	 * time range than its records span is BAD_SUMMARY, compared at once
	 * from a path and through the chain from a pipe. */
	struct layout l;
	char path[128], bad[128];
	uint8_t *buf, *cpu, *index;
	size_t len;

	tmp_path(path, sizeof(path), "index");
	tmp_path(bad, sizeof(bad), "index-bad");
	two_cpus(path, 0);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	summary_of(buf, &l, &cpu, &index);
	trace_put64(index + 16 + 8, trace_le64(index + 16 + 8) + 1);
	file_store(bad, buf, len);
	expect_refused(bad, TRACE_E_BAD_SUMMARY);
	free(buf);
	unlink(path);
	unlink(bad);
}

Test(format, a_producer_count_below_the_last_record_is_bad_summary)
{
	/* Property: the producer made every record the file holds: a
	 * summary that says it made fewer is BAD_SUMMARY; more is a tail
	 * loss, for a checker to report, and reads fine. */
	char path[128];

	tmp_path(path, sizeof(path), "produced");
	two_cpus(path, -1);
	expect_refused(path, TRACE_E_BAD_SUMMARY);
	two_cpus(path, 3);
	for (int w = PATH_PER_CPU; w <= PIPE_FILE_ORDER; w++)
		cr_assert_eq(read_to_end(path, (enum way)w).rc, 0, "%s",
			     way_name[w]);
	unlink(path);
}

Test(format, per_cpu_and_file_order_refuse_alike)
{
	/* Property: a file with one defect is refused with the same error
	 * by every way of reading it to its end: per CPU (whose cursor
	 * would stop early on the summary's word) and in file order, from a
	 * path and from a pipe. */
	struct layout l;
	char path[128], bad[128];
	uint8_t *buf, *copy, *cpu, *index;
	size_t len;

	tmp_path(path, sizeof(path), "alike");
	tmp_path(bad, sizeof(bad), "alike-bad");
	two_cpus(path, 0);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	copy = malloc(len);
	cr_assert_not_null(copy);
	/* The summary gives cpu0 fewer records, more pages, another last
	 * sequence number, more lost records. */
	for (unsigned field = 0; field < 4; field++) {
		memcpy(copy, buf, len);
		summary_of(copy, &l, &cpu, &index);
		trace_put64(cpu + 8 * field,
			    trace_le64(cpu + 8 * field) + (field ? 1 : -1));
		file_store(bad, copy, len);
		expect_refused(bad, TRACE_E_BAD_SUMMARY);
	}
	/* The seek table gives the file header a decompressed size. */
	memcpy(copy, buf, len);
	trace_put32(copy + len - 9 - 8 * l.count + 4, 4096);
	file_store(bad, copy, len);
	expect_refused(bad, TRACE_E_BAD_SEEK_TABLE);
	/* ... or the summary another length. */
	memcpy(copy, buf, len);
	trace_put32(copy + len - 9 - 8, l.csize[l.count - 1] + 16);
	file_store(bad, copy, len);
	expect_refused(bad, TRACE_E_BAD_SEEK_TABLE);
	free(copy);
	free(buf);
	unlink(path);
	unlink(bad);
}
