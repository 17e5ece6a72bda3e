// SPDX-License-Identifier: MIT
/*
 * pkvm-check dump and stats: a trace's events as recorded, filtered, and
 * what it holds, counted; both as text or JSON. And the replay to one
 * event (cli_capture), which `dump --event N` and the report's
 * "explained by" line use: #N numbers events in the replay's order, which
 * only the replay knows.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>

#include "cli.h"

/** See cli.h. */
bool cli_capture(const char *path, uint64_t index, struct ck_event *out)
{
	static struct ck_summary sum;
	struct ck_options co = { .context = 0,
				 .capture = true,
				 .capture_index = index };
	struct filesrc fs = { 0 };
	char msg[600];

	if (filesrc_open(&fs, path, msg, sizeof(msg)))
		return false;
	memset(&sum, 0, sizeof(sum));
	ck_run(&fs.src, &co, NULL, &sum);
	filesrc_close(&fs);
	if (sum.has_captured)
		*out = sum.captured;
	return sum.has_captured;
}

/** See cli.h. */
struct trace_tables *cli_tables_until(const char *path, uint64_t ts)
{
	struct pkvm_record ev[CK_MAX_CPUS][PKVM_EVENT_MAX_RECORDS], rec;
	unsigned n[CK_MAX_CPUS] = { 0 }, past = 0, ncpu;
	struct trace_tables *t = trace_tables_new();
	struct trace_error e;
	struct trace_reader *r = trace_reader_open(path, &e);
	struct trace_sites sites;

	if (!r || !t) {
		if (r)
			trace_reader_close(r);
		return t;
	}
	ncpu = trace_reader_info(r)->cpu_count;
	trace_sites_init(&sites, trace_system_of(trace_reader_info(r)->system),
			 trace_reader_info(r)->version_major);
	/* Each CPU's records come in time order: stop once all are past. */
	while (ncpu <= CK_MAX_CPUS && past != (1u << ncpu) - 1 &&
	       trace_reader_next_any(r, &rec, &e) == 1) {
		unsigned c = rec.cpu;

		if (rec.ts > ts)
			past |= 1u << c;
		if (!(rec.flags & PKVM_REC_F_CONT))
			n[c] = 0;
		if (n[c] < PKVM_EVENT_MAX_RECORDS)
			ev[c][n[c]++] = rec;
		if (n[c] == 1 + (ev[c][0].flags & PKVM_REC_F_NCONT_MASK)) {
			trace_sites_take(&sites, ev[c], n[c]);
			trace_tables_learn(t, ev[c], n[c]);
		}
	}
	trace_reader_close(r);
	return t;
}

static int dump_error(const char *path, const struct trace_error *e)
{
	fprintf(stderr, "pkvm-check: %s: offset %llu: %s (%s)\n", path,
		(unsigned long long)e->offset, e->message,
		trace_error_name(e->code));
	return CK_EXIT_CORRUPT;
}

/* --event N: the CPU and records around event #N of the replay. */
static int dump_event(const struct cli_opts *o, struct trace_dump_opts *d)
{
	struct ck_event ev;

	if (strcmp(o->path, "-") == 0) {
		fprintf(stderr, "pkvm-check: dump --event needs a trace file, "
				"not stdin: it replays the trace to find the "
				"event, then reads it again\n");
		return CK_EXIT_USAGE;
	}
	if (!cli_capture(o->path, o->event, &ev)) {
		fprintf(stderr,
			"pkvm-check: %s: no event #%llu (the replay has "
			"fewer, or the trace cannot be read: see 'pkvm-check "
			"%s')\n",
			o->path, (unsigned long long)o->event, o->path);
		return CK_EXIT_USAGE;
	}
	d->cpu = ev.cpu;
	d->has_seq = true;
	d->seq_from = ev.seq - o->context;
	d->seq_to = ev.seq + o->context;
	d->mark = true;
	d->mark_seq = ev.seq;
	return -1;
}

