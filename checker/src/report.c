// SPDX-License-Identifier: MIT
/*
 * Reports: the first finding in full, later ones grouped by check and
 * address with counts, one summary line (text); or one JSON object per
 * finding and a summary object (json). Deterministic: everything printed
 * comes from the trace, never from pointers, hashing order or the clock.
 */
#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>

#include "cli.h"

#define REPORT_MAX_GROUPS 4096u

struct report_group {
	const char *check;
	uint64_t addr;
	uint64_t count;
};

struct report {
	FILE *out;
	enum report_format fmt;
	bool quiet;
	const struct elf_images *elf;
	uint64_t seen;
	struct report_group *groups;
	size_t group_count;
	uint64_t ungrouped;
	bool has_explain; /* the first finding's explaining event */
	uint64_t explain_index;
};

struct report *report_new(FILE *out, enum report_format fmt, bool quiet,
			  const struct elf_images *elf)
{
	struct report *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->out = out;
	r->fmt = fmt;
	r->quiet = quiet;
	r->elf = elf;
	r->groups = calloc(REPORT_MAX_GROUPS, sizeof(*r->groups));
	if (!r->groups) {
		free(r);
		return NULL;
	}
	return r;
}

void report_free(struct report *r)
{
	if (r)
		free(r->groups);
	free(r);
}

static void report_event_line(const struct ck_event *ev, char *buf, size_t len)
{
	trace_format_event(buf, len, ev->recs, ev->nrec);
}

/*
 * The canonical event the replay saw, for a part of a compact record
 * ("lock_release lock=host_s2 ticket=3"): rebuilt from its words, without
 * the "cpuN #seq t=..." the record's own line already gives.
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
 * labelled with their range of event indices ("#41-42").
 */
static void report_history(struct report *r, const struct ck_finding *f)
{
	const struct ck_event *ev = f->event;
	unsigned n = f->history_count;
	char line[1024], label[48];

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
		report_event_line(first, line, sizeof(line));
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

static void report_trap_text(const struct ck_event *t, char *buf, size_t len)
{
	unsigned ec = report_ec(t);
	uint64_t x0 = t->w[4];

	if (ec == 0x16 && (x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE) {
		uint64_t id = x0 & PKVM_HC_ID_MASK;

		if (id == PKVM_HC_HOST_DONATE_HYP ||
		    id == PKVM_HC_HYP_DONATE_HOST)
			snprintf(buf, len, "hypercall %s(pfn=0x%llx, nr=%llu)",
				 ck_hcall_name(id), (unsigned long long)t->w[5],
				 (unsigned long long)t->w[6]);
		else if (id == PKVM_HC_TEST_PANIC)
			snprintf(buf, len, "hypercall test_panic()");
		else
			snprintf(buf, len, "hypercall %s(%s=0x%llx)",
				 ck_hcall_name(id),
				 id == PKVM_HC_TRACE_LOAD ? "ctrl_pfn" : "pfn",
				 (unsigned long long)t->w[5]);
	} else if (ec == 0x16) {
		snprintf(buf, len, "hvc with x0=0x%llx (not a pKVM hypercall)",
			 (unsigned long long)x0);
	} else if (ec == 0x17) {
		snprintf(buf, len, "smc function 0x%llx",
			 (unsigned long long)x0);
	} else if (ec == 0x20 || ec == 0x24) {
		uint64_t ipa = (((t->w[3] >> 4) & ((1ull << 36) - 1)) << 12) |
			       (t->w[2] & 0xfff);

		snprintf(buf, len,
			 "host stage-2 %s abort at IPA 0x%llx "
			 "(far 0x%llx)",
			 ec == 0x20 ? "instruction" : "data",
			 (unsigned long long)ipa, (unsigned long long)t->w[2]);
	} else {
		snprintf(buf, len, "exception class 0x%x", ec);
	}
}

/* The instruction that trapped: from ESR for hvc/smc, else from --elf. */
static void report_insn(const struct report *r, const struct ck_event *t,
			char *buf, size_t len)
{
	unsigned ec = report_ec(t);
	uint32_t word;
	csh h;
	cs_insn *insn;
	size_t n;

	if (ec == 0x16 || ec == 0x17)
		word = 0xd4000000u | ((uint32_t)(t->w[0] & 0xffff) << 5) |
		       (ec == 0x16 ? 2u : 3u);
	else if (!elf_images_read32(r->elf, t->w[1], &word)) {
		snprintf(buf, len,
			 "not available (no --elf image covers elr "
			 "0x%llx)",
			 (unsigned long long)t->w[1]);
		return;
	}
	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, &h) != CS_ERR_OK) {
		snprintf(buf, len, "not available (capstone)");
		return;
	}
	n = cs_disasm(h, (const uint8_t *)&word, 4, t->w[1], 1, &insn);
	if (n == 1)
		snprintf(buf, len, "0x%llx: %s %s (0x%08x%s)",
			 (unsigned long long)t->w[1], insn[0].mnemonic,
			 insn[0].op_str, word,
			 ec == 0x16 || ec == 0x17 ? ", rebuilt from ESR" : "");
	else
		snprintf(buf, len, "0x%llx: .word 0x%08x (undecodable)",
			 (unsigned long long)t->w[1], word);
	if (n)
		cs_free(insn, n);
	cs_close(&h);
}

