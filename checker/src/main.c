// SPDX-License-Identifier: MIT
/*
 * pkvm-check: check a trace against the specification, or dump it, count
 * what it holds, show the run it recorded, or export a timeline. Options
 * may come in any order, before or after the subcommand and the trace
 * (`pkvm-check --format=json dump T` = `pkvm-check dump T --format=json`),
 * as git's and trace-cmd's do. Exit codes are documented in --help and
 * checker/README.md; no output format changes them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pkvm/abi.h>

#include "cli.h"
#include "pkvm_version.h"

/* ---- help --------------------------------------------------------------- */

static const char main_usage[] =
	"usage: pkvm-check [check] [options] TRACE   check TRACE ('-': stdin)\n"
	"       pkvm-check dump [options] TRACE      print its events\n"
	"       pkvm-check stats [options] TRACE     count what it holds\n"
	"       pkvm-check info [options] TRACE      the run it recorded, and "
	"how to\n"
	"                                            record it again\n"
	"       pkvm-check export --chrome-trace [options] TRACE -o FILE\n"
	"                                            a timeline for Perfetto\n"
	"       pkvm-check help [COMMAND]            help on a command\n"
	"\n"
	"Options may come anywhere on the line. Check options:\n"
	"  --format=FORMAT        text (default), json, junit, tap or lava\n"
	"  --max-findings=N       stop after N findings\n"
	"  --first-failure        same as --max-findings=1\n"
	"  --exit-codes=normal|bisect\n"
	"                         bisect maps 3 and 4 to 125 (git bisect "
	"skip),\n"
	"                         but a whole run with no finding is 0 even "
	"if\n"
	"                         its profile leaves checks not judged\n"
	"  --elf FILE             an image (hyp, workload) for instructions "
	"and\n"
	"                         source lines (repeatable); the images the "
	"trace\n"
	"                         names are used too when readable\n"
	"  --no-auto-elf          use only the --elf images\n"
	"  --context N            events shown before a finding (default 5)\n"
	"  --ticks                times in counter ticks, not seconds\n"
	"  --no-progress          no progress line (only shown on a "
	"terminal)\n"
	"  -q, --quiet            print nothing; the exit code tells\n"
	"  -h, --help             this text ('pkvm-check dump --help' for "
	"dump's)\n"
	"  --version              the version\n"
	"\n"
	"exit codes (the same in every format):\n"
	"  0   the trace is a whole run and conforms to the specification\n"
	"  1   findings: the implementation broke the specification\n"
	"  2   usage error, or the report could not be written\n"
	"  3   unreadable, corrupt or unsupported trace\n"
	"  4   inconclusive: no finding, but the trace is not a whole run\n"
	"      (cut short, not ended cleanly, records lost) or lost records\n"
	"      reach a check; the report says why\n"
	"  70  internal error of the checker\n";

static const char dump_usage[] =
	"usage: pkvm-check dump [options] TRACE\n"
	"Print the trace's events in file order, one a line (as recorded: "
	"compact\n"
	"records are not expanded), descriptors decoded, times in seconds.\n"
	"A line names its record as cpuN seq=S; reports number events #N in "
	"the\n"
	"checker's replay order, and --event N finds one of those.\n"
	"  --format=text|json     one line or one JSON object per event\n"
	"  --cpu N                only CPU N (an error if the trace has no "
	"CPU N)\n"
	"  --kind NAME            only events of this kind (as recorded)\n"
	"  --from SECS, --to SECS only events in this time range\n"
	"  --event N              event #N of a report, with --context N "
	"events of\n"
	"                         its CPU around it (default 5)\n"
	"  --page PFN             only events that touch this page: its "
	"mappings,\n"
	"                         hypercalls and aborts naming it, TLB "
	"maintenance\n"
	"                         of it, stores into it if it is a table\n"
	"  --addr ADDR            the same, for the page holding ADDR\n"
	"  --hcall NAME           only events of traps of this hypercall\n"
	"  --lock NAME            only events that take or let go of this "
	"lock\n"
	"  --ticks                times (and --from/--to) in counter ticks\n"
	"  --elf FILE             name the site of each event that has one\n"
	"                         (site=FILE:LINE) from this hyp image's "
	"DWARF;\n"
	"                         without it: pc=+OFFSET from hyp_start\n"
	"exit codes: 0 done, 2 usage, 3 unreadable or corrupt trace\n";