/* The filters that name things: a wrong name is listed with the valid. */
static int dump_names(const struct cli_opts *o, struct trace_dump_opts *d)
{
	char names[1024];

	if (o->kind && !(d->kind = trace_kind_from_name(o->kind))) {
		cli_names(names, sizeof(names), "kind");
		fprintf(stderr, "pkvm-check: dump: no kind '%s'; valid: %s\n",
			o->kind, names);
		return CK_EXIT_USAGE;
	}
	if (o->lock && !(d->lock = cli_lock_id(o->lock))) {
		cli_names(names, sizeof(names), "lock");
		fprintf(stderr, "pkvm-check: dump: no lock '%s'; valid: %s\n",
			o->lock, names);
		return CK_EXIT_USAGE;
	}
	if (o->hcall && !(d->hcall = cli_hcall_id(o->hcall))) {
		cli_names(names, sizeof(names), "hcall");
		fprintf(stderr,
			"pkvm-check: dump: no hypercall '%s'; valid: %s\n",
			o->hcall, names);
		return CK_EXIT_USAGE;
	}
	return -1;
}

/* Options that need the trace's header: CPU count, counter frequency. */
static int dump_header(const struct cli_opts *o, struct trace_dump_opts *d,
		       const struct trace_info *info)
{
	if (o->cpu >= 0 && (unsigned)o->cpu >= info->cpu_count) {
		fprintf(stderr,
			"pkvm-check: dump: --cpu %d: %s has %u CPU%s "
			"(0..%u)\n",
			o->cpu, o->path, info->cpu_count,
			info->cpu_count == 1 ? "" : "s", info->cpu_count - 1);
		return CK_EXIT_USAGE;
	}
	if (o->from &&
	    cli_time_arg(o->from, info->counter_freq, o->ticks, &d->from_ts)) {
		fprintf(stderr,
			"pkvm-check: dump: --from '%s' is not a time in %s\n",
			o->from, o->ticks ? "ticks" : "seconds");
		return CK_EXIT_USAGE;
	}
	if (o->to &&
	    cli_time_arg(o->to, info->counter_freq, o->ticks, &d->to_ts)) {
		fprintf(stderr,
			"pkvm-check: dump: --to '%s' is not a time in %s\n",
			o->to, o->ticks ? "ticks" : "seconds");
		return CK_EXIT_USAGE;
	}
	return -1;
}

/* The --elf images with DWARF; one without is said and left out. */
static struct locate *dump_images(const struct cli_opts *o)
{
	struct locate *loc = locate_new();
	char msg[600];

	CK_CHECK(loc != NULL);
	for (unsigned i = 0; i < o->elf_count; i++)
		if (locate_add(loc, o->elf[i], msg, sizeof(msg)))
			fprintf(stderr, "pkvm-check: %s\n", msg);
	return loc;
}

/** See cli.h. */
int cmd_dump(const struct cli_opts *o)
{
	struct trace_dump_opts d = { .cpu = o->cpu,
				     .to_ts = UINT64_MAX,
				     .has_page = o->has_page,
				     .pfn = o->pfn,
				     .json = o->fmt == REPORT_JSON,
				     .ticks = o->ticks };
	struct trace_reader *r;
	struct trace_error e;
	struct locate *loc;
	int rc;

	if ((rc = dump_names(o, &d)) >= 0)
		return rc;
	/* Sites are named from the --elf images (FORMAT.md "Sites"). */
	loc = dump_images(o);
	d.site_name = locate_site_token;
	d.site_ctx = loc;
	if (o->has_event && (rc = dump_event(o, &d)) >= 0)
		return rc;
	r = trace_reader_open(o->path, &e);
	if (!r) {
		if (d.json) {
			printf("{\"type\":\"error\",\"file\":");
			trace_json_str(stdout, o->path);
			printf(",\"offset\":%llu,\"message\":",
			       (unsigned long long)e.offset);
			trace_json_str(stdout, e.message);
			printf("}\n");
		}
		dump_error(o->path, &e);
		locate_free(loc);
		return cli_out_done(stdout, CK_EXIT_CORRUPT);
	}
	rc = dump_header(o, &d, trace_reader_info(r));
	if (rc < 0)
		rc = trace_dump_reader(stdout, stderr, o->path, r, &d);
	trace_reader_close(r);
	locate_free(loc);
	return cli_out_done(stdout, rc);
}

