// SPDX-License-Identifier: MIT
/* A record source over the format library's reader (trace.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int filesrc_next(struct ck_source *s, unsigned cpu,
			const struct pkvm_record **recs)
{
	struct filesrc *f = (struct filesrc *)s;
	struct trace_error err;
	int rc = trace_reader_next_run(f->reader, cpu, recs, &err);

	s->run_plain = rc > 0 && trace_reader_run_plain(f->reader, cpu);
	if (rc < 0)
		snprintf(s->error, sizeof(s->error), "%s: offset %llu: %s (%s)",
			 f->path, (unsigned long long)err.offset, err.message,
			 trace_error_name(err.code));
	else if (f->progress && rc > 0)
		progress_records(f->progress, (unsigned)rc,
				 trace_reader_offset(f->reader));
	return rc;
}

static bool filesrc_ready(struct ck_source *s, unsigned cpu)
{
	return trace_reader_cpu_ready(((struct filesrc *)s)->reader, cpu);
}

static int filesrc_more(struct ck_source *s)
{
	struct trace_error err;

	return trace_reader_decode_more(((struct filesrc *)s)->reader, &err);
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

/*
 * Read and check the rest of the file (trace_reader_finish), so that the
 * verdict rests on every byte of it, from a path as from a pipe, then say
 * how it ends: where it is cut, what its end summary says.
 */
static int filesrc_end(struct ck_source *s, struct ck_end *end)
{
	struct filesrc *f = (struct filesrc *)s;
	const struct trace_info *info = trace_reader_info(f->reader);
	const struct trace_run *run;
	struct trace_error err;

	memset(end, 0, sizeof(*end));
	if (trace_reader_finish(f->reader, &err) < 0) {
		snprintf(s->error, sizeof(s->error), "%s: offset %llu: %s (%s)",
			 f->path, (unsigned long long)err.offset, err.message,
			 trace_error_name(err.code));
		return -1;
	}
	end->truncated = trace_reader_truncated(f->reader, NULL);
	end->cut_where =
		trace_cut_text(trace_reader_cut(f->reader, &end->cut_offset));
	end->version_major = info->version_major;
	end->version_minor = info->version_minor;
	/* Formats before 4.0 have no outcome: their summary says unknown. */
	end->has_outcome = info->version_major >= 4;
	run = trace_reader_run(f->reader);
	end->has_summary = run != NULL;
	if (run) {
		end->outcome = run->outcome;
		snprintf(end->why, sizeof(end->why), "%s", run->why);
	}
	for (unsigned c = 0; c < s->cpu_count && c < CK_MAX_CPUS; c++) {
		const struct trace_cpu_summary *sum =
			trace_reader_summary(f->reader, c);

		end->records[c] = sum ? sum->records : 0;
		end->first_seq[c] = trace_reader_first_seq(f->reader, c);
		end->last_seq[c] = trace_reader_last_seq(f->reader, c);
		end->produced[c] = sum ? sum->produced : TRACE_COUNT_UNKNOWN;
	}
	return 0;
}

int filesrc_open(struct filesrc *f, const char *path, char *msg, size_t len)
{
	const struct trace_info *info;
	struct trace_error err;

	f->path = path;
	f->progress = NULL;
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
	info = trace_reader_info(f->reader);
	f->src.cpu_count = info->cpu_count;
	f->src.name = path;
	f->src.system = info->system;
	f->src.version_major = info->version_major;
	f->src.abi_version = info->abi_version;
	f->src.counter_freq = info->counter_freq;
	f->src.data_offset = trace_reader_data_offset(f->reader);
	f->src.next = filesrc_next;
	f->src.truncated = filesrc_truncated;
	f->src.position = filesrc_position;
	f->src.ready = filesrc_ready;
	f->src.more = filesrc_more;
	f->src.end = filesrc_end;
	return 0;
}

void filesrc_close(struct filesrc *f)
{
	if (f->reader)
		trace_reader_close(f->reader);
	f->reader = NULL;
}
