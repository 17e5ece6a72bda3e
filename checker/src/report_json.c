// SPDX-License-Identifier: MIT
/*
 * JSON reports (schema 2, doc/pkvm-check.schema.json): JSON Lines, one
 * object a line, each saying what it is in "type": the run ("run"), each
 * finding ("finding"), why the run is not whole ("incomplete"), what
 * could not be checked ("inconclusive"), an error ("error"), and the
 * summary last ("summary"). The verdict and the exit code are the same
 * as in text.
 */
#include <string.h>

#include <pkvm/dump.h>

#include "report.h"

#define REPORT_JSON_SCHEMA 2

static void json_u64(FILE *out, const char *name, uint64_t v)
{
	fprintf(out, ",\"%s\":%llu", name, (unsigned long long)v);
}

static void json_strf(FILE *out, const char *name, const char *v)
{
	fprintf(out, ",\"%s\":", name);
	trace_json_str(out, v);
}

/* Seconds as a JSON number (exact: the text's digits without the 's'). */
static void json_time(const struct report *r, uint64_t ts)
{
	char t[48];

	if (!r->cfg.counter_freq)
		return;
	trace_format_time(t, sizeof(t), ts, r->cfg.counter_freq, false);
	t[strlen(t) - 1] = '\0';
	fprintf(r->out, ",\"time\":%s", t);
}

void report_json_run(struct report *r)
{
	fprintf(r->out, "{\"type\":\"run\",\"schema\":%d,", REPORT_JSON_SCHEMA);
	run_print_json(r->out, r->cfg.run);
	fprintf(r->out, "}\n");
}

static void json_hit(FILE *out, const char *name, const char *text,
		     const struct locate_hit *h, uint64_t addr)
{
	fprintf(out, "\"%s\":{\"function\":", name);
	trace_json_str(out, h->func);
	if (h->file[0]) {
		json_strf(out, "file", h->file);
		fprintf(out, ",\"line\":%d", h->line);
	}
	if (addr)
		json_u64(out, "addr", addr);
	json_strf(out, "image", h->image ? h->image : "");
	json_strf(out, "text", text);
	fprintf(out, "}");
}

static void json_where(struct report *r, const struct ck_finding *f)
{
	struct report_where w;

	report_locate(r, f, &w);
	if (!w.has_host && !w.has_hyp && !w.has_site)
		return;
	fprintf(r->out, ",\"where\":{");
	if (w.has_host)
		json_hit(r->out, "host", w.host, &w.host_hit, w.host_addr);
	if (w.has_hyp) {
		fprintf(r->out, "%s", w.has_host ? "," : "");
		json_hit(r->out, "hyp", w.hyp, &w.hyp_hit, w.hyp_addr);
	}
	if (w.has_site && w.site_named) {
		fprintf(r->out, "%s", w.has_host || w.has_hyp ? "," : "");
		json_hit(r->out, "site", w.site, &w.site_hit, w.site_addr);
	} else if (w.has_site) {
		fprintf(r->out, "%s\"site\":{\"addr\":%llu",
			w.has_host || w.has_hyp ? "," : "",
			(unsigned long long)w.site_addr);
		json_strf(r->out, "text", w.site);
		fprintf(r->out, "}");
	}
	fprintf(r->out, "}");
}

/* The CPU's events before the finding, oldest first, as the text shows. */
static void json_context(struct report *r, const struct ck_finding *f)
{
	char line[1536];

	fprintf(r->out, ",\"context\":[");
	for (unsigned i = 0; i < f->history_count; i++) {
		const struct ck_event *e = f->history[i];

		/* The parts of one compact record share one entry. */
		if (i && e->parts > 1 && f->history[i - 1]->parts > 1 &&
		    e->seq == f->history[i - 1]->seq)
			continue;
		report_event_line(r, e, line, sizeof(line));
		fprintf(r->out, "%s{\"index\":%llu,\"text\":", i ? "," : "",
			(unsigned long long)e->index);
		trace_json_str(r->out, line);
		fprintf(r->out, "}");
	}
	fprintf(r->out, "]");
}

