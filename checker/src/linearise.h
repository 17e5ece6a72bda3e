/* SPDX-License-Identifier: MIT */
/*
 * The scheduling summary the linearisation keeps of each CPU's lookahead
 * (linearise.c). Inline: it is updated for every event replayed.
 */
#ifndef PKVM_CHECKER_LINEARISE_H
#define PKVM_CHECKER_LINEARISE_H

#include "replay.h"

/*
 * May `cpu`'s next event, an acquisition (CK_SCHED_ACQUIRE), run now? Only
 * acquisitions ever wait: for the release of the ticket before theirs.
 */
static inline bool ck_runnable(const struct ck *ck, unsigned cpu)
{
	const struct ck_lock *l = &ck->view.lock[ck->sched_lock[cpu]];
	uint64_t ticket = ck->sched_ticket[cpu];

	if (ticket < l->next_ticket)
		return true; /* a repeated ticket: reported when replayed */
	return l->holder < 0 && ticket == l->next_ticket;
}

static inline void ck_sched_set_ready(struct ck *ck, unsigned cpu, bool ready)
{
	if (ready)
		ck->sched_ready |= 1u << cpu;
	else
		ck->sched_ready &= ~(1u << cpu);
}

/* Lock `id` changed hands or tickets: which of its waiters may run now. */
static inline void ck_sched_lock(struct ck *ck, unsigned id)
{
	for (unsigned m = ck->sched_waiting[id]; m; m &= m - 1) {
		unsigned i = (unsigned)__builtin_ctz(m);

		ck_sched_set_ready(ck, i, ck_runnable(ck, i));
	}
}

/* The boot hypercall returned (or never will): the held CPUs may run. */
static inline void ck_sched_unhold(struct ck *ck)
{
	ck->hold_hcall = 0;
	for (unsigned i = 0; i < ck->ncpu; i++)
		if (ck->sched_state[i] == CK_SCHED_HELD) {
			ck->sched_state[i] = CK_SCHED_READY;
			ck_sched_set_ready(ck, i, true);
		}
}

/*
 * Keep what sched_pick needs of `cpu`'s lookahead `ev` in the scheduling
 * summary: when it comes, whether it may run now, and the ticket an
 * acquisition waits for.
 */
static inline void ck_sched_note(struct ck *ck, unsigned cpu,
				 const struct ck_event *ev, bool has_next)
{
	unsigned id = (unsigned)ev->w[0];

	if (ck->sched_state[cpu] == CK_SCHED_ACQUIRE)
		ck->sched_waiting[ck->sched_lock[cpu]] &= ~(1u << cpu);
	ck->sched_ts[cpu] = ev->ts;
	/* (For the later parts of a compact record, which read nothing,
	 * the position of whatever record was read last.) */
	ck->sched_pos[cpu] = ck->read_pos;
	ck->sched_state[cpu] = CK_SCHED_READY;
	if (!has_next) {
		ck->sched_state[cpu] = CK_SCHED_NONE;
	} else if (ev->kind == PKVM_EV_TRAP_ENTRY && ck->hold_hcall &&
		   profile_is_hcall(ev->w, ck->hold_hcall)) {
		ck->sched_state[cpu] = CK_SCHED_HELD;
	} else if (ev->kind == PKVM_EV_LOCK_ACQUIRE && id != 0 &&
		   id < CK_LOCK_COUNT) {
		/* (An unknown lock id never waits: it is reported.) */
		ck->sched_state[cpu] = CK_SCHED_ACQUIRE;
		ck->sched_lock[cpu] = (uint8_t)id;
		ck->sched_ticket[cpu] = ev->w[1];
		ck->sched_waiting[id] |= 1u << cpu;
	}
	ck_sched_set_ready(ck, cpu,
			   ck->sched_state[cpu] == CK_SCHED_READY ||
				   (ck->sched_state[cpu] == CK_SCHED_ACQUIRE &&
				    ck_runnable(ck, cpu)));
}

/*
 * Among runnable events, the one earliest in the source goes first, then
 * the earliest in time. Any order that keeps each CPU's order and each
 * lock's ticket order is equivalent (see the top of this file), so the
 * choice is free; following the source lets the reader release decoded
 * frames as soon as possible.
 */
static inline bool ck_sched_before(const struct ck *ck, unsigned a, unsigned b)
{
	if (ck->sched_pos[a] != ck->sched_pos[b])
		return ck->sched_pos[a] < ck->sched_pos[b];
	return ck->sched_ts[a] < ck->sched_ts[b];
}

/**
 * No CPU can run: lost records explain it (and the replay goes on: the
 * CPU that runs next), or the trace is inconsistent or truncated (-1).
 */
int sched_deadlock(struct ck *ck);
/** No CPU can run: read a quiet CPU's lookahead (read.c; false: none). */
bool read_wake_one(struct ck *ck);

/*
 * The CPU whose event runs next. Reads only the small summary kept by
 * ck_sched_note and ck_sched_lock (which CPUs may run, positions and
 * timestamps), which stays in cache; the lookahead events themselves are
 * kilobytes apart. Most of the time one CPU runs while the others wait
 * for its locks: then there is nothing to compare.
 *
 * And most of the time the CPU that ran last runs again. Between two
 * picks only that CPU's lookahead changes (read_advance); the others keep
 * theirs, and so their order among themselves, unless a lock change made
 * one ready or not. So a full choice remembers the best of the others,
 * and while the same others are ready, the next choice is between the
 * last CPU and that runner-up alone.
 */
static inline int sched_pick_full(struct ck *ck)
{
	unsigned m = ck->boot_seen ? ck->sched_ready : 0;

	if (!ck->boot_seen && ck->sched_state[0])
		return 0; /* BOOT comes first, on cpu0 */
	/* Then, for a profile whose other CPUs start after the boot, the
	 * whole of cpu0's boot: any order that keeps each CPU's order and
	 * each lock's is as good, and cpu0 takes no lock another CPU holds
	 * before it enters the host. (If it waits for one all the same, the
	 * others run: the trace says it may.) */
	if (ck->boot_alone && (m & 1u))
		m = 1u;
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
	if (read_wake_one(ck))
		return sched_pick_full(ck);
	if (ck->hold_hcall) {
		/* Nothing else can run: the boot hypercall's return is not in
		 * the trace (or not before these). Let them go. */
		ck_sched_unhold(ck);
		return sched_pick_full(ck);
	}
	for (unsigned i = 0; i < ck->ncpu; i++)
		if (ck->sched_state[i] != CK_SCHED_NONE)
			return sched_deadlock(ck);
	return -1;
}

/**
 * The CPU whose event runs next, or -1 when none can. Most of the time
 * the CPU that ran last runs again, which is decided here, inline; else
 * sched_pick_full chooses (linearise.c says how).
 */
static inline int sched_pick(struct ck *ck)
{
	unsigned m = ck->sched_ready;
	int last = ck->sched_last;

	if (ck->boot_seen && last >= 0 && (m & (1u << last)) &&
	    (m & ~(1u << last)) == ck->sched_others) {
		int second = ck->sched_second;

		/* A tie goes to the lower CPU, as in the full choice. */
		if (second < 0 ||
		    ck_sched_before(ck, (unsigned)last, (unsigned)second) ||
		    (last < second &&
		     !ck_sched_before(ck, (unsigned)second, (unsigned)last)))
			return last;
	}
	return sched_pick_full(ck);
}

#endif /* PKVM_CHECKER_LINEARISE_H */
