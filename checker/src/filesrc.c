// SPDX-License-Identifier: MIT
/* A record source over the format library's reader (trace.h). */
#include <stdio.h>

#include "cli.h"

static int filesrc_next(struct ck_source *s, unsigned cpu,
			const struct pkvm_record **recs)
{
	struct filesrc *f = (struct filesrc *)s;
	struct trace_error err;
	int rc = trace_reader_next_run(f->reader, cpu, recs, &err);

	if (rc < 0)
		snprintf(s->error, sizeof(s->error), "%s: offset %llu: %s (%s)",
			 f->path, (unsigned long long)err.offset, err.message,
			 trace_error_name(err.code));
	return rc;
}

static bool filesrc_truncated(struct ck_source *s)
{
	struct filesrc *f = (struct filesrc *)s;
	uint64_t end;

	return trace_reader_truncated(f->reader, &end);
}

static uint64_t filesrc_position(struct ck_source *s)
{
	return trace_reader_offset(((struct filesrc *)s)->reader);
}

int filesrc_open(struct filesrc *f, const char *path, char *msg, size_t len)
{
	struct trace_error err;

	f->path = path;
	f->reader = trace_reader_open(path, &err);
	if (!f->reader) {
		snprintf(msg, len, "%s: offset %llu: %s (%s)", path,
			 (unsigned long long)err.offset, err.message,
			 trace_error_name(err.code));
		return -1;
	}
	/*
	 * The replay does several times the work of decompressing a frame:
	 * decompressing the next one on a second core takes that off the
	 * critical path (pkvm-check never forks).
	 */
	trace_reader_prefetch(f->reader, true);
	f->src.cpu_count = trace_reader_info(f->reader)->cpu_count;
	f->src.next = filesrc_next;
	f->src.truncated = filesrc_truncated;
	f->src.position = filesrc_position;
	return 0;
}

void filesrc_close(struct filesrc *f)
{
	if (f->reader)
		trace_reader_close(f->reader);
	f->reader = NULL;
}
