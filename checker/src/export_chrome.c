// SPDX-License-Identifier: MIT
/*
 * pkvm-check export --chrome-trace: a window of a trace as Chrome
 * trace-event JSON (the "JSON Object Format" that chrome://tracing and
 * Perfetto's UI open), to see what the CPUs did around a finding.
 *
 * One track (thread) per CPU. Traps and lock holds are complete slices
 * ("ph":"X"), nested as they were taken; descriptor stores, TLB
 * maintenance, barriers, other records and the findings are instants
 * ("ph":"i"). Timestamps are microseconds of the trace's counter, to the
 * nanosecond; each track's events are written in time order. Compact
 * records are expanded (expand.h) into the events they stand for, so a
 * hypercall's lock pair shows as two slices inside its trap.
 *
 * Two passes over the file: the replay (for the findings, which need the
 * checker), then the file in order for the timeline. So the trace must be
 * a file, not a pipe.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>
#include <pkvm/expand.h>

#include "report.h"

#define EXPORT_MAX_EVENTS 4000000u /* Perfetto's UI handles this much */
#define EXPORT_MAX_FINDINGS 100000u
#define EXPORT_STACK 8u

struct export_finding {
	uint64_t index, ts;
	unsigned cpu;
	const char *check;
	char text[240];
};

/** One trace event to write; `args` is a JSON object's members. */
struct export_ev {
	uint64_t ts, dur; /* counter ticks */
	uint64_t order;	  /* ties keep the order events were made in */
	unsigned tid;
	char ph;
	char name[96];
	const char *cat;
	char *args;
};

struct export_slice {
	uint64_t start;
	char name[96];
	const char *cat;
	char args[768]; /* room for a trap's words, text and result */
	unsigned lock;	/* 0: the trap */
};

struct export_cpu {
	struct pkvm_record ev[PKVM_EVENT_MAX_RECORDS];
	unsigned n;
	struct trace_expand_cpu exp;
	bool seq_known;
	uint32_t next_seq;
	struct export_slice stack[EXPORT_STACK];
	unsigned depth;
};

struct export
{
	const struct cli_opts *o;
	uint64_t freq, from, to;
	struct export_finding *f;
	size_t nf;
	struct export_ev *ev;
	size_t nev, cap;
	bool full;
	struct trace_tables *tables;
	struct trace_sites sites; /* site bits are cleared before use */
	enum trace_system sys;	  /* whose hypercall table names traps */
	struct export_cpu *cpu;
};

static void export_sink(void *ctx, const struct ck_finding *f)
{
	struct export *x = ctx;
	struct export_finding *e;

	if (x->nf == EXPORT_MAX_FINDINGS)
		return;
	e = &x->f[x->nf++];
	e->index = f->event->index;
	e->ts = f->event->ts;
	e->cpu = f->event->cpu;
	e->check = f->check;
	snprintf(e->text, sizeof(e->text), "%s", f->text);
}

static void export_add(struct export *x, char ph, unsigned tid, uint64_t ts,
		       uint64_t dur, const char *name, const char *cat,
		       const char *args)
{
	struct export_ev *e;

	if (x->nev == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 4096;
		struct export_ev *n;

		if (cap > EXPORT_MAX_EVENTS ||
		    !(n = realloc(x->ev, cap * sizeof(*n)))) {
			x->full = true;
			return;
		}
		x->ev = n;
		x->cap = cap;
	}
	e = &x->ev[x->nev];
	e->ts = ts;
	e->dur = dur;
	e->order = x->nev++;
	e->tid = tid;
	e->ph = ph;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->cat = cat;
	e->args = strdup(args ? args : "");
}

/* A slice ends: written if it overlaps the window, cut to it. */
static void export_close(struct export *x, unsigned cpu,
			 const struct export_slice *s, uint64_t end)
{
	uint64_t a = s->start > x->from ? s->start : x->from;
	uint64_t b = end < x->to ? end : x->to;

	if (end < x->from || s->start > x->to || b < a)
		return;
	export_add(x, 'X', cpu, a, b - a, s->name, s->cat, s->args);
}

static void export_open(struct export_cpu *c, uint64_t ts, const char *name,
			const char *cat, const char *args, unsigned lock)
{
	struct export_slice *s;

	if (c->depth == EXPORT_STACK)
		return;
	s = &c->stack[c->depth++];
	s->start = ts;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->cat = cat;
	snprintf(s->args, sizeof(s->args), "%s", args);
	s->lock = lock;
}

/*
 * Close the slice at depth `k` and everything above it at `ts`; those
 * above it (locks still held) start again right there, so the slices of a
 * track always nest, as the trace-event format requires.
 */
