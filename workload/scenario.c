// SPDX-License-Identifier: MIT
/*
 * The fixed, short scenarios used by golden tests (1, 2 and 4; 3 is in
 * rings.c because it is about the ring descriptors), and the standalone
 * self-test run when there is no hyp.
 *
 * Every CPU works on its own 16 scenario pages at WL_SCEN_PA + cpu *
 * WL_SCEN_STRIDE, so the per-CPU sequences do not interfere and each CPU's
 * trace is the same from run to run.
 */
#include "wl.h"

/*
 * ESR_EL1 exception classes of the aborts the workload expects: the hyp
 * injects into EL1 with the same-EL classes (HYPERCALLS.md "Stage-2
 * abort", ABI 3), as QEMU's own external aborts come; what tells them
 * apart is the fault status, the hyp's a translation fault (0b0001xx) or a
 * permission fault, QEMU's a synchronous external abort (0b010000).
 */
#define WL_EC_IABT_SAME 0x21u
#define WL_EC_DABT_SAME 0x25u
#define WL_FSC_TRANSLATION(esr) (((esr)&0x3Cu) == 0x04u)

static uint64_t scen_pfn(struct wl_cpu *c, uint32_t i)
{
	return (WL_SCEN_PA + c->cpu * WL_SCEN_STRIDE) / WL_PAGE_SIZE + i;
}

/* One call of a fixed sequence and the outcome it must have. */
struct step {
	const char *name;
	enum wl_op op;
	uint32_t id;
	bool absolute; /* pfn is absolute, not a scenario page index */
	uint64_t pfn;
	uint64_t nr;
	enum wl_res want;
};

#define PAGE(i) false, (i)
#define ABS(pfn) true, (pfn)

/* Scenario 1: each transition once, then one call of each error class. */
static const struct step scenario1_steps[] = {
	{ "share", WL_OP_SHARE, PKVM_HC_SHARE_HYP, PAGE(0), 0, WL_RES_OK },
	{ "double share", WL_OP_SHARE, PKVM_HC_SHARE_HYP, PAGE(0), 0,
	  WL_RES_EPERM },
	{ "unshare", WL_OP_UNSHARE, PKVM_HC_UNSHARE_HYP, PAGE(0), 0,
	  WL_RES_OK },
	{ "unshare unshared", WL_OP_UNSHARE, PKVM_HC_UNSHARE_HYP, PAGE(0), 0,
	  WL_RES_EPERM },
	{ "donate", WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, PAGE(1), 1,
	  WL_RES_OK },
	{ "share donated", WL_OP_SHARE, PKVM_HC_SHARE_HYP, PAGE(1), 0,
	  WL_RES_EPERM },
	{ "reclaim", WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST, PAGE(1), 1,
	  WL_RES_OK },
	{ "reclaim not donated", WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST,
	  PAGE(1), 1, WL_RES_EPERM },
	{ "donate 4", WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, PAGE(4), 4,
	  WL_RES_OK },
	{ "reclaim 4", WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST, PAGE(4), 4,
	  WL_RES_OK },
	{ "share pfn 0", WL_OP_SHARE, PKVM_HC_SHARE_HYP, ABS(0), 0,
	  WL_RES_EINVAL },
	{ "share MMIO", WL_OP_SHARE, PKVM_HC_SHARE_HYP, ABS(WL_MMIO_PFN), 0,
	  WL_RES_EINVAL },
	{ "share beyond RAM", WL_OP_SHARE, PKVM_HC_SHARE_HYP,
	  ABS(WL_RAM_END_PFN), 0, WL_RES_EINVAL },
	{ "share hyp page", WL_OP_SHARE, PKVM_HC_SHARE_HYP, ABS(WL_HYP_PFN), 0,
	  WL_RES_EPERM },
	{ "donate nr 0", WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, PAGE(2), 0,
	  WL_RES_EINVAL },
	{ "donate nr 17", WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, PAGE(2), 17,
	  WL_RES_EINVAL },
	{ "reclaim hyp image", WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST,
	  ABS(WL_HYP_PFN), 1, WL_RES_EPERM },
	{ "unknown id", WL_OP_UNKNOWN, 0x7fffu, PAGE(0), 0, WL_RES_NOTSUP },
};

