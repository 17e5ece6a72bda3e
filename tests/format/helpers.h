/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the format tests: build records, write them to a
 * temporary trace, read files back, and splice raw bytes to corrupt them.
 */
#ifndef PKVM_TESTS_FORMAT_HELPERS_H
#define PKVM_TESTS_FORMAT_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <pkvm/trace.h>

/** A scratch file name, unique per process and call. */
static inline void tmp_path(char *buf, size_t len, const char *tag)
{
	static unsigned counter;

	snprintf(buf, len, "/tmp/pkvm-format-test-%d-%u-%s.trace",
		 (int)getpid(), counter++, tag);
}

/** A head record (or continuation `cont` >= 1) of `kind` for `cpu`. */
static inline struct pkvm_record rec_make(unsigned cpu, uint32_t seq,
					  uint64_t ts, unsigned kind,
					  unsigned cont, uint64_t a, uint64_t b)
{
	struct pkvm_record r = { .ts = ts,
				 .kind = (uint8_t)kind,
				 .cpu = (uint16_t)cpu,
				 .seq = seq,
				 .a = a,
				 .b = b };

	r.flags = cont ? (uint8_t)(PKVM_REC_F_CONT | cont)
		       : (uint8_t)pkvm_event_ncont(kind);
	return r;
}

static inline struct trace_info info_make(unsigned cpus)
{
	struct trace_info info;

	memset(&info, 0, sizeof(info));
	info.cpu_count = cpus;
	info.counter_freq = 62500000;
	info.abi_version = 1;
	snprintf(info.identity, sizeof(info.identity), "test=format\n");
	return info;
}

/** Write `n` records, each to the CPU named in it, then close. */
static inline void write_records(const char *path, unsigned cpus,
				 const struct pkvm_record *recs, size_t n)
{
	struct trace_info info = info_make(cpus);
	struct trace_error err;
	struct trace_writer *w = trace_writer_open(path, &info, &err);

	cr_assert_not_null(w, "writer open: %s", err.message);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(
			trace_writer_add(w, recs[i].cpu, &recs[i], 1, &err), 0,
			"add: %s", err.message);
	cr_assert_eq(trace_writer_close(w, &err), 0, "close: %s", err.message);
}

/** Whole file into memory; *len gets its size. */
static inline uint8_t *file_load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static inline void file_store(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static inline uint32_t helper_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void helper_put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Rewrite a file the writer wrote (4.0) in the layout of formats 1.x-3.x:
 * the header's fixed part without the 16-byte `system` (48 bytes, not
 * 64), the summary without the outcome and reason (16 fixed bytes, not
 * 152) and with 32 bytes per CPU (not 48), and the seek table's entries
 * for the two frames resized. The data frames are kept as they are.
 */
static inline void file_to_v3_layout(const char *path)
{
	size_t len, out_len = 0;
	uint8_t *buf = file_load(path, &len), *out = malloc(len);
	uint32_t n = helper_le32(buf + len - 9);
	uint8_t *entries = buf + len - 9 - (size_t)n * 8;
	size_t off = 0, table_len;
	uint32_t cpus = helper_le32(buf + 8 + 12);

	cr_assert_not_null(out);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t csize = helper_le32(entries + 8 * i);
		const uint8_t *f = buf + off;
		size_t start = out_len;

		if (i == 0) {
			/* Header: drop payload bytes 48..63. */
			memcpy(out + out_len, f, 8 + 48);
			memcpy(out + out_len + 8 + 48, f + 8 + 64, csize - 72);
			out_len += csize - 16;
		} else if (i + 1 == n) {
			/* Summary: 16 fixed bytes, 32 per CPU, then frames. */
			const uint8_t *q = f + 8 + 152;

			memcpy(out + out_len, f, 8 + 16);
			out_len += 8 + 16;
			for (uint32_t c = 0; c < cpus; c++, q += 48) {
				memcpy(out + out_len, q, 32);
				out_len += 32;
			}
			memcpy(out + out_len, q, csize - (size_t)(q - f));
			out_len += csize - (size_t)(q - f);
		} else {
			memcpy(out + out_len, f, csize);
			out_len += csize;
		}
		helper_put32(out + start + 4,
			     i == 0 || i + 1 == n
				     ? (uint32_t)(out_len - start - 8)
				     : helper_le32(f + 4));
		helper_put32(entries + 8 * i, (uint32_t)(out_len - start));
		off += csize;
	}
	table_len = (size_t)n * 8 + 9;
	memcpy(out + out_len, buf + off, 8 + table_len);
	memcpy(out + out_len + 8, entries, (size_t)n * 8);
	out_len += 8 + table_len;
	file_store(path, out, out_len);
	free(out);
	free(buf);
}

/**
 * Rewrite the format version in the file header of `path`: it sits at
 * payload offset 8, after the skippable frame's 8 bytes. The writer only
 * writes the current version; tests make older and newer files this way
 * (majors 1 to 3 in their own layout: file_to_v3_layout).
 */
static inline void file_set_version(const char *path, uint16_t major,
				    uint16_t minor)
{
	size_t len;
	uint8_t *buf;

	if (major >= 1 && major <= 3)
		file_to_v3_layout(path);
	buf = file_load(path, &len);
	buf[16] = (uint8_t)major;
	buf[17] = (uint8_t)(major >> 8);
	buf[18] = (uint8_t)minor;
	buf[19] = (uint8_t)(minor >> 8);
	file_store(path, buf, len);
	free(buf);
}

/** Frames of a complete file, from its seek table. */
struct layout {
	size_t count;
	uint64_t off[64];
	uint32_t csize[64];
};

static inline void layout_of(const uint8_t *buf, size_t len, struct layout *l)
{
	const uint8_t *foot = buf + len - 9;
	uint32_t n = helper_le32(foot);
	const uint8_t *e = foot - (size_t)n * 8;
	uint64_t off = 0;

	cr_assert_eq(helper_le32(foot + 5), 0x8F92EAB1u);
	cr_assert_leq(n, 64);
	l->count = n;
	for (uint32_t i = 0; i < n; i++) {
		l->off[i] = off;
		l->csize[i] = helper_le32(e + 8 * i);
		off += l->csize[i];
	}
}

/**
 * Read every record in file order. Returns the reader's last return value
 * (0 end, -1 error); *count gets how many came out.
 */
static inline int read_all(const char *path, struct pkvm_record *out,
			   size_t cap, size_t *count, struct trace_error *err,
			   bool *truncated)
{
	struct trace_reader *r = trace_reader_open(path, err);
	struct pkvm_record rec;
	int rc;

	*count = 0;
	if (truncated)
		*truncated = false;
	if (!r)
		return -2;
	while ((rc = trace_reader_next_any(r, &rec, err)) == 1) {
		if (*count < cap)
			out[*count] = rec;
		(*count)++;
	}
	if (truncated)
		*truncated = trace_reader_truncated(r, NULL);
	trace_reader_close(r);
	return rc;
}

#endif /* PKVM_TESTS_FORMAT_HELPERS_H */
