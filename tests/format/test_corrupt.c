/* SPDX-License-Identifier: MIT */
/*
 * Malformed input: every corruption gives its own TRACE_E_* code at a
 * plausible offset, and a truncated file gives its valid prefix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zstd.h>

#include <pkvm/trace.h>

#include "helpers.h"
#include "internal.h"
#include "reader.h"

/* A file of one CPU in three data frames of 10 records each. */
static void three_frames(const char *path)
{
	struct trace_info info = info_make(1);
	struct trace_error err;
	struct trace_writer *w = trace_writer_open(path, &info, &err);
	struct pkvm_record rec;

	cr_assert_not_null(w);
	for (uint32_t i = 0; i < 30; i++) {
		rec = rec_make(0, i, 100 + i, PKVM_EV_LOCK_ACQUIRE, 0, 1, i);
		cr_assert_eq(trace_writer_add(w, 0, &rec, 1, &err), 0);
		if (i % 10 == 9)
			cr_assert_eq(trace_writer_flush(w, &err), 0);
	}
	cr_assert_eq(trace_writer_close(w, &err), 0);
}

/* Read `path` in file order and expect error `code` after `records`. */
static struct trace_error
expect_error(const char *path, enum trace_error_code code, size_t records)
{
	struct pkvm_record out[64];
	struct trace_error err;
	size_t got;
	int rc = read_all(path, out, 64, &got, &err, NULL);

	cr_assert_lt(rc, 0, "expected %s, read ended cleanly",
		     trace_error_name(code));
	cr_assert_eq(err.code, code, "expected %s, got %s: %s",
		     trace_error_name(code), trace_error_name(err.code),
		     err.message);
	cr_assert_eq(got, records, "%zu records before the error", got);
	cr_assert_gt(strlen(err.message), 10);
	return err;
}

Test(format, bad_magic_is_reported_at_its_byte)
{
	/* Property: a file that is not a trace is BAD_MAGIC at the first
	 * byte that differs. */
	char path[128];
	uint8_t *buf;
	size_t len;
	struct trace_error err;

	tmp_path(path, sizeof(path), "magic");
	three_frames(path);
	buf = file_load(path, &len);
	buf[10] = 'X';
	file_store(path, buf, len);
	err = expect_error(path, TRACE_E_BAD_MAGIC, 0);
	cr_assert_eq(err.offset, 10);
	buf[10] = 'V';
	buf[0] = 0x28; /* a plain zstd file is not a trace either */
	file_store(path, buf, len);
	err = expect_error(path, TRACE_E_BAD_MAGIC, 0);
	cr_assert_eq(err.offset, 0);
	free(buf);
	unlink(path);
}

Test(format, frame_checksum_mismatch_is_checksum)
{
	/* Property: a flipped bit in a frame's content checksum is CHECKSUM
	 * at that frame's offset, after the earlier frames' records. */
	struct layout l;
	struct trace_error err;
	char path[128];
	uint8_t *buf;
	size_t len;

	tmp_path(path, sizeof(path), "csum");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	buf[l.off[2] + l.csize[2] - 1] ^= 0x40;
	file_store(path, buf, len);
	err = expect_error(path, TRACE_E_CHECKSUM, 10);
	cr_assert_eq(err.offset, l.off[2]);
	free(buf);
	unlink(path);
}

/* Size of a zstd frame header (RFC 8878 3.1.1.1), magic included. */
static size_t frame_header_size(const uint8_t *p)
{
	static const size_t did[4] = { 0, 1, 2, 4 }, fcs[4] = { 0, 2, 4, 8 };
	uint8_t fhd = p[4];
	bool single = (fhd >> 5) & 1;
	size_t fcs_size = fcs[fhd >> 6];

	if ((fhd >> 6) == 0 && single)
		fcs_size = 1;
	return 5 + (single ? 0 : 1) + did[fhd & 3] + fcs_size;
}

Test(format, zstd_garbage_is_zstd_error)
{
	/* Property: a corrupt block inside a zstd frame is ZSTD at that
	 * frame's offset. */
	struct layout l;
	struct trace_error err;
	char path[128];
	uint8_t *buf;
	size_t len, hs;

	tmp_path(path, sizeof(path), "garbage");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	hs = frame_header_size(buf + l.off[1]);
	buf[l.off[1] + hs] |= 0x06; /* block type 3: reserved */
	file_store(path, buf, len);
	err = expect_error(path, TRACE_E_ZSTD, 0);
	cr_assert_eq(err.offset, l.off[1]);
	free(buf);
	unlink(path);
}