static void report_full(struct report *r, const struct ck_finding *f)
{
	char line[1024];
	const struct ck_event *ev = f->event;

	fprintf(r->out, "FINDING %s\n", f->check);
	fprintf(r->out, "  %s\n", f->text);
	fprintf(r->out, "  at event #%llu on cpu%u, t=%llu\n",
		(unsigned long long)ev->index, ev->cpu,
		(unsigned long long)ev->ts);
	if (f->trap) {
		report_trap_text(f->trap, line, sizeof(line));
		fprintf(r->out, "  trap: %s, entered at event #%llu\n", line,
			(unsigned long long)f->trap->index);
		report_insn(r, f->trap, line, sizeof(line));
		fprintf(r->out, "  instruction: %s\n", line);
	}
	/* The explaining event is printed by report_finish (second pass). */
	r->has_explain = f->has_explain;
	r->explain_index = f->explain_index;
	fprintf(r->out, "  events on cpu%u:\n", ev->cpu);
	report_history(r, f);
}

/* ---- JSON ----------------------------------------------------------- */

static void report_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void report_json(struct report *r, const struct ck_finding *f)
{
	char buf[1024];

	fprintf(r->out, "{\"check\":");
	report_json_str(r->out, f->check);
	fprintf(r->out, ",\"index\":%llu,\"cpu\":%u,\"ts\":%llu,\"addr\":%llu",
		(unsigned long long)f->event->index, f->event->cpu,
		(unsigned long long)f->event->ts, (unsigned long long)f->addr);
	fprintf(r->out, ",\"message\":");
	report_json_str(r->out, f->text);
	report_event_line(f->event, buf, sizeof(buf));
	fprintf(r->out, ",\"event\":");
	report_json_str(r->out, buf);
	if (f->trap) {
		report_trap_text(f->trap, buf, sizeof(buf));
		fprintf(r->out, ",\"trap\":{\"index\":%llu,\"what\":",
			(unsigned long long)f->trap->index);
		report_json_str(r->out, buf);
		fprintf(r->out, "}");
	}
	if (f->has_explain)
		fprintf(r->out, ",\"explained_by\":%llu",
			(unsigned long long)f->explain_index);
	fprintf(r->out, "}\n");
}

/* ---- grouping ------------------------------------------------------- */

static void report_group(struct report *r, const struct ck_finding *f)
{
	for (size_t i = 0; i < r->group_count; i++) {
		struct report_group *g = &r->groups[i];

		if (g->addr == f->addr && strcmp(g->check, f->check) == 0) {
			g->count++;
			return;
		}
	}
	if (r->group_count == REPORT_MAX_GROUPS) {
		r->ungrouped++;
		return;
	}
	/* `check` names are string literals of the core: stable pointers. */
	r->groups[r->group_count].check = f->check;
	r->groups[r->group_count].addr = f->addr;
	r->groups[r->group_count++].count = 1;
}

void report_finding(void *ctx, const struct ck_finding *f)
{
	struct report *r = ctx;

	r->seen++;
	if (r->quiet)
		return;
	if (r->fmt == REPORT_JSON)
		report_json(r, f);
	else if (r->seen == 1)
		report_full(r, f);
	else
		report_group(r, f);
}

