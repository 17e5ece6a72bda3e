// SPDX-License-Identifier: MIT
/*
 * Reports. Text: the run's identity and how to record it again, the first
 * finding in full (what the spec expected, what happened, the trap, the
 * instruction, where in the code, the CPU's events before it, the event
 * that explains it), later findings grouped under the first one of their
 * key (check, address), one summary line. The other formats live in
 * report_json.c and report_ci.c and share the grouping here.
 * Deterministic: everything printed comes from the trace and the images,
 * never from pointers, hashing order or the clock.
 */
#include <capstone/capstone.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>

#include "report.h"

struct report *report_new(FILE *out, const struct report_cfg *cfg)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->out = out;
	r->cfg = *cfg;
	r->groups = calloc(REPORT_MAX_GROUPS, sizeof(*r->groups));
	r->group_index = calloc(2 * REPORT_MAX_GROUPS, sizeof(uint32_t));
	if (!r->groups || !r->group_index) {
		free(r->groups);
		free(r->group_index);
		free(r);
		return NULL;
	}
	return r;
}

void report_free(struct report *r)
{
	if (r) {
		free(r->groups);
		free(r->group_index);
		trace_tables_free(r->tables);
		if (r->cs_open)
			cs_close((csh *)&r->cs_handle);
	}
	free(r);
}

void report_time(const struct report *r, uint64_t ts, char *buf, size_t len)
{
	trace_format_time(buf, len, ts, r->cfg.counter_freq, r->cfg.ticks);
}

enum trace_system report_sys(const struct report *r)
{
	return r->cfg.run ? trace_system_of(r->cfg.run->info.system)
			  : TRACE_SYS_HYP;
}

void report_event_line(const struct report *r, const struct ck_event *ev,
		       char *buf, size_t len)
{
	struct trace_desc_where where =
		trace_tables_where(r->tables, ev->recs[0].a);
	struct trace_fmt fmt = { r->cfg.counter_freq,
				 r->cfg.ticks,
				 ev->recs[0].kind == PKVM_EV_PTE_WRITE ? &where
								       : NULL,
				 false,
				 report_sys(r),
				 NULL };
	char site[320] = "";

	/* The site, as dump shows it; the hyp's address without an image. */
	if (ev->site &&
	    !locate_site_token(r->cfg.loc, ev->site, site, sizeof(site)))
		snprintf(site, sizeof(site), "pc=0x%llx",
			 (unsigned long long)ev->site);
	fmt.site = site;
	trace_format_event_at(buf, len, ev->recs, ev->nrec, &fmt);
}

/*
 * The canonical event the replay saw, for a part of a compact record
 * ("lock_release lock=host_s2 ticket=3"): rebuilt from its words, without
 * the "cpuN seq=S t=..." the record's own line already gives.
 */
static void report_part_line(const struct ck_event *ev, char *buf, size_t len)
{
	struct pkvm_record recs[PKVM_EVENT_MAX_RECORDS] = { { 0 } };
	unsigned ncont = pkvm_event_ncont(ev->kind);
	const char *p = buf;

	for (unsigned i = 0; i <= ncont && i < PKVM_EVENT_MAX_RECORDS; i++) {
		recs[i].kind = ev->kind;
		recs[i].flags =
			(uint8_t)(i ? PKVM_REC_F_CONT | i : ncont | ev->kbits);
		recs[i].a = ev->w[2 * i];
		recs[i].b = ev->w[2 * i + 1];
	}
	trace_format_event(buf, len, recs, ncont + 1);
	for (unsigned spaces = 0; *p && spaces < 3; p++)
		spaces += *p == ' ';
	memmove(buf, p, strlen(p) + 1);
}

/* Parts of one compact record: same CPU, same seq (they share them). */
static bool report_same_record(const struct ck_event *a,
			       const struct ck_event *b)
{
	return a->parts > 1 && b->parts > 1 && a->cpu == b->cpu &&
	       a->seq == b->seq;
}

/*
 * The CPU's events before the finding's, then the finding's own, one line
 * per record: the parts a compact record expanded into share one line,
 * labelled with their range of event numbers ("#41-42").
 */
static void report_history(struct report *r, const struct ck_finding *f)
{
	const struct ck_event *ev = f->event;
	unsigned n = f->history_count;
	char line[1536], label[48];

	for (unsigned i = 0; i <= n;) {
		const struct ck_event *first = i < n ? f->history[i] : ev;
		const struct ck_event *last = first;
		unsigned j = i + 1;

		for (; j <= n; j++) {
			const struct ck_event *e = j < n ? f->history[j] : ev;

			if (!report_same_record(first, e))
				break;
			last = e;
		}
		if (last == first)
			snprintf(label, sizeof(label), "#%llu",
				 (unsigned long long)first->index);
		else
			snprintf(label, sizeof(label), "#%llu-%llu",
				 (unsigned long long)first->index,
				 (unsigned long long)last->index);
		report_event_line(r, first, line, sizeof(line));
		fprintf(r->out, "   %s %-9s %s\n", j > n ? "->" : "  ", label,
			line);
		i = j;
	}
	if (ev->parts > 1) {
		report_part_line(ev, line, sizeof(line));
		fprintf(r->out,
			"                (#%llu is its part %u of %u: %s)\n",
			(unsigned long long)ev->index, ev->part + 1u,
			(unsigned)ev->parts, line);
	}
}

