// SPDX-License-Identifier: MIT
/*
 * Trace ring set-up (tracer/include/pkvm/ring.h) and scenario 3, which
 * offers the hyp deliberately bad control blocks first.
 *
 * Layout from WL_RING_AREA_PA, in pages, with a canary page between every
 * two pieces so that an overrun by the hyp (or a consumer) is detected:
 *
 *   canary | control | canary | ring 0 (P pages) | canary | ring 1 | ...
 *
 * After TRACE_LOAD the workload never writes the control page or the rings
 * again: head, tail and state belong to the hyp and the consumer.
 */
#include "wl.h"

/* Unshared host pages scenario 3 offers as control page / ring. */
#define WL_UNSHARED_CTRL_PA (WL_SCEN_PA + 0x80000ull)
#define WL_UNSHARED_RING_PA 0x47000000ull
#define WL_CANARY 0xc0ffee15ca7a8b1dull

static uint64_t page_pa(uint64_t index)
{
	return WL_RING_AREA_PA + index * WL_PAGE_SIZE;
}

/** PA of the control page. */
uint64_t wl_ctrl_pa(void)
{
	return page_pa(1);
}

/** PA of CPU `cpu`'s record array. */
uint64_t wl_ring_base(uint32_t cpu)
{
	return page_pa(3 + (uint64_t)cpu * (wl_cfg.ring_pages + 1));
}

/* The canary pages: index 0, 2, and the page after each ring. */
static uint32_t canary_count(void)
{
	return 2 + wl_cfg.cpu_count;
}

static uint64_t canary_pa(uint32_t i)
{
	if (i < 2)
		return page_pa(2 * i);
	return wl_ring_base(i - 2) + wl_cfg.ring_pages * WL_PAGE_SIZE;
}

static uint64_t canary_word(uint64_t pa)
{
	return WL_CANARY ^ pa;
}

static void fill_canaries(void)
{
	for (uint32_t i = 0; i < canary_count(); i++) {
		uint64_t base = canary_pa(i);

		for (uint64_t off = 0; off < WL_PAGE_SIZE; off += 8)
			wl_write64(base + off, canary_word(base + off));
	}
}

/** Checks every canary page; prints and returns -1 if one was written. */
int wl_rings_check_canaries(void)
{
	for (uint32_t i = 0; i < canary_count(); i++) {
		uint64_t base = canary_pa(i);

		for (uint64_t off = 0; off < WL_PAGE_SIZE; off += 8) {
			uint64_t pa = base + off;
			uint64_t v = wl_read64(pa);

			if (v != canary_word(pa)) {
				wl_printf("workload: canary at 0x%lx "
					  "overwritten: 0x%lx\n",
					  pa, v);
				return -1;
			}
		}
	}
	return 0;
}

/* Writes a complete, valid control block at `pa`. */
static void write_ctrl(uint64_t pa)
{
	volatile struct pkvm_ring_ctrl *ctrl =
		(volatile struct pkvm_ring_ctrl *)(uintptr_t)pa;

	for (uint64_t off = 0; off < WL_PAGE_SIZE; off += 8)
		wl_write64(pa + off, 0);
	ctrl->magic = PKVM_RING_MAGIC;
	ctrl->version = PKVM_RING_VERSION;
	ctrl->cpu_count = wl_cfg.cpu_count;
	ctrl->mode = (uint32_t)wl_cfg.mode;
	for (uint32_t i = 0; i < wl_cfg.cpu_count; i++) {
		ctrl->cpu[i].base_pa = wl_ring_base(i);
		ctrl->cpu[i].nr_records =
			wl_cfg.ring_pages * WL_PAGE_SIZE / 32u;
	}
}

static int share_range(uint64_t pa, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t pfn = (pa >> WL_PAGE_SHIFT) + i;
		struct wl_hret r = wl_hcall(PKVM_HC_SHARE_HYP, pfn, 0, 0);

		if (wl_res_of(r) != WL_RES_OK) {
			wl_printf("workload: share_hyp(0x%lx) for the rings "
				  "failed: x0=0x%lx x1=%ld\n",
				  pfn, r.status, r.result);
			return -1;
		}
	}
	return 0;
}

static int layout_fits(void)
{
	uint64_t end = canary_pa(canary_count() - 1) + WL_PAGE_SIZE;
	uint64_t records = wl_cfg.ring_pages * WL_PAGE_SIZE / 32u;

	if (end > WL_RING_AREA_END || records > (1ull << 20)) {
		wl_printf("workload: %lu ring pages per CPU do not fit\n",
			  wl_cfg.ring_pages);
		return -1;
	}
	return 0;
}