static void export_close_at(struct export *x, unsigned cpu, unsigned k,
			    uint64_t ts)
{
	struct export_cpu *c = &x->cpu[cpu];
	struct export_slice keep[EXPORT_STACK];
	unsigned nkeep = 0;

	for (unsigned i = c->depth; i-- > k;) {
		export_close(x, cpu, &c->stack[i], ts);
		if (i > k)
			keep[nkeep++] = c->stack[i];
	}
	c->depth = k;
	while (nkeep--)
		export_open(c, ts, keep[nkeep].name, keep[nkeep].cat,
			    keep[nkeep].args, keep[nkeep].lock);
}

static void export_instant(struct export *x, unsigned cpu, uint64_t ts,
			   const char *name, const char *cat, const char *args)
{
	if (ts >= x->from && ts <= x->to)
		export_add(x, 'i', cpu, ts, 0, name, cat, args);
}

/*
 * The event as a dump line shows it, without the "cpuN seq=S t=..." the
 * timeline already gives: names for enumerated words ("what=alloc_page").
 */
static void export_text(const struct trace_words *w, char *buf, size_t len)
{
	struct pkvm_record recs[PKVM_EVENT_MAX_RECORDS] = { { 0 } };
	const char *p = buf;

	for (unsigned i = 0; i < w->nrec && i < PKVM_EVENT_MAX_RECORDS; i++) {
		recs[i].kind = w->kind;
		recs[i].flags = (uint8_t)(i ? PKVM_REC_F_CONT | i
					    : (w->nrec - 1u) | w->kbits);
		recs[i].a = w->w[2 * i];
		recs[i].b = w->w[2 * i + 1];
	}
	trace_format_event(buf, len, recs, w->nrec);
	for (unsigned spaces = 0; *p && spaces < 3; p++)
		spaces += *p == ' ';
	memmove(buf, p, strlen(p) + 1);
}

/* The args of an event: its words as the dump names them, as JSON, and
 * its dump line as "text" (which holds no quote or backslash). */
static void export_args(const struct trace_words *w, const char *extra,
			char *buf, size_t len)
{
	char text[512];
	size_t pos = 0;
	int n;

	export_text(w, text, sizeof(text));
	n = snprintf(buf, len, "\"text\":\"%s\"", text);
	pos = n > 0 ? (size_t)n : 0;
	for (unsigned i = 0; i < 2u * w->nrec && pos < len; i++) {
		const char *name = trace_field_name(w->kind, i);

		n = snprintf(buf + pos, len - pos, ",\"%s\":\"0x%llx\"",
			     name ? name : "w", (unsigned long long)w->w[i]);
		pos += n > 0 ? (size_t)n : 0;
	}
	if (extra && pos < len)
		snprintf(buf + pos, len - pos, ",%s", extra);
}

static void export_trap(struct export *x, unsigned cpu, uint64_t ts,
			const struct trace_words *w)
{
	struct ck_event ev = { 0 };
	char name[160], args[1024];

	memcpy(ev.w, w->w, sizeof(ev.w));
	ck_trap_text(&ev, x->sys, name, sizeof(name));
	export_args(w, NULL, args, sizeof(args));
	/* A trap never nests: an entry after lost records closes all. */
	export_close_at(x, cpu, 0, ts);
	export_open(&x->cpu[cpu], ts,
		    name + (strncmp(name, "hypercall ", 10) ? 0 : 10), "trap",
		    args, 0);
}

static void export_lock(struct export *x, unsigned cpu, uint64_t ts,
			const struct trace_words *w, bool acquire)
{
	struct export_cpu *c = &x->cpu[cpu];
	const char *lname = trace_lock_name((unsigned)w->w[0]);
	char name[64], args[96];

	snprintf(name, sizeof(name), "lock %s", lname ? lname : "?");
	snprintf(args, sizeof(args), "\"ticket\":%llu",
		 (unsigned long long)w->w[1]);
	if (acquire) {
		export_open(c, ts, name, "lock", args,
			    (unsigned)w->w[0] ? (unsigned)w->w[0] : 255);
		return;
	}
	for (unsigned i = c->depth; i-- > 0;)
		if (c->stack[i].lock == (unsigned)w->w[0]) {
			export_close_at(x, cpu, i, ts);
			return;
		}
}

