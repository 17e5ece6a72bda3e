// SPDX-License-Identifier: MIT
/*
 * Scenario 7, trace race: TRACE_LOAD while the other CPUs run.
 *
 * Every other scenario loads the rings before it releases the other CPUs,
 * so no trace ever shows another CPU's hypercall between a TRACE_LOAD's
 * last table lock and its exit, although the hyp lets go of host_s2 and
 * hyp_s1 before it lets go of `trace` and returns (hyp/src/tracing.c).
 * Here CPU0 shares the control page and the rings, releases the others,
 * and then makes TRACE_LOADs in rounds: first WL_RACE_ROUNDS that must
 * fail (bad magic, bad cpu_count, a ring not shared ...: scenario 3's bad
 * control blocks), then the good one. In each round the other CPUs make
 * one move on those pages and one step of their ordinary stress:
 *
 *   - CPU 1 toggles the control page: unshare it, and share it back the
 *     next round (a failed load's ctrl page may vanish before its exit);
 *   - CPUs 2.. toggle a ring page (seeded);
 *   - in the round of the good load every other CPU tries to unshare a
 *     ring page (-EBUSY once the load has pinned it).
 *
 * Rounds are in lock step (CPU0 waits for every other CPU's move before
 * the next load), and before each good load every page is shared again
 * (SETTLE). The test image (hyp-test.elf) yields the CPU between a
 * TRACE_LOAD's table locks and its exit (hyp/include/hyp/image.h), so
 * under single-threaded QEMU the other CPUs' moves of a round run right
 * there: recordings then hold both orders the checker must accept (a load
 * that let go of its locks, then another CPU's unshare of a ring page
 * refused with -EBUSY, then the load's exit; a load refused with -EINVAL,
 * then the control page unshared, then the load's exit). With hyp.elf the
 * same run is valid, the orders just rare.
 *
 * Every outcome the spec allows under these races is accepted (a load
 * refused with -EPERM because a page was unshared a moment before, an
 * unshare refused because another CPU holds the page ...); anything else
 * is a mismatch. The stress steps come from each CPU's ordinary seeded
 * stream, one per round (without the calls that touch tracing), so the
 * stress each CPU makes is the same for a seed on every run; the race's
 * own choices come from a second stream of the same seed. Then every CPU
 * runs the rest of its stress with tracing loaded.
 *
 * Budget: until the good load, every record goes to the hyp's early
 * buffers (2,048 records for each CPU but CPU0): a round costs another CPU
 * about 30, so WL_RACE_ROUNDS stays well inside.
 */
#include "wl.h"

/* Spoiled loads before the good one; tries of the good one. */
#define WL_RACE_ROUNDS 24u
#define WL_RACE_GOOD_TRIES 8u
/* How long anyone waits for the others' move, in seconds. */
#define WL_RACE_WAIT_S 20u

enum race_phase {
	RACE_SPOIL = 1, /* CPU0 loads a bad block; others toggle */
	RACE_SETTLE,	/* others share back whatever they unshared */
	RACE_GOOD,	/* CPU0 loads the good block; others try an unshare */
	RACE_DONE,	/* tracing is loaded: on to the stress */
};

/* Written by CPU0 only: the round, and what it is for (release/acquire). */
static volatile uint32_t race_round;
static volatile uint32_t race_phase;
/* Moves made by the other CPUs, summed over rounds (CPU0 waits on it). */
static volatile uint32_t race_moves;

/* A page one CPU unshared and must share back (0: none). */
struct race_hold {
	uint64_t pfn;
};

/* What the race saw, per CPU, for the summary line. */
struct race_stats {
	uint32_t unshare_ok, unshare_eperm, unshare_ebusy, share_back;
	uint32_t load_einval, load_eperm, good_tries;
};
static struct race_stats race_stats[WL_MAX_CPUS];

static bool race_wait(bool (*done)(uint32_t), uint32_t arg, const char *what)
{
	uint64_t limit = wl_ticks() + wl_tick_freq() * WL_RACE_WAIT_S;

	while (!done(arg)) {
		if (wl_ticks() > limit)
			wl_fail("scenario7: waited %us for %s", WL_RACE_WAIT_S,
				what);
		__asm__ volatile("yield");
	}
	return true;
}