/** Lays out and shares the control page and rings (not loaded yet). */
int wl_rings_prepare(void)
{
	static bool prepared;

	if (prepared)
		return 0;
	if (layout_fits() != 0)
		return -1;
	fill_canaries();
	write_ctrl(wl_ctrl_pa());
	if (share_range(wl_ctrl_pa(), 1) != 0)
		return -1;
	for (uint32_t i = 0; i < wl_cfg.cpu_count; i++)
		if (share_range(wl_ring_base(i), wl_cfg.ring_pages) != 0)
			return -1;
	prepared = true;
	return 0;
}

/**
 * Writes the host fields of the control block and calls TRACE_LOAD (the
 * pages must be shared: wl_rings_prepare()); prints the result and, when
 * the hyp accepted it, marks tracing loaded.
 */
struct wl_hret wl_rings_load(void)
{
	struct wl_hret r;

	write_ctrl(wl_ctrl_pa());
	r = wl_hcall(PKVM_HC_TRACE_LOAD, wl_ctrl_pa() >> WL_PAGE_SHIFT, 0, 0);
	wl_printf("workload: trace_load ctrl=0x%lx cpus=%u ring_pages=%lu "
		  "records=%lu mode=%s -> x0=0x%lx x1=%ld\n",
		  wl_ctrl_pa(), wl_cfg.cpu_count, wl_cfg.ring_pages,
		  wl_cfg.ring_pages * WL_PAGE_SIZE / 32u,
		  wl_cfg.mode == PKVM_RING_DROP ? "drop" : "wait", r.status,
		  r.result);
	if (wl_res_of(r) == WL_RES_OK)
		__atomic_store_n(&wl_trace_loaded, true, __ATOMIC_RELEASE);
	return r;
}

/**
 * CPU0: lays out the rings, shares every page with the hyp, writes the
 * host fields of the control block and calls TRACE_LOAD. Returns 0 when
 * the hyp accepted it.
 */
int wl_rings_setup(void)
{
	struct wl_hret r;

	if (wl_rings_prepare() != 0)
		return -1;
	r = wl_rings_load();
	return wl_res_of(r) == WL_RES_OK ? 0 : -1;
}

/* One bad control block of scenario 3: how to spoil it and what to get. */
struct bad_ctrl {
	const char *name;
	enum wl_res want;
	int field; /* what to change, see spoil() */
	uint64_t value;
};

enum {
	SPOIL_CTRL_PFN, /* pass `value` as the control pfn */
	SPOIL_MAGIC,
	SPOIL_VERSION,
	SPOIL_CPU_COUNT,
	SPOIL_MODE,
	SPOIL_BASE,	/* ring 0 base_pa = value */
	SPOIL_BASE_ADD, /* ring 0 base_pa += value */
	SPOIL_NR,	/* ring 0 nr_records = value */
	SPOIL_BASE_NR2, /* ring 0 base_pa = value, nr_records = 256 */
	SPOIL_OVERLAP,	/* last ring base = ring 0 base (or the ctrl page) */
};

static const struct bad_ctrl bad_ctrls[] = {
	{ "ctrl page owned by the hyp", WL_RES_EPERM, SPOIL_CTRL_PFN,
	  WL_HYP_PFN },
	{ "ctrl pfn 0 (not RAM)", WL_RES_EINVAL, SPOIL_CTRL_PFN, 0 },
	{ "ctrl pfn beyond RAM", WL_RES_EINVAL, SPOIL_CTRL_PFN,
	  WL_RAM_END_PFN },
	{ "ctrl page not shared", WL_RES_EPERM, SPOIL_CTRL_PFN,
	  WL_UNSHARED_CTRL_PA >> WL_PAGE_SHIFT },
	{ "bad magic", WL_RES_EINVAL, SPOIL_MAGIC, 0x1234 },
	{ "bad version", WL_RES_EINVAL, SPOIL_VERSION, 99 },
	{ "cpu_count too large", WL_RES_EINVAL, SPOIL_CPU_COUNT, 1 },
	{ "cpu_count 0", WL_RES_EINVAL, SPOIL_CPU_COUNT, 0 },
	{ "mode 2", WL_RES_EINVAL, SPOIL_MODE, 2 },
	{ "ring base not page aligned", WL_RES_EINVAL, SPOIL_BASE_ADD, 64 },
	{ "nr_records not a power of two", WL_RES_EINVAL, SPOIL_NR, 100 },
	{ "nr_records under 128", WL_RES_EINVAL, SPOIL_NR, 64 },
	{ "nr_records over 2^20 (ring too large)", WL_RES_EINVAL, SPOIL_NR,
	  1ull << 21 },
	{ "ring in MMIO", WL_RES_EINVAL, SPOIL_BASE, 0x08000000ull },
	{ "ring crossing the end of RAM", WL_RES_EINVAL, SPOIL_BASE_NR2,
	  PKVM_RAM_BASE + PKVM_RAM_SIZE - WL_PAGE_SIZE },
	{ "rings overlapping", WL_RES_EINVAL, SPOIL_OVERLAP, 0 },
	{ "ring overlapping the ctrl page", WL_RES_EINVAL, SPOIL_BASE,
	  WL_RING_AREA_PA + WL_PAGE_SIZE },
	{ "ring pages not shared", WL_RES_EPERM, SPOIL_BASE,
	  WL_UNSHARED_RING_PA },
	{ "ring in hyp memory", WL_RES_EPERM, SPOIL_BASE, PKVM_HYP_BASE },
};