/* Write `n` records and read them back expecting `code` after `good`. */
static struct trace_error bad_records(const struct pkvm_record *in, size_t n,
				      enum trace_error_code code, size_t good)
{
	struct trace_error err;
	char path[128];

	tmp_path(path, sizeof(path), "rec");
	write_records(path, 1, in, n);
	err = expect_error(path, code, good);
	unlink(path);
	return err;
}

Test(format, sequence_going_backwards_is_seq_backwards)
{
	/* Property: a CPU's seq that goes back (or repeats) is SEQ_BACKWARDS
	 * at the frame holding it. */
	struct pkvm_record in[4];
	struct trace_error err;

	for (unsigned i = 0; i < 4; i++)
		in[i] = rec_make(0, i == 3 ? 1 : i, i, PKVM_EV_BARRIER, 0, 1,
				 0);
	err = bad_records(in, 4, TRACE_E_SEQ_BACKWARDS, 3);
	cr_assert_gt(err.offset, 0);
	in[3].seq = 2;
	bad_records(in, 4, TRACE_E_SEQ_BACKWARDS, 3);
}

Test(format, a_record_naming_another_cpu_is_bad_record)
{
	/* Property: a record in a CPU's page that names another CPU is
	 * BAD_RECORD there, after the good ones before it, in sequence as
	 * they are (the common path, not only a page's first record). */
	struct pkvm_record in[4];
	struct trace_info info = info_make(2);
	struct trace_error err;
	struct trace_writer *w;
	char path[128];

	tmp_path(path, sizeof(path), "rec-cpu");
	w = trace_writer_open(path, &info, &err);
	cr_assert_not_null(w);
	for (unsigned i = 0; i < 4; i++) {
		in[i] = rec_make(0, i, i, PKVM_EV_BARRIER, 0, 1, 0);
		in[i].cpu = i == 2 ? 1 : 0;
		cr_assert_eq(trace_writer_add(w, 0, &in[i], 1, &err), 0, "%s",
			     err.message);
	}
	cr_assert_eq(trace_writer_close(w, &err), 0, "%s", err.message);
	err = expect_error(path, TRACE_E_BAD_RECORD, 2);
	cr_assert(strstr(err.message, "another CPU"), "%s", err.message);
	unlink(path);
}

Test(format, reserved_flag_bits_are_reserved_bits)
{
	/* Property: a kind-specific flag bit its kind does not define is
	 * RESERVED_BITS. */
	struct pkvm_record in[2];

	in[0] = rec_make(0, 0, 1, PKVM_EV_PTE_WRITE, 0, 1, 2);
	in[0].flags |= PKVM_REC_F_PTE_RELEASE; /* allowed */
	in[1] = rec_make(0, 1, 2, PKVM_EV_BARRIER, 0, 1, 0);
	in[1].flags |= 1u << 4;
	bad_records(in, 2, TRACE_E_RESERVED_BITS, 1);
	in[1] = rec_make(0, 1, 2, PKVM_EV_PTE_WRITE, 0, 1, 2);
	in[1].flags |= 1u << 5;
	bad_records(in, 2, TRACE_E_RESERVED_BITS, 1);
	/* 2.0: TLBI defines bits 3-5 (barriers), bit 6 stays reserved;
	 * the lock pairs define none. */
	in[1] = rec_make(0, 1, 2, PKVM_EV_TLBI, 0, 1, 2);
	in[1].flags |= 1u << 6;
	bad_records(in, 2, TRACE_E_RESERVED_BITS, 1);
	in[1] = rec_make(0, 1, 2, PKVM_EV_LOCK_RELEASE2, 0, 1, 2);
	in[1].flags |= 1u << 3;
	bad_records(in, 2, TRACE_E_RESERVED_BITS, 1);
	in[1] = rec_make(0, 1, 2, PKVM_EV_LOCK_ACQUIRE2, 0, 1, 2);
	in[1].flags |= 1u << 6;
	bad_records(in, 2, TRACE_E_RESERVED_BITS, 1);
	/* Continuations define no kind bits at all. */
	in[0] = rec_make(0, 0, 1, PKVM_EV_NONDET, 0, 1, 2);
	in[1] = rec_make(0, 1, 2, PKVM_EV_NONDET, 1, 3, 4);
	in[1].flags |= 1u << 3;
	bad_records(in, 2, TRACE_E_RESERVED_BITS, 1);
}

