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
	const struct ck_lock *l = &ck->lock[ck->sched_lock[cpu]];
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

/*
 * Keep what ck_pick needs of `cpu`'s lookahead `ev` in the scheduling
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

/** The CPU whose event runs next, or -1 when none can (linearise.c). */
int sched_pick(struct ck *ck);

#endif /* PKVM_CHECKER_LINEARISE_H */
