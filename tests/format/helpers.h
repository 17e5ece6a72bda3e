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

/**
 * Rewrite the format version in the file header of `path`: it sits at
 * payload offset 8, after the skippable frame's 8 bytes. The writer only
 * writes the current version; tests make older and newer files this way.
 */
static inline void file_set_version(const char *path, uint16_t major,
				    uint16_t minor)
{
	size_t len;
	uint8_t *buf = file_load(path, &len);

	buf[16] = (uint8_t)major;
	buf[17] = (uint8_t)(major >> 8);
	buf[18] = (uint8_t)minor;
	buf[19] = (uint8_t)(minor >> 8);
	file_store(path, buf, len);
	free(buf);
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
