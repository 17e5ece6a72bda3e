// SPDX-License-Identifier: MIT
/*
 * The boot state (HYPERCALLS.md "Boot state", check `boot-state`), judged
 * when the host is first entered, which is on cpu0: the replay runs no
 * other CPU before cpu0's HOST_ENTER while cpu0 can run (the profile's
 * boot_cpu_alone: they start after its boot), whatever the order of the
 * CPUs' pages in the file. [hyp_start, hyp_end) is host
 * NOPAGE (annotated owner hyp) and hyp OWNED, mapped identity; every other
 * RAM page is host OWNED, not mapped, and hyp NOPAGE.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

struct boot_rule {
	bool checked;
};

/* Page `i` of RAM is as boot must leave it. */
static bool boot_page_ok(const struct ck_view *v, uint64_t i,
			 struct spec_page p)
{
	const struct model *m = view_model(v);
	const struct ck_boot *b = view_boot(v);
	uint64_t pa = b->ram_base + (i << 12);
	const struct model_side *hs = &m->side[PKVM_COMP_HOST_S2][i];
	const struct model_side *ys = &m->side[PKVM_COMP_HYP_S1][i];

	if (pa >= b->hyp_start && pa < b->hyp_end)
		return p.host == SPEC_ST_NOPAGE &&
		       hs->owner == PKVM_OWNER_HYP && p.hyp == SPEC_ST_OWNED &&
		       ys->out_pfn == pa >> 12;
	return p.host == SPEC_ST_OWNED && !(hs->flags & MODEL_SIDE_VALID) &&
	       p.hyp == SPEC_ST_NOPAGE;
}

static void boot_check(const struct ck_env *env, const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	const struct ck_boot *b = view_boot(env->view);
	uint64_t bad = 0, first = 0;
	char what[200] = "";

	for (uint64_t i = 0; i < m->ram_pages; i++) {
		uint64_t pa = b->ram_base + (i << 12);
		struct spec_page p = view_page(env->view, pa >> 12);

		if (p.host == SPEC_ST_UNKNOWN || p.hyp == SPEC_ST_UNKNOWN) {
			ck_inconclusive(env->out, "boot state: records lost");
			return;
		}
		if (boot_page_ok(env->view, i, p) || bad++)
			continue;
		first = pa;
		snprintf(what, sizeof(what),
			 "page 0x%llx (%s): host side %s%s, hyp side %s",
			 (unsigned long long)pa,
			 pa >= b->hyp_start && pa < b->hyp_end ? "hyp range"
							       : "host memory",
			 spec_state_name(p.host),
			 m->side[PKVM_COMP_HOST_S2][i].flags & MODEL_SIDE_VALID
				 ? " mapped"
				 : "",
			 spec_state_name(p.hyp));
	}
	if (bad)
		ck_finding(env->out, "boot-state", ev, first, false, 0,
			   "when the host is first entered, [hyp_start, "
			   "hyp_end) must be host NOPAGE (owner hyp) and hyp "
			   "OWNED mapped, every other RAM page host OWNED "
			   "unmapped and hyp NOPAGE; %llu page(s) differ, "
			   "first %s",
			   (unsigned long long)bad, what);
}

static void boot_mark(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct boot_rule *r = self;

	if (ev->w[0] != PKVM_MARK_HOST_ENTER || r->checked)
		return;
	r->checked = true;
	boot_check(env, ev);
}

static void *boot_create(const struct ck_env *env, unsigned cpu_count)
{
	struct boot_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_boot = {
	.name = "boot",
	.create = boot_create,
	.destroy = free,
	.mark = boot_mark,
};
