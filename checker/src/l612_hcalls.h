// SPDX-License-Identifier: MIT
/*
 * linux-6.12's host hypercalls as the linux-6.12 rules read them: one
 * table (format/LINUX-6.12.md 6) for what each returns and whether it may
 * change a descriptor, so the rules that judge results (rule_l612_ret.c),
 * effects (rule_l612_noeffect.c) and the reports (names.c) agree.
 */
#ifndef PKVM_CHECKER_L612_HCALLS_H
#define PKVM_CHECKER_L612_HCALLS_H

#include <stdbool.h>

#include <pkvm/abi_linux612.h>

/* What x1 holds when a call is dispatched (LINUX-6.12.md 6's table). */
enum l612_x1 {
	L612_X1_ELSEWHERE, /* another rule's (ids 8-10, 23-25) */
	L612_X1_LOOSE,	   /* the hyp's value (1, 3, 7) */
	L612_X1_SAME,	   /* as at entry: its handler writes none */
	L612_X1_VECTOR,	   /* 4: 0 or -EINVAL by the slot */
	L612_X1_VCPU_RUN,  /* 12: section 6.6 */
	L612_X1_INIT,	   /* 2: 0 or a negative errno (5.1) */
};

/** Its name ("__pkvm_host_share_hyp"), or NULL: no such id in 6.12. */
const char *l612_hcall_name(unsigned id);
/** How many of x1-x5 it takes (0 for an unknown id). */
unsigned l612_hcall_nargs(unsigned id);
/** What x1 holds at its exit when it was dispatched. */
enum l612_x1 l612_hcall_x1(unsigned id);
/** It changes no page state and no descriptor (6.6, 6.7). */
bool l612_hcall_no_effect(unsigned id);

#endif /* PKVM_CHECKER_L612_HCALLS_H */
