/* SPDX-License-Identifier: MIT */
/*
 * pkvm-record: boot the hypervisor and its workload under QEMU with guest
 * RAM in a shared file, drain the trace rings out of that file while the
 * machine runs, and write trace.zst. Or, with --from-dump, turn a raw ring
 * dump into a trace. Options, exit codes and the dump format:
 * tracer/README.md.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "cli.h"
#include "elfsym.h"
#include "linux.h"
#include "qemu.h"
#include "record.h"
#include "record_commit.h"
#include "record_config.h"
#include "salvage.h"

/* Exit codes (tracer/README.md "Exit codes"). */
enum record_exit {
	RECORD_EXIT_CLEAN = 0,
	RECORD_EXIT_PANIC = 1,
	RECORD_EXIT_USAGE = 2,
	RECORD_EXIT_QEMU = 3,
	RECORD_EXIT_TIMEOUT = 4,
	RECORD_EXIT_IO = 5,
	RECORD_EXIT_INTERRUPTED = 6,
};

/* QEMU virt's generic timer runs at 62.5 MHz; used only when the hyp
 * never said (tracing never started), so that the header is still valid. */
#define RECORD_DEFAULT_FREQ 62500000u
#define RECORD_RAM_SIZE PKVM_RAM_SIZE

struct options {
	unsigned cpus;
	uint64_t seed;
	uint64_t ops;
	uint64_t scenario;
	const char *scenario_name;
	unsigned mode;
	uint64_t ring_pages;
	double timeout;
	const char *output;
	const char *hyp;
	const char *workload;
	const char *system; /* NULL: our hyp; else linux.h */
	const char *image;
	const char *initramfs;
	bool ops_set;
	const char *from_dump;
	const char *save_dump;
	bool quiet;
	bool verbose;
	bool tcg_multi;
	char **extra;
};

/* Everything the poll callback looks at while the machine runs. */
struct session {
	struct options *opt;
	struct qemu_run qemu;
	struct record_mem mem;
	int ram_fd;
	struct pkvm_ring_ctrl *ctrl;
	struct record_drain drain;
	bool attached;
	struct trace_writer *writer;
	struct trace_info info;
	uint64_t start_ns;
	uint64_t last_progress_ns;
	uint64_t panic_ns; /* when a panic was first noticed, or 0 */
	bool progress;	   /* a progress line is on the terminal */
	int outcome;	   /* enum record_exit once decided, else -1 */
	int run_outcome;   /* enum trace_outcome when it is not the exit
			      code's (a dump), else -1 */
	char why[512];	   /* one line on how the run ended */
	struct elfsym elf; /* the hyp image's symbols, for salvage */
	struct salvage_image img;
	char img_msg[256]; /* why salvage is impossible, or "" */
	struct salvage_result salvage;
	bool salvaged;
	struct record_totals totals;
};

/* Guest RAM: 256 MiB for our hyp, more for Linux (linux.h). */
static uint64_t ram_size(const struct options *o)
{
	return o->system ? RECORD_LINUX_RAM_SIZE : RECORD_RAM_SIZE;
}

/* The Linux run the options describe (linux.c); `ram_path` once known. */
static const struct record_linux *linux_config(const struct options *o,
					       const char *ram_path)
{
	static struct record_linux l;

	l = (struct record_linux){
		.qemu = getenv("PKVM_QEMU") ? getenv("PKVM_QEMU") : RECORD_QEMU,
		.image = o->image,
		.initramfs = o->initramfs,
		.ram_path = ram_path ? ram_path : l.ram_path,
		.cpus = o->cpus,
		.seed = o->seed,
		.rounds = o->ops,
		.wait = o->mode == PKVM_RING_WAIT,
		.tcg_multi = o->tcg_multi,
		.extra = o->extra,
	};
	return &l;
}

static volatile sig_atomic_t record_signal;