Test(format, a_run_ends_before_a_bad_record)
{
	/* Property: trace_reader_next_run hands out the good records before
	 * a bad one; the bad one is an error only when asked for, so other
	 * CPUs read on meanwhile, as with trace_reader_next. */
	struct pkvm_record in[8];
	const struct pkvm_record *run;
	struct trace_error err;
	struct trace_reader *r;
	char path[128];

	for (unsigned i = 0; i < 4; i++) {
		in[2 * i] = rec_make(0, i, 2 * i, PKVM_EV_MARK, 0, i, 0);
		in[2 * i + 1] =
			rec_make(1, i, 2 * i + 1, PKVM_EV_MARK, 0, i, 0);
	}
	in[6] = rec_make(0, 3, 6, 0, 0, 0, 0); /* cpu0's fourth: kind 0 */
	tmp_path(path, sizeof(path), "runbad");
	write_records(path, 2, in, 8);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	cr_assert_eq(trace_reader_next_run(r, 0, &run, &err), 3);
	cr_assert_eq(run[2].a, 2);
	cr_assert_eq(trace_reader_next_run(r, 1, &run, &err), 4, "%s",
		     err.message);
	cr_assert_eq(trace_reader_next_run(r, 0, &run, &err), -1);
	cr_assert_eq(err.code, TRACE_E_BAD_RECORD, "%s",
		     trace_error_name(err.code));
	cr_assert_eq(trace_reader_next_run(r, 1, &run, &err), -1);
	trace_reader_close(r);
	unlink(path);
}

Test(format, kind_zero_is_bad_record)
{
	/* Property: a record of kind 0 is BAD_RECORD. */
	struct pkvm_record in[2];

	in[0] = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 1, 0);
	in[1] = rec_make(0, 1, 2, 0, 0, 0, 0);
	bad_records(in, 2, TRACE_E_BAD_RECORD, 1);
}

Test(format, continuation_without_head_is_bad_record)
{
	/* Property: a continuation that follows no head of its kind, or a
	 * head cut short by another head, is BAD_RECORD. */
	struct pkvm_record in[3];

	in[0] = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 1, 0);
	in[1] = rec_make(0, 1, 2, PKVM_EV_NONDET, 1, 0, 0);
	bad_records(in, 2, TRACE_E_BAD_RECORD, 1);
	in[1] = rec_make(0, 1, 2, PKVM_EV_NONDET, 0, 1, 0);
	in[2] = rec_make(0, 2, 3, PKVM_EV_MARK, 0, 1, 0);
	bad_records(in, 3, TRACE_E_BAD_RECORD, 2); /* the head came out */
	in[2] = rec_make(0, 2, 3, PKVM_EV_TLBI, 1, 1, 0);
	bad_records(in, 3, TRACE_E_BAD_RECORD, 2);
}

/* Splice raw frames of `buf` (indices into `l`) after its header. */
static void splice(const char *path, const uint8_t *buf, const struct layout *l,
		   const unsigned *frames, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	fwrite(buf, 1, l->csize[0], f);
	for (size_t i = 0; i < n; i++)
		fwrite(buf + l->off[frames[i]], 1, l->csize[frames[i]], f);
	fclose(f);
}

Test(format, pages_out_of_order_are_page_order)
{
	/* Property: a CPU's page that is not the next one (swapped or
	 * repeated frames) is PAGE_ORDER at the frame holding it. */
	static const unsigned swapped[] = { 2, 1, 3 }, repeated[] = { 1, 1 };
	struct layout l;
	struct trace_error err;
	char path[128], bad[128];
	uint8_t *buf;
	size_t len;

	tmp_path(path, sizeof(path), "order");
	tmp_path(bad, sizeof(bad), "order-bad");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	splice(bad, buf, &l, swapped, 3);
	err = expect_error(bad, TRACE_E_PAGE_ORDER, 0);
	cr_assert_eq(err.offset, l.csize[0]);
	splice(bad, buf, &l, repeated, 2);
	err = expect_error(bad, TRACE_E_PAGE_ORDER, 10);
	cr_assert_eq(err.offset, l.csize[0] + l.csize[1]);
	free(buf);
	unlink(path);
	unlink(bad);
}

