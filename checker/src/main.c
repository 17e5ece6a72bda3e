// SPDX-License-Identifier: MIT
/*
 * pkvm-check: check a trace against the specification, or dump it, or
 * count what it holds. Exit codes are documented in --help and
 * checker/README.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>

#include "cli.h"

#define MAIN_MAX_ELF 16
#define MAIN_MAX_CPUS 64

static const char main_usage[] =
	"usage: pkvm-check [options] TRACE      check TRACE ('-': stdin)\n"
	"       pkvm-check dump TRACE [--cpu N] [--kind NAME] [--from TS] "
	"[--to TS]\n"
	"       pkvm-check stats TRACE\n"
	"\n"
	"options:\n"
	"  --format=text|json     report format (default text)\n"
	"  --max-findings=N       stop after N findings\n"
	"  --first-failure        same as --max-findings=1\n"
	"  --exit-codes=normal|bisect\n"
	"                         bisect maps 3 and 4 to 125 (git bisect "
	"skip)\n"
	"  --elf FILE             image to disassemble faulting instructions "
	"from\n"
	"                         (repeatable)\n"
	"  --context N            events shown before a finding (default 5)\n"
	"  -q, --quiet            print nothing; the exit code tells\n"
	"  -h, --help             this text\n"
	"  --version              the version\n"
	"\n"
	"exit codes:\n"
	"  0   the trace is a whole run and conforms to the specification\n"
	"  1   findings: the implementation broke the specification\n"
	"  2   usage error\n"
	"  3   unreadable, corrupt or unsupported trace\n"
	"  4   inconclusive: no finding, but the trace is not a whole run\n"
	"      (cut short, not ended cleanly, records lost) or lost records\n"
	"      reach a check; the report says why\n"
	"  70  internal error of the checker\n";

struct main_opts {
	enum report_format fmt;
	uint64_t max_findings;
	bool bisect, quiet;
	unsigned context;
	const char *elf[MAIN_MAX_ELF];
	unsigned elf_count;
	const char *path;
};

static int main_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "pkvm-check: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'pkvm-check --help'.\n");
	return CK_EXIT_USAGE;
}

static bool main_number(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	*out = strtoull(s, &end, 0);
	return *end == '\0';
}

enum {
	OPT_FORMAT = 256,
	OPT_MAX,
	OPT_FIRST,
	OPT_EXIT,
	OPT_ELF,
	OPT_CONTEXT,
	OPT_VERSION,
	OPT_CPU,
	OPT_KIND,
	OPT_FROM,
	OPT_TO
};

static const struct option main_long[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "max-findings", required_argument, NULL, OPT_MAX },
	{ "first-failure", no_argument, NULL, OPT_FIRST },
	{ "exit-codes", required_argument, NULL, OPT_EXIT },
	{ "elf", required_argument, NULL, OPT_ELF },
	{ "context", required_argument, NULL, OPT_CONTEXT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Returns -1 to go on, or an exit code (help, version, usage error). */
static int main_option(struct main_opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case OPT_FORMAT:
		if (strcmp(arg, "text") && strcmp(arg, "json"))
			return main_usage_error("unknown format '%s'", arg);
		o->fmt = strcmp(arg, "json") ? REPORT_TEXT : REPORT_JSON;
		return -1;
	case OPT_MAX:
		if (!main_number(arg, &v) || v == 0)
			return main_usage_error("--max-findings needs a "
						"positive number, not '%s'",
						arg);
		o->max_findings = v;
		return -1;
	case OPT_FIRST:
		o->max_findings = 1;
		return -1;
	case OPT_EXIT:
		if (strcmp(arg, "normal") && strcmp(arg, "bisect"))
			return main_usage_error("unknown --exit-codes '%s'",
						arg);
		o->bisect = strcmp(arg, "bisect") == 0;
		return -1;
	case OPT_ELF:
		if (o->elf_count == MAIN_MAX_ELF)
			return main_usage_error("too many --elf images (%s)",
						arg);
		o->elf[o->elf_count++] = arg;
		return -1;
	case OPT_CONTEXT:
		if (!main_number(arg, &v) || v > 64)
			return main_usage_error("--context needs 0..64, not "
						"'%s'",
						arg);
		o->context = (unsigned)v;
		return -1;
	case 'q':
		o->quiet = true;
		return -1;
	case 'h':
		fputs(main_usage, stdout);
		return CK_EXIT_OK;
	case OPT_VERSION:
		printf("pkvm-check 0.1.0 (ABI %u)\n", PKVM_ABI_VERSION);
		return CK_EXIT_OK;
	default:
		return main_usage_error("%s", "invalid option");
	}
}

static int main_exit(const struct main_opts *o, int code)
{
	if (o->bisect &&
	    (code == CK_EXIT_CORRUPT || code == CK_EXIT_INCONCLUSIVE))
		return 125;
	return code;
}

/*
 * The event that explains the first finding's state is usually long gone
 * from memory: replay the file again up to it (not possible for stdin).
 */
