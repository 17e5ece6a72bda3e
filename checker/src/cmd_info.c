// SPDX-License-Identifier: MIT
/*
 * pkvm-check info: the run a trace recorded and how to record it again,
 * from its header and end summary alone (a trace file's summary is read
 * at open, so this is instant however long the trace; from a pipe, the
 * summary comes last and the whole stream is read). It judges nothing:
 * `pkvm-check TRACE` does.
 */
#include <string.h>

#include <pkvm/dump.h>

#include "cli.h"

static void info_count(char *buf, size_t len, uint64_t v)
{
	if (v == TRACE_COUNT_UNKNOWN)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void info_text(const struct run_info *ri, struct trace_reader *r)
{
	char produced[32], dropped[32];

	printf("trace: %s\n", ri->path);
	run_print_text(stdout, ri);
	printf("  header: format %u.%u, system %s, ABI %u, %u CPUs, counter "
	       "%llu Hz\n",
	       ri->info.version_major, ri->info.version_minor, ri->info.system,
	       ri->info.abi_version, ri->info.cpu_count,
	       (unsigned long long)ri->info.counter_freq);
	if (!trace_reader_summary(r, 0)) {
		printf("  end summary: none (the file is cut short; "
		       "'pkvm-check %s' says where)\n",
		       ri->path);
		return;
	}
	for (unsigned c = 0; c < ri->info.cpu_count; c++) {
		const struct trace_cpu_summary *s = trace_reader_summary(r, c);

		info_count(produced, sizeof(produced), s->produced);
		info_count(dropped, sizeof(dropped), s->dropped);
		printf("  cpu%u: records=%llu lost=%llu pages=%llu "
		       "produced=%s dropped=%s\n",
		       c, (unsigned long long)s->records,
		       (unsigned long long)s->lost,
		       (unsigned long long)s->pages, produced, dropped);
	}
}

static void info_json_count(const char *name, uint64_t v)
{
	if (v == TRACE_COUNT_UNKNOWN)
		printf(",\"%s\":null", name);
	else
		printf(",\"%s\":%llu", name, (unsigned long long)v);
}

static void info_json(const struct run_info *ri, struct trace_reader *r)
{
	printf("{\"type\":\"info\",");
	run_print_json(stdout, ri);
	if (!trace_reader_summary(r, 0)) {
		printf(",\"summary\":null}\n");
		return;
	}
	printf(",\"summary\":[");
	for (unsigned c = 0; c < ri->info.cpu_count; c++) {
		const struct trace_cpu_summary *s = trace_reader_summary(r, c);

		printf("%s{\"cpu\":%u", c ? "," : "", c);
		info_json_count("records", s->records);
		info_json_count("lost", s->lost);
		info_json_count("pages", s->pages);
		info_json_count("produced", s->produced);
		info_json_count("dropped", s->dropped);
		printf("}");
	}
	printf("]}\n");
}

/** See cli.h. */
int cmd_info(const struct cli_opts *o)
{
	static struct run_info ri;
	struct trace_error e;
	struct trace_reader *r = trace_reader_open(o->path, &e);

	if (r && !trace_reader_run(r) && strcmp(o->path, "-") == 0 &&
	    trace_reader_finish(r, &e) < 0) {
		trace_reader_close(r);
		r = NULL;
	}
	if (!r) {
		fprintf(stderr, "pkvm-check: %s: offset %llu: %s (%s)\n",
			o->path, (unsigned long long)e.offset, e.message,
			trace_error_name(e.code));
		if (o->fmt == REPORT_JSON) {
			printf("{\"type\":\"error\",\"file\":");
			trace_json_str(stdout, o->path);
			printf(",\"offset\":%llu,\"message\":",
			       (unsigned long long)e.offset);
			trace_json_str(stdout, e.message);
			printf("}\n");
		}
		return cli_out_done(stdout, CK_EXIT_CORRUPT);
	}
	run_info_read(&ri, o->path, r);
	if (o->fmt == REPORT_JSON)
		info_json(&ri, r);
	else
		info_text(&ri, r);
	trace_reader_close(r);
	return cli_out_done(stdout, CK_EXIT_OK);
}