Test(format, bad_seek_table_is_bad_seek_table)
{
	/* Property: a seek table whose sizes do not add up fails at open,
	 * and one whose entries disagree with the frames fails at the first
	 * frame that differs; both BAD_SEEK_TABLE. */
	struct layout l;
	struct trace_error err;
	char path[128];
	uint8_t *buf, *e;
	size_t len;
	uint8_t save[8];

	tmp_path(path, sizeof(path), "seek");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	e = buf + len - TRACE_SEEK_FOOTER_SIZE - l.count * 8;
	trace_put32(e + 8, l.csize[1] + 1);
	file_store(path, buf, len);
	cr_assert_null(trace_reader_open(path, &err));
	cr_assert_eq(err.code, TRACE_E_BAD_SEEK_TABLE, "%s", err.message);
	/* Swap entries 1 and 3 (first and last data frame): same sum. */
	trace_put32(e + 8, l.csize[1]);
	memcpy(save, e + 8, 8);
	memcpy(e + 8, e + 24, 8);
	memcpy(e + 24, save, 8);
	file_store(path, buf, len);
	if (l.csize[1] != l.csize[3]) {
		err = expect_error(path, TRACE_E_BAD_SEEK_TABLE, 0);
		cr_assert_eq(err.offset, l.off[1]);
	}
	memcpy(e + 24, e + 8, 8);
	memcpy(e + 8, save, 8);
	buf[len - 5] = 0x04; /* reserved descriptor bit */
	file_store(path, buf, len);
	cr_assert_null(trace_reader_open(path, &err));
	cr_assert_eq(err.code, TRACE_E_BAD_SEEK_TABLE);
	free(buf);
	unlink(path);
}

Test(format, wrong_summary_is_bad_summary)
{
	/* Property: an end summary whose record, lost or page count
	 * disagrees with the records in the file is BAD_SUMMARY once the
	 * CPU's records end; so is an outcome no version defines. */
	static const unsigned field[] = { 0, 8, 24 }; /* records, lost, pages */
	struct layout l;
	char path[128];
	uint8_t *buf, *cpu0, *sum;
	size_t len;

	tmp_path(path, sizeof(path), "summary");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	/* Summary payload: 8 magic, cpus, frames, outcome, reserved, the
	 * 128-byte reason, then CPU 0: records, lost, last_seq, pages ... */
	sum = buf + l.off[l.count - 1] + 8;
	cpu0 = sum + TRACE_SUMMARY_FIXED;
	cr_assert_eq(trace_le64(cpu0), 30);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t good = trace_le64(cpu0 + field[i]);

		trace_put64(cpu0 + field[i], good + 1);
		file_store(path, buf, len);
		expect_error(path, TRACE_E_BAD_SUMMARY, 30);
		trace_put64(cpu0 + field[i], good);
	}
	trace_put32(sum + 16, 99);
	file_store(path, buf, len);
	cr_assert_null(trace_reader_open(path, NULL));
	free(buf);
	unlink(path);
}

/* A header followed by one zstd frame of `dsize` bytes of `page`. */
static void file_with_frame(const char *path, const uint8_t *header,
			    size_t hlen, const uint8_t *data, size_t dsize)
{
	size_t cap = ZSTD_compressBound(dsize), c;
	uint8_t *z = malloc(cap);
	FILE *f = fopen(path, "wb");
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	c = ZSTD_compress2(cctx, z, cap, data, dsize);
	cr_assert(!ZSTD_isError(c));
	fwrite(header, 1, hlen, f);
	fwrite(z, 1, c, f);
	fclose(f);
	ZSTD_freeCCtx(cctx);
	free(z);
}