static const char stats_usage[] =
	"usage: pkvm-check stats [--format=text|json] TRACE\n"
	"Count records by kind and CPU, hypercalls and their results.\n"
	"exit codes: 0 done, 2 usage, 3 unreadable or corrupt trace\n";

static const char info_usage[] =
	"usage: pkvm-check info [--format=text|json] TRACE\n"
	"The run the trace recorded: system, format, CPUs, counter frequency, "
	"the\n"
	"hyp's commit (-dirty: built with local changes), seed, operations, "
	"mode,\n"
	"QEMU command, how the run ended and each CPU's records, and the\n"
	"pkvm-record command that records the same run again.\n"
	"exit codes: 0 done, 2 usage, 3 unreadable or corrupt trace\n";

static const char export_usage[] =
	"usage: pkvm-check export --chrome-trace [options] TRACE -o FILE\n"
	"Write a window of the trace as Chrome trace-event JSON, which "
	"Perfetto's\n"
	"UI (ui.perfetto.dev) and chrome://tracing open: one track per CPU, "
	"traps\n"
	"and lock holds as slices, descriptor stores, TLB maintenance and "
	"findings\n"
	"as instants.\n"
	"  -o, --output FILE      where to write it ('-': stdout)\n"
	"  --finding N            centre the window on the Nth finding "
	"(default:\n"
	"                         the first, if the trace has findings)\n"
	"  --window SECS          half the window's width (default 0.001)\n"
	"  --from SECS, --to SECS the window (instead of a finding)\n"
	"  --cpu N                only CPU N\n"
	"  --ticks                --from/--to/--window in counter ticks\n"
	"Without a finding or a range, the whole trace is written.\n"
	"exit codes: 0 written, 2 usage or cannot write, 3 unreadable or "
	"corrupt trace\n";

/* ---- parsing --------------------------------------------------------------
 */

static int usage_error(const char *fmt, const char *arg)
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
	errno = 0;
	*out = strtoull(s, &end, 0);
	return *end == '\0' && errno == 0;
}

enum {
	OPT_FORMAT = 256,
	OPT_MAX,
	OPT_FIRST,
	OPT_EXIT,
	OPT_ELF,
	OPT_NO_AUTO_ELF,
	OPT_CONTEXT,
	OPT_VERSION,
	OPT_TICKS,
	OPT_NO_PROGRESS,
	OPT_CPU,
	OPT_KIND,
	OPT_FROM,
	OPT_TO,
	OPT_EVENT,
	OPT_PAGE,
	OPT_ADDR,
	OPT_HCALL,
	OPT_LOCK,
	OPT_CHROME,
	OPT_FINDING,
	OPT_WINDOW,
};

static const struct option main_long[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "max-findings", required_argument, NULL, OPT_MAX },
	{ "first-failure", no_argument, NULL, OPT_FIRST },
	{ "exit-codes", required_argument, NULL, OPT_EXIT },
	{ "elf", required_argument, NULL, OPT_ELF },
	{ "no-auto-elf", no_argument, NULL, OPT_NO_AUTO_ELF },
	{ "context", required_argument, NULL, OPT_CONTEXT },
	{ "ticks", no_argument, NULL, OPT_TICKS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "kind", required_argument, NULL, OPT_KIND },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "event", required_argument, NULL, OPT_EVENT },
	{ "page", required_argument, NULL, OPT_PAGE },
	{ "addr", required_argument, NULL, OPT_ADDR },
	{ "hcall", required_argument, NULL, OPT_HCALL },
	{ "lock", required_argument, NULL, OPT_LOCK },
	{ "chrome-trace", no_argument, NULL, OPT_CHROME },
	{ "output", required_argument, NULL, 'o' },
	{ "finding", required_argument, NULL, OPT_FINDING },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ NULL, 0, NULL, 0 },
};

