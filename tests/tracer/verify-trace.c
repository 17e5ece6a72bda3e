/* SPDX-License-Identifier: MIT */
/*
 * verify-trace: a test helper that reads a trace with libpkvmtrace, prints
 * per-kind and per-CPU counts, and checks what a recording must satisfy:
 * every sequence gap is explained by the LOST record right after it, the
 * end summary agrees with the records and its producer counters account
 * for every record (tracer/README.md "Every record accounted for"), plus
 * whatever the --expect-* flags ask. It prints the run's loss as the
 * recorder and the checker count it (`lost_total=`). Exit 0 when every
 * check holds, 1 on a problem, 2 on usage, 3 when the file cannot be read.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>
#include <pkvm/trace.h>

#define VERIFY_KINDS 256
#define PKVM_RING_MAX_CPUS_VERIFY 64u

struct cpu_view {
	uint64_t records;
	uint64_t lost;	      /* sum of LOST counts */
	uint64_t gaps;	      /* sequence numbers missing */
	uint64_t bad_gaps;    /* gaps not explained by the LOST after them */
	uint64_t unexplained; /* gaps before a record that is not LOST */
	uint64_t first_seq;   /* the first record's: records before it are
				 missing */
	uint64_t tail;	      /* produced - (last_seq + 1), from the summary */
	uint64_t produced;    /* the summary's counters */
	uint64_t dropped;
	uint64_t kinds[VERIFY_KINDS];
	uint64_t ring_lost; /* LOST counts after the early buffer was copied */
	uint64_t last_seq;  /* extended to 64 bits */
	bool seen;
	bool copied; /* MARK early_copied seen: the CPU writes its ring */
};

struct verify {
	struct cpu_view cpu[PKVM_RING_MAX_CPUS_VERIFY];
	unsigned cpu_count;
	unsigned problems;
	bool truncated;
	bool counters_unknown; /* some CPU's producer counters are unknown */
	const struct trace_run *run;
	bool print; /* --print: one line per record */
	const char *path;
};

static struct verify v;

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void problem(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "verify-trace: %s: ", v.path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	v.problems++;
}

/* One record of `c`: counts, and the gap before it checked against it. */
static void take(struct cpu_view *c, unsigned cpu, const struct pkvm_record *r)
{
	uint32_t expect = (uint32_t)(c->last_seq + 1);
	uint32_t gap = c->seen ? r->seq - expect : 0;

	if (!c->seen)
		c->first_seq = r->seq;
	if (gap) {
		c->gaps += gap;
		/* The checker's count: a gap before a LOST record is that
		 * record's count, any other is a loss of its own. */
		if (r->kind != PKVM_EV_LOST)
			c->unexplained += gap;
		/* The hyp writes the LOST record as the first one after the
		 * drop, naming the first lost number and the count. */
		if (r->kind != PKVM_EV_LOST || r->a != gap ||
		    (uint32_t)r->b != expect) {
			c->bad_gaps += gap;
			if (c->bad_gaps == gap)
				problem("cpu %u: seq %u..%u missing, not "
					"explained by a LOST record",
					cpu, expect, r->seq - 1);
		}
	}
	c->last_seq = c->seen ? c->last_seq + 1 + gap : r->seq;
	c->seen = true;
	c->records++;
	if (!(r->flags & PKVM_REC_F_CONT))
		c->kinds[r->kind]++;
	if (r->flags & PKVM_REC_F_CONT)
		return;
	/* Losses before the early copy are the early buffer's (records
	 * made before TRACE_LOAD); only later ones are the ring's. */
	if (r->kind == PKVM_EV_LOST) {
		c->lost += r->a;
		if (c->copied)
			c->ring_lost += r->a;
	}
	if (r->kind == PKVM_EV_MARK && r->a == PKVM_MARK_EARLY_COPIED)
		c->copied = true;
}

/* File order, not CPU by CPU: reading one CPU to its end first would make
 * the reader queue every other CPU's pages (bounded-memory SKEW error). */