Test(format, malformed_pages_are_bad_page)
{
	/* Property: a frame that is not whole pages, or a page with a bad
	 * magic or an impossible CPU or length, is BAD_PAGE. */
	struct layout l;
	uint8_t page[TRACE_PAGE_SIZE] = { 0 };
	char path[128], bad[128];
	uint8_t *buf;
	size_t len;

	tmp_path(path, sizeof(path), "page");
	tmp_path(bad, sizeof(bad), "page-bad");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	file_with_frame(bad, buf, l.csize[0], page, 100);
	expect_error(bad, TRACE_E_BAD_PAGE, 0);
	file_with_frame(bad, buf, l.csize[0], page, sizeof(page));
	expect_error(bad, TRACE_E_BAD_PAGE, 0);
	trace_put32(page, TRACE_PAGE_MAGIC);
	trace_put16(page + 4, 3); /* CPU 3 of a 1-CPU trace */
	file_with_frame(bad, buf, l.csize[0], page, sizeof(page));
	expect_error(bad, TRACE_E_BAD_PAGE, 0);
	trace_put16(page + 4, 0);
	trace_put32(page + 12, 33); /* not whole records */
	file_with_frame(bad, buf, l.csize[0], page, sizeof(page));
	expect_error(bad, TRACE_E_BAD_PAGE, 0);
	free(buf);
	unlink(path);
	unlink(bad);
}

Test(format, truncation_at_every_offset_keeps_a_prefix)
{
	/* Property: a file cut at any byte reads as a prefix of the full
	 * file's records, reports truncation, and fails (TRUNCATED) only
	 * when the cut falls inside the file header. */
	struct pkvm_record full[2048], part[2048];
	struct layout l;
	struct trace_error err;
	char path[128], cut[128];
	size_t n_full, n, len, prev = 0;
	bool trunc;
	uint8_t *buf;

	tmp_path(path, sizeof(path), "trunc");
	tmp_path(cut, sizeof(cut), "trunc-cut");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	cr_assert_eq(read_all(path, full, 2048, &n_full, &err, &trunc), 0);
	cr_assert_not(trunc);
	for (size_t at = 0; at < len; at++) {
		int rc;

		file_store(cut, buf, at);
		rc = read_all(cut, part, 2048, &n, &err, &trunc);
		if (at < l.csize[0]) {
			cr_assert_eq(rc, -2, "cut at %zu opened", at);
			cr_assert_eq(err.code, TRACE_E_TRUNCATED,
				     "cut at %zu: %s", at,
				     trace_error_name(err.code));
			continue;
		}
		cr_assert_eq(rc, 0, "cut at %zu: %s: %s", at,
			     trace_error_name(err.code), err.message);
		cr_assert(trunc, "cut at %zu not reported truncated", at);
		cr_assert_leq(n, n_full);
		cr_assert_geq(n, prev, "cut at %zu lost records", at);
		cr_assert_eq(memcmp(part, full, n * sizeof(part[0])), 0);
		/* Every complete data frame before the cut is read whole. */
		for (size_t i = 1; i + 1 < l.count; i++)
			if (at >= l.off[i] + l.csize[i])
				cr_assert_geq(n, 10 * i, "cut at %zu", at);
		prev = n;
	}
	cr_assert_eq(prev, n_full); /* cut inside the tail: all records */
	free(buf);
	unlink(path);
	unlink(cut);
}

/*
 * `n1` records of cpu1 between cpu0's: `lead` (0 or 1) records of cpu0
 * first, then cpu1's, then cpu0's last. `varied`: cpu1's payloads vary,
 * so that zstd's level 1 packs them worse than level 19 does.
 */
static void far_file(char *path, size_t len, const char *name, size_t n1,
		     unsigned lead, bool varied)
{
	struct trace_info info = info_make(2);
	struct trace_error err;
	struct trace_writer *w;
	struct pkvm_record rec;

	tmp_path(path, len, name);
	w = trace_writer_open(path, &info, &err);
	cr_assert_not_null(w);
	if (lead) {
		rec = rec_make(0, 0, 0, PKVM_EV_BARRIER, 0, 1, 0);
		cr_assert_eq(trace_writer_add(w, 0, &rec, 1, &err), 0);
	}
	for (uint32_t i = 0; i < n1; i++) {
		rec = rec_make(1, i, (uint64_t)i + lead, PKVM_EV_BARRIER, 0,
			       varied ? (i * 2654435761u) >> 22 : 1, 0);
		cr_assert_eq(trace_writer_add(w, 1, &rec, 1, &err), 0);
	}
	rec = rec_make(0, lead, n1 + lead, PKVM_EV_BARRIER, 0, 1, 0);
	cr_assert_eq(trace_writer_add(w, 0, &rec, 1, &err), 0);
	cr_assert_eq(trace_writer_close(w, &err), 0);
}

