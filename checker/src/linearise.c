// SPDX-License-Identifier: MIT
/*
 * Linearisation on lock order. Within a CPU events keep sequence order; an
 * acquisition of a lock with ticket n + 1 is replayed only after the
 * release of ticket n. Among the CPUs whose next event may run, the one
 * earliest in the source goes first, then the earliest in time
 * (ck_sched_before); any schedule that respects both orders gives the same
 * result, because all shared state is written under its lock.
 *
 * The schedule is kept for every event replayed, so it lives inline in
 * linearise.h. Here: what happens when no CPU can run. Lost records
 * explain it (the missing tickets were in them), or the trace is
 * inconsistent, or truncated while CPUs wait.
 */
#include <stdio.h>

#include "linearise.h"

/* No CPU can run: lost records explain it, or the trace is inconsistent. */
int sched_deadlock(struct ck *ck)
{
	char msg[900];
	size_t n = 0;
	int first = -1;

	for (unsigned i = 0; i < ck->ncpu; i++) {
		const struct ck_event *ev = ck_next(&ck->cpu[i]);

		if (!ck->cpu[i].has_next)
			continue;
		if (first < 0 || ev->ts < ck_next(&ck->cpu[first])->ts)
			first = (int)i;
		n += (size_t)snprintf(msg + n,
				      n < sizeof(msg) ? sizeof(msg) - n : 0,
				      "%scpu%u waits for lock %u ticket %llu "
				      "(next ticket %llu)",
				      n ? "; " : "", i, (unsigned)ev->w[0],
				      (unsigned long long)ev->w[1],
				      (unsigned long long)ck->view
					      .lock[ev->w[0] % CK_LOCK_COUNT]
					      .next_ticket);
		if (n >= sizeof(msg))
			n = sizeof(msg) - 1;
	}
	CK_CHECK(first >= 0);
	if (!ck->boot_seen) {
		ck_corrupt_at(ck, ck->sched_pos[first],
			      "the trace does not start with a BOOT record on "
			      "cpu0");
		return -1;
	}
	if (ck->view.any_loss) {
		/* Resynchronise: the missing tickets were in lost records. */
		struct ck_event *ev = ck_next(&ck->cpu[first]);
		struct ck_lock *l = &ck->view.lock[ev->w[0] % CK_LOCK_COUNT];

		ck_inconclusive(ck->out, "lock order across lost records");
		replay_unknown_lock(ck, (unsigned)(ev->w[0] % CK_LOCK_COUNT),
				    "lock tickets were taken in lost "
				    "records");
		if (l->holder >= 0)
			ck->view.cpu[l->holder].held &=
				~(1u << (ev->w[0] % CK_LOCK_COUNT));
		l->holder = -1;
		l->next_ticket = ev->w[1];
		ck_sched_lock(ck, (unsigned)(ev->w[0] % CK_LOCK_COUNT));
		return first;
	}
	if (ck->src->truncated && ck->src->truncated(ck->src)) {
		ck_inconclusive(ck->out,
				"the trace is truncated while CPUs wait "
				"for locks: %s",
				msg);
		return -1;
	}
	ck_inconsistent(ck->out, ck_next(&ck->cpu[first]), msg);
	return -1;
}
