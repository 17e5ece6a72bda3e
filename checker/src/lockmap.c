// SPDX-License-Identifier: MIT
/*
 * The replay's lock slots (view.h CK_LOCK_COUNT): what the schedule, the
 * holders and the rules index locks by.
 *
 * Our hyp names its four locks by abi.h's small ids, which are their own
 * slots. A profile that names locks by address (linux-6.12: the PA of the
 * lock word and its generation, FORMAT.md 3 `lock_acquire`) has as many
 * locks as its run initialises (each VM's lock and pool lock, a new one
 * per VM), more than a bit mask of held locks can count, but only a few
 * are held or waited for at any time. So each address is bound to a slot
 * when a CPU's next event acquires or releases it, and a slot nobody
 * holds or waits for goes back to the free list when one is needed, its
 * next ticket kept with the address until it is bound again. The locks of
 * components (named by `lock_info` with a role the profile maps to a
 * component) keep their slot for the whole run, so the rules find the
 * holder of a component's lock with view_comp_holder().
 *
 * Translation happens when an event becomes a CPU's lookahead (read.c),
 * before the schedule looks at it: its `w[0]` becomes the slot, `w[2]`
 * keeps the address. Reports print the records, which keep the address.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "linearise.h"

/** What the run knows of one lock named by address. */
struct lockmap_entry {
	uint64_t raw;	      /* 0: empty */
	uint64_t next_ticket; /* while it has no slot */
	uint8_t slot;	      /* 0: none */
	uint8_t comp, cls;
};

struct lockmap {
	struct lockmap_entry *e;
	uint32_t cap, count;
};