static const struct ck_event *main_explain(const struct main_opts *o,
					   const struct report *rep)
{
	static struct ck_summary sum;
	struct ck_options co = { .context = 0, .capture = true };
	struct filesrc fs = { 0 };
	char msg[600];

	if (!report_explain_wanted(rep, &co.capture_index) ||
	    strcmp(o->path, "-") == 0 ||
	    filesrc_open(&fs, o->path, msg, sizeof(msg)))
		return NULL;
	ck_run(&fs.src, &co, NULL, &sum);
	filesrc_close(&fs);
	return sum.has_captured ? &sum.captured : NULL;
}

static int main_check(const struct main_opts *o)
{
	struct elf_images *elf = elf_images_new();
	struct filesrc fs = { 0 };
	struct ck_options co = { .max_findings = o->max_findings,
				 .context = o->context };
	struct ck_summary sum;
	struct report *rep;
	struct ck_sink sink;
	FILE *held = NULL;
	char msg[600];
	int code;

	CK_CHECK(elf != NULL);
	for (unsigned i = 0; i < o->elf_count; i++)
		if (elf_images_add(elf, o->elf[i], msg, sizeof(msg))) {
			fprintf(stderr, "pkvm-check: %s\n", msg);
			elf_images_free(elf);
			return CK_EXIT_USAGE;
		}
	if (filesrc_open(&fs, o->path, msg, sizeof(msg))) {
		/* Said as an error found later would be: same output. */
		memset(&sum, 0, sizeof(sum));
		snprintf(sum.error, sizeof(sum.error), "%s", msg);
		fprintf(stderr, "pkvm-check: %s\n", msg);
		rep = report_new(stdout, o->fmt, o->quiet, elf);
		CK_CHECK(rep != NULL);
		report_finish(rep, &sum, CK_EXIT_CORRUPT, NULL);
		report_free(rep);
		elf_images_free(elf);
		return main_exit(o, CK_EXIT_CORRUPT);
	}
	/*
	 * Findings are held back in a scratch file until the verdict is
	 * known: the rest of the trace may prove it corrupt, and then they
	 * are not about the hypervisor at all (DESIGN.md 9).
	 */
	if (!o->quiet)
		held = tmpfile();
	rep = report_new(held ? held : stdout, o->fmt, o->quiet, elf);
	CK_CHECK(rep != NULL);
	sink.ctx = rep;
	sink.finding = report_finding;
	code = ck_run(&fs.src, &co, &sink, &sum);
	filesrc_close(&fs);
	if (code == CK_EXIT_CORRUPT)
		fprintf(stderr, "pkvm-check: %s\n", sum.error);
	report_release(rep, stdout, code != CK_EXIT_CORRUPT);
	report_finish(rep, &sum, code, main_explain(o, rep));
	report_free(rep);
	elf_images_free(elf);
	return main_exit(o, code);
}

/* ---- dump ----------------------------------------------------------- */

static int main_dump(int argc, char **argv)
{
	struct trace_dump_opts d = { .cpu = -1, .to_ts = UINT64_MAX };
	const char *path = NULL;
	uint64_t v;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i],
			   *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--cpu") == 0 && main_number(val, &v) &&
		    v < 65536)
			d.cpu = (int)v;
		else if (strcmp(a, "--kind") == 0 && val &&
			 trace_kind_from_name(val))
			d.kind = trace_kind_from_name(val);
		else if (strcmp(a, "--from") == 0 && main_number(val, &v))
			d.from_ts = v;
		else if (strcmp(a, "--to") == 0 && main_number(val, &v))
			d.to_ts = v;
		else if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (path)
				return main_usage_error("dump: one trace only "
							"('%s')",
							a);
			path = a;
			continue;
		} else
			return main_usage_error("dump: bad option or value "
						"'%s'",
						a);
		i++;
	}
	if (!path)
		return main_usage_error("%s", "dump: no trace given");
	return trace_dump(stdout, stderr, path, &d);
}

/* ---- stats ---------------------------------------------------------- */

struct main_stats {
	uint64_t kind[256];
	uint64_t cpu[MAIN_MAX_CPUS];
	uint64_t hcall[8];
	uint64_t ret[8][8]; /* [hcall id][0 ok, 1..6 errno index, 7 other] */
	uint64_t open_id[MAIN_MAX_CPUS]; /* hcall per open trap */
};

static unsigned main_ret_slot(int64_t v)
{
	static const int64_t codes[] = { 0,
					 -PKVM_EPERM,
					 -PKVM_ENOENT,
					 -PKVM_ENOMEM,
					 -PKVM_EFAULT,
					 -PKVM_EBUSY,
					 -PKVM_EINVAL };

	for (unsigned i = 0; i < 7; i++)
		if (codes[i] == v)
			return i;
	return 7;
}

