/* SPDX-License-Identifier: MIT */
/*
 * The findings desk: how rules report. Three kinds of verdict, kept apart
 * (DESIGN.md 9, STYLE.md "Errors in three tiers"):
 *
 * - a finding: the implementation broke the spec or the architecture
 *   (ck_finding; exit 1);
 * - inconclusive: something could not be checked, because records were
 *   lost (ck_inconclusive, or ck_trap_unsure for a whole trap; exit 4 if
 *   nothing was found);
 * - an inconsistent trace: no schedule explains it (ck_inconsistent, a
 *   finding that stops the replay).
 *
 * A trace that contradicts the format is corrupt (exit 3), which only the
 * reading side decides (verdict.c); the checker's own confusion is
 * CK_CHECK (exit 70). The desk hands findings to the sink (reports) with
 * the CPU's history, counts them and stops at --max-findings.
 */
#ifndef PKVM_CHECKER_FINDINGS_H
#define PKVM_CHECKER_FINDINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "checker.h"

struct ck_view;

/** The desk (findings.c). */
struct ck_findings;

/**
 * The implementation broke a rule at event `ev`: `check` names the rule
 * (checker/README.md "The checks"), `addr` groups findings, `explain` is
 * the earlier event that explains the state (if `has_explain`).
 */
void ck_finding(struct ck_findings *f, const char *check,
		const struct ck_event *ev, uint64_t addr, bool has_explain,
		uint64_t explain, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/** Something could not be checked; the first one is kept for the summary. */
void ck_inconclusive(struct ck_findings *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Append to the text in `buf` ("; " between parts), truncating at `len`. */
void ck_append(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** No schedule explains the trace at `ev`: a finding, and the replay stops. */
void ck_inconsistent(struct ck_findings *f, const struct ck_event *ev,
		     const char *what);

/*
 * Per CPU, for its trap in progress: whether it can be judged at all (the
 * first reason it cannot is kept, and counted once when the trap ends),
 * and which pages already have a finding in it (so that a page invariant
 * does not report the same page again).
 */
void ck_trap_unsure(struct ck_findings *f, unsigned cpu, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool ck_trap_is_unsure(const struct ck_findings *f, unsigned cpu);
const char *ck_trap_why(const struct ck_findings *f, unsigned cpu);
void ck_trap_reported(struct ck_findings *f, unsigned cpu, uint64_t pfn);
bool ck_trap_was_reported(const struct ck_findings *f, unsigned cpu,
			  uint64_t pfn);
/**
 * Check `check` is not judged on this trace at all, for `why` (the trace's
 * ABI does not record what it needs): said once per check in the summary
 * (ck_summary.not_judged), never a finding nor inconclusive, so the exit
 * code does not change.
 */
void ck_not_judged(struct ck_findings *f, const char *check, const char *why);
/** One more trap was judged (the summary's traps_checked). */
void ck_trap_checked(struct ck_findings *f);

/* ---- for the replay ------------------------------------------------- */

/* The desk sets `*stop` when the replay must stop (--max-findings, an
 * inconsistent trace). */
struct ck_findings *findings_create(const struct ck_view *view,
				    const struct ck_options *opt,
				    const struct ck_sink *sink,
				    struct ck_summary *sum, bool *stop);
void findings_destroy(struct ck_findings *f);
/** `cpu` enters a trap: nothing is unsure or reported in it yet. */
void findings_trap_begin(struct ck_findings *f, unsigned cpu);
/** Report nothing more (the trace is corrupt). */
void findings_stop(struct ck_findings *f);

#endif /* PKVM_CHECKER_FINDINGS_H */