/* More than the skew limit of cpu1's records, then cpu0's one record. */
#define SKEW_BIG ((size_t)((48u << 20) / 32) + 200000)
static void skew_file(char *path, size_t len, const char *name)
{
	far_file(path, len, name, SKEW_BIG, 0, false);
}

Test(format, cpus_too_far_apart_is_skew)
{
	/* Property: reading one CPU that needs more than the skew limit of
	 * other CPUs' pages queued fails with SKEW rather than growing. */
	struct trace_error err;
	struct pkvm_record rec;
	struct trace_reader *r;
	char path[128];

	skew_file(path, sizeof(path), "skew");
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_eq(trace_reader_next(r, 0, &rec, &err), -1);
	cr_assert_eq(err.code, TRACE_E_SKEW, "%s", trace_error_name(err.code));
	trace_reader_close(r);
	unlink(path);
}

Test(format, a_quiet_cpu_is_not_ready_until_the_others_are_read)
{
	/* Property: the same file (cpu0's one record after more than the
	 * skew limit of cpu1's) reads whole when the caller asks whether a
	 * CPU is ready before reading it: cpu0 is not until cpu1's records
	 * are read, and then it is. */
	struct trace_error err;
	struct pkvm_record rec;
	struct trace_reader *r;
	size_t n1 = 0;
	char path[128];

	skew_file(path, sizeof(path), "quiet-ready");
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_not(trace_reader_cpu_ready(r, 0));
	cr_assert_not(trace_reader_cpu_ready(r, 1));
	/* Decode until one of them is ready: cpu1 comes first. */
	while (!trace_reader_cpu_ready(r, 0) && !trace_reader_cpu_ready(r, 1))
		cr_assert_eq(trace_reader_decode_more(r, &err), 1, "%s",
			     err.message);
	cr_assert_not(trace_reader_cpu_ready(r, 0));
	while (!trace_reader_cpu_ready(r, 0)) {
		int rc = trace_reader_next(r, 1, &rec, &err);

		cr_assert_eq(rc, 1, "cpu1 record %zu: %d %s", n1, rc,
			     err.message);
		n1++;
	}
	cr_assert_eq(trace_reader_next(r, 0, &rec, &err), 1, "%s", err.message);
	while (trace_reader_next(r, 1, &rec, &err) == 1)
		n1++;
	cr_assert_eq(n1, SKEW_BIG);
	cr_assert_eq(trace_reader_next(r, 0, &rec, &err), 0);
	trace_reader_close(r);
	unlink(path);
}

/*
 * cpu0's record, then 20 MiB of cpu1's (past the resident limit, within
 * the skew limit), then cpu0's second record.
 */
#define DROP_N ((size_t)(20u << 20) / 32)
static void drop_file(char *path, size_t len, const char *name, bool varied)
{
	far_file(path, len, name, DROP_N, 1, varied);
}

/*
 * A reader of a drop_file that has read cpu0's two records: cpu1's 20 MiB
 * between them are queued, and some of their frames dropped. `rec` holds
 * cpu0's second record.
 */
static struct trace_reader *drop_open(char *path, size_t len, const char *name,
				      bool varied, struct pkvm_record *rec)
{
	struct trace_error err;
	struct trace_reader *r;

	drop_file(path, len, name, varied);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	cr_assert_eq(trace_reader_next(r, 0, rec, &err), 1, "%s", err.message);
	cr_assert_eq(trace_reader_next(r, 0, rec, &err), 1, "%s", err.message);
	return r;
}

/* Reading cpu1 on from a drop_open reader meets IO: a frame read again
 * is not what it was. Closes the reader. */
static void drop_read_changed(struct trace_reader *r)
{
	struct trace_error err;
	struct pkvm_record rec;
	int rc;

	while ((rc = trace_reader_next(r, 1, &rec, &err)) == 1)
		;
	cr_assert_eq(rc, -1);
	cr_assert_eq(err.code, TRACE_E_IO, "%s", trace_error_name(err.code));
	cr_assert(strstr(err.message, "changed"), "%s", err.message);
	trace_reader_close(r);
}