static void read_all(struct trace_reader *r)
{
	struct pkvm_record rec;
	struct trace_error err;
	int rc;

	while ((rc = trace_reader_next_any(r, &rec, &err)) == 1) {
		if (rec.cpu >= v.cpu_count) {
			problem("record of cpu %u in a %u-CPU trace", rec.cpu,
				v.cpu_count);
			continue;
		}
		take(&v.cpu[rec.cpu], rec.cpu, &rec);
		if (v.print) {
			char line[512];

			trace_format_event(line, sizeof(line), &rec, 1);
			printf("%s\n", line);
		}
	}
	if (rc < 0) {
		if (err.code == TRACE_E_TRUNCATED) {
			v.truncated = true;
			return;
		}
		problem("%s at offset %llu: %s", trace_error_name(err.code),
			(unsigned long long)err.offset, err.message);
	}
}

/*
 * The producer's counters in the summary (FORMAT.md 5.3): it made
 * `produced` records, so the ones after the last in the file are a tail
 * loss; it dropped `dropped`, every one of them missing from the file.
 */
static void check_counters(const struct trace_cpu_summary *s, unsigned i,
			   struct cpu_view *c)
{
	uint64_t next = c->seen ? c->last_seq + 1 : 0;

	c->produced = s->produced;
	c->dropped = s->dropped;
	if (s->produced == TRACE_COUNT_UNKNOWN) {
		v.counters_unknown = true;
		return;
	}
	if (s->produced < next) {
		problem("cpu %u: summary says %llu records produced, the last "
			"has seq %llu",
			i, (unsigned long long)s->produced,
			(unsigned long long)c->last_seq);
		return;
	}
	c->tail = s->produced - next;
	if (s->dropped != TRACE_COUNT_UNKNOWN &&
	    s->dropped > s->produced - c->records)
		problem("cpu %u: summary says %llu dropped, only %llu of "
			"%llu records are missing",
			i, (unsigned long long)s->dropped,
			(unsigned long long)(s->produced - c->records),
			(unsigned long long)s->produced);
}

static void check_summary(const struct trace_reader *r)
{
	v.run = trace_reader_run(r);
	for (unsigned i = 0; i < v.cpu_count; i++) {
		const struct trace_cpu_summary *s = trace_reader_summary(r, i);
		struct cpu_view *c = &v.cpu[i];

		if (!s) {
			if (!v.truncated)
				problem("no end summary, yet not truncated");
			return;
		}
		if (s->records != c->records || s->lost != c->lost)
			problem("cpu %u: summary says %llu records, %llu lost; "
				"the file has %llu, %llu",
				i, (unsigned long long)s->records,
				(unsigned long long)s->lost,
				(unsigned long long)c->records,
				(unsigned long long)c->lost);
		if (c->seen && s->last_seq != c->last_seq)
			problem("cpu %u: summary last_seq %llu, last record "
				"%llu",
				i, (unsigned long long)s->last_seq,
				(unsigned long long)c->last_seq);
		check_counters(s, i, c);
	}
}

/* A CPU's loss, as recorder and checker count it (tracer/README.md). */
static uint64_t cpu_lost(const struct cpu_view *c)
{
	return c->lost + c->unexplained + (c->seen ? c->first_seq : 0) +
	       c->tail;
}

static void print_counts(void)
{
	for (unsigned i = 0; i < v.cpu_count; i++) {
		const struct cpu_view *c = &v.cpu[i];

		printf("cpu%u records=%llu lost=%llu ring_lost=%llu gaps=%llu "
		       "tail=%llu",
		       i, (unsigned long long)c->records,
		       (unsigned long long)c->lost,
		       (unsigned long long)c->ring_lost,
		       (unsigned long long)c->gaps,
		       (unsigned long long)c->tail);
		if (c->produced != TRACE_COUNT_UNKNOWN)
			printf(" produced=%llu",
			       (unsigned long long)c->produced);
		if (c->dropped != TRACE_COUNT_UNKNOWN)
			printf(" dropped=%llu", (unsigned long long)c->dropped);
		for (unsigned k = 1; k < VERIFY_KINDS; k++) {
			const char *name = trace_kind_name(k);

			if (c->kinds[k])
				printf(" %s=%llu", name ? name : "?",
				       (unsigned long long)c->kinds[k]);
		}
		printf("\n");
	}
	printf("truncated=%s\n", v.truncated ? "yes" : "no");
	if (v.run)
		printf("outcome=%s (%s)\n",
		       trace_outcome_name(v.run->outcome)
			       ? trace_outcome_name(v.run->outcome)
			       : "?",
		       v.run->why);
}