/* A trap's x0: if it is a known hypercall, count it and remember it. */
static void main_stats_x0(struct main_stats *s, unsigned cpu, uint64_t x0)
{
	uint64_t id = x0 & PKVM_HC_ID_MASK;

	if ((x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE && id > 0 &&
	    id < 8) {
		s->open_id[cpu] = id;
		s->hcall[id]++;
	}
}

/*
 * Hypercalls and their results, from any form of entry and exit:
 * TRAP_ENTRY has x0 in continuation 2, HCALL_ENTRY and HCALL_ENTRY_LOCK2
 * in their head's `b`; every exit has x1, the result, in the head's `b`.
 */
static void main_stats_record(struct main_stats *s, const struct pkvm_record *r)
{
	unsigned cpu = r->cpu < MAIN_MAX_CPUS ? r->cpu : 0;

	if (!(r->flags & PKVM_REC_F_CONT)) {
		bool hcall_entry = r->kind == PKVM_EV_HCALL_ENTRY ||
				   r->kind == PKVM_EV_HCALL_ENTRY_LOCK2;

		s->kind[r->kind]++;
		s->cpu[cpu]++;
		if (r->kind == PKVM_EV_TRAP_ENTRY || hcall_entry)
			s->open_id[cpu] = 0;
		if (hcall_entry)
			main_stats_x0(s, cpu, r->b);
		if ((r->kind == PKVM_EV_TRAP_EXIT ||
		     r->kind == PKVM_EV_HCALL_EXIT ||
		     r->kind == PKVM_EV_HCALL_EXIT_UNLOCK2) &&
		    s->open_id[cpu]) {
			s->ret[s->open_id[cpu]][main_ret_slot((int64_t)r->b)]++;
			s->open_id[cpu] = 0;
		}
		return;
	}
	if (r->kind == PKVM_EV_TRAP_ENTRY &&
	    (r->flags & PKVM_REC_F_NCONT_MASK) == 2)
		main_stats_x0(s, cpu, r->a);
}

static void main_stats_print(const struct main_stats *s, unsigned ncpu)
{
	static const char *const rets[] = { "ok",     "EPERM",	"ENOENT",
					    "ENOMEM", "EFAULT", "EBUSY",
					    "EINVAL", "other" };

	uint64_t records = 0;

	for (unsigned k = 1; k < 256; k++)
		records += s->kind[k] * (1 + pkvm_event_ncont(k));
	printf("records: %llu\n", (unsigned long long)records);
	printf("events by kind:\n");
	for (unsigned k = 1; k < 256; k++)
		if (s->kind[k])
			printf("  %-14s %llu\n",
			       trace_kind_name(k) ? trace_kind_name(k) : "?",
			       (unsigned long long)s->kind[k]);
	printf("events by cpu:\n");
	for (unsigned c = 0; c < ncpu && c < MAIN_MAX_CPUS; c++)
		printf("  cpu%-11u %llu\n", c, (unsigned long long)s->cpu[c]);
	printf("hypercalls:\n");
	for (unsigned h = 1; h < 8; h++) {
		if (!s->hcall[h])
			continue;
		printf("  %-14s %llu", ck_hcall_name(h),
		       (unsigned long long)s->hcall[h]);
		for (unsigned i = 0; i < 8; i++)
			if (s->ret[h][i])
				printf(" %s=%llu", rets[i],
				       (unsigned long long)s->ret[h][i]);
		printf("\n");
	}
}

static int main_stats(const char *path)
{
	struct main_stats *s = calloc(1, sizeof(*s));
	struct trace_error err;
	struct trace_reader *r;
	struct pkvm_record rec;
	int rc;

	CK_CHECK(s != NULL);
	r = trace_reader_open(path, &err);
	if (!r) {
		fprintf(stderr, "pkvm-check: %s: offset %llu: %s\n", path,
			(unsigned long long)err.offset, err.message);
		free(s);
		return CK_EXIT_CORRUPT;
	}
	while ((rc = trace_reader_next_any(r, &rec, &err)) == 1)
		main_stats_record(s, &rec);
	if (rc < 0)
		fprintf(stderr, "pkvm-check: %s: offset %llu: %s\n", path,
			(unsigned long long)err.offset, err.message);
	else
		main_stats_print(s, trace_reader_info(r)->cpu_count);
	trace_reader_close(r);
	free(s);
	return rc < 0 ? CK_EXIT_CORRUPT : CK_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct main_opts o = { .fmt = REPORT_TEXT, .context = 5 };
	int c, rc;

	if (argc >= 2 && strcmp(argv[1], "dump") == 0)
		return main_dump(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "stats") == 0) {
		if (argc != 3)
			return main_usage_error("%s", "stats: one trace");
		return main_stats(argv[2]);
	}
	while ((c = getopt_long(argc, argv, "qh", main_long, NULL)) != -1)
		if ((rc = main_option(&o, c, optarg)) >= 0)
			return rc;
	if (optind != argc - 1)
		return main_usage_error("%s", optind >= argc
						      ? "no trace given"
						      : "one trace only");
	o.path = argv[optind];
	return main_check(&o);
}
