// SPDX-License-Identifier: MIT
/*
 * The lock order (check `lock-order`; HYPERCALLS.md "Locks and
 * components"): a CPU that holds a lock takes only locks later in
 * abi.h's PKVM_LOCK_ORDER_LIST. Any acquisition against it is a finding,
 * whether or not the run deadlocked: the next path that takes the same
 * two locks the other way round will.
 *
 * The order is abi.h's, through pkvm_lock_may_take() and pkvm_lock_rank(),
 * never a copy. pkvm_lock_may_take() also refuses a lock taken without
 * the lock it needs (PKVM_LOCK_NEEDS_LIST); that half is the check
 * `hyp-s1-without-host-s2` (rule_lock_needs.c), so here only a held lock
 * that does not come earlier in the order is reported.
 *
 * Boot is judged too (the hook runs outside traps). After lost records of
 * the CPU, the locks the replay thinks it holds may be stale (a lost
 * release): inconclusive instead.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

/* abi.h's ids, our hyp's lock slots (view.h): 0-4. */
#define LOCK_ORDER_IDS 5u

/* The order as text ("trace -> host_s2 -> ..."), from abi.h's list. */
static void lock_order_text(char *buf, size_t len)
{
	static const unsigned order[] = {
#define LOCK_ORDER_ID(name) PKVM_LOCK_##name,
		PKVM_LOCK_ORDER_LIST(LOCK_ORDER_ID)
#undef LOCK_ORDER_ID
	};
	size_t at = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && at < len;
	     i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s",
				       i ? " -> " : "", ck_lock_name(order[i]));
}

/* The held lock the order forbids taking `id` under (the innermost), or 0. */
static unsigned lock_order_against(unsigned held, unsigned id)
{
	unsigned rank = pkvm_lock_rank(id), worst = 0;

	for (unsigned l = 1; l < LOCK_ORDER_IDS; l++)
		if ((held >> l & 1u) && pkvm_lock_rank(l) >= rank &&
		    (!worst || pkvm_lock_rank(l) > pkvm_lock_rank(worst)))
			worst = l;
	return worst;
}

/*
 * pkvm_lock_may_take() for every set of held locks and every lock, asked
 * once (abi.h stays the only statement of the order): an acquisition is
 * then one lookup, as the replay takes millions. A profile that states
 * its order as pairs of lock classes (profile.h) gets their transitive
 * closure instead: outer[a][b], class a is taken before class b.
 */
struct lock_order_rule {
	const struct ck_profile *p;
	bool may[1u << LOCK_ORDER_IDS][LOCK_ORDER_IDS];
	bool outer[PROFILE_CLASS_COUNT][PROFILE_CLASS_COUNT];
};

static void *lock_order_create(const struct ck_env *env, unsigned cpu_count)
{
	struct lock_order_rule *r = calloc(1, sizeof(*r));
	const struct ck_profile *p = view_profile(env->view);

	(void)cpu_count;
	CK_CHECK(r != NULL);
	r->p = p;
	for (unsigned held = 0; held < 1u << LOCK_ORDER_IDS; held++)
		for (unsigned id = 0; id < LOCK_ORDER_IDS; id++)
			r->may[held][id] = pkvm_lock_may_take(held, id);
	for (unsigned i = 0; p->order && i < p->order_count; i++)
		r->outer[p->order[i].outer][p->order[i].inner] = true;
	for (unsigned k = 0; k < PROFILE_CLASS_COUNT; k++)
		for (unsigned a = 0; a < PROFILE_CLASS_COUNT; a++)
			for (unsigned b = 0; b < PROFILE_CLASS_COUNT; b++)
				if (r->outer[a][k] && r->outer[k][b])
					r->outer[a][b] = true;
	return r;
}