void report_json_finding(struct report *r, const struct ck_finding *f,
			 const struct report_group *g)
{
	const struct ck_event *ev = f->event;
	char buf[1536];

	/* Once: the tables every finding's stores go into (a pipe cannot
	 * be read twice: its stores stay unplaced). */
	if (strcmp(r->cfg.path, "-") != 0 && !r->tables)
		r->tables = cli_tables_until(r->cfg.path, UINT64_MAX);
	fprintf(r->out, "{\"type\":\"finding\",\"check\":");
	trace_json_str(r->out, f->check);
	json_u64(r->out, "index", ev->index);
	json_u64(r->out, "cpu", ev->cpu);
	json_u64(r->out, "seq", ev->seq);
	json_u64(r->out, "ts", ev->ts);
	json_time(r, ev->ts);
	json_u64(r->out, "addr", f->addr);
	json_strf(r->out, "message", f->text);
	report_event_line(r, ev, buf, sizeof(buf));
	fprintf(r->out, ",\"event\":{\"index\":%llu",
		(unsigned long long)ev->index);
	if (ev->parts > 1)
		fprintf(r->out, ",\"part\":%u,\"parts\":%u", ev->part + 1u,
			(unsigned)ev->parts);
	json_strf(r->out, "text", buf);
	fprintf(r->out, "}");
	if (f->trap) {
		ck_trap_text(f->trap, report_sys(r), buf, sizeof(buf));
		fprintf(r->out, ",\"trap\":{\"index\":%llu",
			(unsigned long long)f->trap->index);
		json_strf(r->out, "what", buf);
		report_insn(r, f->trap, buf, sizeof(buf));
		json_strf(r->out, "instruction", buf);
		fprintf(r->out, "}");
	}
	json_where(r, f);
	if (f->has_explain)
		json_u64(r->out, "explained_by", f->explain_index);
	json_context(r, f);
	/* A later finding of the same key is the first one's cascade. */
	if (g)
		fprintf(r->out,
			",\"group\":{\"first_index\":%llu,\"nth\":%llu}",
			(unsigned long long)g->first_index,
			(unsigned long long)g->count);
	fprintf(r->out, "}\n");
}

/*
 * What the summary says, as objects of their own first: each reason the
 * run is not whole, what could not be checked, the error. A corrupt trace
 * has an error and no findings (any seen were held back: they were not
 * about the hypervisor).
 */
void report_json_finish(struct report *r, const struct ck_summary *s, int code)
{
	bool corrupt = code == CK_EXIT_CORRUPT;

	for (unsigned i = 0; i < s->incomplete_count; i++) {
		fprintf(r->out, "{\"type\":\"incomplete\",\"reason\":");
		trace_json_str(r->out, s->incomplete[i]);
		fprintf(r->out, "}\n");
	}
	if (s->inconclusive) {
		fprintf(r->out, "{\"type\":\"inconclusive\",\"count\":%llu",
			(unsigned long long)s->inconclusive);
		json_strf(r->out, "first", s->first_inconclusive);
		fprintf(r->out, "}\n");
	}
	if (corrupt) {
		fprintf(r->out, "{\"type\":\"error\",\"message\":");
		trace_json_str(r->out, s->error);
		fprintf(r->out, "}\n");
	}
	fprintf(r->out,
		"{\"type\":\"summary\",\"schema\":%d,\"verdict\":\"%s\","
		"\"events\":%llu,\"traps_checked\":%llu,\"findings\":%llu,"
		"\"inconclusive\":%llu,\"lost\":%llu,\"stopped\":%s",
		REPORT_JSON_SCHEMA, report_verdict(code),
		(unsigned long long)s->events,
		(unsigned long long)s->traps_checked,
		corrupt ? 0ull : (unsigned long long)s->findings,
		(unsigned long long)s->inconclusive,
		(unsigned long long)s->lost, s->stopped ? "true" : "false");
	if (s->inconclusive)
		json_strf(r->out, "first_inconclusive", s->first_inconclusive);
	if (s->unjudged && !corrupt)
		json_strf(r->out, "unjudged", s->unjudged);
	if (s->not_judged[0] && !corrupt)
		json_strf(r->out, "not_judged", s->not_judged);
	fprintf(r->out, ",\"incomplete\":[");
	for (unsigned i = 0; i < s->incomplete_count; i++) {
		fprintf(r->out, i ? "," : "");
		trace_json_str(r->out, s->incomplete[i]);
	}
	fprintf(r->out, "]");
	if (corrupt)
		json_strf(r->out, "error", s->error);
	fprintf(r->out, "}\n");
}