/* Applies one spoiling to the (freshly rewritten) real control block. */
static uint64_t spoil(const struct bad_ctrl *b);

/** Number of bad control blocks (scenario 3's list). */
uint32_t wl_rings_spoil_count(void)
{
	return sizeof(bad_ctrls) / sizeof(bad_ctrls[0]);
}

/**
 * Writes bad control block `i` (< wl_rings_spoil_count()) and returns the
 * pfn to pass to TRACE_LOAD; *want is its documented refusal.
 */
uint64_t wl_rings_spoil(uint32_t i, enum wl_res *want)
{
	*want = bad_ctrls[i].want;
	return spoil(&bad_ctrls[i]);
}

static uint64_t spoil(const struct bad_ctrl *b)
{
	volatile struct pkvm_ring_ctrl *ctrl =
		(volatile struct pkvm_ring_ctrl *)(uintptr_t)wl_ctrl_pa();
	uint32_t last = wl_cfg.cpu_count - 1;

	write_ctrl(wl_ctrl_pa());
	switch (b->field) {
	case SPOIL_CTRL_PFN:
		write_ctrl(WL_UNSHARED_CTRL_PA);
		return b->value;
	case SPOIL_MAGIC:
		ctrl->magic = b->value;
		break;
	case SPOIL_VERSION:
		ctrl->version = (uint32_t)b->value;
		break;
	case SPOIL_CPU_COUNT:
		ctrl->cpu_count = b->value ? wl_cfg.cpu_count + 1 : 0;
		break;
	case SPOIL_MODE:
		ctrl->mode = (uint32_t)b->value;
		break;
	case SPOIL_BASE:
		ctrl->cpu[last].base_pa = b->value;
		break;
	case SPOIL_BASE_ADD:
		ctrl->cpu[last].base_pa += b->value;
		break;
	case SPOIL_NR:
		ctrl->cpu[last].nr_records = b->value;
		break;
	case SPOIL_BASE_NR2:
		ctrl->cpu[last].base_pa = b->value;
		ctrl->cpu[last].nr_records = 256;
		break;
	case SPOIL_OVERLAP:
		/* With one CPU there is no second ring to overlap: make
		 * the ring overlap the control page instead. */
		ctrl->cpu[last].base_pa = last ? wl_ring_base(0) : wl_ctrl_pa();
		break;
	}
	return wl_ctrl_pa() >> WL_PAGE_SHIFT;
}

/**
 * Scenario 3 (CPU0, before the good TRACE_LOAD): every bad control block
 * must be refused with its documented error and leave tracing off; then
 * the good one is loaded, a second load is refused with -EBUSY, and the
 * canaries around the shared pages are intact. Returns 0 when all held.
 */
int wl_scenario3(void)
{
	struct wl_cpu *c = &wl_cpus[0];
	uint32_t n = sizeof(bad_ctrls) / sizeof(bad_ctrls[0]);
	uint64_t before = c->mismatches;

	if (wl_rings_prepare() != 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const struct bad_ctrl *b = &bad_ctrls[i];
		uint64_t pfn = spoil(b);
		enum wl_res got = wl_call(c, WL_OP_TRACE_LOAD,
					  PKVM_HC_TRACE_LOAD, pfn, 0);

		wl_printf("scenario3: %s: %s (want %s)\n", b->name,
			  wl_res_name(got), wl_res_name(b->want));
		wl_expect(c, b->name, got, b->want);
	}
	if (wl_rings_setup() != 0) {
		wl_printf("scenario3: FAIL good control block refused\n");
		return -1;
	}
	wl_expect(c, "second trace_load",
		  wl_call(c, WL_OP_TRACE_LOAD, PKVM_HC_TRACE_LOAD,
			  wl_ctrl_pa() >> WL_PAGE_SHIFT, 0),
		  WL_RES_EBUSY);
	if (wl_rings_check_canaries() != 0 || c->mismatches != before) {
		wl_printf("scenario3: FAIL %lu refusals differ\n",
			  c->mismatches - before);
		return -1;
	}
	wl_printf("scenario3: ok (%u bad control blocks refused)\n", n);
	return 0;
}