/* A lock named by class (its role) and the id the trace gives it. */
static void lock_order_class_name(const struct ck_env *env, unsigned id,
				  char *buf, size_t len)
{
	unsigned cls = view_lock_class(env->view, id);
	const char *role = "a lock";

	switch (cls < PROFILE_CLASS_POOL ? cls : PKVM_LOCK_ROLE_POOL) {
#define LOCK_ORDER_ROLE(name, num, str)                                        \
	case num:                                                              \
		role = str;                                                    \
		break;
		PKVM_LOCK_ROLE_LIST(LOCK_ORDER_ROLE)
#undef LOCK_ORDER_ROLE
	default:
		break;
	}
	snprintf(buf, len, "%s%s (lock 0x%llx@%llu)", role,
		 cls == PROFILE_CLASS_POOL + PKVM_COMP_HOST_S2	  ? ":host_s2"
		 : cls == PROFILE_CLASS_POOL + PKVM_COMP_HYP_S1	  ? ":hyp_s1"
		 : cls == PROFILE_CLASS_POOL + PKVM_COMP_GUEST_S2 ? ":guest_s2"
								  : "",
		 (unsigned long long)(view_lock_raw(env->view, id) &
				      PKVM_LOCK_PA_MASK),
		 (unsigned long long)(view_lock_raw(env->view, id) >>
				      PKVM_LOCK_GEN_SHIFT));
}

/* The profile's order by classes: a held lock the new one must precede. */
static void lock_order_by_class(const struct lock_order_rule *r,
				const struct ck_env *env,
				const struct ck_event *ev, unsigned id)
{
	unsigned cls = view_lock_class(env->view, id), against = 0;
	unsigned held = view_cpu_held(env->view, ev->cpu) & ~(1u << id);
	char taken[96], other[96];

	/* The lowest held slot that must come later (the held ones only:
	 * an acquisition is one of millions, and most hold one or none). */
	_Static_assert(CK_LOCK_COUNT == 32u, "held: one bit per lock slot");
	held &= ~1u;
	for (unsigned m = cls ? held : 0; m && !against; m &= m - 1) {
		unsigned h = (unsigned)__builtin_ctz(m);

		if (r->outer[cls][view_lock_class(env->view, h)])
			against = h;
	}
	if (!against)
		return;
	lock_order_class_name(env, id, taken, sizeof(taken));
	if (view_cpu_lost(env->view, ev->cpu)) {
		ck_inconclusive(env->out,
				"cpu%u takes %s after its lost records: the "
				"locks it holds are not known",
				ev->cpu, taken);
		return;
	}
	lock_order_class_name(env, against, other, sizeof(other));
	ck_finding(env->out, "lock-order", ev, view_lock_raw(env->view, id),
		   false, 0,
		   "cpu%u takes %s while it holds %s: the lock order is %s, "
		   "and a CPU that holds a lock takes only locks after it",
		   ev->cpu, taken, other, r->p->order_text);
}

static void lock_order_acquire(void *self, const struct ck_env *env,
			       const struct ck_event *ev)
{
	const struct lock_order_rule *r = self;
	unsigned id = (unsigned)ev->w[0], against;
	unsigned held = view_cpu_held(env->view, ev->cpu) & ~(1u << id);
	char order[96];

	if (r->p->order) {
		lock_order_by_class(r, env, ev, id);
		return;
	}
	if (id >= LOCK_ORDER_IDS ||
	    r->may[held & ((1u << LOCK_ORDER_IDS) - 1)][id])
		return;
	against = lock_order_against(held, id);
	if (!against)
		return; /* only the lock it needs is missing: rule_lock_needs */
	if (view_cpu_lost(env->view, ev->cpu)) {
		ck_inconclusive(env->out,
				"cpu%u takes %s after its lost records: the "
				"locks it holds are not known",
				ev->cpu, ck_lock_name(id));
		return;
	}
	lock_order_text(order, sizeof(order));
	ck_finding(env->out, "lock-order", ev, id, false, 0,
		   "cpu%u takes %s while it holds %s: the lock order is %s "
		   "(abi.h PKVM_LOCK_ORDER_LIST), and a CPU that holds a lock "
		   "takes only locks later in it",
		   ev->cpu, ck_lock_name(id), ck_lock_name(against), order);
}

const struct ck_rule rule_lock_order = {
	.name = "lock-order",
	.create = lock_order_create,
	.destroy = free,
	.lock_acquire = lock_order_acquire,
};
