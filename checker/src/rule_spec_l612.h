/* SPDX-License-Identifier: MIT */
/*
 * What the two linux-6.12 spec rules share: reading one side of a page
 * from the machine model's tables as format/LINUX-6.12.md 3 encodes it,
 * and starting and giving up the judgement of a call.
 * rule_spec_l612.c judges share and unshare (ids 9, 10),
 * rule_spec_l612_vm.c the VM lifecycle (ids 23-25).
 */
#ifndef PKVM_CHECKER_RULE_SPEC_L612_H
#define PKVM_CHECKER_RULE_SPEC_L612_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/** Where pages are: BOOT's RAM (allowed memory) and hyp_va_offset. */
struct l612_where {
	uint64_t ram_base, ram_size;
	uint64_t hyp_off;
};

/** What both rules keep first of a call they judge on a CPU. */
struct l612_call_head {
	bool active;
	unsigned id;   /* PKVM_L612_HC_* */
	uint64_t x[3]; /* x1-x3 at its entry */
};

/**
 * Start judging the host hypercall whose TRAP_ENTRY words are `w` if its
 * id is in [first, last]: clear the call (`h` begins a struct of `size`
 * bytes), make it active with its id and x1-x3, and return true. Any
 * other trap leaves the call inactive (false).
 */
bool l612_call_begin(struct l612_call_head *h, size_t size, const uint64_t *w,
		     unsigned first, unsigned last);

/**
 * Give up call `h` on `cpu` (its trap was abandoned, `why`): if it was
 * active, it is no longer, and the run is inconclusive naming it.
 */
void l612_call_abandon(struct l612_call_head *h, const struct ck_env *env,
		       unsigned cpu, const char *why);

/**
 * The state of one side (`comp`: host stage-2 or hyp stage-1) of page
 * `pa` (enum spec_state), and in `out` the output address of the valid
 * leaf mapping it (the host at the PA, the hyp at PA + hyp_off), or ~0.
 */
unsigned l612_page_side(const struct ck_env *env, const struct l612_where *w,
			unsigned comp, uint64_t pa, uint64_t *out);

/**
 * The hyp holds a pin on page `pfn` for sure (LINUX-6.12.md 7.1: derived
 * by rule_spec_l612.c from __pkvm_init_vm, __pkvm_init_vcpu and
 * __pkvm_teardown_vm); false while a call in flight may take or drop
 * it, or when the pins are not known.
 */
bool l612_pin_held(const struct ck_rules *rules, uint64_t pfn);

/**
 * The VM `handle` names in the VM table (LINUX-6.12.md 7.2) as
 * rule_spec_l612_vm.c keeps it: 1 with its vCPU count and how many of its
 * vCPUs are loaded, 0 if there is none, -1 if the table is not known (no
 * BOOT_LINUX, another system).
 */
int l612_vm_lookup(const struct ck_env *env, uint64_t handle,
		   unsigned *nr_vcpus, unsigned *loaded);

#endif /* PKVM_CHECKER_RULE_SPEC_L612_H */