/* ---- stats ---------------------------------------------------------- */

#define STATS_CPUS 1024u

/* Hypercall ids counted: our hyp's 1-7, linux-6.12's 0-25. */
#define STATS_HCALLS 32u
#define STATS_RETS 9u

struct stats {
	enum trace_system sys; /* whose hypercall table */
	uint64_t kind[256];
	uint64_t cpu[STATS_CPUS];
	uint64_t hcall[STATS_HCALLS];
	/* [hcall id][0 ok, 1..7 errno index, 8 other] */
	uint64_t ret[STATS_HCALLS][STATS_RETS];
	uint64_t open_id[STATS_CPUS]; /* hcall + 1 per open trap, 0 none */
};

static const char *const stats_rets[STATS_RETS] = {
	"ok",	 "EPERM",  "ENOENT", "ENOMEM", "EFAULT",
	"EBUSY", "EINVAL", "ERANGE", "other"
};

static unsigned stats_ret_slot(int64_t v)
{
	static const int64_t codes[STATS_RETS - 1] = { 0,
						       -PKVM_EPERM,
						       -PKVM_ENOENT,
						       -PKVM_ENOMEM,
						       -PKVM_EFAULT,
						       -PKVM_EBUSY,
						       -PKVM_EINVAL,
						       -PKVM_ERANGE };

	for (unsigned i = 0; i < STATS_RETS - 1; i++)
		if (codes[i] == v)
			return i;
	return STATS_RETS - 1;
}

/* Whether `id` is a hypercall of the trace's system's table. */
static bool stats_hcall_known(const struct stats *s, uint64_t id)
{
	if (s->sys == TRACE_SYS_LINUX612)
		return id < STATS_HCALLS &&
		       trace_sys_hcall_name(s->sys, (unsigned)id);
	return id > 0 && id < 8;
}

static const char *stats_hcall_name(const struct stats *s, unsigned id)
{
	if (s->sys == TRACE_SYS_LINUX612)
		return trace_sys_hcall_name(s->sys, id);
	return ck_hcall_name(id);
}

