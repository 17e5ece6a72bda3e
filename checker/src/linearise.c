// SPDX-License-Identifier: MIT
/*
 * Linearisation on lock order. Within a CPU events keep sequence order; an
 * acquisition of a lock with ticket n + 1 is replayed only after the
 * release of ticket n. Among the CPUs whose next event may run, the one
 * earliest in the source goes first, then the earliest in time
 * (ck_sched_before); any schedule that respects both orders gives the same
 * result, because all shared state is written under its lock. If no CPU
 * can run, lost records explain it or the trace is inconsistent.
 */
#include <stdio.h>

#include "linearise.h"

/* No CPU can run: lost records explain it, or the trace is inconsistent. */
static int ck_deadlock(struct ck *ck)
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
		n += (size_t)snprintf(
			msg + n, n < sizeof(msg) ? sizeof(msg) - n : 0,
			"%scpu%u waits for lock %u ticket %llu "
			"(next ticket %llu)",
			n ? "; " : "", i, (unsigned)ev->w[0],
			(unsigned long long)ev->w[1],
			(unsigned long long)ck->lock[ev->w[0] % CK_LOCK_COUNT]
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
	if (ck->any_loss) {
		/* Resynchronise: the missing tickets were in lost records. */
		struct ck_event *ev = ck_next(&ck->cpu[first]);
		struct ck_lock *l = &ck->lock[ev->w[0] % CK_LOCK_COUNT];

		ck_inconclusive(ck, "lock order across lost records");
		if (ck_comp_lock((unsigned)(ev->w[0] % CK_LOCK_COUNT)))
			replay_unknown_comp(
				ck, (unsigned)(ev->w[0] % CK_LOCK_COUNT),
				"lock tickets were taken in lost "
				"records");
		if (l->holder >= 0)
			ck->cpu[l->holder].held &=
				~(1u << (ev->w[0] % CK_LOCK_COUNT));
		l->holder = -1;
		l->next_ticket = ev->w[1];
		ck_sched_lock(ck, (unsigned)(ev->w[0] % CK_LOCK_COUNT));
		return first;
	}
	if (ck->src->truncated && ck->src->truncated(ck->src)) {
		ck_inconclusive(ck,
				"the trace is truncated while CPUs wait "
				"for locks: %s",
				msg);
		return -1;
	}
	ck_inconsistent(ck, ck_next(&ck->cpu[first]), msg);
	return -1;
}

/*
 * Among runnable events, the one earliest in the source goes first, then
 * the earliest in time. Any order that keeps each CPU's order and each
 * lock's ticket order is equivalent (see the top of this file), so the
 * choice is free; following the source lets the reader release decoded
 * frames as soon as possible.
 */
static bool ck_sched_before(const struct ck *ck, unsigned a, unsigned b)
{
	if (ck->sched_pos[a] != ck->sched_pos[b])
		return ck->sched_pos[a] < ck->sched_pos[b];
	return ck->sched_ts[a] < ck->sched_ts[b];
}

/*
 * The CPU whose event runs next. Reads only the small summary kept by
 * ck_sched_note and ck_sched_lock (which CPUs may run, positions and
 * timestamps), which stays in cache; the lookahead events themselves are
 * kilobytes apart. Most of the time one CPU runs while the others wait
 * for its locks: then there is nothing to compare.
 *
 * And most of the time the CPU that ran last runs again. Between two
 * picks only that CPU's lookahead changes (ck_advance); the others keep
 * theirs, and so their order among themselves, unless a lock change made
 * one ready or not. So a full choice remembers the best of the others,
 * and while the same others are ready, the next choice is between the
 * last CPU and that runner-up alone.
 */
int sched_pick(struct ck *ck)
{
	unsigned m = ck->boot_seen ? ck->sched_ready : 0;
	int last = ck->sched_last;

	if (!ck->boot_seen && ck->sched_state[0])
		return 0; /* BOOT comes first, on cpu0 */
	if (last >= 0 && (m & (1u << last)) &&
	    (m & ~(1u << last)) == ck->sched_others) {
		int second = ck->sched_second;

		/* A tie goes to the lower CPU, as in the full choice. */
		if (second < 0 ||
		    ck_sched_before(ck, (unsigned)last, (unsigned)second) ||
		    (last < second &&
		     !ck_sched_before(ck, (unsigned)second, (unsigned)last)))
			return last;
	}
	ck->sched_last = -1;
	if (m) {
		/* The lowest CPU wins a tie: it is looked at first. */
		unsigned best = (unsigned)__builtin_ctz(m);
		int second = -1;

		for (unsigned r = m & (m - 1); r; r &= r - 1) {
			unsigned i = (unsigned)__builtin_ctz(r);

			if (ck_sched_before(ck, i, best)) {
				second = (int)best;
				best = i;
			} else if (second < 0 ||
				   ck_sched_before(ck, i, (unsigned)second)) {
				second = (int)i;
			}
		}
		ck->sched_last = (int)best;
		ck->sched_second = second;
		ck->sched_others = m & ~(1u << best);
		return (int)best;
	}
	for (unsigned i = 0; i < ck->ncpu; i++)
		if (ck->sched_state[i] != CK_SCHED_NONE)
			return ck_deadlock(ck);
	return -1;
}