static void on_signal(int sig)
{
	record_signal = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pkvm-record [options] [-- extra QEMU arguments]\n"
		"  --cpus N            CPUs (1..%u, default 4)\n"
		"  --seed S            workload seed (default 1)\n"
		"  --ops K             operations per CPU (default 2000)\n"
		"  --scenario NAME|NUM stress (0, default), transitions (1), "
		"aborts (2),\n"
		"                      bad-rings (3), panic (4), progress (5), "
		"no-test-panic (6),\n"
		"                      trace-race (7)\n"
		"  --mode wait|drop    ring mode (default wait: lossless)\n"
		"  --ring-pages P      pages per CPU ring (default 64)\n"
		"  --timeout SECS      stop QEMU after SECS (default 120)\n"
		"  -o, --output FILE   trace file (default trace.zst)\n"
		"  --hyp PATH          hypervisor image (default: %s;\n"
		"                      hyp-test.elf for --scenario panic)\n"
		"  --workload PATH     workload image (default: %s)\n"
		"  --system NAME       record " RECORD_LINUX_SYSTEM
		" (pKVM in Linux) instead of our hyp;\n"
		"                      then --ops is the driver's rounds per "
		"CPU (default 6)\n"
		"  --image, --initramfs PATH  its kernel and initramfs "
		"(default: tools/linux cache)\n"
		"  --from-dump FILE    convert a raw ring dump, no QEMU\n"
		"  --save-dump FILE    also save the rings as a dump at the "
		"end\n"
		"  --quiet             no progress or summary on stderr\n"
		"  --verbose           echo the QEMU console to stderr\n"
		"  --tcg single|multi  QEMU's TCG threading (default single: "
		"one host\n"
		"                      thread for all vCPUs, much faster on "
		"small hosts\n"
		"                      where spinning vCPU threads starve "
		"each other)\n"
		"  -h, --help          this text\n"
		"  --version           the version\n"
		"The console is copied to FILE.console. $PKVM_QEMU overrides "
		"the QEMU binary.\n"
		"Exit codes: 0 clean power-off, 1 hypervisor panic, 2 usage, "
		"3 QEMU failed or\ndied, 4 timeout, 5 I/O or trace error, "
		"6 interrupted. The trace is written in\nevery case.\n",
		PKVM_RING_MAX_CPUS,
		record_image_default("hyp.elf", RECORD_DEFAULT_HYP),
		record_image_default("workload.elf", RECORD_DEFAULT_WORKLOAD));
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr,
			"pkvm-record: %s: '%s' is not a number in %llu..%llu\n",
			opt, s, (unsigned long long)min,
			(unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * The workload's TEST_PANIC scenario: it needs the test image, the only one
 * with the test-only hypercalls (hyp.elf answers the call as unknown).
 */
#define RECORD_SCENARIO_PANIC 4

static int parse_scenario(struct options *o, const char *s)
{
	return record_scenario_parse(s, &o->scenario, &o->scenario_name);
}

static int parse_tcg(struct options *o, const char *s)
{
	if (strcmp(s, "single") && strcmp(s, "multi")) {
		fprintf(stderr,
			"pkvm-record: --tcg takes single or multi, not "
			"'%s'\n",
			s);
		return -1;
	}
	o->tcg_multi = strcmp(s, "multi") == 0;
	return 0;
}

enum {
	OPT_CPUS = 256,
	OPT_SEED,
	OPT_OPS,
	OPT_SCENARIO,
	OPT_MODE,
	OPT_RING_PAGES,
	OPT_TIMEOUT,
	OPT_HYP,
	OPT_WORKLOAD,
	OPT_FROM_DUMP,
	OPT_SAVE_DUMP,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_TCG,
	OPT_SYSTEM,
	OPT_IMAGE,
	OPT_INITRAMFS,
	OPT_VERSION,
};

static const struct option long_opts[] = {
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "scenario", required_argument, NULL, OPT_SCENARIO },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "ring-pages", required_argument, NULL, OPT_RING_PAGES },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "output", required_argument, NULL, 'o' },
	{ "hyp", required_argument, NULL, OPT_HYP },
	{ "workload", required_argument, NULL, OPT_WORKLOAD },
	{ "from-dump", required_argument, NULL, OPT_FROM_DUMP },
	{ "save-dump", required_argument, NULL, OPT_SAVE_DUMP },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "tcg", required_argument, NULL, OPT_TCG },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "system", required_argument, NULL, OPT_SYSTEM },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "initramfs", required_argument, NULL, OPT_INITRAMFS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int parse_timeout(struct options *o, const char *s)
{
	char *end;

	errno = 0;
	o->timeout = strtod(s, &end);
	if (errno || end == s || *end || !(o->timeout > 0) ||
	    o->timeout > 86400) {
		fprintf(stderr,
			"pkvm-record: --timeout: '%s' is not a number of "
			"seconds in (0, 86400]\n",
			s);
		return -1;
	}
	return 0;
}

static int parse_mode(struct options *o, const char *s)
{
	if (strcmp(s, "wait") == 0)
		o->mode = PKVM_RING_WAIT;
	else if (strcmp(s, "drop") == 0)
		o->mode = PKVM_RING_DROP;
	else {
		fprintf(stderr,
			"pkvm-record: --mode: '%s' is not wait or drop\n", s);
		return -1;
	}
	return 0;
}