static int report_group_cmp(const void *a, const void *b)
{
	const struct report_group *x = a, *y = b;
	int c = strcmp(x->check, y->check);

	if (c)
		return c;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static const char *report_verdict(int code)
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

/**
 * From now on, write to `out`. What was written so far (to the file the
 * report was made with: the findings held back until the verdict was
 * known) is copied there first if `keep`, or forgotten with every finding
 * seen: a trace found corrupt blames nobody.
 */
void report_release(struct report *r, FILE *out, bool keep)
{
	char buf[65536];
	size_t n;

	if (r->out != out) {
		rewind(r->out);
		while (keep && (n = fread(buf, 1, sizeof(buf), r->out)) > 0)
			fwrite(buf, 1, n, out);
		fclose(r->out);
		r->out = out;
	}
	if (!keep) {
		r->seen = r->ungrouped = 0;
		r->group_count = 0;
		r->has_explain = false;
	}
}

bool report_explain_wanted(const struct report *r, uint64_t *index)
{
	*index = r->explain_index;
	return r->has_explain && r->fmt == REPORT_TEXT && !r->quiet;
}

/*
 * The JSON summary object. A corrupt trace has an error and no findings
 * (any seen were held back: they were not about the hypervisor).
 */
static void report_finish_json(struct report *r, const struct ck_summary *s,
			       int code)
{
	bool corrupt = code == CK_EXIT_CORRUPT;

	fprintf(r->out,
		"{\"schema\":1,\"verdict\":\"%s\",\"events\":%llu,"
		"\"traps_checked\":%llu,\"findings\":%llu,"
		"\"inconclusive\":%llu,\"lost\":%llu,\"stopped\":%s",
		report_verdict(code), (unsigned long long)s->events,
		(unsigned long long)s->traps_checked,
		corrupt ? 0ull : (unsigned long long)s->findings,
		(unsigned long long)s->inconclusive,
		(unsigned long long)s->lost, s->stopped ? "true" : "false");
	if (s->inconclusive) {
		fprintf(r->out, ",\"first_inconclusive\":");
		report_json_str(r->out, s->first_inconclusive);
	}
	fprintf(r->out, ",\"incomplete\":[");
	for (unsigned i = 0; i < s->incomplete_count; i++) {
		fprintf(r->out, i ? "," : "");
		report_json_str(r->out, s->incomplete[i]);
	}
	fprintf(r->out, "]");
	if (corrupt) {
		fprintf(r->out, ",\"error\":");
		report_json_str(r->out, s->error);
	}
	fprintf(r->out, "}\n");
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
	qsort(r->groups, r->group_count, sizeof(*r->groups), report_group_cmp);
	if (r->group_count || r->ungrouped)
		fprintf(r->out, "later findings, by check and address:\n");
	for (size_t i = 0; i < r->group_count; i++)
		fprintf(r->out, "  %-26s 0x%-12llx x%llu\n", r->groups[i].check,
			(unsigned long long)r->groups[i].addr,
			(unsigned long long)r->groups[i].count);
	if (r->ungrouped)
		fprintf(r->out, "  (%llu more in other groups)\n",
			(unsigned long long)r->ungrouped);
	for (unsigned i = 0; i < s->incomplete_count; i++)
		fprintf(r->out, "not a whole run: %s\n", s->incomplete[i]);
	if (s->inconclusive)
		fprintf(r->out, "not checked: %s%s\n", s->first_inconclusive,
			s->inconclusive > 1 ? " (and more)" : "");
	fprintf(r->out,
		"pkvm-check: %s: events=%llu traps_checked=%llu findings=%llu "
		"inconclusive=%llu lost=%llu",
		report_verdict(code), (unsigned long long)s->events,
		(unsigned long long)s->traps_checked,
		(unsigned long long)s->findings,
		(unsigned long long)s->inconclusive,
		(unsigned long long)s->lost);
	/* The summary line alone says why a run is not whole. */
	for (unsigned i = 0; i < s->incomplete_count; i++)
		fprintf(r->out, "%s%s", i ? "; " : " (", s->incomplete[i]);
	fprintf(r->out, "%s\n", s->incomplete_count ? ")" : "");
}

void report_finish(struct report *r, const struct ck_summary *s, int code,
		   const struct ck_event *explain)
{
	char line[1024];

	if (r->quiet)
		return;
	if (r->fmt == REPORT_TEXT && r->has_explain && explain) {
		report_event_line(explain, line, sizeof(line));
		fprintf(r->out,
			"  state explained by (the last change of that page "
			"before):\n      #%-8llu %s\n",
			(unsigned long long)explain->index, line);
	} else if (r->fmt == REPORT_TEXT && r->has_explain) {
		fprintf(r->out,
			"  state explained by: event #%llu (the last change of "
			"that page before; not shown for stdin)\n",
			(unsigned long long)r->explain_index);
	}
	if (r->fmt == REPORT_JSON)
		report_finish_json(r, s, code);
	else
		report_finish_text(r, s, code);
}