/**
 * Scenario 1 on this CPU: the fixed sequence above plus the pinned-ring
 * refusals. Returns true when every outcome was the documented one.
 */
bool wl_scenario1(struct wl_cpu *c)
{
	uint32_t n = sizeof(scenario1_steps) / sizeof(scenario1_steps[0]);
	uint64_t ring = wl_ring_base(c->cpu) >> WL_PAGE_SHIFT;
	uint64_t before = c->mismatches;

	for (uint32_t i = 0; i < n; i++) {
		const struct step *s = &scenario1_steps[i];
		uint64_t pfn =
			s->absolute ? s->pfn : scen_pfn(c, (uint32_t)s->pfn);

		wl_expect(c, s->name, wl_call(c, s->op, s->id, pfn, s->nr),
			  s->want);
	}
	wl_expect(c, "unshare ring page",
		  wl_call(c, WL_OP_UNSHARE, PKVM_HC_UNSHARE_HYP, ring, 0),
		  WL_RES_EBUSY);
	wl_printf("scenario1: cpu%u %s\n", c->cpu,
		  c->mismatches == before ? "ok" : "FAIL");
	return c->mismatches == before;
}

/**
 * Scenario 2 on this CPU: a host access to a donated page must abort with
 * a data abort at the accessed address; after reclaim it must not.
 */
bool wl_scenario2(struct wl_cpu *c)
{
	uint64_t pfn = scen_pfn(c, 8);
	uint64_t pa = pfn * WL_PAGE_SIZE + 0x18;
	uint64_t before = c->mismatches;
	uint64_t v = 0;

	wl_access(c, pa, true, 0x5ca1ab1e, 0);
	wl_expect(c, "donate",
		  wl_call(c, WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, pfn, 1),
		  WL_RES_OK);
	wl_expect(c, "read donated",
		  wl_access(c, pa, false, 0, 0) ? WL_RES_ABORT : WL_RES_OK,
		  WL_RES_ABORT);
	if (c->last_far != pa || (c->last_esr >> 26) != WL_EC_DABT_SAME)
		wl_expect(c, "abort esr/far", WL_RES_OTHER, WL_RES_ABORT);
	wl_printf("scenario2: cpu%u abort esr=0x%lx far=0x%lx\n", c->cpu,
		  c->last_esr, c->last_far);
	wl_expect(c, "write donated",
		  wl_access(c, pa, true, 1, 0) ? WL_RES_ABORT : WL_RES_OK,
		  WL_RES_ABORT);
	wl_expect(c, "reclaim",
		  wl_call(c, WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST, pfn, 1),
		  WL_RES_OK);
	wl_expect(c, "read reclaimed",
		  wl_access(c, pa, false, 0, &v) ? WL_RES_ABORT : WL_RES_OK,
		  WL_RES_OK);
	wl_printf("scenario2: cpu%u %s\n", c->cpu,
		  c->mismatches == before ? "ok" : "FAIL");
	return c->mismatches == before;
}

/**
 * Scenario 4 (CPU0, after the rings are loaded): TEST_PANIC. The hyp must
 * panic and never return; the machine then stays up with every CPU stopped
 * (the recorder sees the ring state PANIC). Returns false if it returned.
 */
bool wl_scenario4(void)
{
	struct wl_hret r;

	wl_printf("scenario4: test_panic\n");
	r = wl_hcall(PKVM_HC_TEST_PANIC, 0, 0, 0);
	wl_printf("scenario4: FAIL test_panic returned x0=0x%lx x1=%ld\n",
		  r.status, r.result);
	return false;
}

/*
 * A fetch from `pa` must abort with the hyp's injection (EC 0x21) at `pa`;
 * if it does not, the workload would have run whatever was there.
 */
static void wl_fetch_refused(struct wl_cpu *c, const char *what, uint64_t pa)
{
	uint64_t before = c->abort_count;

	wl_probe_exec(pa);
	if (c->abort_count == before ||
	    (c->last_esr >> 26) != WL_EC_IABT_SAME || c->last_far != pa)
		wl_expect(c, what, WL_RES_OTHER, WL_RES_ABORT);
	else
		c->counts[WL_OP_READ][WL_RES_ABORT]++;
}