/* The run's loss and the producers' drops, over every CPU. */
static uint64_t lost_total(uint64_t *dropped)
{
	uint64_t lost = 0;

	*dropped = 0;
	for (unsigned i = 0; i < v.cpu_count; i++) {
		lost += cpu_lost(&v.cpu[i]);
		if (v.cpu[i].dropped != TRACE_COUNT_UNKNOWN)
			*dropped += v.cpu[i].dropped;
	}
	return lost;
}

struct expect {
	const char *kinds;     /* comma-separated names every CPU must have */
	const char *any_kinds; /* names that must appear on some CPU */
	int loss;	       /* -1 don't care, 0 none, 1 some */
	int ring_loss;	       /* the same, for losses after the early copy */
	int truncated;	       /* -1 don't care, 0 no, 1 yes */
	long cpus;	       /* CPU count, or -1 */
	long min_records;      /* total, or -1 */
	long lost;	       /* the run's loss (lost_total), or -1 */
	const char *outcome;   /* the summary's outcome name, or NULL */
	bool counters;	       /* every CPU's producer counters known */
};

static uint64_t kind_total(unsigned kind, bool every, unsigned *missing)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < v.cpu_count; i++) {
		total += v.cpu[i].kinds[kind];
		if (every && !v.cpu[i].kinds[kind])
			*missing = i;
	}
	return total;
}

static void check_kinds(const char *list, bool every)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save, *t = strtok_r(buf, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		unsigned kind = trace_kind_from_name(t);
		unsigned missing = UINT32_MAX;

		if (!kind) {
			problem("unknown kind name '%s'", t);
			continue;
		}
		if (!kind_total(kind, every, &missing))
			problem("no %s event at all", t);
		else if (missing != UINT32_MAX)
			problem("no %s event on cpu %u", t, missing);
	}
}

/* What the end summary says about the run as a whole. */
static void check_expect_run(const struct expect *e)
{
	uint64_t dropped, lost = lost_total(&dropped);
	const char *name = v.run ? trace_outcome_name(v.run->outcome) : NULL;

	if (e->lost >= 0 && lost != (unsigned long)e->lost)
		problem("%llu records lost in all, expected %ld",
			(unsigned long long)lost, e->lost);
	if (e->outcome && (!name || strcmp(name, e->outcome)))
		problem("outcome %s, expected %s", name ? name : "none",
			e->outcome);
	if (e->counters && v.counters_unknown)
		problem("some CPU's producer counters are unknown");
}

static void check_expect(const struct expect *e)
{
	uint64_t lost = 0, records = 0, ring_lost = 0;

	for (unsigned i = 0; i < v.cpu_count; i++) {
		lost += v.cpu[i].lost;
		ring_lost += v.cpu[i].ring_lost;
		records += v.cpu[i].records;
	}
	if (e->kinds)
		check_kinds(e->kinds, true);
	if (e->any_kinds)
		check_kinds(e->any_kinds, false);
	if (e->loss == 0 && lost)
		problem("%llu records lost, none expected",
			(unsigned long long)lost);
	if (e->loss == 1 && !lost)
		problem("no records lost, some expected");
	if (e->ring_loss == 0 && ring_lost)
		problem("%llu records lost from the rings, none expected",
			(unsigned long long)ring_lost);
	if (e->ring_loss == 1 && !ring_lost)
		problem("no records lost from the rings, some expected");
	if (e->truncated >= 0 && v.truncated != (e->truncated == 1))
		problem("truncated=%s, expected the opposite",
			v.truncated ? "yes" : "no");
	if (e->cpus >= 0 && v.cpu_count != (unsigned long)e->cpus)
		problem("%u CPUs, expected %ld", v.cpu_count, e->cpus);
	if (e->min_records >= 0 && records < (unsigned long)e->min_records)
		problem("%llu records, expected at least %ld",
			(unsigned long long)records, e->min_records);
	check_expect_run(e);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: verify-trace [--kinds K,K..] [--any-kinds K,..]\n"
		"       [--loss|--no-loss] [--ring-loss|--no-ring-loss]\n"
		"       [--truncated|--complete] [--cpus N] [--min-records N]\n"
		"       [--lost N] [--outcome NAME] [--counters] [--print] "
		"TRACE\n");
}