/* One option; returns 0, -1 on a bad value, 1 for --help. */
static int parse_one(struct options *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case OPT_CPUS:
		if (parse_u64("--cpus", arg, 1, PKVM_RING_MAX_CPUS, &v))
			return -1;
		o->cpus = (unsigned)v;
		return 0;
	case OPT_SEED:
		return parse_u64("--seed", arg, 0, UINT64_MAX, &o->seed);
	case OPT_OPS:
		o->ops_set = true;
		return parse_u64("--ops", arg, 0, UINT64_MAX, &o->ops);
	case OPT_SCENARIO:
		return parse_scenario(o, arg);
	case OPT_MODE:
		return parse_mode(o, arg);
	case OPT_RING_PAGES:
		/* 4 pages hold 512 records; the hyp refuses under 128 records
		 * (1 page), and over 2^20 records (8192 pages). */
		return parse_u64("--ring-pages", arg, 1, 8192, &o->ring_pages);
	case OPT_TIMEOUT:
		return parse_timeout(o, arg);
	case 'o':
		o->output = arg;
		return 0;
	case OPT_HYP:
		o->hyp = arg;
		return 0;
	case OPT_WORKLOAD:
		o->workload = arg;
		return 0;
	case OPT_FROM_DUMP:
		o->from_dump = arg;
		return 0;
	case OPT_SAVE_DUMP:
		o->save_dump = arg;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case OPT_VERBOSE:
		o->verbose = true;
		return 0;
	case OPT_TCG:
		return parse_tcg(o, arg);
	case OPT_SYSTEM:
		if (!record_linux_known(arg) && strcmp(arg, "pkvm-hyp")) {
			fprintf(stderr,
				"pkvm-record: --system: '%s' is not "
				"pkvm-hyp or %s\n",
				arg, RECORD_LINUX_SYSTEM);
			return -1;
		}
		o->system = record_linux_known(arg) ? arg : NULL;
		return 0;
	case OPT_IMAGE:
		o->image = arg;
		return 0;
	case OPT_INITRAMFS:
		o->initramfs = arg;
		return 0;
	case 'h':
		return 1;
	case OPT_VERSION:
		return 2;
	default:
		return -1;
	}
}

/* Returns -1 to exit with a usage error, 1 for --help, 2 for --version,
 * else 0. */
static int parse_args(struct options *o, int argc, char **argv)
{
	int c;

	*o = (struct options){
		.cpus = 4,
		.seed = 1,
		.ops = 2000,
		.scenario_name = "stress",
		.mode = PKVM_RING_WAIT,
		.ring_pages = 64,
		.timeout = 120,
		.output = "trace.zst",
	};
	while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
		int r = parse_one(o, c, optarg);

		if (r)
			return r;
	}
	if (!o->hyp)
		o->hyp = o->scenario == RECORD_SCENARIO_PANIC
				 ? record_image_default("hyp-test.elf",
							RECORD_DEFAULT_HYP_TEST)
				 : record_image_default("hyp.elf",
							RECORD_DEFAULT_HYP);
	if (!o->workload)
		o->workload = record_image_default("workload.elf",
						   RECORD_DEFAULT_WORKLOAD);
	o->extra = argv + optind;
	if (o->system) {
		o->image = o->image ? o->image : record_linux_default_image();
		o->initramfs = o->initramfs ? o->initramfs
					    : record_linux_default_initramfs();
		o->ops = o->ops_set ? o->ops : 6;
	}
	if (o->from_dump && *o->extra) {
		fprintf(stderr, "pkvm-record: extra QEMU arguments make no "
				"sense with --from-dump\n");
		return -1;
	}
	return 0;
}

