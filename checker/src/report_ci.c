// SPDX-License-Identifier: MIT
/*
 * Reports for test farms: JUnit XML (Jenkins, GitLab, KernelCI), TAP 14
 * (prove and other harnesses) and LAVA's lava-test-case lines. Each lists
 * the same tests in the same order for every trace, so a farm can follow
 * each one's history: "trace-readable" (the trace could be read: an error
 * if it is corrupt, exit 3), then every check of the profile (checks.c).
 * A check with findings fails, with the first finding in full and a line
 * per later one; a check without findings passes only if the verdict is
 * "conforms", and otherwise is skipped with the reason the run could not
 * be judged whole (not a whole run, records lost, the replay stopped), or
 * for a corrupt trace skipped (LAVA: unknown). A check the trace's ABI
 * cannot have judged (the summary's not_judged) is skipped with that
 * reason. So every check passes exactly when pkvm-check exits 0 and
 * judged it, and the exit code is that of text.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/dump.h>

#include "report.h"

enum ci_status { CI_PASS, CI_FAIL, CI_SKIP, CI_UNKNOWN };

/*
 * The table's checks first, in its order, so every run lists them alike;
 * a name it lacks (a rule newer than the table) is added after them.
 */
static void ci_init(struct report *r)
{
	unsigned n;
	const struct check_info *list = checks_list(&n);

	if (r->tally_count)
		return;
	for (unsigned i = 0; i < n && i < REPORT_MAX_CHECKS; i++)
		r->tally[r->tally_count++].name = list[i].name;
}

static struct report_tally *ci_tally(struct report *r, const char *name)
{
	ci_init(r);
	for (unsigned i = 0; i < r->tally_count; i++)
		if (strcmp(r->tally[i].name, name) == 0)
			return &r->tally[i];
	if (r->tally_count == REPORT_MAX_CHECKS)
		return NULL;
	r->tally[r->tally_count].name = name;
	return &r->tally[r->tally_count++];
}

static void ci_first(struct report *r, const struct ck_finding *f,
		     struct report_tally *t)
{
	size_t len = sizeof(t->first), pos = 0;
	struct report_where w;
	char buf[1024], tm[48];
	int n;

	report_time(r, f->event->ts, tm, sizeof(tm));
	n = snprintf(t->first, len, "%s\nat event #%llu on cpu%u, %s%s\n",
		     f->text, (unsigned long long)f->event->index,
		     f->event->cpu, strncmp(tm, "ticks=", 6) ? "t=" : "", tm);
	pos = n > 0 ? (size_t)n : 0;
	if (f->trap && pos < len) {
		ck_trap_text(f->trap, report_sys(r), buf, sizeof(buf));
		n = snprintf(t->first + pos, len - pos, "trap: %s\n", buf);
		pos += n > 0 ? (size_t)n : 0;
	}
	report_locate(r, f, &w);
	if (w.has_host && pos < len) {
		n = snprintf(t->first + pos, len - pos, "host: %s\n", w.host);
		pos += n > 0 ? (size_t)n : 0;
	}
	if (w.has_hyp && pos < len) {
		n = snprintf(t->first + pos, len - pos, "hyp: %s\n", w.hyp);
		pos += n > 0 ? (size_t)n : 0;
	}
	if (w.has_site && pos < len) {
		n = snprintf(t->first + pos, len - pos, "site: %s\n", w.site);
		pos += n > 0 ? (size_t)n : 0;
	}
	if (pos < len) {
		report_event_line(r, f->event, buf, sizeof(buf));
		snprintf(t->first + pos, len - pos, "event: %s", buf);
	}
}

void report_ci_finding(struct report *r, const struct ck_finding *f)
{
	struct report_tally *t = ci_tally(r, f->check);
	char tm[48];

	if (!t) {
		r->tally_lost++;
		return;
	}
	if (t->count++ == 0)
		ci_first(r, f, t);
	if (t->line_count < REPORT_CI_LINES) {
		report_time(r, f->event->ts, tm, sizeof(tm));
		snprintf(t->lines[t->line_count++], sizeof(t->lines[0]),
			 "#%llu cpu%u %s 0x%llx: %s",
			 (unsigned long long)f->event->index, f->event->cpu, tm,
			 (unsigned long long)f->addr, f->text);
	}
}

/*
 * `why` is report_not_judged's reason, "" if the whole run was judged:
 * then a check without findings passed, even if others found some.
 */