static int parse(int argc, char **argv, struct expect *e)
{
	static const struct option opts[] = {
		{ "kinds", required_argument, NULL, 'k' },
		{ "any-kinds", required_argument, NULL, 'a' },
		{ "loss", no_argument, NULL, 'l' },
		{ "no-loss", no_argument, NULL, 'L' },
		{ "truncated", no_argument, NULL, 't' },
		{ "complete", no_argument, NULL, 'T' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "min-records", required_argument, NULL, 'm' },
		{ "print", no_argument, NULL, 'p' },
		{ "ring-loss", no_argument, NULL, 'r' },
		{ "no-ring-loss", no_argument, NULL, 'R' },
		{ "lost", required_argument, NULL, 'n' },
		{ "outcome", required_argument, NULL, 'o' },
		{ "counters", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*e = (struct expect){ .loss = -1,
			      .ring_loss = -1,
			      .truncated = -1,
			      .cpus = -1,
			      .min_records = -1,
			      .lost = -1 };
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			e->kinds = optarg;
			break;
		case 'a':
			e->any_kinds = optarg;
			break;
		case 'l':
		case 'L':
			e->loss = c == 'l';
			break;
		case 't':
		case 'T':
			e->truncated = c == 't';
			break;
		case 'c':
			e->cpus = strtol(optarg, NULL, 0);
			break;
		case 'm':
			e->min_records = strtol(optarg, NULL, 0);
			break;
		case 'p':
			v.print = true;
			break;
		case 'r':
		case 'R':
			e->ring_loss = c == 'r';
			break;
		case 'n':
			e->lost = strtol(optarg, NULL, 0);
			break;
		case 'o':
			e->outcome = optarg;
			break;
		case 'C':
			e->counters = true;
			break;
		default:
			return -1;
		}
	}
	if (optind + 1 != argc)
		return -1;
	v.path = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	struct expect e;
	struct trace_error err;
	struct trace_reader *r;

	if (parse(argc, argv, &e)) {
		usage();
		return 2;
	}
	r = trace_reader_open(v.path, &err);
	if (!r) {
		fprintf(stderr, "verify-trace: %s: %s at offset %llu: %s\n",
			v.path, trace_error_name(err.code),
			(unsigned long long)err.offset, err.message);
		return 3;
	}
	v.cpu_count = trace_reader_info(r)->cpu_count;
	if (v.print)
		printf("identity:\n%s", trace_reader_info(r)->identity);
	if (v.cpu_count > PKVM_RING_MAX_CPUS_VERIFY) {
		fprintf(stderr, "verify-trace: %s: %u CPUs, at most %u\n",
			v.path, v.cpu_count, PKVM_RING_MAX_CPUS_VERIFY);
		trace_reader_close(r);
		return 3;
	}
	read_all(r);
	if (trace_reader_truncated(r, NULL))
		v.truncated = true;
	check_summary(r);
	check_expect(&e);
	print_counts();
	{
		uint64_t dropped, lost = lost_total(&dropped);

		/* lost_total: as pkvm-record's lost= counts it; dropped: the
		 * producers' ring drops, as the workload prints them. */
		printf("lost_total=%llu dropped=%llu\n",
		       (unsigned long long)lost, (unsigned long long)dropped);
	}
	trace_reader_close(r);
	printf("verify-trace: %s\n", v.problems ? "FAIL" : "ok");
	return v.problems ? 1 : 0;
}