/* ---- the trap, decoded ---------------------------------------------- */

static unsigned report_ec(const struct ck_event *t)
{
	return (unsigned)((t->w[0] >> 26) & 0x3f);
}

/*
 * The instruction that trapped: for hvc and smc rebuilt from ESR (an HVC
 * returns after itself, so it lies at ELR - 4; a trapped SMC returns to
 * itself), for an abort read from an image at ELR.
 */
void report_insn(struct report *r, const struct ck_event *t, char *buf,
		 size_t len)
{
	unsigned ec = report_ec(t);
	uint64_t pc = ec == 0x16 ? t->w[1] - 4 : t->w[1];
	uint32_t word;
	cs_insn *insn;
	size_t n;

	if (ec == 0x16 || ec == 0x17)
		word = 0xd4000000u | ((uint32_t)(t->w[0] & 0xffff) << 5) |
		       (ec == 0x16 ? 2u : 3u);
	else if (!elf_images_read32(r->cfg.elf, pc, &word)) {
		snprintf(buf, len,
			 "not available (no --elf image covers elr "
			 "0x%llx)",
			 (unsigned long long)pc);
		return;
	}
	/* Opening Capstone costs more than a disassembly: once a report. */
	if (!r->cs_open && !r->cs_failed) {
		csh h;

		r->cs_failed =
			cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK;
		r->cs_open = !r->cs_failed;
		r->cs_handle = h;
	}
	if (r->cs_failed) {
		snprintf(buf, len, "not available (capstone)");
		return;
	}
	n = cs_disasm((csh)r->cs_handle, (const uint8_t *)&word, 4, pc, 1,
		      &insn);
	if (n == 1)
		snprintf(buf, len, "0x%llx: %s %s (0x%08x%s)",
			 (unsigned long long)pc, insn[0].mnemonic,
			 insn[0].op_str, word,
			 ec == 0x16 || ec == 0x17 ? ", rebuilt from ESR" : "");
	else
		snprintf(buf, len, "0x%llx: .word 0x%08x (undecodable)",
			 (unsigned long long)pc, word);
	if (n)
		cs_free(insn, n);
}

static void report_full(struct report *r, const struct ck_finding *f)
{
	const struct ck_event *ev = f->event;
	struct report_where w;
	char line[1024], t[48];

	/* A second reader, for the tables the history's stores go into
	 * (a pipe cannot be read twice: its stores stay unplaced). */
	if (strcmp(r->cfg.path, "-") != 0 && !r->tables)
		r->tables = cli_tables_until(r->cfg.path, ev->ts);
	report_time(r, ev->ts, t, sizeof(t));
	fprintf(r->out, "FINDING %s\n", f->check);
	fprintf(r->out, "  %s\n", f->text);
	fprintf(r->out, "  at event #%llu on cpu%u, %s%s\n",
		(unsigned long long)ev->index, ev->cpu,
		strncmp(t, "ticks=", 6) ? "t=" : "", t);
	if (f->trap) {
		ck_trap_text(f->trap, report_sys(r), line, sizeof(line));
		fprintf(r->out, "  trap: %s, entered at event #%llu\n", line,
			(unsigned long long)f->trap->index);
		report_insn(r, f->trap, line, sizeof(line));
		fprintf(r->out, "  instruction: %s\n", line);
	}
	report_locate(r, f, &w);
	if (w.has_host)
		fprintf(r->out, "  host: %s\n", w.host);
	if (w.has_hyp)
		fprintf(r->out, "  hyp: %s\n", w.hyp);
	if (w.has_site)
		fprintf(r->out, "  site: %s\n", w.site);
	/* The explaining event is printed by report_finish (second pass). */
	r->has_explain = f->has_explain;
	r->explain_index = f->explain_index;
	fprintf(r->out,
		"  events on cpu%u (#N: the event's number in the "
		"replay, for 'pkvm-check dump --event N';\n"
		"  seq: the CPU's record number; t: %s):\n",
		ev->cpu,
		r->cfg.ticks || !r->cfg.counter_freq
			? "counter ticks"
			: "seconds of the trace's counter");
	report_history(r, f);
}

/* ---- grouping ------------------------------------------------------- */