static void export_store(struct export *x, unsigned cpu, uint64_t ts,
			 const struct trace_words *w)
{
	struct trace_desc_where where = trace_tables_where(x->tables, w->w[0]);
	struct pkvm_record rec = { .ts = ts,
				   .kind = PKVM_EV_PTE_WRITE,
				   .cpu = (uint16_t)cpu,
				   .a = w->w[0],
				   .b = w->w[1] };
	char desc[256], args[1024], extra[300];

	trace_format_desc(desc, sizeof(desc), w->w[1], &where);
	snprintf(extra, sizeof(extra), "\"desc\":\"%s\"", desc);
	export_args(w, extra, args, sizeof(args));
	export_instant(x, cpu, ts, "pte_write", "pte", args);
	trace_tables_learn(x->tables, &rec, 1);
}

static void export_canon(struct export *x, unsigned cpu, uint64_t ts,
			 const struct trace_words *w)
{
	char name[96], args[1024];
	const char *s;

	switch (w->kind) {
	case PKVM_EV_TRAP_ENTRY:
		export_trap(x, cpu, ts, w);
		return;
	case PKVM_EV_TRAP_EXIT:
		/* Its result goes with the trap's slice. */
		if (x->cpu[cpu].depth) {
			struct export_slice *t = &x->cpu[cpu].stack[0];
			size_t l = strlen(t->args);

			snprintf(
				t->args + l, sizeof(t->args) - l,
				"%s\"ret_x0\":\"0x%llx\",\"ret_x1\":\"0x%llx\"",
				l ? "," : "", (unsigned long long)w->w[0],
				(unsigned long long)w->w[1]);
			export_close_at(x, cpu, 0, ts);
		}
		return;
	case PKVM_EV_LOCK_ACQUIRE:
	case PKVM_EV_LOCK_RELEASE:
		export_lock(x, cpu, ts, w, w->kind == PKVM_EV_LOCK_ACQUIRE);
		return;
	case PKVM_EV_PTE_WRITE:
		export_store(x, cpu, ts, w);
		return;
	case PKVM_EV_TLBI:
		s = trace_tlbi_name((unsigned)(w->w[0] & 0xffff));
		snprintf(name, sizeof(name), "tlbi %s", s ? s : "?");
		export_args(w, NULL, args, sizeof(args));
		export_instant(x, cpu, ts, name, "tlbi", args);
		return;
	case PKVM_EV_BARRIER:
		s = trace_barrier_name((unsigned)w->w[0]);
		export_args(w, NULL, args, sizeof(args));
		export_instant(x, cpu, ts, s ? s : "barrier", "barrier", args);
		return;
	default:
		s = trace_kind_name(w->kind);
		export_args(w, NULL, args, sizeof(args));
		export_instant(x, cpu, ts, s ? s : "?", "event", args);
		return;
	}
}

static void export_event(struct export *x, struct export_cpu *c)
{
	struct trace_words w[TRACE_EXPAND_MAX];
	const struct pkvm_record *h = &c->ev[0];
	unsigned n;

	if (c->n == 0)
		return;
	/* A gap or a LOST record: an exit must not borrow an old entry. */
	if ((c->seq_known && h->seq != c->next_seq) || h->kind == PKVM_EV_LOST)
		trace_expand_loss(&c->exp);
	c->seq_known = true;
	c->next_seq = h->seq + c->n;
	trace_sites_take(&x->sites, c->ev, c->n);
	if (h->kind == PKVM_EV_BOOT)
		trace_tables_learn(x->tables, c->ev, c->n);
	n = trace_expand_words(&c->exp, c->ev, c->n, w);
	if (!x->o || x->o->cpu < 0 || h->cpu == (unsigned)x->o->cpu)
		for (unsigned i = 0; i < n; i++)
			export_canon(x, h->cpu, h->ts, &w[i]);
	c->n = 0;
}

static int export_read(struct export *x, struct trace_reader *r, unsigned ncpu)
{
	struct trace_error e;
	struct pkvm_record rec;
	uint64_t last = 0;
	int rc;

	while ((rc = trace_reader_next_any(r, &rec, &e)) == 1) {
		struct export_cpu *c = &x->cpu[rec.cpu];

		if (!(rec.flags & PKVM_REC_F_CONT))
			export_event(x, c);
		if (c->n < PKVM_EVENT_MAX_RECORDS)
			c->ev[c->n++] = rec;
		if (c->n == 1 + (c->ev[0].flags & PKVM_REC_F_NCONT_MASK))
			export_event(x, c);
		last = rec.ts > last ? rec.ts : last;
	}
	for (unsigned i = 0; i < ncpu; i++) {
		export_event(x, &x->cpu[i]);
		/* Slices still open at the end end with the trace. */
		export_close_at(x, i, 0, last);
	}
	if (rc < 0) {
		fprintf(stderr, "pkvm-check: %s: offset %llu: %s (%s)\n",
			x->o->path, (unsigned long long)e.offset, e.message,
			trace_error_name(e.code));
		return CK_EXIT_CORRUPT;
	}
	return 0;
}