Test(format, far_apart_cpus_keep_bounded_memory)
{
	/* Property: reading cpu0's second record queues 20 MiB of cpu1's
	 * pages, yet the reader keeps at most TRACE_RESIDENT_LIMIT of them
	 * decoded (plus the frame being read; with the prefetch thread, plus
	 * the TRACE_PREFETCH_DEPTH frames it may decode ahead, which may
	 * stay once collected); the frames it dropped read back whole and in
	 * order. */
	size_t frame = TRACE_FRAME_PAGES * TRACE_PAGE_SIZE, ahead;
	struct trace_error err;
	struct pkvm_record rec;
	struct trace_reader *r;
	char path[128];
	size_t n1 = 0;

	r = drop_open(path, sizeof(path), "drop", false, &rec);
	cr_assert_eq(rec.ts, DROP_N + 1);
	ahead = r->job.started ? TRACE_PREFETCH_DEPTH * frame : 0;
	cr_assert_leq(r->pool_bytes, TRACE_RESIDENT_LIMIT + 2 * frame + ahead,
		      "%zu bytes decoded", r->pool_bytes);
	cr_assert_gt(r->dropped_bytes, 0);
	while (trace_reader_next(r, 1, &rec, &err) == 1) {
		cr_assert_eq(rec.seq, (uint32_t)n1);
		cr_assert_eq(rec.ts, n1 + 1, "record %zu", n1);
		n1++;
	}
	cr_assert_eq(n1, DROP_N, "%s", err.message);
	cr_assert_eq(trace_reader_next(r, 0, &rec, &err), 0);
	cr_assert_eq(trace_reader_finish(r, &err), 0, "%s", err.message);
	cr_assert_eq(r->dropped_bytes, 0);
	trace_reader_close(r);
	unlink(path);
}

Test(format, a_dropped_frame_that_changed_on_disk_is_io)
{
	/* Property: a dropped frame is read again; if the file no longer
	 * holds it (here cut short meanwhile), that is IO, not a crash or
	 * other records. */
	struct pkvm_record rec;
	struct trace_reader *r;
	char path[128];

	r = drop_open(path, sizeof(path), "drop-cut", false, &rec);
	cr_assert_eq(truncate(path, 4096), 0);
	drop_read_changed(r);
	unlink(path);
}

Test(format, a_dropped_frame_whose_page_headers_changed_is_io)
{
	/* Property: the pages of a frame read again are not checked again,
	 * so a frame that reads back with the same size and time range but
	 * other page headers (here a middle page's `used` out of bounds,
	 * written meanwhile) is IO too, not records read past the page. */
	struct pkvm_record rec;
	struct trace_reader *r;
	const struct rframe *f = NULL;
	char path[128];
	uint8_t *buf, *dec, *enc;
	size_t len, nb, pad, pages;

	r = drop_open(path, sizeof(path), "drop-hdr", true, &rec);
	for (size_t i = 0; i < r->frame_slots && !f; i++)
		if (r->frames[i].dropped)
			f = &r->frames[i];
	cr_assert_not_null(f);
	/* The frame as the file holds it, a middle page's header changed,
	 * compressed again and padded to its old size with a skippable
	 * frame (which zstd's decoder passes over). */
	buf = file_load(path, &len);
	dec = malloc(f->size);
	enc = malloc(ZSTD_compressBound(f->size));
	cr_assert(dec && enc);
	cr_assert_eq(ZSTD_decompress(dec, f->size, buf + f->offset, f->csize),
		     f->size);
	pages = f->size / TRACE_PAGE_SIZE;
	cr_assert_geq(pages, 3);
	trace_put32(dec + (pages / 2) * TRACE_PAGE_SIZE + 12, 0xffffffe0u);
	nb = SIZE_MAX;
	for (int level = 1;
	     level <= 19 && (ZSTD_isError(nb) || nb + 8 > f->csize); level++)
		nb = ZSTD_compress(enc, ZSTD_compressBound(f->size), dec,
				   f->size, level);
	cr_assert(!ZSTD_isError(nb) && nb + 8 <= f->csize, "%zu into %u", nb,
		  f->csize);
	pad = f->csize - nb;
	trace_put32(enc + nb, 0x184D2A50u);
	trace_put32(enc + nb + 4, (uint32_t)(pad - 8));
	memset(enc + nb + 8, 0, pad - 8);
	memcpy(buf + f->offset, enc, f->csize);
	file_store(path, buf, len);
	drop_read_changed(r);
	free(buf);
	free(dec);
	free(enc);
	unlink(path);
}

