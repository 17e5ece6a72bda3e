// SPDX-License-Identifier: MIT
/*
 * linux-6.12's pins (check `pin-violation`, format/LINUX-6.12.md 11,
 * invariant 6): a page the hyp holds a pin on is host SHARED_OWNED and
 * hyp SHARED_BORROWED.
 *
 * The pins are not recorded: rule_spec_l612.c derives them from
 * __pkvm_init_vm (the host's struct kvm), __pkvm_init_vcpu (each struct
 * kvm_vcpu) and __pkvm_teardown_vm (7.1), and this rule reads them
 * through l612_pin_held: only pins held for sure, none while a call that
 * may take or drop one is in flight. A pin is taken only on a page in
 * that state (7.1, judged by the spec as the call's result), so only a
 * change of the page breaks the invariant: it is judged on the pages
 * each critical section changed, when the section ends (both tables are
 * then as the trap left them, LINUX-6.12.md 4). One finding per page per
 * trap; pages whose state lost records are not judged.
 */
#include <stdlib.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "rule_spec_l612.h"
#include "rules.h"

static void pins_section_end(void *self, const struct ck_env *env,
			     const struct ck_event *ev)
{
	size_t n;
	const struct ck_touch *t = view_section_touches(env->view, ev->cpu, &n);

	(void)self;
	for (size_t i = 0; i < n; i++) {
		uint64_t pfn = t[i].pfn;
		struct spec_page p;

		if (!l612_pin_held(env->rules, pfn) ||
		    ck_trap_was_reported(env->out, ev->cpu, pfn))
			continue;
		p = view_page(env->view, pfn);
		if (p.host == SPEC_ST_UNKNOWN || p.hyp == SPEC_ST_UNKNOWN ||
		    (p.host == SPEC_ST_SHARED_OWNED &&
		     p.hyp == SPEC_ST_SHARED_BORROWED))
			continue;
		ck_trap_reported(env->out, ev->cpu, pfn);
		ck_finding(env->out, "pin-violation", ev, pfn << 12, false, 0,
			   "page 0x%llx is pinned by the hyp but is now host "
			   "%s, hyp %s: a pinned page stays host SHARED_OWNED "
			   "and hyp SHARED_BORROWED (LINUX-6.12.md 7.1, 11)",
			   (unsigned long long)(pfn << 12),
			   spec_state_name(p.host), spec_state_name(p.hyp));
	}
}

const struct ck_rule rule_l612_pins = {
	.name = "l612-pins",
	.system = PKVM_SYSTEM_LINUX612,
	.section_end = pins_section_end,
};