/*
 * Which subcommands take which option (by its getopt value): an option
 * given to a command that ignores it is a usage error, not silence.
 */
struct main_cmd {
	const char *name;
	const char *usage;
	const int *opts; /* 0-terminated */
	const char *formats;
};

static const int check_opts[] = { OPT_FORMAT,  OPT_MAX,	  OPT_FIRST,
				  OPT_EXIT,    OPT_ELF,	  OPT_NO_AUTO_ELF,
				  OPT_CONTEXT, OPT_TICKS, OPT_NO_PROGRESS,
				  'q',	       0 };
static const int dump_opts[] = { OPT_FORMAT, OPT_CPU,	OPT_KIND,  OPT_FROM,
				 OPT_TO,     OPT_EVENT, OPT_PAGE,  OPT_ADDR,
				 OPT_HCALL,  OPT_LOCK,	OPT_TICKS, OPT_CONTEXT,
				 OPT_ELF,    0 };
static const int stats_opts[] = { OPT_FORMAT, 0 };
static const int export_opts[] = { OPT_CHROME, 'o',	  OPT_FINDING,
				   OPT_WINDOW, OPT_FROM,  OPT_TO,
				   OPT_CPU,    OPT_TICKS, 0 };

static const struct main_cmd main_cmds[] = {
	{ "check", main_usage, check_opts, "text, json, junit, tap, lava" },
	{ "dump", dump_usage, dump_opts, "text or json" },
	{ "stats", stats_usage, stats_opts, "text or json" },
	{ "info", info_usage, stats_opts, "text or json" },
	{ "export", export_usage, export_opts, "" },
};

static const struct main_cmd *main_find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (strcmp(main_cmds[i].name, name) == 0)
			return &main_cmds[i];
	return NULL;
}

static const char *main_opt_name(int c)
{
	if (c == 'q')
		return "--quiet";
	if (c == 'o')
		return "--output";
	for (const struct option *o = main_long; o->name; o++)
		if (o->val == c) {
			static char buf[40];

			snprintf(buf, sizeof(buf), "--%s", o->name);
			return buf;
		}
	return "?";
}

static bool main_cmd_takes(const struct main_cmd *cmd, int c)
{
	for (const int *p = cmd->opts; *p; p++)
		if (*p == c)
			return true;
	return false;
}

static int main_format(struct cli_opts *o, const char *arg)
{
	static const char *const names[] = { "text", "json", "junit", "tap",
					     "lava" };

	for (unsigned i = 0; i < 5; i++)
		if (strcmp(arg, names[i]) == 0) {
			o->fmt = (enum report_format)i;
			return -1;
		}
	return usage_error("unknown format '%s'; valid: text, json, junit, "
			   "tap, lava",
			   arg);
}

/* Returns -1 to go on, or an exit code (a usage error). */
static int main_option(struct cli_opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case OPT_FORMAT:
		return main_format(o, arg);
	case OPT_MAX:
		if (!main_number(arg, &v) || v == 0)
			return usage_error("--max-findings needs a positive "
					   "number, not '%s'",
					   arg);
		o->max_findings = v;
		return -1;
	case OPT_FIRST:
		o->max_findings = 1;
		return -1;
	case OPT_EXIT:
		if (strcmp(arg, "normal") && strcmp(arg, "bisect"))
			return usage_error("unknown --exit-codes '%s'; valid: "
					   "normal, bisect",
					   arg);
		o->bisect = strcmp(arg, "bisect") == 0;
		return -1;
	case OPT_ELF:
		if (o->elf_count == CLI_MAX_ELF)
			return usage_error("too many --elf images (%s)", arg);
		o->elf[o->elf_count++] = arg;
		return -1;
	case OPT_CONTEXT:
		if (!main_number(arg, &v) || v > 64)
			return usage_error("--context needs 0..64, not '%s'",
					   arg);
		o->context = (unsigned)v;
		return -1;
	case OPT_CPU:
		/* The trace's CPU count is checked once it is open. */
		if (!main_number(arg, &v) || v >= CK_MAX_CPUS * 8192u)
			return usage_error("--cpu needs a CPU number, not '%s'",
					   arg);
		o->cpu = (int)v;
		return -1;
	case OPT_EVENT:
		if (!main_number(arg, &v))
			return usage_error("--event needs an event number "
					   "(#N in a report), not '%s'",
					   arg);
		o->has_event = true;
		o->event = v;
		return -1;
	case OPT_PAGE:
	case OPT_ADDR:
		if (!main_number(arg, &v))
			return usage_error(c == OPT_PAGE
						   ? "--page needs a page "
						     "number, not '%s'"
						   : "--addr needs an "
						     "address, not '%s'",
					   arg);
		o->has_page = true;
		o->pfn = c == OPT_PAGE ? v : v >> 12;
		return -1;
	case OPT_FINDING:
		if (!main_number(arg, &v) || v == 0)
			return usage_error("--finding needs 1, 2, ..., not "
					   "'%s'",
					   arg);
		o->finding = v;
		return -1;
	default:
		return -2;
	}
}

