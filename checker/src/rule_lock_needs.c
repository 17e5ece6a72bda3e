// SPDX-License-Identifier: MIT
/*
 * The hyp stage-1 only with host_s2 held (check `hyp-s1-without-host-s2`;
 * HYPERCALLS.md "Locks and components"): abi.h's PKVM_LOCK_NEEDS_LIST says
 * hyp_s1 is taken only while host_s2 is held, so that whoever holds
 * host_s2 sees both trees as they are, which is what the page invariants
 * (rule_invariants.c) rely on when they read both sides of a page.
 *
 * Two things are judged, boot included (the boot CPU builds both tables
 * under the pair):
 * - an acquisition of a lock whose needed lock (pkvm_lock_needs()) the
 *   CPU does not hold;
 * - a descriptor store into a component whose lock needs another, by a
 *   CPU that holds the component's lock but not the one it needs (it let
 *   host_s2 go first, say). A store without the component's own lock is
 *   `pte-write-without-lock` (rule_locks.c), and a store in a hold whose
 *   acquisition was reported already is not reported again.
 *
 * After lost records of the CPU, what it holds may be stale: inconclusive.
 *
 * ABI 2 promises the discipline; an ABI-1 hyp built its hyp stage-1 at
 * boot under hyp_s1 alone (samples/), so the check is not judged there
 * (said once in the summary).
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

struct needs_rule {
	bool judged; /* ABI 2 or later */
	/* Per CPU: locks whose current hold has been reported (bit per id). */
	unsigned reported[CK_MAX_CPUS];
};

/* Reported unless the CPU's locks are not known (lost records). */
static void needs_report(struct needs_rule *r, const struct ck_env *env,
			 const struct ck_event *ev, unsigned lock,
			 const char *what, uint64_t addr)
{
	unsigned needs = pkvm_lock_needs(lock);

	r->reported[ev->cpu] |= 1u << lock;
	if (view_cpu_lost(env->view, ev->cpu)) {
		ck_inconclusive(env->out,
				"cpu%u: %s after its lost records: the locks "
				"it holds are not known",
				ev->cpu, what);
		return;
	}
	ck_finding(env->out, "hyp-s1-without-host-s2", ev, addr, false, 0,
		   "cpu%u: %s without holding %s: %s is taken, and its tables "
		   "written, only while %s is held (abi.h "
		   "PKVM_LOCK_NEEDS_LIST), so that whoever holds %s sees both "
		   "trees as they are",
		   ev->cpu, what, ck_lock_name(needs), ck_lock_name(lock),
		   ck_lock_name(needs), ck_lock_name(needs));
}

static void needs_boot(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct needs_rule *r = self;
	unsigned abi = (unsigned)(ev->w[0] & 0xffffffffu);
	char why[64];

	r->judged = abi >= 2;
	if (r->judged)
		return;
	snprintf(why, sizeof(why), "ABI %u does not promise it", abi);
	ck_not_judged(env->out, "hyp-s1-without-host-s2", why);
}

static void needs_acquire(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct needs_rule *r = self;
	unsigned id = (unsigned)ev->w[0], needs = pkvm_lock_needs(id);

	r->reported[ev->cpu] &= ~(1u << id); /* a new hold */
	if (!r->judged || !needs || view_cpu_holds(env->view, ev->cpu, needs))
		return;
	needs_report(r, env, ev, id,
		     id == PKVM_LOCK_HYP_S1 ? "takes hyp_s1" : "takes a lock",
		     id);
}

static void needs_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct needs_rule *r = self;
	const struct model_write *w = view_store_write(env->view);
	unsigned lock = w->comp, needs; /* lock id = component id */

	if (!r->judged || w->table < 0 ||
	    !view_cpu_holds(env->view, ev->cpu, lock) ||
	    (r->reported[ev->cpu] >> lock & 1u))
		return;
	needs = pkvm_lock_needs(lock);
	if (!needs || view_cpu_holds(env->view, ev->cpu, needs))
		return;
	needs_report(r, env, ev, lock,
		     lock == PKVM_LOCK_HYP_S1
			     ? "stores a hyp stage-1 descriptor"
			     : "stores a descriptor",
		     ev->w[0]);
}

static void *needs_create(const struct ck_env *env, unsigned cpu_count)
{
	struct needs_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_lock_needs = {
	.name = "lock-needs",
	.create = needs_create,
	.destroy = free,
	.boot = needs_boot,
	.lock_acquire = needs_acquire,
	.store_after = needs_store,
};