static enum ci_status ci_status(const struct report_tally *t, int code,
				const char *why)
{
	if (code == CK_EXIT_CORRUPT)
		return CI_UNKNOWN;
	if (t->count)
		return CI_FAIL;
	return why[0] ? CI_SKIP : CI_PASS;
}

/*
 * Why check `t` is not judged: the run's reason (`why`), or, if the whole
 * run was judged, the check's own from the summary's not_judged (the
 * trace's ABI does not record what it needs), or "".
 */
static const char *ci_check_why(const struct ck_summary *s,
				const struct report_tally *t, const char *why,
				char *buf, size_t len)
{
	const char *at = s->not_judged, *end;
	size_t n = strlen(t->name);

	if (why[0])
		return why;
	/* Entries are "check (why)" or, sharing a reason, "a, b (why)". */
	while ((at = strstr(at, t->name)) != NULL) {
		const char *why_at = strchr(at + n, '(');

		if ((at == s->not_judged || at[-1] == ' ') &&
		    (strncmp(at + n, " (", 2) == 0 ||
		     strncmp(at + n, ", ", 2) == 0) &&
		    why_at && (end = strchr(why_at, ')')) != NULL) {
			snprintf(buf, len, "not judged: %s %.*s", t->name,
				 (int)(end - why_at + 1), why_at);
			return buf;
		}
		at += n;
	}
	return "";
}

/* The test suite's name: the trace's file name without its extension. */
static void ci_suite(const struct report *r, char *buf, size_t len)
{
	const char *base = strrchr(r->cfg.path, '/');
	char *dot;

	base = base ? base + 1 : r->cfg.path;
	snprintf(buf, len, "%s", strcmp(base, "-") ? base : "stdin");
	dot = strrchr(buf, '.');
	if (dot && dot != buf)
		*dot = '\0';
}

/* ---- JUnit ----------------------------------------------------------------
 */

static void xml_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '&')
			fputs("&amp;", out);
		else if (c == '<')
			fputs("&lt;", out);
		else if (c == '>')
			fputs("&gt;", out);
		else if (c == '"')
			fputs("&quot;", out);
		else if (c < 0x20 && c != '\n' && c != '\t')
			fputc('?', out); /* not allowed in XML 1.0 */
		else
			fputc(c, out);
	}
}

static void xml_prop(FILE *out, const char *name, const char *value)
{
	fprintf(out, "      <property name=\"");
	xml_text(out, name);
	fprintf(out, "\" value=\"");
	xml_text(out, value);
	fprintf(out, "\"/>\n");
}

static void junit_props(struct report *r, const struct ck_summary *s, int code)
{
	static char cmd[8192];
	const struct run_info *ri = r->cfg.run;
	char v[600];

	fprintf(r->out, "    <properties>\n");
	xml_prop(r->out, "trace", r->cfg.path);
	xml_prop(r->out, "verdict", report_verdict(code));
	snprintf(v, sizeof(v), "%d", code);
	xml_prop(r->out, "exit_code", v);
	if (code == CK_EXIT_CORRUPT)
		xml_prop(r->out, "error", s->error);
	for (unsigned i = 0; i < s->incomplete_count; i++)
		xml_prop(r->out, "incomplete", s->incomplete[i]);
	if (ri) {
		xml_prop(r->out, "system", ri->info.system);
		for (const char *p = ri->info.identity; *p;) {
			const char *nl = strchr(p, '\n'), *eq = strchr(p, '=');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);
			char key[64];

			if (eq && eq < p + l) {
				snprintf(key, sizeof(key), "%.*s",
					 (int)(eq - p), p);
				snprintf(cmd, sizeof(cmd), "%.*s",
					 (int)(l - (size_t)(eq - p) - 1),
					 eq + 1);
				xml_prop(r->out, key, cmd);
			}
			p += l + (nl != NULL);
		}
		if (ri->has_run && trace_outcome_name(ri->run.outcome))
			xml_prop(r->out, "outcome",
				 trace_outcome_name(ri->run.outcome));
		if (run_record_command(ri, cmd, sizeof(cmd)))
			xml_prop(r->out, "record_command", cmd);
	}
	fprintf(r->out, "    </properties>\n");
}

