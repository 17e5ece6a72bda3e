/* SPDX-License-Identifier: MIT */
/*
 * What the report files share (report.c: text and the common parts;
 * report_json.c; report_ci.c: JUnit, TAP, LAVA). Private to the command.
 */
#ifndef PKVM_CHECKER_REPORT_H
#define PKVM_CHECKER_REPORT_H

#include "cli.h"

#define REPORT_MAX_GROUPS 4096u
#define REPORT_MAX_CHECKS 64u
#define REPORT_CI_LINES 10u

/**
 * Findings of one key (check, address): the first one stands for the
 * rest, which usually follow from it (the same broken state seen again).
 */
struct report_group {
	const char *check;
	uint64_t addr;
	uint64_t count;
	uint64_t first_index, last_index;
	unsigned first_cpu;
	uint64_t first_ts;
	char first_text[200];
};

/** Per check, for the formats that list every check (report_ci.c). */
struct report_tally {
	const char *name;
	uint64_t count;
	char first[1536]; /* the first finding, several lines */
	char lines[REPORT_CI_LINES][256];
	unsigned line_count;
};

/** Where a finding happened in the code (DWARF), as far as known. */
struct report_where {
	bool has_host, has_hyp, has_site;
	char host[400]; /* "hvc in stress_op (workload/stress.c:120)" */
	char hyp[400];	/* "handler mem_share_hyp (hyp/src/...:125)" */
	/* The event's own site: "pte_write at hyp/src/pgtable.c:252
	 * (pgtable_split, inlined in pgtable_set at pgtable.c:319)". */
	char site[600];
	bool site_named; /* site_hit is filled in */
	struct locate_hit host_hit, hyp_hit, site_hit;
	uint64_t host_addr, hyp_addr, site_addr;
};

struct report {
	FILE *out;
	struct report_cfg cfg;
	uint64_t seen;
	struct report_group *groups;
	size_t group_count;
	/* Open-addressed index of `groups` by key (report_group_of): a
	 * trace may have hundreds of thousands of findings. */
	uint32_t *group_index; /* slot -> group + 1, 0 empty */
	/* Capstone, opened once for all findings (report_insn). */
	bool cs_open, cs_failed;
	size_t cs_handle;
	uint64_t ungrouped;
	/* The first finding: its key, and the earlier event explaining it. */
	const char *first_check;
	uint64_t first_addr, first_index;
	size_t first_group; /* its group's index in `groups` */
	bool has_explain;
	uint64_t explain_index;
	/* Tables installed before the first finding (cli_tables_until): its
	 * descriptor stores are shown with their place. */
	struct trace_tables *tables;
	struct report_tally tally[REPORT_MAX_CHECKS];
	unsigned tally_count;
	uint64_t tally_lost; /* findings of checks beyond the table */
};

/* report.c */
const char *report_verdict(int code);
/** The group `f` joins (created if new); NULL if the table is full. */
struct report_group *report_group_of(struct report *r,
				     const struct ck_finding *f);
/** The system whose tables name what the trace holds (the header's). */
enum trace_system report_sys(const struct report *r);

void report_insn(struct report *r, const struct ck_event *t, char *buf,
		 size_t len);
void report_event_line(const struct report *r, const struct ck_event *ev,
		       char *buf, size_t len);
void report_time(const struct report *r, uint64_t ts, char *buf, size_t len);
/** Why the checks without findings cannot pass, or NULL if they do. */
const char *report_not_judged(const struct report *r,
			      const struct ck_summary *s, int code, char *buf,
			      size_t len);

/* where.c */
void report_locate(const struct report *r, const struct ck_finding *f,
		   struct report_where *w);

/* report_json.c */
void report_json_run(struct report *r);
void report_json_finding(struct report *r, const struct ck_finding *f,
			 const struct report_group *g);
void report_json_finish(struct report *r, const struct ck_summary *s, int code);

/* report_ci.c */
void report_ci_finding(struct report *r, const struct ck_finding *f);
void report_ci_finish(struct report *r, const struct ck_summary *s, int code);

#endif /* PKVM_CHECKER_REPORT_H */
