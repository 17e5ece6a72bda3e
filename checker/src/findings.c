// SPDX-License-Identifier: MIT
/*
 * The findings desk (findings.h): every verdict a rule or the replay
 * reaches goes through here on its way to the sink and the summary.
 */
#include "findings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

/* Pages with a finding in one trap, at most (later ones: not remembered). */
#define FINDINGS_MAX_REPORTED 32u
/* Events of history a finding carries, at most. */
#define FINDINGS_MAX_HISTORY 64u

/** What the desk keeps of one CPU's trap in progress. */
struct findings_trap {
	bool unsure;
	char why[160];
	uint64_t reported[FINDINGS_MAX_REPORTED];
	unsigned reported_count;
};

struct ck_findings {
	const struct ck_view *view;
	const struct ck_options *opt;
	const struct ck_sink *sink;
	struct ck_summary *sum;
	bool stopped;
	bool *replay_stop; /* the replay's: it stops with the desk */
	struct findings_trap trap[CK_MAX_CPUS];
};

_Noreturn void ck_internal_error(const char *file, int line, const char *what)
{
	fprintf(stderr, "pkvm-check: internal error at %s:%d: %s\n", file, line,
		what);
	exit(CK_EXIT_INTERNAL);
}

struct ck_findings *findings_create(const struct ck_view *view,
				    const struct ck_options *opt,
				    const struct ck_sink *sink,
				    struct ck_summary *sum, bool *stop)
{
	struct ck_findings *f = calloc(1, sizeof(*f));

	CK_CHECK(f != NULL);
	f->view = view;
	f->opt = opt;
	f->sink = sink;
	f->sum = sum;
	f->replay_stop = stop;
	return f;
}

void findings_destroy(struct ck_findings *f)
{
	free(f);
}

void findings_stop(struct ck_findings *f)
{
	f->stopped = true;
}

void ck_finding(struct ck_findings *f, const char *check,
		const struct ck_event *ev, uint64_t addr, bool has_explain,
		uint64_t explain, const char *fmt, ...)
{
	const struct ck_event *hist[FINDINGS_MAX_HISTORY];
	struct ck_finding out;
	va_list ap;

	if (f->stopped)
		return;
	memset(&out, 0, sizeof(out));
	out.check = check;
	va_start(ap, fmt);
	vsnprintf(out.text, sizeof(out.text), fmt, ap);
	va_end(ap);
	out.addr = addr;
	out.event = ev;
	out.trap = view_trap(f->view, ev->cpu);
	out.has_explain = has_explain;
	out.explain_index = explain;
	out.history = hist;
	out.history_count =
		view_history(f->view, ev->cpu, hist, FINDINGS_MAX_HISTORY);
	f->sum->findings++;
	if (f->sink && f->sink->finding)
		f->sink->finding(f->sink->ctx, &out);
	if (f->opt->max_findings && f->sum->findings >= f->opt->max_findings)
		f->stopped = f->sum->stopped = *f->replay_stop = true;
}

void ck_inconclusive(struct ck_findings *f, const char *fmt, ...)
{
	va_list ap;

	if (f->sum->inconclusive++ == 0) {
		va_start(ap, fmt);
		vsnprintf(f->sum->first_inconclusive,
			  sizeof(f->sum->first_inconclusive), fmt, ap);
		va_end(ap);
	}
}

void ck_inconsistent(struct ck_findings *f, const struct ck_event *ev,
		     const char *what)
{
	ck_finding(f, "inconsistent-trace", ev, 0, false, 0, "%s", what);
	f->stopped = f->sum->stopped = *f->replay_stop = true;
}

/* ---- per trap ------------------------------------------------------- */

void findings_trap_begin(struct ck_findings *f, unsigned cpu)
{
	f->trap[cpu].unsure = false;
	f->trap[cpu].reported_count = 0;
}

void ck_trap_unsure(struct ck_findings *f, unsigned cpu, const char *fmt, ...)
{
	struct findings_trap *t = &f->trap[cpu];
	va_list ap;

	/* The first reason is the one worth telling. */
	if (t->unsure || !view_trap(f->view, cpu))
		return;
	t->unsure = true;
	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
}

bool ck_trap_is_unsure(const struct ck_findings *f, unsigned cpu)
{
	return f->trap[cpu].unsure;
}

const char *ck_trap_why(const struct ck_findings *f, unsigned cpu)
{
	return f->trap[cpu].why;
}

void ck_trap_reported(struct ck_findings *f, unsigned cpu, uint64_t pfn)
{
	struct findings_trap *t = &f->trap[cpu];

	if (t->reported_count < FINDINGS_MAX_REPORTED)
		t->reported[t->reported_count++] = pfn;
}

bool ck_trap_was_reported(const struct ck_findings *f, unsigned cpu,
			  uint64_t pfn)
{
	const struct findings_trap *t = &f->trap[cpu];

	for (unsigned i = 0; i < t->reported_count; i++)
		if (t->reported[i] == pfn)
			return true;
	return false;
}

void ck_not_judged(struct ck_findings *f, const char *check, const char *why)
{
	char *nj = f->sum->not_judged, tail[256];
	size_t len = strlen(nj), n;

	/* Checks not judged for the same reason share it: "a, b (why)". */
	n = (size_t)snprintf(tail, sizeof(tail), " (%s)", why);
	if (n < sizeof(tail) && len > n && strcmp(nj + len - n, tail) == 0) {
		snprintf(nj + len - n, sizeof(f->sum->not_judged) - (len - n),
			 ", %s%s", check, tail);
		return;
	}
	snprintf(nj + len, sizeof(f->sum->not_judged) - len, "%s%s (%s)",
		 len ? ", " : "", check, why);
}

void ck_trap_checked(struct ck_findings *f)
{
	f->sum->traps_checked++;
}

/** See findings.h. */
void ck_append(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	while (n < len && buf[n])
		n++;
	if (n && n + 2 < len) {
		buf[n++] = ';';
		buf[n++] = ' ';
		buf[n] = 0;
	}
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}