static void junit_case(struct report *r, const char *cls,
		       const struct report_tally *t, enum ci_status st,
		       const char *why)
{
	fprintf(r->out, "    <testcase classname=\"%s\" name=\"", cls);
	xml_text(r->out, t->name);
	fprintf(r->out, "\"");
	if (st == CI_PASS) {
		fprintf(r->out, "/>\n");
		return;
	}
	fprintf(r->out, ">\n");
	if (st == CI_FAIL) {
		fprintf(r->out, "      <failure type=\"");
		xml_text(r->out, t->name);
		fprintf(r->out, "\" message=\"%llu finding%s: ",
			(unsigned long long)t->count, t->count > 1 ? "s" : "");
		xml_text(r->out, t->lines[0]);
		fprintf(r->out, "\">");
		xml_text(r->out, t->first);
		for (unsigned i = 1; i < t->line_count; i++) {
			fprintf(r->out, "\n");
			xml_text(r->out, t->lines[i]);
		}
		fprintf(r->out, "</failure>\n");
	} else {
		fprintf(r->out, "      <skipped message=\"");
		xml_text(r->out, why);
		fprintf(r->out, "\"/>\n");
	}
	fprintf(r->out, "    </testcase>\n");
}

static void junit(struct report *r, const struct ck_summary *s, int code,
		  const char *why)
{
	char suite[256], cls[300];
	unsigned fails = 0, skips = 0, n = r->tally_count + 1;
	size_t k = sizeof("pkvm-check.") - 1;

	ci_suite(r, suite, sizeof(suite));
	snprintf(cls, sizeof(cls), "pkvm-check.");
	/* A dot in a class name is a package separator to Jenkins; the
	 * rest must not need escaping in an attribute. */
	for (const char *c = suite; *c && k + 1 < sizeof(cls); c++)
		cls[k++] = strchr(".\"<>&'", *c) ? '_' : *c;
	cls[k] = '\0';
	for (unsigned i = 0; i < r->tally_count; i++) {
		char buf[200];
		enum ci_status st = ci_status(
			&r->tally[i], code,
			ci_check_why(s, &r->tally[i], why, buf, sizeof(buf)));

		fails += st == CI_FAIL;
		skips += st == CI_SKIP || st == CI_UNKNOWN;
	}
	fprintf(r->out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(r->out,
		"<testsuites name=\"pkvm-check\" tests=\"%u\" failures=\"%u\" "
		"errors=\"%u\" skipped=\"%u\">\n",
		n, fails, code == CK_EXIT_CORRUPT, skips);
	fprintf(r->out, "  <testsuite name=\"");
	xml_text(r->out, suite);
	fprintf(r->out,
		"\" tests=\"%u\" failures=\"%u\" errors=\"%u\" "
		"skipped=\"%u\">\n",
		n, fails, code == CK_EXIT_CORRUPT, skips);
	junit_props(r, s, code);
	fprintf(r->out,
		"    <testcase classname=\"%s\" name=\"trace-readable\"", cls);
	if (code == CK_EXIT_CORRUPT) {
		fprintf(r->out, ">\n      <error type=\"corrupt\" message=\"");
		xml_text(r->out, s->error);
		fprintf(r->out, "\"/>\n    </testcase>\n");
	} else {
		fprintf(r->out, "/>\n");
	}
	for (unsigned i = 0; i < r->tally_count; i++) {
		char buf[200];
		const char *w =
			ci_check_why(s, &r->tally[i], why, buf, sizeof(buf));

		junit_case(r, cls, &r->tally[i],
			   ci_status(&r->tally[i], code, w), w);
	}
	fprintf(r->out, "  </testsuite>\n</testsuites>\n");
}

/* The run's identity as comment lines ("# run: ..."), for TAP and LAVA. */
static void ci_run_comments(struct report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (!r->cfg.run || !(m = open_memstream(&buf, &len)))
		return;
	run_print_text(m, r->cfg.run);
	fclose(m);
	for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		fprintf(r->out, "# %.*s\n",
			(int)(nl ? (size_t)(nl - line) : strlen(line)), line);
	}
	free(buf);
}

/* ---- TAP 14 ---------------------------------------------------------------
 */

/*
 * A member of the YAML block under a test point (TAP 14: indented two
 * spaces). A JSON string is a YAML double-quoted scalar, the one form of
 * multi-line text the YAMLish readers of TAP harnesses (prove's) take.
 */
static void tap_yaml(struct report *r, const char *key, const char *value)
{
	fprintf(r->out, "  %s: ", key);
	trace_json_str(r->out, value); /* a JSON string is YAML too */
	fprintf(r->out, "\n");
}