Test(format, truncated_file_reports_where_valid_data_ends)
{
	/* Property: a file cut inside a frame reads per CPU up to the frame
	 * before the cut, and valid_end is that frame's start. */
	struct layout l;
	struct trace_error err;
	struct trace_reader *r;
	struct pkvm_record rec;
	char path[128];
	uint8_t *buf;
	size_t len, n = 0;
	uint64_t end = 0;

	tmp_path(path, sizeof(path), "validend");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	file_store(path, buf, l.off[2] + l.csize[2] / 2);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	cr_assert_null(trace_reader_summary(r, 0));
	while (trace_reader_next(r, 0, &rec, &err) == 1)
		n++;
	cr_assert_eq(n, 10);
	cr_assert(trace_reader_truncated(r, &end));
	cr_assert_eq(end, l.off[2]);
	cr_assert_eq(trace_reader_offset(r), l.off[1]);
	trace_reader_close(r);
	free(buf);
	unlink(path);
}

Test(format, quiet_cpu_does_not_cause_skew)
{
	/* Property: a CPU that records rarely still has its pages written
	 * close to the other CPUs' pages of the same time, so reading the
	 * CPUs in time order stays within the skew limit. */
	struct trace_info info = info_make(2);
	struct trace_error err;
	struct trace_writer *w;
	struct trace_reader *r;
	struct pkvm_record a, b = { 0 };
	char path[128];
	uint32_t quiet = 0;
	size_t n0 = 0, n1 = 0;
	int rc;

	tmp_path(path, sizeof(path), "quiet");
	w = trace_writer_open(path, &info, &err);
	cr_assert_not_null(w);
	for (uint32_t i = 0; i < 2000000; i++) {
		a = rec_make(1, i, i, PKVM_EV_BARRIER, 0, 1, 0);
		cr_assert_eq(trace_writer_add(w, 1, &a, 1, &err), 0);
		if (i % 20000 == 0) {
			a = rec_make(0, quiet++, i, PKVM_EV_BARRIER, 0, 1, 0);
			cr_assert_eq(trace_writer_add(w, 0, &a, 1, &err), 0);
		}
	}
	cr_assert_eq(trace_writer_close(w, &err), 0);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r);
	while ((rc = trace_reader_next(r, 0, &a, &err)) == 1) {
		n0++;
		while (b.ts <= a.ts && trace_reader_next(r, 1, &b, &err) == 1)
			n1++;
	}
	cr_assert_eq(rc, 0, "%s: %s", trace_error_name(err.code), err.message);
	while (trace_reader_next(r, 1, &b, &err) == 1)
		n1++;
	cr_assert_eq(n0, quiet);
	cr_assert_eq(n1, 2000000);
	trace_reader_close(r);
	unlink(path);
}

Test(format, stdin_checks_the_seek_table_against_the_frames)
{
	/* Property: read from a pipe (no seeking), a seek table whose entries
	 * disagree with the frames read is BAD_SEEK_TABLE at its offset. */
	struct layout l;
	struct trace_error err;
	struct trace_reader *r;
	struct pkvm_record rec;
	char path[128];
	uint8_t *buf, *e;
	size_t len, n = 0;
	int rc;

	tmp_path(path, sizeof(path), "stdinseek");
	three_frames(path);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	e = buf + len - TRACE_SEEK_FOOTER_SIZE - l.count * 8;
	trace_put32(e + 8, l.csize[1] + 1);
	file_store(path, buf, len);
	cr_assert_not_null(freopen(path, "rb", stdin));
	r = trace_reader_open("-", &err);
	cr_assert_not_null(r, "%s", err.message);
	while ((rc = trace_reader_next_any(r, &rec, &err)) == 1)
		n++;
	cr_assert_eq(rc, -1);
	cr_assert_eq(err.code, TRACE_E_BAD_SEEK_TABLE, "%s",
		     trace_error_name(err.code));
	cr_assert_eq(err.offset, l.off[l.count - 1] + l.csize[l.count - 1]);
	cr_assert_eq(n, 30);
	trace_reader_close(r);
	free(buf);
	unlink(path);
}
