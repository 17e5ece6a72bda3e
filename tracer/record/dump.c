/* SPDX-License-Identifier: MIT */
/*
 * Raw ring dumps (tracer/README.md "Dump format"): what a device-side agent
 * hands over on hardware where nothing can read the rings live. A dump is
 * the 4 KiB control page followed by each CPU's record array; `head` and
 * `tail` in the control page say which records are valid.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

static int write_all(FILE *f, const void *p, size_t len)
{
	return fwrite(p, 1, len, f) == len ? 0 : -1;
}

/* The control page as saved: a copy, with `tail` moved back when asked so
 * that the records still in the ring count as valid. */
static void saved_ctrl(const struct record_drain *d, bool keep_all,
		       uint8_t page[RECORD_CTRL_PAGE])
{
	struct pkvm_ring_ctrl c;

	memcpy(&c, d->ctrl, sizeof(c));
	for (unsigned i = 0; i < d->cpu_count && keep_all; i++) {
		uint64_t head = c.cpu[i].head;
		uint64_t nr = d->nr_records[i];

		c.cpu[i].tail = head > nr ? head - nr : 0;
	}
	memset(page, 0, RECORD_CTRL_PAGE);
	memcpy(page, &c, sizeof(c));
}

int record_dump_save(const struct record_drain *d, const char *path,
		     bool keep_all, char *msg, size_t msg_len)
{
	static uint8_t page[RECORD_CTRL_PAGE];
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f) {
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	saved_ctrl(d, keep_all, page);
	rc = write_all(f, page, sizeof(page));
	for (unsigned i = 0; i < d->cpu_count && rc == 0; i++)
		rc = write_all(f, d->ring[i],
			       d->nr_records[i] * PKVM_RECORD_SIZE);
	if (fclose(f) != 0)
		rc = -1;
	if (rc)
		snprintf(msg, msg_len, "%s: write failed: %s", path,
			 strerror(errno));
	return rc;
}

static int read_file(struct record_dump *dump, const char *path, char *msg,
		     size_t msg_len)
{
	FILE *f = fopen(path, "rb");
	long size;

	if (!f) {
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		snprintf(msg, msg_len, "%s: cannot seek: %s", path,
			 strerror(errno));
		fclose(f);
		return -1;
	}
	dump->size = (size_t)size;
	dump->data = malloc(dump->size ? dump->size : 1);
	if (!dump->data || fread(dump->data, 1, dump->size, f) != dump->size) {
		snprintf(msg, msg_len, "%s: cannot read %zu bytes", path,
			 dump->size);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Check the control page and the file length; point rings into data. */
static int parse(struct record_dump *dump, const char *path, char *msg,
		 size_t msg_len)
{
	const struct pkvm_ring_ctrl *c = dump->ctrl;
	size_t off = RECORD_CTRL_PAGE;

	if (c->magic != PKVM_RING_MAGIC || c->version != PKVM_RING_VERSION) {
		snprintf(msg, msg_len,
			 "%s: offset 0: not a ring dump (bad magic/version)",
			 path);
		return -1;
	}
	if (c->cpu_count < 1 || c->cpu_count > PKVM_RING_MAX_CPUS) {
		snprintf(msg, msg_len,
			 "%s: offset 12: cpu_count %u not in 1..%u", path,
			 c->cpu_count, PKVM_RING_MAX_CPUS);
		return -1;
	}
	for (unsigned i = 0; i < c->cpu_count; i++) {
		uint64_t nr = c->cpu[i].nr_records;
		size_t at = offsetof(struct pkvm_ring_ctrl, cpu) +
			    i * sizeof(struct pkvm_ring_cpu);

		if (nr < RECORD_MIN_NR_RECORDS || nr > RECORD_MAX_NR_RECORDS ||
		    (nr & (nr - 1))) {
			snprintf(msg, msg_len,
				 "%s: offset %zu: cpu %u nr_records %llu is "
				 "not a power of two in 128..2^20",
				 path, at + 8, i, (unsigned long long)nr);
			return -1;
		}
		if (c->cpu[i].head < c->cpu[i].tail ||
		    c->cpu[i].head - c->cpu[i].tail > nr) {
			snprintf(msg, msg_len,
				 "%s: offset %zu: cpu %u head %llu / tail %llu "
				 "do not fit a ring of %llu",
				 path, at + 16, i,
				 (unsigned long long)c->cpu[i].head,
				 (unsigned long long)c->cpu[i].tail,
				 (unsigned long long)nr);
			return -1;
		}
		off += nr * PKVM_RECORD_SIZE;
	}
	if (off != dump->size) {
		snprintf(msg, msg_len,
			 "%s: offset %zu: file is %zu bytes, the control page "
			 "describes %zu (%s)",
			 path, off < dump->size ? off : dump->size, dump->size,
			 off, off < dump->size ? "trailing data" : "truncated");
		return -1;
	}
	off = RECORD_CTRL_PAGE;
	for (unsigned i = 0; i < c->cpu_count; i++) {
		dump->rings[i] = (struct pkvm_record *)(dump->data + off);
		off += c->cpu[i].nr_records * PKVM_RECORD_SIZE;
	}
	return 0;
}

int record_dump_load(struct record_dump *dump, const char *path, char *msg,
		     size_t msg_len)
{
	memset(dump, 0, sizeof(*dump));
	if (read_file(dump, path, msg, msg_len))
		goto fail;
	if (dump->size < RECORD_CTRL_PAGE) {
		snprintf(msg, msg_len,
			 "%s: offset %zu: truncated: a dump starts with a "
			 "%u-byte control page",
			 path, dump->size, RECORD_CTRL_PAGE);
		goto fail;
	}
	/* A separate, aligned copy: the drain writes `tail` into it. */
	dump->ctrl = malloc(sizeof(*dump->ctrl));
	if (!dump->ctrl) {
		snprintf(msg, msg_len, "out of memory");
		goto fail;
	}
	memcpy(dump->ctrl, dump->data, sizeof(*dump->ctrl));
	if (parse(dump, path, msg, msg_len))
		goto fail;
	return 0;
fail:
	record_dump_free(dump);
	return -1;
}

void record_dump_free(struct record_dump *dump)
{
	free(dump->ctrl);
	free(dump->data);
	memset(dump, 0, sizeof(*dump));
}

enum trace_outcome record_dump_outcome(uint32_t state, const char *path,
				       char *why, size_t why_len)
{
	static const char *const names[] = { "SETUP", "RUNNING", "STOPPED",
					     "PANIC" };
	enum trace_outcome o = TRACE_OUTCOME_RUNNING;

	if (state == PKVM_RING_STATE_STOPPED)
		o = TRACE_OUTCOME_CLEAN;
	else if (state == PKVM_RING_STATE_PANIC)
		o = TRACE_OUTCOME_PANIC;
	snprintf(why, why_len, "converted dump %s: ring state %s", path,
		 state < 4 ? names[state] : "unknown");
	return o;
}
