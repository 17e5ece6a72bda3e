/* SPDX-License-Identifier: MIT */
/*
 * Running a built scenario twice, with compact records and with the
 * canonical ones they stand for (FORMAT.md 3.1), and asserting that the
 * checker says the same both ways. Criterion tests only (the builder itself
 * is shared with tools that do not link Criterion).
 */
#ifndef PKVM_TESTS_CHECKER_BOTH_WAYS_H
#define PKVM_TESTS_CHECKER_BOTH_WAYS_H

#include "builder.h"

/**
 * Build `scenario` on `ncpu` CPUs after a correct boot, compact or not, and
 * check it, keeping the first finding named `focus` (may be NULL); such a
 * finding that names an explaining event must name a page-table store.
 * Returns the number of records written.
 */
size_t tb_scenario(void (*scenario)(struct tb *), unsigned ncpu, bool compact,
		   const char *focus, struct tb_result *r);

/** Same exit, findings, inconclusive count and focused finding text. */
void tb_assert_same(const struct tb_result *compact,
		    const struct tb_result *full);

/** tb_scenario() both ways, asserting they agree; the compact result. */
struct tb_result tb_both_ways(void (*scenario)(struct tb *), unsigned ncpu,
			      const char *focus);

#endif /* PKVM_TESTS_CHECKER_BOTH_WAYS_H */