static bool race_round_moved(uint32_t last)
{
	return __atomic_load_n(&race_round, __ATOMIC_ACQUIRE) != last;
}

static bool race_moves_reached(uint32_t want)
{
	return __atomic_load_n(&race_moves, __ATOMIC_ACQUIRE) >= want;
}

/* CPU0: start round `phase`, then (for loads) the caller makes the load. */
static void race_start(uint32_t phase)
{
	__atomic_store_n(&race_phase, phase, __ATOMIC_RELAXED);
	__atomic_fetch_add(&race_round, 1, __ATOMIC_RELEASE);
	__asm__ volatile("sev");
}

/* CPU0: wait until every other CPU made its move of the round. */
static void race_wait_moves(uint32_t round)
{
	uint32_t others = wl_cfg.cpu_count - 1;

	race_wait(race_moves_reached, round * others, "the others' moves");
}

static uint64_t race_ring_page(struct wl_cpu *c)
{
	uint64_t r = wl_rand(c);
	uint32_t cpu = (uint32_t)(r % wl_cfg.cpu_count);

	return (wl_ring_base(cpu) >> WL_PAGE_SHIFT) +
	       (r >> 32) % wl_cfg.ring_pages;
}

/* Share back a page this CPU unshared: 0, or -ENOMEM (try again later). */
static void race_share_back(struct wl_cpu *c, struct race_hold *h)
{
	enum wl_res got;

	if (!h->pfn)
		return;
	got = wl_call(c, WL_OP_SHARE, PKVM_HC_SHARE_HYP, h->pfn, 0);
	/* Only the CPU that unshared a page shares it back: it is free. */
	if (got == WL_RES_ENOMEM)
		return;
	wl_expect(c, "race share back", got, WL_RES_OK);
	race_stats[c->cpu].share_back++;
	h->pfn = 0;
}

/*
 * Unshare `pfn`: 0 (this CPU now holds it), -EPERM (another CPU holds it),
 * -EBUSY (the load pinned it: only once tracing may be loaded).
 */
static void race_unshare(struct wl_cpu *c, struct race_hold *h, uint64_t pfn,
			 bool may_be_loaded)
{
	enum wl_res got =
		wl_call(c, WL_OP_UNSHARE, PKVM_HC_UNSHARE_HYP, pfn, 0);
	struct race_stats *s = &race_stats[c->cpu];

	if (got == WL_RES_OK) {
		h->pfn = pfn;
		s->unshare_ok++;
	} else if (got == WL_RES_EPERM) {
		s->unshare_eperm++;
	} else if (got == WL_RES_EBUSY && may_be_loaded) {
		s->unshare_ebusy++;
	} else {
		wl_expect(c, "race unshare", got, WL_RES_EPERM);
	}
}

/* An other CPU's move in a spoiled round: toggle its page, one stress. */
static void race_move_spoil(struct wl_cpu *c, struct wl_cpu *rc,
			    struct race_hold *h)
{
	if (h->pfn)
		race_share_back(c, h);
	else
		race_unshare(c, h,
			     c->cpu == 1 ? wl_ctrl_pa() >> WL_PAGE_SHIFT
					 : race_ring_page(rc),
			     false);
	wl_stress_ops(c, 1);
}