/* Options that only store their argument or set a flag. */
static int main_option_simple(struct cli_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_NO_AUTO_ELF:
		o->no_auto_elf = true;
		return -1;
	case OPT_TICKS:
		o->ticks = true;
		return -1;
	case OPT_NO_PROGRESS:
		o->progress_off = true;
		return -1;
	case 'q':
		o->quiet = true;
		return -1;
	case OPT_KIND:
		o->kind = arg;
		return -1;
	case OPT_FROM:
		o->from = arg;
		return -1;
	case OPT_TO:
		o->to = arg;
		return -1;
	case OPT_HCALL:
		o->hcall = arg;
		return -1;
	case OPT_LOCK:
		o->lock = arg;
		return -1;
	case OPT_CHROME:
		o->chrome = true;
		return -1;
	case 'o':
		o->output = arg;
		return -1;
	case OPT_WINDOW:
		o->window = arg;
		return -1;
	default:
		return main_option(o, c, arg);
	}
}

static int main_help(const char *topic)
{
	const struct main_cmd *cmd = topic ? main_find_cmd(topic) : NULL;

	if (topic && !cmd)
		return usage_error("no command '%s'; valid: check, dump, "
				   "stats, info, export",
				   topic);
	fputs(cmd ? cmd->usage : main_usage, stdout);
	return cli_out_done(stdout, CK_EXIT_OK);
}

/*
 * Every option anywhere; the operands are the subcommand (if the first
 * is one) and the trace. A trace called like a command is given as
 * ./dump, as with git.
 */
static int main_parse(struct cli_opts *o, int argc, char **argv)
{
	int seen[64] = { 0 }, nseen = 0, c, rc;
	bool help = false, version = false;
	const struct main_cmd *cmd;
	char **ops;
	int nops;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qho:", main_long, NULL)) != -1) {
		if (c == 'h') {
			help = true;
			continue;
		}
		if (c == OPT_VERSION) {
			version = true;
			continue;
		}
		if (c == '?')
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		if (c == ':')
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		if ((rc = main_option_simple(o, c, optarg)) >= 0)
			return rc;
		if (nseen < 64)
			seen[nseen++] = c;
	}
	ops = argv + optind;
	nops = argc - optind;
	if (version) {
		printf("pkvm-check %s (trace formats 1.0 to 4.0, ABI %u)\n",
		       PKVM_VERSION, PKVM_ABI_VERSION);
		return cli_out_done(stdout, CK_EXIT_OK);
	}
	if (nops > 0 && strcmp(ops[0], "help") == 0)
		return main_help(nops > 1 ? ops[1] : NULL);
	cmd = nops > 0 ? main_find_cmd(ops[0]) : NULL;
	if (cmd) {
		ops++;
		nops--;
	}
	if (!cmd)
		cmd = &main_cmds[0];
	o->cmd = cmd->name;
	if (help)
		return main_help(cmd == &main_cmds[0] ? NULL : cmd->name);
	for (int i = 0; i < nseen; i++)
		if (!main_cmd_takes(cmd, seen[i])) {
			fprintf(stderr,
				"pkvm-check: %s is not an option of '%s'\n"
				"Try 'pkvm-check %s --help'.\n",
				main_opt_name(seen[i]), cmd->name, cmd->name);
			return CK_EXIT_USAGE;
		}
	if (o->fmt != REPORT_TEXT && o->fmt != REPORT_JSON &&
	    strcmp(cmd->name, "check") != 0) {
		fprintf(stderr,
			"pkvm-check: %s takes --format=%s, not junit, tap "
			"or lava\n",
			cmd->name, cmd->formats);
		return CK_EXIT_USAGE;
	}
	if (nops != 1)
		return usage_error("%s", nops == 0 ? "no trace given"
						   : "one trace only");
	o->path = ops[0];
	return -1;
}

