/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the trace reader: any input must open or fail
 * cleanly, read to an end or an error in both cursor modes, and survive a
 * seek, without a crash, a hang or an out-of-bounds access; every event
 * it hands out goes through trace_expand too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include <pkvm/expand.h>
#include <pkvm/trace.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One CPU's event being assembled, and its expansion state. */
struct fuzz_cpu {
	struct pkvm_record ev[PKVM_EVENT_MAX_RECORDS];
	unsigned n;
	struct trace_expand_cpu st;
};

/* Expand every whole event the reader hands out (expand.h). */
static void expand_record(struct fuzz_cpu *f, const struct pkvm_record *rec)
{
	static struct trace_canon out[TRACE_EXPAND_MAX];

	if (!(rec->flags & PKVM_REC_F_CONT))
		f->n = 0;
	if (f->n < PKVM_EVENT_MAX_RECORDS)
		f->ev[f->n++] = *rec;
	if (f->n == 1 + (f->ev[0].flags & PKVM_REC_F_NCONT_MASK)) {
		if (f->ev[0].kind == PKVM_EV_LOST)
			trace_expand_loss(&f->st);
		(void)trace_expand(&f->st, f->ev, f->n, out);
		f->n = 0;
	}
}

/* Read at most `limit` records per CPU, round-robin, expanding events. */
static void read_per_cpu(struct trace_reader *r, unsigned limit)
{
	static struct fuzz_cpu fc[64];
	unsigned cpus = trace_reader_info(r)->cpu_count;
	struct trace_error err;
	struct pkvm_record rec;

	memset(fc, 0, sizeof(fc));
	for (unsigned round = 0; round < limit; round++) {
		unsigned live = 0;

		for (unsigned c = 0; c < cpus && c < 64; c++) {
			if (trace_reader_next(r, c, &rec, &err) != 1)
				continue;
			live++;
			expand_record(&fc[c], &rec);
		}
		if (live == 0)
			return;
	}
}

static void read_any(struct trace_reader *r)
{
	struct trace_error err;
	struct pkvm_record rec;
	uint64_t end;

	while (trace_reader_next_any(r, &rec, &err) == 1)
		;
	(void)trace_reader_truncated(r, &end);
	(void)trace_reader_summary(r, 0);
}

/*
 * Inputs starting with 'P' are raw pages: the harness puts a valid header
 * of 1-4 CPUs in front and compresses the pages into one valid zstd frame,
 * so that mutations reach the page and record checks instead of dying in
 * zstd's.
 */
#define RAW_MAX_PAGES 16u

/* A valid file header, made once by the writer; 0 if that failed. */
static size_t header_bytes(uint8_t *out, size_t cap)
{
	static uint8_t hdr[8192];
	static size_t len;
	struct trace_info info = { .cpu_count = 4 };
	struct trace_error err;
	struct trace_writer *w;
	char path[64];
	int fd;

	if (len == 0 && (fd = memfd_create("fuzz-header", 0)) >= 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		w = trace_writer_open(path, &info, &err);
		if (w)
			trace_writer_close(w, &err);
		if (pread(fd, hdr, sizeof(hdr), 0) > 8)
			len = 8 + trace_le32(hdr + 4);
		close(fd);
	}
	if (len == 0 || len > cap)
		return 0;
	memcpy(out, hdr, len);
	return len;
}

static size_t raw_file(const uint8_t *data, size_t size, uint8_t *out,
		       size_t cap)
{
	static uint8_t pages[RAW_MAX_PAGES * TRACE_PAGE_SIZE];
	size_t n = size - 2, hlen = header_bytes(out, cap / 2), c;

	if (hlen == 0)
		return 0;
	trace_put32(out + 20, 1u + data[1] % 4u); /* cpu_count */
	if (n > sizeof(pages))
		n = sizeof(pages);
	memset(pages, 0, sizeof(pages));
	memcpy(pages, data + 2, n);
	n = (n + TRACE_PAGE_SIZE - 1) / TRACE_PAGE_SIZE * TRACE_PAGE_SIZE;
	if (n == 0)
		n = TRACE_PAGE_SIZE;
	c = ZSTD_compress(out + hlen, cap - hlen, pages, n, 1);
	return ZSTD_isError(c) ? 0 : hlen + c;
}

/** libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static uint8_t raw[2 * RAW_MAX_PAGES * TRACE_PAGE_SIZE];
	char path[64];
	struct trace_error err;
	struct trace_reader *r;

	if (size >= 2 && data[0] == 'P') {
		size = raw_file(data, size, raw, sizeof(raw));
		data = raw;
	}
	if (fd < 0)
		fd = memfd_create("fuzz-trace", 0);
	if (fd < 0 || ftruncate(fd, 0) < 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = trace_reader_open(path, &err);
	if (r) {
		read_any(r);
		trace_reader_close(r);
	}
	/* The per-CPU pass runs with the decompression thread on. */
	setenv("PKVM_TRACE_THREAD", "1", 1);
	r = trace_reader_open(path, &err);
	if (r) {
		read_per_cpu(r, 4096);
		trace_reader_close(r);
	}
	unsetenv("PKVM_TRACE_THREAD");
	r = trace_reader_open(path, &err);
	if (r) {
		if (trace_reader_seek_time(r, 5000, &err) == 0)
			read_any(r);
		trace_reader_close(r);
	}
	return 0;
}