/* A trap's x0: if it is a known hypercall, count it and remember it. */
static void stats_x0(struct stats *s, unsigned cpu, uint64_t x0)
{
	uint64_t id = x0 & PKVM_HC_ID_MASK;

	if ((x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE &&
	    stats_hcall_known(s, id)) {
		s->open_id[cpu] = id + 1;
		s->hcall[id]++;
	}
}

/*
 * Hypercalls and their results, from any form of entry and exit:
 * TRAP_ENTRY has x0 in continuation 2, HCALL_ENTRY and HCALL_ENTRY_LOCK2
 * in their head's `b`; every exit has x1, the result, in the head's `b`.
 */
static void stats_record(struct stats *s, const struct pkvm_record *r)
{
	unsigned cpu = r->cpu < STATS_CPUS ? r->cpu : 0;

	if (!(r->flags & PKVM_REC_F_CONT)) {
		bool hcall_entry = r->kind == PKVM_EV_HCALL_ENTRY ||
				   r->kind == PKVM_EV_HCALL_ENTRY_LOCK2;

		s->kind[r->kind]++;
		s->cpu[cpu]++;
		if (r->kind == PKVM_EV_TRAP_ENTRY || hcall_entry)
			s->open_id[cpu] = 0;
		if (hcall_entry)
			stats_x0(s, cpu, r->b);
		if ((r->kind == PKVM_EV_TRAP_EXIT ||
		     r->kind == PKVM_EV_HCALL_EXIT ||
		     r->kind == PKVM_EV_HCALL_EXIT_UNLOCK2) &&
		    s->open_id[cpu]) {
			s->ret[s->open_id[cpu] - 1]
			      [stats_ret_slot((int64_t)r->b)]++;
			s->open_id[cpu] = 0;
		}
		return;
	}
	if (r->kind == PKVM_EV_TRAP_ENTRY &&
	    (r->flags & PKVM_REC_F_NCONT_MASK) == 2)
		stats_x0(s, cpu, r->a);
}

static uint64_t stats_records(const struct stats *s)
{
	uint64_t records = 0;

	for (unsigned k = 1; k < 256; k++)
		records += s->kind[k] * (1 + pkvm_event_ncont(k));
	return records;
}

static void stats_text(const struct stats *s, unsigned ncpu)
{
	printf("records: %llu\n", (unsigned long long)stats_records(s));
	printf("events by kind:\n");
	for (unsigned k = 1; k < 256; k++)
		if (s->kind[k])
			printf("  %-14s %llu\n",
			       trace_kind_name(k) ? trace_kind_name(k) : "?",
			       (unsigned long long)s->kind[k]);
	printf("events by cpu:\n");
	for (unsigned c = 0; c < ncpu && c < STATS_CPUS; c++)
		printf("  cpu%-11u %llu\n", c, (unsigned long long)s->cpu[c]);
	printf("hypercalls:\n");
	for (unsigned h = 0; h < STATS_HCALLS; h++) {
		if (!s->hcall[h])
			continue;
		printf("  %-14s %llu", stats_hcall_name(s, h),
		       (unsigned long long)s->hcall[h]);
		for (unsigned i = 0; i < STATS_RETS; i++)
			if (s->ret[h][i])
				printf(" %s=%llu", stats_rets[i],
				       (unsigned long long)s->ret[h][i]);
		printf("\n");
	}
}

static void stats_json(const struct stats *s, unsigned ncpu)
{
	bool first = true;

	printf("{\"type\":\"stats\",\"records\":%llu,\"kinds\":{",
	       (unsigned long long)stats_records(s));
	for (unsigned k = 1; k < 256; k++)
		if (s->kind[k]) {
			printf("%s\"%s\":%llu", first ? "" : ",",
			       trace_kind_name(k) ? trace_kind_name(k) : "?",
			       (unsigned long long)s->kind[k]);
			first = false;
		}
	printf("},\"cpus\":[");
	for (unsigned c = 0; c < ncpu && c < STATS_CPUS; c++)
		printf("%s%llu", c ? "," : "", (unsigned long long)s->cpu[c]);
	printf("],\"hypercalls\":{");
	first = true;
	for (unsigned h = 0; h < STATS_HCALLS; h++) {
		if (!s->hcall[h])
			continue;
		printf("%s\"%s\":{\"calls\":%llu,\"results\":{",
		       first ? "" : ",", stats_hcall_name(s, h),
		       (unsigned long long)s->hcall[h]);
		first = false;
		for (unsigned i = 0, n = 0; i < STATS_RETS; i++)
			if (s->ret[h][i])
				printf("%s\"%s\":%llu", n++ ? "," : "",
				       stats_rets[i],
				       (unsigned long long)s->ret[h][i]);
		printf("}}");
	}
	printf("}}\n");
}

/** See cli.h. */
int cmd_stats(const struct cli_opts *o)
{
	struct stats *s = calloc(1, sizeof(*s));
	struct trace_error err;
	struct trace_reader *r;
	struct pkvm_record rec;
	int rc;

	CK_CHECK(s != NULL);
	r = trace_reader_open(o->path, &err);
	rc = r ? 0 : -1;
	if (r)
		s->sys = trace_system_of(trace_reader_info(r)->system);
	while (r && (rc = trace_reader_next_any(r, &rec, &err)) == 1)
		stats_record(s, &rec);
	if (rc < 0) {
		dump_error(o->path, &err);
		if (o->fmt == REPORT_JSON) {
			printf("{\"type\":\"error\",\"file\":");
			trace_json_str(stdout, o->path);
			printf(",\"offset\":%llu,\"message\":",
			       (unsigned long long)err.offset);
			trace_json_str(stdout, err.message);
			printf("}\n");
		}
	} else if (o->fmt == REPORT_JSON) {
		stats_json(s, trace_reader_info(r)->cpu_count);
	} else {
		stats_text(s, trace_reader_info(r)->cpu_count);
	}
	if (r)
		trace_reader_close(r);
	free(s);
	return cli_out_done(stdout, rc < 0 ? CK_EXIT_CORRUPT : CK_EXIT_OK);
}