static void add_identity(struct trace_info *info, const char *key,
			 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_identity(struct trace_info *info, const char *key,
			 const char *fmt, ...)
{
	size_t used = strlen(info->identity);
	size_t room = sizeof(info->identity) - used;
	va_list ap;
	int n;

	n = snprintf(info->identity + used, room, "%s=", key);
	if (n < 0 || (size_t)n >= room)
		return;
	used += (size_t)n;
	room -= (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(info->identity + used, room, fmt, ap);
	va_end(ap);
	used += n > 0 && (size_t)n < room ? (size_t)n : room - 1;
	if (used + 1 < sizeof(info->identity)) {
		info->identity[used] = '\n';
		info->identity[used + 1] = '\0';
	}
}

/*
 * The commit a hyp image was built from: hyp/src/commit.c.in stores it
 * behind a fixed prefix. "unknown" when the image has none (an older or
 * foreign image) or cannot be read.
 */
static void hyp_commit_of(const char *path, char *out, size_t len)
{
	static const char prefix[] = "pkvm-hyp-commit=";
	size_t cap = 16u << 20, size = 0, n = 0;
	FILE *f = path ? fopen(path, "rb") : NULL;
	char *buf = f ? malloc(cap) : NULL;
	const char *p = NULL, *end;

	snprintf(out, len, "unknown");
	if (buf)
		size = fread(buf, 1, cap, f);
	if (size)
		p = memmem(buf, size, prefix, sizeof(prefix) - 1);
	if (p) {
		p += sizeof(prefix) - 1;
		end = buf + size;
		while (p + n < end && n + 1 < len &&
		       (isalnum((unsigned char)p[n]) || p[n] == '-'))
			n++;
		/* Only a whole stamp, ended by its NUL, counts. */
		if (n > 0 && p + n < end && p[n] == '\0') {
			memcpy(out, p, n);
			out[n] = '\0';
		}
	}
	free(buf);
	if (f)
		fclose(f);
}

static void build_identity(struct trace_info *info, const struct options *o,
			   const char *cmdline)
{
	char hyp_commit[64];

	info->identity[0] = '\0';
	add_identity(info, "recorder", "pkvm-record %s", RECORD_VERSION);
	if (o->system && !o->from_dump) {
		size_t used = strlen(info->identity);

		record_linux_identity(linux_config(o, NULL),
				      info->identity + used,
				      sizeof(info->identity) - used);
		add_identity(info, "recorder_commit", "%s", RECORD_HYP_COMMIT);
		add_identity(info, "qemu", "%s", cmdline);
		return;
	}
	if (o->from_dump) {
		/* A dump carries no image: the commit is the recorder's. */
		add_identity(info, "hyp_commit", "%s", RECORD_HYP_COMMIT);
		add_identity(info, "source", "dump %s", o->from_dump);
		return;
	}
	hyp_commit_of(o->hyp, hyp_commit, sizeof(hyp_commit));
	add_identity(info, "hyp_commit", "%s", hyp_commit);
	add_identity(info, "recorder_commit", "%s", RECORD_HYP_COMMIT);
	add_identity(info, "seed", "%llu", (unsigned long long)o->seed);
	add_identity(info, "ops", "%llu", (unsigned long long)o->ops);
	add_identity(info, "cpus", "%u", o->cpus);
	add_identity(info, "scenario", "%llu", (unsigned long long)o->scenario);
	add_identity(info, "mode", "%s",
		     o->mode == PKVM_RING_DROP ? "drop" : "wait");
	add_identity(info, "ring_pages", "%llu",
		     (unsigned long long)o->ring_pages);
	add_identity(info, "hyp", "%s", o->hyp);
	add_identity(info, "workload", "%s", o->workload);
	add_identity(info, "qemu", "%s", cmdline);
}

static struct trace_writer *open_writer(struct session *s, uint32_t cpus,
					uint64_t freq)
{
	struct trace_error err;
	struct trace_writer *w;

	s->info.cpu_count = cpus;
	s->info.counter_freq = freq ? freq : RECORD_DEFAULT_FREQ;
	/* Each system counts its own tables' versions (FORMAT.md 9.1). */
	s->info.abi_version =
		s->opt->system ? PKVM_L612_ABI_VERSION : PKVM_ABI_VERSION;
	/* The header names the system: it picks the checker's profile. */
	snprintf(s->info.system, sizeof(s->info.system), "%s",
		 s->opt->system ? RECORD_LINUX_SYSTEM : TRACE_SYSTEM_HYP);
	w = trace_writer_open(s->opt->output, &s->info, &err);
	if (!w)
		fprintf(stderr, "pkvm-record: %s: %s\n", s->opt->output,
			err.message);
	return w;
}

/* ---- the live session ------------------------------------------------- */

/* The outcome the trace's end summary gives a run that ends with `code`. */
static enum trace_outcome trace_outcome_of(int code)
{
	switch (code) {
	case RECORD_EXIT_CLEAN:
		return TRACE_OUTCOME_CLEAN;
	case RECORD_EXIT_PANIC:
		return TRACE_OUTCOME_PANIC;
	case RECORD_EXIT_QEMU:
		return TRACE_OUTCOME_QEMU;
	case RECORD_EXIT_TIMEOUT:
		return TRACE_OUTCOME_TIMEOUT;
	case RECORD_EXIT_INTERRUPTED:
		return TRACE_OUTCOME_INTERRUPTED;
	case RECORD_EXIT_IO:
		return TRACE_OUTCOME_RECORDER;
	default:
		return TRACE_OUTCOME_UNKNOWN;
	}
}

static enum trace_outcome run_outcome(const struct session *s)
{
	return s->run_outcome >= 0 ? (enum trace_outcome)s->run_outcome
				   : trace_outcome_of(s->outcome);
}

/* Decide how the run ended, once; later reasons do not override it. */
static int decide(struct session *s, int outcome, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int decide(struct session *s, int outcome, const char *fmt, ...)
{
	va_list ap;

	if (s->outcome >= 0)
		return 1;
	s->outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
	return 1;
}

/* The first page holding a control block, scanning only the parts of the
 * RAM file that hold data: untouched guest RAM is a hole in the file, and
 * reading holes through the mapping would fill the page cache with zeros. */
static struct pkvm_ring_ctrl *find_ctrl(struct session *s)
{
	off_t pos = 0;
	off_t size = (off_t)s->mem.size;

	while (pos < size) {
		off_t data = lseek(s->ram_fd, pos, SEEK_DATA);
		off_t hole;
		struct record_mem sub;
		struct pkvm_ring_ctrl *c;

		if (data < 0)
			break;
		hole = lseek(s->ram_fd, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		data &= ~(off_t)(RECORD_CTRL_PAGE - 1);
		hole = (hole + RECORD_CTRL_PAGE - 1) &
		       ~(off_t)(RECORD_CTRL_PAGE - 1);
		sub.base = s->mem.base + data;
		sub.pa_base = s->mem.pa_base + (uint64_t)data;
		sub.size = (uint64_t)(hole - data);
		c = record_find_ctrl(&sub, s->opt->cpus, true);
		if (c)
			return c;
		pos = hole > data ? hole : data + RECORD_CTRL_PAGE;
	}
	return NULL;
}

static void progress(struct session *s, bool final)
{
	uint64_t now = now_ns();
	double secs = (double)(now - s->start_ns) / 1e9;
	uint64_t recs = s->attached ? RECORD_TOTAL(&s->drain, records) : 0;
	uint64_t lost = s->attached ? record_ctrl_dropped(&s->drain) : 0;

	if (s->opt->quiet || !isatty(2))
		return;
	if (!final && now - s->last_progress_ns < 250000000u)
		return;
	s->last_progress_ns = now;
	fprintf(stderr,
		"\r\033[Kpkvm-record: %llu records, %.0f rec/s, lost "
		"%llu, %.1f s",
		(unsigned long long)recs, secs > 0 ? (double)recs / secs : 0.0,
		(unsigned long long)lost, secs);
	s->progress = !final;
	if (final)
		fprintf(stderr, "\r\033[K");
}

static bool panic_noticed(struct session *s)
{
	if (s->ctrl && __atomic_load_n(&s->ctrl->state, __ATOMIC_ACQUIRE) ==
			       PKVM_RING_STATE_PANIC)
		return true;
	return (s->attached && s->drain.panic_seen) || s->qemu.panic_line;
}

static int check_exit(struct session *s)
{
	int st = s->qemu.status;

	if (panic_noticed(s))
		return decide(s, RECORD_EXIT_PANIC,
			      "the hypervisor panicked, then QEMU exited");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && s->ctrl)
		return decide(s, RECORD_EXIT_CLEAN, "the machine powered off");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return decide(s, RECORD_EXIT_QEMU,
			      "QEMU exited before tracing started");
	if (WIFEXITED(st))
		return decide(s, RECORD_EXIT_QEMU, "QEMU exited with status %d",
			      WEXITSTATUS(st));
	return decide(s, RECORD_EXIT_QEMU, "QEMU was killed by signal %d",
		      WTERMSIG(st));
}

/* Everything that can end a run; returns non-zero once it has ended. */
static int poll_session(void *arg)
{
	struct session *s = arg;
	uint64_t now = now_ns();

	qemu_read_console(&s->qemu);
	progress(s, false);
	if (record_signal)
		return decide(s, RECORD_EXIT_INTERRUPTED,
			      "interrupted by signal %d", (int)record_signal);
	if (qemu_poll_exit(&s->qemu))
		return check_exit(s);
	if (panic_noticed(s)) {
		/* Let the other CPUs publish what they had before it stopped
		 * them, then stop the machine: a panicked hyp never exits. */
		if (!s->panic_ns)
			s->panic_ns = now;
		if (now - s->panic_ns > 300000000u)
			return decide(s, RECORD_EXIT_PANIC,
				      "the hypervisor "
				      "panicked%s%s",
				      s->qemu.panic_line ? ": " : "",
				      s->qemu.panic_text);
	}
	if ((double)(now - s->start_ns) / 1e9 > s->opt->timeout)
		return decide(s, RECORD_EXIT_TIMEOUT,
			      "timeout after %.0f s, QEMU stopped",
			      s->opt->timeout);
	return 0;
}

/* Attach to the control block once the hyp has accepted it. */
static int try_attach(struct session *s)
{
	if (!s->ctrl)
		s->ctrl = find_ctrl(s);
	if (!s->ctrl)
		return 0;
	s->writer = open_writer(s, s->ctrl->cpu_count, s->ctrl->counter_freq);
	if (!s->writer)
		return decide(s, RECORD_EXIT_IO, "cannot write the trace");
	if (record_drain_attach(&s->drain, s->ctrl, &s->mem, s->writer))
		return decide(s, RECORD_EXIT_IO, "%s", s->drain.message);
	s->attached = true;
	return 1;
}

static void wait_attach(struct session *s)
{
	struct timespec tick = { 0, 2 * 1000 * 1000 };

	while (s->outcome < 0 && !try_attach(s) && !poll_session(s))
		nanosleep(&tick, NULL);
}

static int open_ram(struct session *s, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char tmpl[PATH_MAX];

	snprintf(tmpl, sizeof(tmpl), "%s/pkvm-ram-XXXXXX",
		 dir && *dir ? dir : "/tmp");
	s->ram_fd = mkstemp(tmpl);
	if (s->ram_fd < 0) {
		fprintf(stderr, "pkvm-record: %s: %s\n", tmpl, strerror(errno));
		return -1;
	}
	/* Unlinked at once: QEMU opens it through our descriptor, which it
	 * inherits, so nothing is left behind however the recorder ends. */
	unlink(tmpl);
	if (ftruncate(s->ram_fd, ram_size(s->opt)) != 0) {
		fprintf(stderr, "pkvm-record: %s: %s\n", tmpl, strerror(errno));
		return -1;
	}
	s->mem.base = mmap(NULL, ram_size(s->opt), PROT_READ | PROT_WRITE,
			   MAP_SHARED, s->ram_fd, 0);
	if (s->mem.base == MAP_FAILED) {
		fprintf(stderr, "pkvm-record: mmap %s: %s\n", tmpl,
			strerror(errno));
		return -1;
	}
	s->mem.pa_base = PKVM_RAM_BASE;
	s->mem.size = ram_size(s->opt);
	snprintf(path, len, "/proc/self/fd/%d", s->ram_fd);
	return 0;
}

static int check_image(const char *what, const char *path)
{
	if (access(path, R_OK) == 0)
		return 0;
	fprintf(stderr,
		"pkvm-record: %s image %s: %s (build it, or pass --%s)\n", what,
		path, strerror(errno), what);
	return -1;
}

static void summary(struct session *s)
{
	const struct record_drain *d = &s->drain;
	const struct record_totals *t = &s->totals;
	uint64_t freq = s->info.counter_freq ? s->info.counter_freq : 1;
	bool a = s->attached;

	if (s->opt->quiet)
		return;
	/* `lost` is every record produced and not in the trace, counted as
	 * the checker counts (tracer/README.md "Every record accounted
	 * for"); the hyp's `dropped` counters leave out its early buffer. */
	fprintf(stderr,
		"pkvm-record: %s: records=%llu lost=%llu (lost records %llu, "
		"tail %llu, ring drops %llu) bad=%llu partial=%llu "
		"salvaged=%llu wait=%.3fs outcome=%s (%s)\n",
		s->opt->output, (unsigned long long)RECORD_TOTAL(d, records),
		(unsigned long long)t->lost, (unsigned long long)t->lost_counts,
		(unsigned long long)t->tail, (unsigned long long)t->dropped,
		(unsigned long long)RECORD_TOTAL(d, bad),
		(unsigned long long)RECORD_TOTAL(d, partial),
		(unsigned long long)s->salvage.records,
		a ? (double)record_ctrl_wait_ticks(d) / (double)freq : 0.0,
		trace_outcome_name(run_outcome(s)), s->why);
	if (t->unknown)
		fprintf(stderr,
			"pkvm-record: %u of %u CPUs' producer counters are "
			"unknown: losses at the end of their streams cannot "
			"be counted\n",
			t->unknown, d->cpu_count);
	if (s->outcome == RECORD_EXIT_QEMU) {
		fprintf(stderr, "pkvm-record: last console lines:\n");
		qemu_print_last(&s->qemu, stderr);
	}
}

/*
 * Salvage (salvage.c) what our hyp wrote and never published, once the
 * machine has stopped: unless it stopped cleanly (STOPPED: every record
 * published), or there is no RAM (a dump), or the image is not ours.
 */
static void salvage(struct session *s)
{
	/* Only our own hyp's producer state is known here. */
	if (s->info.system[0] && strcmp(s->info.system, TRACE_SYSTEM_HYP))
		return;
	if (s->ram_fd < 0 || !s->writer ||
	    (s->attached &&
	     __atomic_load_n(&s->ctrl->state, __ATOMIC_ACQUIRE) ==
		     PKVM_RING_STATE_STOPPED))
		return;
	if (s->img_msg[0]) {
		fprintf(stderr, "pkvm-record: cannot salvage: %s: %s\n",
			s->opt->hyp, s->img_msg);
		return;
	}
	if (!s->attached &&
	    record_drain_attach_none(&s->drain, s->opt->cpus, s->writer)) {
		decide(s, RECORD_EXIT_IO, "%s", s->drain.message);
		return;
	}
	if (salvage_run(&s->img, &s->mem, &s->drain, &s->salvage) < 0)
		decide(s, RECORD_EXIT_IO, "%s", s->drain.message);
	s->salvaged = true;
	salvage_report(&s->salvage, s->drain.cpu_count, stderr);
}

/* Each CPU's producer counters (salvage's, else the control block's),
 * checked, into the end summary with the outcome. */
static void end_summary(struct session *s)
{
	uint64_t produced[PKVM_RING_MAX_CPUS], dropped[PKVM_RING_MAX_CPUS];

	salvage_counters(&s->drain, s->attached,
			 s->salvaged ? &s->salvage : NULL, produced, dropped);
	if (record_account_all(&s->drain, produced, dropped, &s->totals,
			       stderr))
		decide(s, RECORD_EXIT_IO, "%s", s->drain.message);
	trace_writer_set_outcome(s->writer, run_outcome(s), s->why);
}

/* Final drain and the trace's end: the same whatever stopped the run. */
static int finish(struct session *s)
{
	struct trace_error err;
	char msg[512];

	qemu_stop(&s->qemu, 1000);
	if (!s->attached && s->ram_fd >= 0 && s->outcome != RECORD_EXIT_IO)
		try_attach(s);
	if (s->attached && record_drain_all(&s->drain) < 0)
		decide(s, RECORD_EXIT_IO, "%s", s->drain.message);
	if (!s->writer)
		s->writer = open_writer(s, s->opt->cpus, 0);
	salvage(s);
	if (s->attached && s->opt->save_dump &&
	    record_dump_save(&s->drain, s->opt->save_dump, true, msg,
			     sizeof(msg))) {
		fprintf(stderr, "pkvm-record: %s\n", msg);
		s->outcome = RECORD_EXIT_IO;
	}
	if (s->writer)
		end_summary(s);
	if (s->writer && trace_writer_close(s->writer, &err)) {
		fprintf(stderr, "pkvm-record: %s: %s\n", s->opt->output,
			err.message);
		s->outcome = RECORD_EXIT_IO;
	} else if (!s->writer) {
		s->outcome = RECORD_EXIT_IO;
	}
	progress(s, true);
	summary(s);
	record_drain_release(&s->drain);
	elfsym_close(&s->elf);
	return s->outcome;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static FILE *open_console_log(const char *output)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s.console", output);
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "pkvm-record: %s: %s (console not saved)\n",
			path, strerror(errno));
	return f;
}

static int start(struct session *s, struct options *o)
{
	static char cmdline[3072];
	char ram_path[64];
	struct qemu_config cfg = {
		.qemu = getenv("PKVM_QEMU") ? getenv("PKVM_QEMU") : RECORD_QEMU,
		.hyp = o->hyp,
		.workload = o->workload,
		.ram_path = ram_path,
		.cpus = o->cpus,
		.tcg_multi = o->tcg_multi,
		.params = { .magic = PKVM_PARAMS_MAGIC,
			    .seed = o->seed,
			    .ops = o->ops,
			    .scenario = o->scenario,
			    .mode = o->mode,
			    .ring_pages = o->ring_pages },
		.extra = o->extra,
	};
	char **argv;
	int rc;

	if (open_ram(s, ram_path, sizeof(ram_path)))
		return -1;
	if (o->system) {
		argv = record_linux_argv(linux_config(o, ram_path), cmdline,
					 sizeof(cmdline));
		/* The kernel says "Kernel panic - not syncing: HYP panic" (or
		 * another reason); the rings' PANIC state says it first. */
		s->qemu.panic_match = "Kernel panic";
	} else
		argv = qemu_argv_build(&cfg, cmdline, sizeof(cmdline));
	if (!argv)
		return -1;
	build_identity(&s->info, o, cmdline);
	s->qemu.log = open_console_log(o->output);
	s->qemu.echo = o->verbose;
	s->start_ns = now_ns();
	rc = qemu_start(&s->qemu, argv, s->ram_fd);
	if (rc)
		fprintf(stderr, "pkvm-record: cannot start QEMU: %s\n",
			strerror(errno));
	qemu_argv_free(argv);
	return rc;
}

static int record_live(struct options *o)
{
	static struct session s;

	s.opt = o;
	s.outcome = -1;
	s.run_outcome = -1;
	s.ram_fd = -1;
	if (o->system ? check_image("image", o->image) ||
				check_image("initramfs", o->initramfs)
		      : check_image("hyp", o->hyp) ||
				check_image("workload", o->workload))
		return RECORD_EXIT_USAGE;
	/* Salvage knows our hyp's producer, not the Linux series'. */
	if (o->system)
		snprintf(s.img_msg, sizeof(s.img_msg),
			 "salvage reads only our own hyp's producer");
	else if (elfsym_open(&s.elf, o->hyp, s.img_msg, sizeof(s.img_msg)) ==
			 0 &&
		 salvage_image_from_elf(&s.img, &s.elf, s.img_msg,
					sizeof(s.img_msg)) == 0)
		s.img_msg[0] = '\0';
	setup_signals();
	if (start(&s, o)) {
		decide(&s, RECORD_EXIT_QEMU, "QEMU could not be started");
		return finish(&s);
	}
	wait_attach(&s);
	if (s.outcome < 0 && s.attached &&
	    record_drain_loop(&s.drain, poll_session, &s, 100) < 0)
		decide(&s, RECORD_EXIT_IO, "%s", s.drain.message);
	return finish(&s);
}

/* ---- --from-dump ------------------------------------------------------- */

static int record_from_dump(struct options *o)
{
	static struct session s;
	struct record_dump dump;
	char msg[512];

	s.opt = o;
	s.outcome = RECORD_EXIT_CLEAN;
	s.run_outcome = -1;
	s.ram_fd = -1;
	if (record_dump_load(&dump, o->from_dump, msg, sizeof(msg))) {
		fprintf(stderr, "pkvm-record: %s\n", msg);
		return RECORD_EXIT_IO;
	}
	build_identity(&s.info, o, "");
	s.run_outcome = record_dump_outcome(dump.ctrl->state, o->from_dump,
					    s.why, sizeof(s.why));
	s.writer =
		open_writer(&s, dump.ctrl->cpu_count, dump.ctrl->counter_freq);
	if (!s.writer) {
		record_dump_free(&dump);
		return RECORD_EXIT_IO;
	}
	s.ctrl = dump.ctrl;
	if (record_drain_attach_rings(&s.drain, dump.ctrl, dump.rings,
				      s.writer)) {
		fprintf(stderr, "pkvm-record: %s: %s\n", o->from_dump,
			s.drain.message);
		s.outcome = RECORD_EXIT_IO;
	} else {
		s.attached = true;
	}
	o->save_dump = NULL;
	s.qemu.pid = -1;
	int rc = finish(&s);
	record_dump_free(&dump);
	return rc;
}

/*
 * Started with standard input, output or error closed (a CI job, a
 * daemon), the next file opened would take that number: the RAM file as
 * fd 0 is then replaced by /dev/null in QEMU's child. Fill the gaps first.
 */
static void stdio_fill(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			break;
}

int main(int argc, char **argv)
{
	struct options opt;
	int r;

	stdio_fill();
	r = parse_args(&opt, argc, argv);

	if (r < 0) {
		fprintf(stderr, "Try 'pkvm-record --help'.\n");
		return RECORD_EXIT_USAGE;
	}
	if (r == 2) {
		printf("pkvm-record %s (ABI %u)\n", RECORD_VERSION,
		       PKVM_ABI_VERSION);
		return fflush(stdout) || ferror(stdout) ? RECORD_EXIT_USAGE
							: RECORD_EXIT_CLEAN;
	}
	if (r > 0) {
		usage(stdout);
		return fflush(stdout) || ferror(stdout) ? RECORD_EXIT_USAGE
							: RECORD_EXIT_CLEAN;
	}
	if (opt.from_dump)
		return record_from_dump(&opt);
	return record_live(&opt);
}