/* ---- check ----------------------------------------------------------------
 */

/*
 * --exit-codes=bisect: 125 (skip) for a commit the trace cannot judge. A
 * whole recording with no finding is good (0) even when its profile leaves
 * some checks not judged: those are the same for every commit of that
 * profile, so they decide nothing between two commits, and without this
 * no linux-6.12 trace could ever be good.
 */
static int main_exit(const struct cli_opts *o, int code,
		     const struct ck_summary *sum)
{
	if (o->bisect && code == CK_EXIT_INCONCLUSIVE && sum &&
	    !sum->inconclusive && !sum->incomplete_count && !sum->lost &&
	    !sum->stopped && sum->unjudged)
		return CK_EXIT_OK;
	if (o->bisect &&
	    (code == CK_EXIT_CORRUPT || code == CK_EXIT_INCONCLUSIVE))
		return 125;
	return code;
}

/*
 * The event that explains the first finding's state is usually long gone
 * from memory: replay the file again up to it (not possible for stdin).
 */
static const struct ck_event *main_explain(const struct cli_opts *o,
					   const struct report *rep)
{
	static struct ck_event ev;
	uint64_t index;

	if (!report_explain_wanted(rep, &index) || strcmp(o->path, "-") == 0)
		return NULL;
	return cli_capture(o->path, index, &ev) ? &ev : NULL;
}

/*
 * The hyp image the trace's header names (hyp=), when it can be read and
 * is the one that ran: its commit stamp is the trace's hyp_commit (the
 * workload has no stamp, so it is never taken on trust: give it with
 * --elf). An image from another build would name wrong lines, so it is
 * left out, and that is said.
 */
static void main_auto_elf(const struct cli_opts *o, const struct run_info *ri,
			  struct elf_images *elf, struct locate *loc)
{
	char path[1024], want[128], have[128], msg[600];

	if (o->no_auto_elf || o->quiet ||
	    !run_get(ri, "hyp", path, sizeof(path)) || access(path, R_OK) != 0)
		return;
	for (unsigned i = 0; i < o->elf_count; i++)
		if (strcmp(o->elf[i], path) == 0)
			return;
	if (!run_get(ri, "hyp_commit", want, sizeof(want)) ||
	    strcmp(want, "unknown") == 0 ||
	    !elf_image_commit(path, have, sizeof(have)) ||
	    strcmp(want, have) != 0) {
		fprintf(stderr,
			"pkvm-check: not using %s for source lines: it is "
			"not the hyp that ran (its commit %s, the trace's "
			"%s); give the right one with --elf\n",
			path,
			elf_image_commit(path, have, sizeof(have)) ? have
								   : "unknown",
			run_get(ri, "hyp_commit", want, sizeof(want))
				? want
				: "unknown");
		return;
	}
	if (elf_images_add(elf, path, msg, sizeof(msg)) == 0)
		locate_add(loc, path, msg, sizeof(msg));
}

static int main_open_images(const struct cli_opts *o, struct elf_images *elf,
			    struct locate *loc)
{
	char msg[600];