/* Microseconds of the counter, to the nanosecond ("12.345"). */
static void export_us(FILE *out, const struct export *x, uint64_t ticks)
{
	unsigned __int128 ns = (unsigned __int128)ticks * 1000000000u /
			       (x->freq ? x->freq : 1000000000u);

	fprintf(out, "%llu.%03llu", (unsigned long long)(ns / 1000),
		(unsigned long long)(ns % 1000));
}

static int export_cmp(const void *a, const void *b)
{
	const struct export_ev *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	/* A slice before what starts at its start: its children. */
	if ((x->ph == 'X') != (y->ph == 'X'))
		return x->ph == 'X' ? -1 : 1;
	if (x->ph == 'X' && x->dur != y->dur)
		return x->dur > y->dur ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void export_write(struct export *x, FILE *out, unsigned ncpu)
{
	qsort(x->ev, x->nev, sizeof(*x->ev), export_cmp);
	fprintf(out, "{\"traceEvents\":[\n");
	fprintf(out, "{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":"
		     "\"process_name\",\"args\":{\"name\":");
	trace_json_str(out, x->o->path);
	fprintf(out, "}}");
	for (unsigned c = 0; c < ncpu; c++)
		fprintf(out,
			",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":"
			"\"thread_name\",\"args\":{\"name\":\"cpu%u\"}},\n"
			"{\"ph\":\"M\",\"pid\":1,\"tid\":%u,\"name\":"
			"\"thread_sort_index\",\"args\":{\"sort_index\":%u}}",
			c, c, c, c);
	for (size_t i = 0; i < x->nev; i++) {
		const struct export_ev *e = &x->ev[i];

		fprintf(out,
			",\n{\"ph\":\"%c\",\"pid\":1,\"tid\":%u,\"ts\":", e->ph,
			e->tid);
		export_us(out, x, e->ts);
		if (e->ph == 'X') {
			fprintf(out, ",\"dur\":");
			export_us(out, x, e->dur);
		} else {
			fprintf(out, ",\"s\":\"t\"");
		}
		fprintf(out, ",\"cat\":\"%s\",\"name\":", e->cat);
		trace_json_str(out, e->name);
		fprintf(out, ",\"args\":{%s}}", e->args ? e->args : "");
	}
	fprintf(out, "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{"
		     "\"trace\":");
	trace_json_str(out, x->o->path);
	fprintf(out, ",\"from_us\":");
	export_us(out, x, x->from);
	fprintf(out, ",\"to_us\":");
	export_us(out, x, x->to == UINT64_MAX ? 0 : x->to);
	fprintf(out, ",\"findings\":%zu,\"events\":%zu,\"cut_short\":%s}}\n",
		x->nf, x->nev, x->full ? "true" : "false");
}

/* The findings in the window, as instants on their CPUs' tracks. */
static void export_findings(struct export *x)
{
	char args[600], name[96];

	for (size_t i = 0; i < x->nf; i++) {
		const struct export_finding *f = &x->f[i];
		FILE *m;
		char *buf = NULL;
		size_t len = 0;

		if (x->o->cpu >= 0 && f->cpu != (unsigned)x->o->cpu)
			continue;
		m = open_memstream(&buf, &len);
		if (!m)
			continue;
		fprintf(m, "\"index\":%llu,\"text\":",
			(unsigned long long)f->index);
		trace_json_str(m, f->text);
		fclose(m);
		snprintf(args, sizeof(args), "%s", buf);
		free(buf);
		snprintf(name, sizeof(name), "FINDING %s", f->check);
		export_instant(x, f->cpu, f->ts, name, "finding", args);
	}
}

/* The window: --from/--to, else around a finding, else everything. */
static int export_window(struct export *x)
{
	const struct cli_opts *o = x->o;
	uint64_t half = x->freq / 1000, c;

	x->from = 0;
	x->to = UINT64_MAX;
	if ((o->from && cli_time_arg(o->from, x->freq, o->ticks, &x->from)) ||
	    (o->to && cli_time_arg(o->to, x->freq, o->ticks, &x->to)) ||
	    (o->window && cli_time_arg(o->window, x->freq, o->ticks, &half))) {
		fprintf(stderr,
			"pkvm-check: export: --from, --to and --window "
			"take %s\n",
			o->ticks ? "ticks" : "seconds (e.g. 0.0005)");
		return CK_EXIT_USAGE;
	}
	if (o->from || o->to)
		return -1;
	if (o->finding && o->finding > x->nf) {
		fprintf(stderr,
			"pkvm-check: export: %s has %zu finding%s, no "
			"finding %llu\n",
			o->path, x->nf, x->nf == 1 ? "" : "s",
			(unsigned long long)o->finding);
		return CK_EXIT_USAGE;
	}
	if (!x->nf)
		return -1;
	c = x->f[o->finding ? o->finding - 1 : 0].ts;
	x->from = c > half ? c - half : 0;
	x->to = c + half;
	return -1;
}

static int export_run(struct export *x, struct trace_reader *r)
{
	const struct cli_opts *o = x->o;
	unsigned ncpu = trace_reader_info(r)->cpu_count;
	struct ck_sink sink = { x, export_sink };
	struct ck_options co = { .context = 0 };
	static struct ck_summary sum;
	struct filesrc fs = { 0 };
	char msg[600];
	FILE *out;
	int rc;

	if (o->cpu >= 0 && (unsigned)o->cpu >= ncpu) {
		fprintf(stderr,
			"pkvm-check: export: --cpu %d: %s has %u CPUs "
			"(0..%u)\n",
			o->cpu, o->path, ncpu, ncpu - 1);
		return CK_EXIT_USAGE;
	}
	if (filesrc_open(&fs, o->path, msg, sizeof(msg))) {
		fprintf(stderr, "pkvm-check: %s\n", msg);
		return CK_EXIT_CORRUPT;
	}
	rc = ck_run(&fs.src, &co, &sink, &sum);
	filesrc_close(&fs);
	if (rc == CK_EXIT_CORRUPT)
		x->nf = 0; /* they were not about the hypervisor */
	if ((rc = export_window(x)) >= 0)
		return rc;
	x->cpu = calloc(ncpu, sizeof(*x->cpu));
	x->tables = trace_tables_new();
	x->sys = trace_system_of(trace_reader_info(r)->system);
	trace_sites_init(&x->sites,
			 trace_system_of(trace_reader_info(r)->system),
			 trace_reader_info(r)->version_major);
	CK_CHECK(x->cpu != NULL);
	if ((rc = export_read(x, r, ncpu)) != 0)
		return rc;
	export_findings(x);
	if (x->full)
		fprintf(stderr,
			"pkvm-check: export: more than %u events: the "
			"timeline is cut short (use --from/--to)\n",
			EXPORT_MAX_EVENTS);
	out = strcmp(o->output, "-") ? fopen(o->output, "w") : stdout;
	if (!out) {
		fprintf(stderr, "pkvm-check: export: cannot write %s\n",
			o->output);
		return CK_EXIT_USAGE;
	}
	export_write(x, out, ncpu);
	if (out == stdout)
		return cli_out_done(stdout, CK_EXIT_OK);
	if (fclose(out) != 0) {
		fprintf(stderr, "pkvm-check: export: cannot write %s\n",
			o->output);
		return CK_EXIT_USAGE;
	}
	return CK_EXIT_OK;
}

/** See cli.h. */
int cmd_export(const struct cli_opts *o)
{
	struct export x = { .o = o };
	struct trace_error e;
	struct trace_reader *r;
	int rc;

	if (!o->chrome || !o->output) {
		fprintf(stderr, "pkvm-check: export needs --chrome-trace and "
				"-o FILE\nTry 'pkvm-check export --help'.\n");
		return CK_EXIT_USAGE;
	}
	if (strcmp(o->path, "-") == 0) {
		fprintf(stderr, "pkvm-check: export needs a trace file, not "
				"stdin: it reads the trace twice\n");
		return CK_EXIT_USAGE;
	}
	r = trace_reader_open(o->path, &e);
	if (!r) {
		fprintf(stderr, "pkvm-check: %s: offset %llu: %s (%s)\n",
			o->path, (unsigned long long)e.offset, e.message,
			trace_error_name(e.code));
		return CK_EXIT_CORRUPT;
	}
	x.freq = trace_reader_info(r)->counter_freq;
	x.f = calloc(EXPORT_MAX_FINDINGS, sizeof(*x.f));
	CK_CHECK(x.f != NULL);
	rc = export_run(&x, r);
	trace_reader_close(r);
	for (size_t i = 0; i < x.nev; i++)
		free(x.ev[i].args);
	free(x.ev);
	free(x.f);
	free(x.cpu);
	trace_tables_free(x.tables);
	return rc;
}
