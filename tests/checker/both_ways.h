/* SPDX-License-Identifier: MIT */
/*
 * Running a built scenario in each form the hyp has written it: with the
 * canonical kinds, with format 2.0's compact records and with format
 * 3.0's fused ones, which stand for the same canonical events (FORMAT.md
 * 3.1), and asserting that the checker says the same every way. Criterion
 * tests only (the builder itself is shared with tools that do not link
 * Criterion).
 */
#ifndef PKVM_TESTS_CHECKER_BOTH_WAYS_H
#define PKVM_TESTS_CHECKER_BOTH_WAYS_H

#include "builder.h"

/**
 * If set, called on the builder before its boot (to choose the ABI, the
 * layout, or a boot that breaks a rule); tests that set it clear it.
 */
extern void (*tb_before_boot)(struct tb *b);

/**
 * Build `scenario` on `ncpu` CPUs after a correct boot, written in `form`,
 * and check it, keeping the first finding named `focus` (may be NULL);
 * such a finding that names an explaining event must name a page-table
 * store. Returns the number of records written.
 */
size_t tb_scenario(void (*scenario)(struct tb *), unsigned ncpu,
		   enum tb_form form, const char *focus, struct tb_result *r);

/**
 * `r` ended with `exit` and, if `check` is set, exactly `n` findings, all
 * named `check`.
 */
void tb_expect(const struct tb_result *r, int exit, const char *check,
	       unsigned n);

/** Same exit, findings, inconclusive count and focused finding text. */
void tb_assert_same(const struct tb_result *compact,
		    const struct tb_result *full);

/**
 * tb_scenario() in every form, asserting they agree with the canonical
 * one; the result of the fused form (what the hyp writes now).
 */
struct tb_result tb_both_ways(void (*scenario)(struct tb *), unsigned ncpu,
			      const char *focus);

#endif /* PKVM_TESTS_CHECKER_BOTH_WAYS_H */
