// SPDX-License-Identifier: MIT
/*
 * A trap lets go of every lock it took before it returns to the host
 * (check `lock-held-at-exit`; HYPERCALLS.md "Locks and components"). A
 * lock still held at a host trap's exit is the host's to keep: it runs
 * with the lock held for as long as it likes, and every CPU that needs
 * the lock next (a TRACE_LOAD, a hypercall, a fault) spins until the
 * host traps into the very path that lets it go, if it ever does. The
 * run deadlocks the first time another CPU wants it; judged at the exit,
 * the bug is reported whether or not that happened.
 *
 * Only the host's traps are judged (a guest's trap nests in a host
 * hypercall and is not an exit to the host), only in the traces of our
 * hyp, where every lock is a trap's own. The locks taken at boot are let
 * go before MARK host_enter; boot is `boot-state`'s and `lock-order`'s.
 * After lost records of the CPU the locks the replay thinks it holds may
 * be stale (a lost release): not judged (a trace with lost records never
 * conforms anyway).
 */
#include <stdlib.h>

#include <pkvm/abi.h>
#include <pkvm/trace.h>

#include "rules.h"

/* Per CPU and lock slot: the event that took it (named by the finding). */
struct lock_exit_rule {
	uint64_t taken[CK_MAX_CPUS][CK_LOCK_COUNT];
};

static void *lock_exit_create(const struct ck_env *env, unsigned cpu_count)
{
	struct lock_exit_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

static void lock_exit_acquire(void *self, const struct ck_env *env,
			      const struct ck_event *ev)
{
	struct lock_exit_rule *r = self;
	uint64_t id = ev->w[0];

	(void)env;
	if (id < CK_LOCK_COUNT && ev->cpu < CK_MAX_CPUS)
		r->taken[ev->cpu][id] = ev->index;
}

static void lock_exit_trap_exit(void *self, const struct ck_env *env,
				const struct ck_event *ev)
{
	const struct lock_exit_rule *r = self;
	unsigned held;

	if (ev->cpu >= CK_MAX_CPUS)
		return;
	held = view_cpu_held(env->view, ev->cpu);
	if (!held)
		return;
	/* After a loss the held set may be stale; the loss alone keeps
	 * the run from conforming (checker/README.md "Verdicts"). */
	if (view_cpu_lost(env->view, ev->cpu))
		return;
	for (unsigned id = 0; id < CK_LOCK_COUNT; id++)
		if (held >> id & 1u)
			ck_finding(env->out, "lock-held-at-exit", ev, id, false,
				   0,
				   "cpu%u returns to the host holding %s, "
				   "taken at #%llu: a trap lets go of every "
				   "lock it took before it returns, or the "
				   "host decides when the other CPUs may "
				   "take it (HYPERCALLS.md \"Locks and "
				   "components\")",
				   ev->cpu, ck_lock_name(id),
				   (unsigned long long)r->taken[ev->cpu][id]);
}

const struct ck_rule rule_lock_exit = {
	.name = "lock-exit",
	.system = TRACE_SYSTEM_HYP,
	.create = lock_exit_create,
	.destroy = free,
	.lock_acquire = lock_exit_acquire,
	.trap_exit = lock_exit_trap_exit,
};