static void tap(struct report *r, const struct ck_summary *s, int code,
		const char *why)
{
	char suite[256], line[600];
	unsigned n = 1;

	ci_suite(r, suite, sizeof(suite));
	fprintf(r->out, "TAP version 14\n");
	fprintf(r->out, "# pkvm-check %s: %s\n", suite, r->cfg.path);
	ci_run_comments(r);
	fprintf(r->out, "1..%u\n", r->tally_count + 1);
	if (code == CK_EXIT_CORRUPT) {
		fprintf(r->out, "not ok 1 - trace-readable\n  ---\n");
		tap_yaml(r, "message", s->error);
		fprintf(r->out, "  ...\n");
	} else {
		fprintf(r->out, "ok 1 - trace-readable\n");
	}
	for (unsigned i = 0; i < r->tally_count; i++) {
		const struct report_tally *t = &r->tally[i];
		char buf[200];
		const char *w = ci_check_why(s, t, why, buf, sizeof(buf));
		enum ci_status st = ci_status(t, code, w);

		n++;
		if (st == CI_PASS) {
			fprintf(r->out, "ok %u - %s\n", n, t->name);
		} else if (st == CI_FAIL) {
			fprintf(r->out, "not ok %u - %s\n  ---\n", n, t->name);
			snprintf(line, sizeof(line), "%llu",
				 (unsigned long long)t->count);
			fprintf(r->out, "  findings: %s\n", line);
			tap_yaml(r, "message", t->first);
			fprintf(r->out, "  findings_list:\n");
			for (unsigned k = 0; k < t->line_count; k++) {
				fprintf(r->out, "  - ");
				trace_json_str(r->out, t->lines[k]);
				fprintf(r->out, "\n");
			}
			fprintf(r->out, "  ...\n");
		} else {
			/* A directive's reason ends at the line: no '#'. */
			snprintf(line, sizeof(line), "%s", w);
			for (char *c = line; *c; c++)
				if (*c == '#' || *c == '\n')
					*c = ' ';
			fprintf(r->out, "ok %u - %s # SKIP %s\n", n, t->name,
				line);
		}
	}
	fprintf(r->out,
		"# %s: events=%llu findings=%llu inconclusive=%llu "
		"lost=%llu\n",
		report_verdict(code), (unsigned long long)s->events,
		(unsigned long long)(code == CK_EXIT_CORRUPT ? 0 : s->findings),
		(unsigned long long)s->inconclusive,
		(unsigned long long)s->lost);
}

/* ---- LAVA -----------------------------------------------------------------
 */

/*
 * Lines a LAVA test definition runs as they are (e.g. `eval "$(pkvm-check
 * --format=lava T)"`): lava-test-case NAME --result RESULT, shell-safe
 * (check names are [a-z0-9-]); everything else is a shell comment.
 */
static void lava(struct report *r, const struct ck_summary *s, int code,
		 const char *why)
{
	static const char *const res[] = { "pass", "fail", "skip", "unknown" };

	fprintf(r->out, "# pkvm-check %s: %s\n", report_verdict(code),
		r->cfg.path);
	ci_run_comments(r);
	if (why[0])
		fprintf(r->out, "# %s\n", why);
	fprintf(r->out, "lava-test-case trace-readable --result %s\n",
		code == CK_EXIT_CORRUPT ? "fail" : "pass");
	for (unsigned i = 0; i < r->tally_count; i++) {
		const struct report_tally *t = &r->tally[i];
		char buf[200];
		const char *w = ci_check_why(s, t, why, buf, sizeof(buf));

		if (t->count)
			fprintf(r->out, "# %s: %llu finding%s, first: %s\n",
				t->name, (unsigned long long)t->count,
				t->count > 1 ? "s" : "", t->lines[0]);
		fprintf(r->out, "lava-test-case %s --result %s\n", t->name,
			res[ci_status(t, code, w)]);
	}
	if (code == CK_EXIT_CORRUPT)
		fprintf(r->out, "# error: %s\n", s->error);
}

void report_ci_finish(struct report *r, const struct ck_summary *s, int code)
{
	char why[900];
	const char *reason;

	ci_init(r);
	reason = report_not_judged(r, s, code, why, sizeof(why));
	if (!reason)
		reason = "";
	for (char *c = why; reason == why && *c; c++)
		if (*c == '\n')
			*c = ' ';
	switch (r->cfg.fmt) {
	case REPORT_JUNIT:
		junit(r, s, code, reason);
		break;
	case REPORT_TAP:
		tap(r, s, code, reason);
		break;
	default:
		lava(r, s, code, reason);
		break;
	}
}