/* A key's first slot in group_index: its check's name and address. */
static size_t report_group_slot(const char *check, uint64_t addr)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull;

	for (const char *c = check; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
	return (size_t)(h >> 17) & (2 * REPORT_MAX_GROUPS - 1);
}

struct report_group *report_group_of(struct report *r,
				     const struct ck_finding *f)
{
	size_t i = report_group_slot(f->check, f->addr);
	struct report_group *g;

	/* Half full at most: a probe always ends at an empty slot. */
	for (; r->group_index[i]; i = (i + 1) & (2 * REPORT_MAX_GROUPS - 1)) {
		g = &r->groups[r->group_index[i] - 1];
		if (g->addr == f->addr && strcmp(g->check, f->check) == 0) {
			g->count++;
			g->last_index = f->event->index;
			return g;
		}
	}
	if (r->group_count == REPORT_MAX_GROUPS) {
		r->ungrouped++;
		return NULL;
	}
	r->group_index[i] = (uint32_t)r->group_count + 1;
	g = &r->groups[r->group_count++];
	/* `check` names are string literals of the core: stable pointers. */
	g->check = f->check;
	g->addr = f->addr;
	g->count = 1;
	g->first_index = g->last_index = f->event->index;
	g->first_cpu = f->event->cpu;
	g->first_ts = f->event->ts;
	snprintf(g->first_text, sizeof(g->first_text), "%s", f->text);
	return g;
}

void report_finding(void *ctx, const struct ck_finding *f)
{
	struct report *r = ctx;
	struct report_group *g;

	r->seen++;
	if (r->cfg.quiet)
		return;
	g = report_group_of(r, f);
	if (r->seen == 1) {
		r->first_check = f->check;
		r->first_addr = f->addr;
		r->first_index = f->event->index;
		r->first_group = g ? (size_t)(g - r->groups) : SIZE_MAX;
	}
	switch (r->cfg.fmt) {
	case REPORT_JSON:
		report_json_finding(r, f, g);
		if (r->seen == 1) {
			r->has_explain = f->has_explain;
			r->explain_index = f->explain_index;
		}
		break;
	case REPORT_TEXT:
		if (r->seen == 1)
			report_full(r, f);
		break;
	default:
		report_ci_finding(r, f);
		break;
	}
}

const char *report_verdict(int code)
{
	switch (code) {
	case CK_EXIT_OK:
		return "conforms";
	case CK_EXIT_FINDINGS:
		return "findings";
	case CK_EXIT_INCONCLUSIVE:
		return "inconclusive";
	default:
		return "error";
	}
}

/** See cli.h. */
int report_release(struct report *r, FILE *out, bool keep)
{
	FILE *held = r->out;
	char buf[65536];
	size_t n;
	int rc = 0;

	r->out = out;
	/* The run comes first: findings are read against it. */
	if (!r->cfg.quiet && keep && r->cfg.run && r->cfg.fmt == REPORT_TEXT)
		run_print_text(out, r->cfg.run);
	if (!r->cfg.quiet && r->cfg.run && r->cfg.fmt == REPORT_JSON)
		report_json_run(r);
	if (held != out) {
		rewind(held);
		while (keep && (n = fread(buf, 1, sizeof(buf), held)) > 0)
			fwrite(buf, 1, n, out);
		if (ferror(held))
			rc = -1;
		fclose(held);
	}
	if (!keep) {
		r->seen = r->ungrouped = 0;
		r->group_count = 0;
		memset(r->group_index, 0,
		       2 * REPORT_MAX_GROUPS * sizeof(*r->group_index));
		r->has_explain = false;
		r->tally_count = 0;
		r->tally_lost = 0;
	}
	return rc;
}

bool report_explain_wanted(const struct report *r, uint64_t *index)
{
	*index = r->explain_index;
	return r->has_explain && r->cfg.fmt == REPORT_TEXT && !r->cfg.quiet;
}

/** See report.h. */
const char *report_not_judged(const struct report *r,
			      const struct ck_summary *s, int code, char *buf,
			      size_t len)
{
	if (code == CK_EXIT_CORRUPT) {
		snprintf(buf, len, "not judged: the trace is corrupt: %s",
			 s->error);
	} else if (s->stopped && r->cfg.max_findings &&
		   s->findings >= r->cfg.max_findings) {
		snprintf(buf, len,
			 "not judged after the replay stopped at "
			 "--max-findings=%llu",
			 (unsigned long long)r->cfg.max_findings);
	} else if (s->stopped) {
		snprintf(buf, len,
			 "not judged after the replay stopped: the "
			 "trace admits no schedule "
			 "(inconsistent-trace)");
	} else if (s->incomplete_count) {
		snprintf(buf, len, "not a whole run: %s", s->incomplete[0]);
	} else if (s->inconclusive) {
		snprintf(buf, len, "not checked: %s", s->first_inconclusive);
	} else {
		return NULL;
	}
	return buf;
}

