// SPDX-License-Identifier: MIT
#include <criterion/criterion.h>

#include "both_ways.h"

void (*tb_before_boot)(struct tb *b);

size_t tb_scenario(void (*scenario)(struct tb *), unsigned ncpu,
		   enum tb_form form, const char *focus, struct tb_result *r)
{
	struct tb b;
	struct tb_result again;
	size_t records = 0;

	tb_init(&b, ncpu);
	if (tb_before_boot)
		tb_before_boot(&b);
	tb_boot(&b);
	tb_set_form(&b, form);
	scenario(&b);
	tb_check_focus(&b, r, focus, false, 0);
	if (r->focus_count && r->has_explain)
		cr_assert_eq(
			tb_check_focus(&b, &again, focus, true, r->explain),
			PKVM_EV_PTE_WRITE,
			"the finding must be explained by a store");
	for (unsigned c = 0; c < ncpu; c++)
		records += b.count[c];
	tb_free(&b);
	return records;
}

void tb_expect(const struct tb_result *r, int exit, const char *check,
	       unsigned n)
{
	cr_assert_eq(r->exit, exit, "exit %d (%u findings, first %s; %s)",
		     r->exit, r->count, r->count ? r->checks[0] : "-",
		     r->sum.first_inconclusive);
	if (check)
		cr_assert(tb_only(r, check, n), "%u findings, first %s",
			  r->count, r->count ? r->checks[0] : "-");
}

void tb_assert_same(const struct tb_result *compact,
		    const struct tb_result *full)
{
	cr_assert_eq(compact->exit, full->exit, "exit %d, canonical %d (%s)",
		     compact->exit, full->exit,
		     compact->sum.first_inconclusive);
	cr_assert_eq(compact->count, full->count, "%u findings, canonical %u",
		     compact->count, full->count);
	for (unsigned i = 0; i < compact->count && i < 16; i++)
		cr_assert_str_eq(compact->checks[i], full->checks[i]);
	cr_assert_str_eq(compact->text, full->text);
	cr_assert_eq(compact->sum.inconclusive, full->sum.inconclusive);
}

struct tb_result tb_both_ways(void (*scenario)(struct tb *), unsigned ncpu,
			      const char *focus)
{
	struct tb_result full, compact, fused;

	tb_scenario(scenario, ncpu, TB_CANONICAL, focus, &full);
	tb_scenario(scenario, ncpu, TB_COMPACT, focus, &compact);
	tb_assert_same(&compact, &full);
	tb_scenario(scenario, ncpu, TB_FUSED, focus, &fused);
	tb_assert_same(&fused, &full);
	return fused;
}