/** Scenario 7 on a CPU other than CPU0: the moves, then the stress. */
void wl_race_other(struct wl_cpu *c)
{
	struct wl_cpu rc = { .cpu = c->cpu };
	struct race_hold hold = { 0 };
	uint32_t last = 0, done = 0;

	wl_rand_seed(&rc, wl_cfg.seed ^ 0x7ace7ace7ace7aceull, c->cpu);
	c->racing = true;
	for (;;) {
		uint32_t phase;

		race_wait(race_round_moved, last, "CPU0's next round");
		last = __atomic_load_n(&race_round, __ATOMIC_ACQUIRE);
		phase = __atomic_load_n(&race_phase, __ATOMIC_RELAXED);
		if (phase == RACE_DONE)
			break;
		if (phase == RACE_SPOIL)
			race_move_spoil(c, &rc, &hold);
		else if (phase == RACE_SETTLE)
			race_share_back(c, &hold);
		else if (!hold.pfn) /* RACE_GOOD */
			race_unshare(c, &hold, race_ring_page(&rc), true);
		__atomic_fetch_add(&race_moves, 1, __ATOMIC_RELEASE);
		done += phase == RACE_SPOIL;
	}
	c->racing = false;
	/* The stress steps made during the race count towards `ops`. */
	wl_stress_ops(c, wl_cfg.ops > done ? wl_cfg.ops - done : 0);
}

/* CPU0: one spoiled load; -EPERM is also right if a page was unshared. */
static void race_spoiled_load(struct wl_cpu *c, uint32_t i)
{
	enum wl_res want, got;
	uint64_t pfn = wl_rings_spoil(i % wl_rings_spoil_count(), &want);
	/* The real control page: CPU 1 may have it unshared right now. */
	bool racy = pfn == wl_ctrl_pa() >> WL_PAGE_SHIFT;
	struct race_stats *s = &race_stats[0];

	got = wl_call(c, WL_OP_TRACE_LOAD, PKVM_HC_TRACE_LOAD, pfn, 0);
	if (got == WL_RES_EPERM && (racy || want == WL_RES_EPERM))
		s->load_eperm++;
	else if (got == want && got == WL_RES_EINVAL)
		s->load_einval++;
	else
		wl_expect(c, "race spoiled trace_load", got, want);
}

/* CPU0: settle, then the good load, until it is accepted. */
static bool race_good_load(struct wl_cpu *c, uint32_t *round)
{
	for (uint32_t t = 0; t < WL_RACE_GOOD_TRIES; t++) {
		struct wl_hret r;

		race_start(RACE_SETTLE);
		race_wait_moves(++*round);
		race_start(RACE_GOOD);
		r = wl_rings_load();
		race_stats[0].good_tries++;
		race_wait_moves(++*round);
		if (wl_res_of(r) == WL_RES_OK)
			return true;
		/* Only a page another CPU had just unshared may refuse it. */
		wl_expect(c, "race good trace_load", wl_res_of(r),
			  WL_RES_EPERM);
	}
	return false;
}

/** Scenario 7 on CPU0: the loads, then the stress. Returns false on FAIL. */
bool wl_race_cpu0(struct wl_cpu *c)
{
	uint32_t round = 0;
	uint64_t before = c->mismatches;
	struct race_stats sum = { 0 };
	bool loaded;

	for (uint32_t i = 0; i < WL_RACE_ROUNDS; i++) {
		race_start(RACE_SPOIL);
		race_spoiled_load(c, i);
		race_wait_moves(++round);
	}
	loaded = race_good_load(c, &round);
	race_start(RACE_DONE);
	for (uint32_t i = 1; i < wl_cfg.cpu_count; i++) {
		sum.unshare_ok += race_stats[i].unshare_ok;
		sum.unshare_eperm += race_stats[i].unshare_eperm;
		sum.unshare_ebusy += race_stats[i].unshare_ebusy;
	}
	wl_printf("scenario7: %u spoiled loads (einval=%u eperm=%u), good "
		  "load after %u tries; others' unshares ok=%u eperm=%u "
		  "ebusy=%u\n",
		  WL_RACE_ROUNDS, race_stats[0].load_einval,
		  race_stats[0].load_eperm, race_stats[0].good_tries,
		  sum.unshare_ok, sum.unshare_eperm, sum.unshare_ebusy);
	if (!loaded) {
		wl_printf("scenario7: FAIL the good control block was refused "
			  "%u times\n",
			  WL_RACE_GOOD_TRIES);
		return false;
	}
	wl_stress(c);
	wl_printf("scenario7: %s\n", c->mismatches == before ? "ok" : "FAIL");
	return c->mismatches == before;
}