/*
 * Later findings, each group under its first finding: the rest of a group
 * are the same broken state seen again (the same check at the same
 * address), so the first names the cause; groups come in the order their
 * first findings came.
 */
static void report_groups_text(struct report *r)
{
	uint64_t later = r->seen > 0 ? r->seen - 1 : 0;
	char t[48], range[32];

	if (!later)
		return;
	fprintf(r->out,
		"later findings: %llu, each group under its first (same "
		"check and address):\n",
		(unsigned long long)later);
	for (size_t i = 0; i < r->group_count; i++) {
		const struct report_group *g = &r->groups[i];
		bool is_first = i == r->first_group;

		if (is_first && g->count == 1)
			continue;
		report_time(r, g->first_ts, t, sizeof(t));
		if (is_first) {
			fprintf(r->out,
				"  %s 0x%llx: the first finding, again x%llu "
				"(to #%llu)\n",
				g->check, (unsigned long long)g->addr,
				(unsigned long long)(g->count - 1),
				(unsigned long long)g->last_index);
			continue;
		}
		snprintf(range, sizeof(range), " to #%llu",
			 (unsigned long long)g->last_index);
		fprintf(r->out,
			"  %s 0x%llx%s: x%llu, #%llu%s, first on cpu%u "
			"at %s%s\n      %s\n",
			g->check, (unsigned long long)g->addr,
			g->addr && g->addr == r->first_addr
				? " (the first finding's address)"
				: "",
			(unsigned long long)g->count,
			(unsigned long long)g->first_index,
			g->count > 1 ? range : "", g->first_cpu,
			strncmp(t, "ticks=", 6) ? "t=" : "", t, g->first_text);
	}
	if (r->ungrouped)
		fprintf(r->out, "  (%llu more in other groups)\n",
			(unsigned long long)r->ungrouped);
}

/* The grouped later findings, why the run is not whole, the summary line. */
static void report_finish_text(struct report *r, const struct ck_summary *s,
			       int code)
{
	if (code == CK_EXIT_CORRUPT) {
		/* The reader's or the checker's own words: file, offset. */
		fprintf(r->out, "pkvm-check: error: %s\n", s->error);
		return;
	}
	report_groups_text(r);
	for (unsigned i = 0; i < s->incomplete_count; i++)
		fprintf(r->out, "not a whole run: %s\n", s->incomplete[i]);
	if (s->inconclusive)
		fprintf(r->out, "not checked: %s%s\n", s->first_inconclusive,
			s->inconclusive > 1 ? " (and more)" : "");
	if (s->not_judged[0])
		fprintf(r->out, "not judged: %s\n", s->not_judged);
	fprintf(r->out,
		"pkvm-check: %s: events=%llu traps_checked=%llu findings=%llu "
		"inconclusive=%llu lost=%llu",
		report_verdict(code), (unsigned long long)s->events,
		(unsigned long long)s->traps_checked,
		(unsigned long long)s->findings,
		(unsigned long long)s->inconclusive,
		(unsigned long long)s->lost);
	/* The summary line alone says why a run is not whole, or why a
	 * whole one is not judged whole (the profile's reason). */
	for (unsigned i = 0; i < s->incomplete_count; i++)
		fprintf(r->out, "%s%s", i ? "; " : " (", s->incomplete[i]);
	if (s->unjudged && code == CK_EXIT_INCONCLUSIVE)
		fprintf(r->out, "%s%s", s->incomplete_count ? "; " : " (",
			s->unjudged);
	fprintf(r->out, "%s\n",
		s->incomplete_count ||
				(s->unjudged && code == CK_EXIT_INCONCLUSIVE)
			? ")"
			: "");
}

void report_finish(struct report *r, const struct ck_summary *s, int code,
		   const struct ck_event *explain)
{
	char line[1536];

	if (r->cfg.quiet)
		return;
	if (r->cfg.fmt == REPORT_TEXT && r->has_explain && explain) {
		report_event_line(r, explain, line, sizeof(line));
		fprintf(r->out,
			"  state explained by (the last change of that page "
			"before):\n      #%-8llu %s\n",
			(unsigned long long)explain->index, line);
	} else if (r->cfg.fmt == REPORT_TEXT && r->has_explain) {
		fprintf(r->out,
			"  state explained by: event #%llu (the last change of "
			"that page before; not shown for stdin)\n",
			(unsigned long long)r->explain_index);
	}
	switch (r->cfg.fmt) {
	case REPORT_TEXT:
		report_finish_text(r, s, code);
		break;
	case REPORT_JSON:
		report_json_finish(r, s, code);
		break;
	default:
		report_ci_finish(r, s, code);
		break;
	}
}
