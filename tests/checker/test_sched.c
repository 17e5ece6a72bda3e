// SPDX-License-Identifier: MIT
/*
 * The replay's schedule (check.c, ck_pick): among the CPUs whose next
 * event may run (an acquisition only once the ticket before it was let
 * go), the earliest in the source, then in time, then the lowest CPU. The
 * replay remembers its last full choice to skip most comparisons; these
 * tests hold it to the rule, event by event, on traces where timestamps
 * tie and go backwards and lock changes keep making CPUs ready or not.
 */
#include <criterion/criterion.h>

#include "builder.h"

#define SCHED_MAX_EVENTS 512
#define SCHED_LOCKS 5u /* lock ids 1..4 */

/** One event as the rule sees it. */
struct sched_ev {
	unsigned cpu, kind;
	uint64_t lock, ticket, ts;
	uint32_t seq;
};

static uint32_t sched_rand_state;

static unsigned sched_rand(unsigned n)
{
	sched_rand_state = sched_rand_state * 1103515245u + 12345u;
	return (sched_rand_state >> 16) % n;
}

/* The events of `cpu`'s records, compact lock pairs as their two events. */
static unsigned sched_events(const struct tb *b, unsigned cpu,
			     struct sched_ev *out)
{
	unsigned n = 0;

	for (size_t i = 0; i < b->count[cpu];) {
		const struct pkvm_record *h = &b->recs[cpu][i];
		struct sched_ev e = { cpu, h->kind, h->a, h->b, h->ts, h->seq };

		if (h->kind == PKVM_EV_LOCK_ACQUIRE2 ||
		    h->kind == PKVM_EV_LOCK_RELEASE2) {
			e.kind = h->kind == PKVM_EV_LOCK_ACQUIRE2
					 ? PKVM_EV_LOCK_ACQUIRE
					 : PKVM_EV_LOCK_RELEASE;
			e.lock = h->a & 0xffffffffu;
			e.ticket = h->b & 0xffffffffu;
			out[n++] = e;
			e.lock = h->a >> 32;
			e.ticket = h->b >> 32;
		}
		out[n++] = e;
		i += 1 + (h->flags & PKVM_REC_F_NCONT_MASK);
	}
	return n;
}

/* The order the rule gives (sources without positions: time, then CPU). */
static unsigned sched_reference(const struct tb *b, struct sched_ev *order)
{
	static struct sched_ev ev[8][SCHED_MAX_EVENTS];
	unsigned count[8], pos[8] = { 0 }, n = 0;
	int holder[SCHED_LOCKS];
	uint64_t next_ticket[SCHED_LOCKS] = { 0 };

	for (unsigned l = 0; l < SCHED_LOCKS; l++)
		holder[l] = -1;
	for (unsigned c = 0; c < b->ncpu; c++)
		count[c] = sched_events(b, c, ev[c]);
	for (;;) {
		int best = -1;

		for (unsigned c = 0; c < b->ncpu; c++) {
			const struct sched_ev *e = &ev[c][pos[c]];
			bool ready = e->kind != PKVM_EV_LOCK_ACQUIRE ||
				     (holder[e->lock] < 0 &&
				      e->ticket == next_ticket[e->lock]);

			if (pos[c] == count[c] || !ready)
				continue;
			if (n == 0 && c != 0)
				continue; /* BOOT comes first, on cpu0 */
			if (best < 0 || e->ts < ev[best][pos[best]].ts)
				best = (int)c;
		}
		if (best < 0)
			return n;
		order[n] = ev[best][pos[best]++];
		if (order[n].kind == PKVM_EV_LOCK_ACQUIRE) {
			holder[order[n].lock] = best;
			next_ticket[order[n].lock] = order[n].ticket + 1;
		} else if (order[n].kind == PKVM_EV_LOCK_RELEASE &&
			   holder[order[n].lock] == best) {
			holder[order[n].lock] = -1;
		}
		n++;
	}
}

/*
 * After the boot, `steps` random steps of random CPUs: a sysreg write, or
 * the pool and trace locks taken together with writes while they are held
 * (the tickets in the order of the steps, so the trace can always run).
 * Every timestamp after the boot is then redrawn from one narrow range for
 * all CPUs, so that they tie often.
 */
static void sched_build(struct tb *b, unsigned ncpu, enum tb_form form,
			unsigned steps)
{
	size_t booted[8];
	uint64_t base;

	tb_init(b, ncpu);
	tb_boot(b);
	tb_set_form(b, form);
	base = b->ts + 1; /* after every CPU's boot */
	for (unsigned c = 0; c < ncpu; c++)
		booted[c] = b->count[c];
	for (unsigned s = 0; s < steps; s++) {
		unsigned cpu = sched_rand(ncpu);
		uint64_t w[2] = { 0x40 + sched_rand(4), s };

		if (sched_rand(3) == 0) {
			/* In the lock order (abi.h): trace, then pool. */
			tb_lock2(b, cpu, PKVM_LOCK_TRACE, PKVM_LOCK_POOL);
			for (unsigned k = sched_rand(3); k; k--)
				tb_event(b, cpu, PKVM_EV_SYSREG_WRITE, w, 2);
			tb_unlock2(b, cpu, PKVM_LOCK_POOL, PKVM_LOCK_TRACE);
		} else {
			tb_event(b, cpu, PKVM_EV_SYSREG_WRITE, w, 2);
		}
	}
	for (unsigned c = 0; c < ncpu; c++) {
		for (size_t i = booted[c]; i < b->count[c];) {
			unsigned nrec = 1 + (b->recs[c][i].flags &
					     PKVM_REC_F_NCONT_MASK);
			uint64_t ts = base + sched_rand(6);

			for (unsigned k = 0; k < nrec; k++)
				b->recs[c][i + k].ts = ts;
			i += nrec;
		}
	}
}

static void sched_check(unsigned ncpu, enum tb_form form, uint32_t seed)
{
	static struct sched_ev order[8 * SCHED_MAX_EVENTS];
	struct tb b;
	struct tb_result r;
	unsigned n;

	sched_rand_state = seed;
	sched_build(&b, ncpu, form, 60);
	n = sched_reference(&b, order);
	tb_check(&b, &r);
	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d: %s", r.exit,
		     r.count ? r.checks[0] : r.sum.first_inconclusive);
	cr_assert_eq(r.sum.events, n, "%llu events replayed, %u expected",
		     (unsigned long long)r.sum.events, n);
	for (unsigned i = 0; i < n; i++) {
		const struct ck_event *e = &r.sum.captured;

		tb_check_focus(&b, &r, NULL, true, i);
		cr_assert(r.sum.has_captured);
		cr_assert(e->cpu == order[i].cpu && e->seq == order[i].seq &&
				  e->kind == order[i].kind,
			  "%u CPUs, seed %u: event #%u is cpu%u seq %u kind "
			  "%u, the rule says cpu%u seq %u kind %u",
			  ncpu, seed, i, e->cpu, e->seq, e->kind, order[i].cpu,
			  order[i].seq, order[i].kind);
	}
	tb_free(&b);
}

Test(sched, earliest_ready_event_runs_first)
{
	/* Property: the replay order is the rule's, whatever the CPU count,
	 * with locks taken one by one or as compact pairs. */
	for (uint32_t seed = 1; seed <= 6; seed++)
		for (unsigned ncpu = 2; ncpu <= 8; ncpu += 3) {
			sched_check(ncpu, TB_CANONICAL, seed);
			sched_check(ncpu, TB_COMPACT, seed);
		}
}