/* MMIO above RAM, 2 MiB apart: each new one costs the hyp a table. */
#define WL_PROBE_BASE UINT64_C(0x50000000)
#define WL_PROBE_STRIDE UINT64_C(0x200000)
#define WL_PROBE_MAX 1408u /* up to 4 GiB: more than the pool's pages */

/**
 * Scenario 5 (CPU0, after the rings are loaded): every host fault gets an
 * answer (HYPERCALLS.md "Stage-2 abort"). Fetches from MMIO, mapped (the
 * UART, execute-never) or not, are injected at once. Then reads of
 * unassigned MMIO, each in a new 2 MiB, make the hyp map a page and take a
 * table for it (QEMU then raises its own external abort, EC 0x25 with
 * a synchronous external abort's status) until the pool runs out: that
 * fault must be injected by the hyp (EC 0x25 too, with the translation
 * fault's status), not left to fault again. A fetch is still refused after
 * that. Returns true when every answer came.
 */
bool wl_scenario5(struct wl_cpu *c)
{
	uint64_t before = c->mismatches;
	uint32_t k;

	wl_fetch_refused(c, "fetch from the UART", PKVM_UART_BASE);
	wl_fetch_refused(c, "fetch from unmapped MMIO", 0x0c000000);
	for (k = 0; k < WL_PROBE_MAX; k++) {
		uint64_t pa = WL_PROBE_BASE + k * WL_PROBE_STRIDE;

		if (!wl_access(c, pa, false, 0, 0)) {
			wl_expect(c, "read of unassigned MMIO", WL_RES_OK,
				  WL_RES_ABORT);
			break;
		}
		if ((c->last_esr >> 26) == WL_EC_DABT_SAME &&
		    WL_FSC_TRANSLATION(c->last_esr))
			break;
	}
	wl_printf("scenario5: pool ran out after %u MMIO pages: esr=0x%lx "
		  "far=0x%lx\n",
		  k, c->last_esr, c->last_far);
	if (k == WL_PROBE_MAX)
		wl_expect(c, "pool exhausted", WL_RES_OTHER, WL_RES_ABORT);
	wl_fetch_refused(c, "fetch from MMIO after", 0x0c001000);
	wl_printf("scenario5: %s\n", c->mismatches == before ? "ok" : "FAIL");
	return c->mismatches == before;
}

/**
 * Scenario 6 (CPU0): the production hyp has no test-only hypercalls:
 * TEST_PANIC's id is unknown (x0 = NOT_SUPPORTED) and the hyp runs on.
 */
bool wl_scenario6(struct wl_cpu *c)
{
	bool ok = wl_expect(c, "test_panic id unknown",
			    wl_call(c, WL_OP_UNKNOWN, PKVM_HC_TEST_PANIC, 0, 0),
			    WL_RES_NOTSUP);

	wl_printf("scenario6: %s\n", ok ? "ok" : "FAIL");
	return ok;
}

/**
 * Standalone self-test (no EL2): console, parameters, PRNG determinism,
 * memory probes, and the abort path through an unassigned address (QEMU
 * raises a synchronous external abort for it). No hypercall is issued.
 */
void wl_standalone(struct wl_cpu *c)
{
	uint64_t first = wl_rand(c), pa = WL_CPU_POOL_PA + 0x100, back = 0;
	struct wl_cpu probe = { .cpu = c->cpu };

	wl_rand_seed(&probe, wl_cfg.seed, c->cpu);
	if (wl_rand(&probe) != first)
		wl_expect(c, "prng determinism", WL_RES_OTHER, WL_RES_OK);
	wl_printf("standalone: prng first=0x%lx\n", first);
	if (wl_access(c, pa, true, first, 0) ||
	    wl_access(c, pa, false, 0, &back) || back != first)
		wl_expect(c, "ram write/read", WL_RES_OTHER, WL_RES_OK);
	/* 0x0c000000: an unassigned hole of the virt machine. */
	if (!wl_access(c, 0x0c000000ull, false, 0, 0))
		wl_printf("standalone: no abort from unassigned memory\n");
	else
		wl_printf("standalone: abort esr=0x%lx far=0x%lx\n",
			  c->last_esr, c->last_far);
}