static uint32_t lockmap_hash(uint64_t raw, uint32_t cap)
{
	return (uint32_t)((raw * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static inline struct lockmap_entry *lockmap_find(struct lockmap *m,
						 uint64_t raw)
{
	for (uint32_t h = lockmap_hash(raw, m->cap);;
	     h = (h + 1) & (m->cap - 1)) {
		if (m->e[h].raw == raw || m->e[h].raw == 0)
			return &m->e[h];
	}
}

/*
 * The entry of `raw`, created empty if new. Only a new entry may grow the
 * table, so a pointer to an existing one stays valid across lookups of
 * existing ones (lockmap_bind holds one while it frees a slot).
 */
static struct lockmap_entry *lockmap_get(struct lockmap *m, uint64_t raw)
{
	struct lockmap_entry *e = m->cap ? lockmap_find(m, raw) : NULL;

	if (e && e->raw == raw)
		return e;
	if ((m->count + 1) * 2 > m->cap) {
		struct lockmap old = *m;

		m->cap = old.cap ? 2 * old.cap : 64;
		m->e = calloc(m->cap, sizeof(*m->e));
		CK_CHECK(m->e != NULL);
		for (uint32_t i = 0; i < old.cap; i++)
			if (old.e[i].raw)
				*lockmap_find(m, old.e[i].raw) = old.e[i];
		free(old.e);
	}
	e = lockmap_find(m, raw);
	if (e->raw == 0) {
		e->raw = raw;
		m->count++;
	}
	return e;
}

/* Slot `s` is nobody's now: its lock keeps its next ticket. */
static void lockmap_unbind(struct ck *ck, unsigned s)
{
	struct ck_lock *l = &ck->view.lock[s];
	struct lockmap_entry *e = lockmap_get(ck->locks, l->raw);

	e->next_ticket = l->next_ticket;
	e->slot = 0;
	memset(l, 0, sizeof(*l));
	l->holder = -1;
}

/* A free slot, or one whose lock nobody holds or waits for; 0: none. */
static unsigned lockmap_free_slot(struct ck *ck)
{
	for (unsigned s = 1; s < CK_LOCK_COUNT; s++)
		if (ck->view.lock[s].raw == 0)
			return s;
	for (unsigned s = 1; s < CK_LOCK_COUNT; s++) {
		const struct ck_lock *l = &ck->view.lock[s];

		if (!l->pinned && l->holder < 0 && !ck->sched_waiting[s]) {
			lockmap_unbind(ck, s);
			return s;
		}
	}
	return 0;
}

/* Give `e` a slot (0 if every slot is in use). */
static unsigned lockmap_bind(struct ck *ck, struct lockmap_entry *e)
{
	unsigned s = e->slot ? e->slot : lockmap_free_slot(ck);
	struct ck_lock *l;

	if (!s || e->slot)
		return s;
	l = &ck->view.lock[s];
	l->holder = -1;
	l->ticket = 0;
	l->next_ticket = e->next_ticket;
	l->raw = e->raw;
	l->comp = e->comp;
	l->cls = e->cls;
	l->pinned = e->comp != 0;
	e->slot = (uint8_t)s;
	if (e->comp)
		ck->view.comp_lock[e->comp] = (uint8_t)s;
	return s;
}

/** Before the replay: the slots of a profile's fixed locks. */
void lockmap_init(struct ck *ck)
{
	for (unsigned i = 0; i < CK_LOCK_COUNT; i++)
		ck->view.lock[i].holder = -1;
	if (ck->view.profile->locks == PROFILE_LOCKS_BY_INFO) {
		ck->locks = calloc(1, sizeof(*ck->locks));
		CK_CHECK(ck->locks != NULL);
		return;
	}
	/* Our hyp: abi.h's ids are the slots, each its own class. */
	for (unsigned id = 1; id < CK_LOCK_COUNT; id++) {
		const struct profile_component *c = profile_component_of(id);

		if (!c)
			continue;
		ck->view.lock[id].raw = id;
		ck->view.lock[id].cls = (uint8_t)id;
		ck->view.lock[id].comp = (uint8_t)c->tables;
		ck->view.lock[id].pinned = true;
		if (c->tables)
			ck->view.comp_lock[c->tables] = (uint8_t)id;
	}
}

void lockmap_free(struct ck *ck)
{
	if (ck->locks)
		free(ck->locks->e);
	free(ck->locks);
}

/**
 * lockmap_translate when `ev`'s lock has a slot already (nearly always),
 * else false, having changed nothing: call lockmap_translate. (Apart for
 * read.c's common case, which inlines it and, so, need save no registers
 * for the calls that binding a slot makes.)
 */
bool lockmap_translate_known(struct ck *ck, struct ck_event *ev)
{
	uint64_t raw = ev->w[0];
	const struct lockmap_entry *e;

	if (!ck->locks)
		return true;
	if (!pkvm_lock_is_addr(raw)) {
		ev->w[2] = raw;
		ev->w[0] = 0;
		return true;
	}
	/* Nearly always a lock seen before that still has its slot: one
	 * look at the table does (this runs for every lock event). */
	e = ck->locks->cap ? lockmap_find(ck->locks, raw) : NULL;
	if (e && e->raw == raw && e->slot) {
		ev->w[2] = raw;
		ev->w[0] = e->slot;
		return true;
	}
	return false;
}

/* lockmap_translate of a lock without a slot (apart: it is rare). */
static __attribute__((noinline)) void lockmap_translate_new(struct ck *ck,
							    struct ck_event *ev)
{
	uint64_t raw = ev->w[0];

	ev->w[2] = raw;
	ev->w[0] = lockmap_bind(ck, lockmap_get(ck->locks, raw));
}

/**
 * `ev` (a LOCK_ACQUIRE or LOCK_RELEASE) becomes a CPU's lookahead: name
 * its lock by slot. An id the profile does not know, or no free slot,
 * leaves 0, which the replay reports as an unknown lock.
 */
void lockmap_translate(struct ck *ck, struct ck_event *ev)
{
	if (!lockmap_translate_known(ck, ev))
		lockmap_translate_new(ck, ev);
}

/** A LOCK_INFO record: the lock's role, so its component and class. */
void lockmap_info(struct ck *ck, const struct ck_event *ev)
{
	unsigned role = (unsigned)(ev->w[1] & PKVM_LOCK_ROLE_MASK);
	unsigned arg =
		(unsigned)(ev->w[1] >> PKVM_LOCK_ROLE_ARG_SHIFT) & 0xffffu;
	struct lockmap_entry *e;

	if (!ck->locks || !pkvm_lock_is_addr(ev->w[0]))
		return;
	e = lockmap_get(ck->locks, ev->w[0]);
	e->comp = (uint8_t)profile_role_comp(ck->view.profile, role, arg);
	e->cls = (uint8_t)profile_role_class(role, arg);
	if (e->slot) {
		struct ck_lock *l = &ck->view.lock[e->slot];

		l->comp = e->comp;
		l->cls = e->cls;
		l->pinned = e->comp != 0;
		if (e->comp)
			ck->view.comp_lock[e->comp] = e->slot;
	} else if (e->comp) {
		lockmap_bind(ck, e); /* a component's lock: a slot for good */
	}
}