	for (unsigned i = 0; i < o->elf_count; i++) {
		if (elf_images_add(elf, o->elf[i], msg, sizeof(msg))) {
			fprintf(stderr, "pkvm-check: %s\n", msg);
			return -1;
		}
		/* No DWARF: instructions still, source lines unknown. */
		if (locate_add(loc, o->elf[i], msg, sizeof(msg)) && !o->quiet)
			fprintf(stderr, "pkvm-check: %s\n", msg);
	}
	return 0;
}

/* The trace cannot even be opened: said as an error found later would be. */
static int main_open_failed(const struct cli_opts *o, struct report_cfg *cfg,
			    const char *msg)
{
	static struct ck_summary sum;
	struct report *rep;

	snprintf(sum.error, sizeof(sum.error), "%s", msg);
	fprintf(stderr, "pkvm-check: %s\n", msg);
	rep = report_new(stdout, cfg);
	CK_CHECK(rep != NULL);
	report_finish(rep, &sum, CK_EXIT_CORRUPT, NULL);
	report_free(rep);
	return cli_out_done(stdout, main_exit(o, CK_EXIT_CORRUPT, NULL));
}

static int main_check(const struct cli_opts *o)
{
	static struct run_info ri;
	static struct ck_summary sum;
	struct elf_images *elf = elf_images_new();
	struct locate *loc = locate_new();
	struct filesrc fs = { 0 };
	struct ck_options co = { .max_findings = o->max_findings,
				 .context = o->context };
	struct report_cfg cfg = { .fmt = o->fmt,
				  .quiet = o->quiet,
				  .ticks = o->ticks,
				  .path = o->path,
				  .elf = elf,
				  .loc = loc,
				  .max_findings = o->max_findings };
	struct report *rep;
	struct ck_sink sink;
	FILE *held = NULL;
	char msg[600];
	int code, rc;

	CK_CHECK(elf != NULL && loc != NULL);
	if (main_open_images(o, elf, loc)) {
		rc = CK_EXIT_USAGE;
		goto out;
	}
	if (filesrc_open(&fs, o->path, msg, sizeof(msg))) {
		rc = main_open_failed(o, &cfg, msg);
		goto out;
	}
	run_info_read(&ri, o->path, fs.reader);
	main_auto_elf(o, &ri, elf, loc);
	cfg.run = &ri;
	cfg.counter_freq = fs.src.counter_freq;
	/*
	 * Findings are held back in a scratch file until the verdict is
	 * known: the rest of the trace may prove it corrupt, and then they
	 * are not about the hypervisor at all (DESIGN.md 9).
	 */
	if (!o->quiet)
		held = tmpfile();
	rep = report_new(held ? held : stdout, &cfg);
	CK_CHECK(rep != NULL);
	sink.ctx = rep;
	sink.finding = report_finding;
	fs.progress = progress_new(o->path, o->quiet || o->progress_off);
	code = ck_run(&fs.src, &co, &sink, &sum);
	progress_end(fs.progress);
	/* Read from a pipe, the outcome is known only now. */
	run_info_read(&ri, o->path, fs.reader);
	if (code == CK_EXIT_CORRUPT)
		fprintf(stderr, "pkvm-check: %s\n", sum.error);
	if (report_release(rep, stdout, code != CK_EXIT_CORRUPT) < 0) {
		fprintf(stderr, "pkvm-check: cannot read back the report "
				"held in a scratch file\n");
		code = CK_EXIT_USAGE;
	}
	report_finish(rep, &sum, code, main_explain(o, rep));
	report_free(rep);
	filesrc_close(&fs);
	rc = cli_out_done(stdout, main_exit(o, code, &sum));
out:
	locate_free(loc);
	elf_images_free(elf);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli_opts o = { .fmt = REPORT_TEXT, .context = 5, .cpu = -1 };
	int rc = main_parse(&o, argc, argv);

	if (rc >= 0)
		return rc;
	if (strcmp(o.cmd, "dump") == 0)
		return cmd_dump(&o);
	if (strcmp(o.cmd, "stats") == 0)
		return cmd_stats(&o);
	if (strcmp(o.cmd, "info") == 0)
		return cmd_info(&o);
	if (strcmp(o.cmd, "export") == 0)
		return cmd_export(&o);
	return main_check(&o);
}
