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
	if (c->last_far != pa || (c->last_esr >> 26) != 0x24)
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
