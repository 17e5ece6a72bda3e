// SPDX-License-Identifier: MIT
/*
 * Scenario 0: the seeded stress.
 *
 * Each CPU draws `ops` operations from its own splitmix64 stream (seed and
 * CPU index give the same sequence on every run) over two pools: 256 pages
 * of its own, whose state it models exactly, and a small pool every CPU
 * uses, whose state it cannot know (other CPUs race on it) and so does not
 * predict. About a fifth of the operations are deliberately invalid calls.
 */
#include "wl.h"

/* Model of a page in the CPU's own pool. */
enum page_state {
	PAGE_HOST = 0, /* host OWNED, hyp NOPAGE */
	PAGE_SHARED,   /* host SHARED_OWNED, hyp SHARED_BORROWED */
	PAGE_DONATED,  /* host NOPAGE, hyp OWNED */
};

/** Seeds this CPU's stream from the run seed and the CPU index. */
void wl_rand_seed(struct wl_cpu *c, uint64_t seed, uint32_t cpu)
{
	c->rng = seed ^ (0x9e3779b97f4a7c15ull * (cpu + 1));
}

/** Next value of the CPU's splitmix64 stream. */
uint64_t wl_rand(struct wl_cpu *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t own_pfn(struct wl_cpu *c, uint32_t idx)
{
	return (WL_CPU_POOL_PA + c->cpu * WL_CPU_POOL_STRIDE) / WL_PAGE_SIZE +
	       idx;
}

static uint64_t shared_pfn(uint32_t idx)
{
	return WL_SHARED_POOL_PA / WL_PAGE_SIZE + idx;
}

/* A page target: in the own pool (modelled) or in the shared pool. */
struct target {
	bool own;
	uint32_t idx;
	uint32_t nr;
	uint64_t pfn;
};

static struct target pick(struct wl_cpu *c, uint32_t nr)
{
	struct target t = { .nr = nr };
	uint64_t r = wl_rand(c);

	t.own = (r & 7) != 0; /* 7 in 8 from the own pool */
	if (t.own) {
		t.idx = (uint32_t)((r >> 3) % (WL_CPU_POOL_PAGES - nr + 1));
		t.pfn = own_pfn(c, t.idx);
	} else {
		t.idx = (uint32_t)((r >> 3) % (WL_SHARED_POOL_PAGES - nr + 1));
		t.pfn = shared_pfn(t.idx);
	}
	return t;
}

/* True when every page of the target is in state `s` (own pool). */
static bool all_in(struct wl_cpu *c, const struct target *t, uint8_t s)
{
	for (uint32_t i = 0; i < t->nr; i++)
		if (c->page_state[t->idx + i] != s)
			return false;
	return true;
}

static void set_all(struct wl_cpu *c, const struct target *t, uint8_t s)
{
	for (uint32_t i = 0; i < t->nr; i++)
		c->page_state[t->idx + i] = s;
}

/*
 * One ownership call on a target: `from` is the state every page must be
 * in for success, `to` the state after it.
 */
static void transition(struct wl_cpu *c, enum wl_op op, uint32_t id,
		       uint32_t nr, uint8_t from, uint8_t to)
{
	struct target t = pick(c, nr);
	bool two_args = op == WL_OP_DONATE || op == WL_OP_RECLAIM;
	enum wl_res got = wl_call(c, op, id, t.pfn, two_args ? nr : 0);
	enum wl_res want;

	if (!t.own)
		return;
	want = all_in(c, &t, from) ? WL_RES_OK : WL_RES_EPERM;
	if (wl_expect(c, wl_op_name(op), got, want) && got == WL_RES_OK)
		set_all(c, &t, to);
}

/* A read or a write of a pool page; donated pages must abort. */
static void touch(struct wl_cpu *c, bool write)
{
	struct target t = pick(c, 1);
	uint64_t off = (wl_rand(c) % (WL_PAGE_SIZE / 8)) * 8;
	uint64_t pa = t.pfn * WL_PAGE_SIZE + off;
	uint64_t value = wl_rand(c), back = 0;
	bool aborted = wl_access(c, pa, write, value, 0);
	bool want_abort;

	if (!t.own)
		return;
	want_abort = c->page_state[t.idx] == PAGE_DONATED;
	if (aborted != want_abort) {
		c->unexpected_aborts += aborted;
		wl_expect(c, write ? "write" : "read",
			  aborted ? WL_RES_ABORT : WL_RES_OK,
			  want_abort ? WL_RES_ABORT : WL_RES_OK);
		return;
	}
	/* A write to a page the host owns must read back. */
	if (write && !aborted &&
	    (wl_access(c, pa, false, 0, &back) || back != value))
		wl_expect(c, "read-back", WL_RES_OTHER, WL_RES_OK);
}

/*
 * An unknown hypercall: an unused id in the hyp's range, or a function id
 * outside it altogether (an SMCCC SiP-service fast call).
 */
static enum wl_res unknown_call(struct wl_cpu *c, uint64_t r)
{
	uint64_t x0 = (r >> 59) & 1 ? 0xC2000000u + (r >> 60)
				    : PKVM_HC_BASE + 0x7f00u + (r >> 60);
	struct wl_hret h;
	enum wl_res res;

	h.status = wl_hvc_raw(x0, 0, 0, 0, 0);
	h.result = 0;
	res = wl_res_of(h);
	c->counts[WL_OP_UNKNOWN][res]++;
	return res;
}

/* The kinds of invalid call, each with its documented outcome. */
static void invalid_call(struct wl_cpu *c)
{
	uint64_t r = wl_rand(c);
	uint64_t own = own_pfn(c, (uint32_t)((r >> 8) % WL_CPU_POOL_PAGES));
	uint64_t ring = wl_ring_base(c->cpu) >> WL_PAGE_SHIFT;
	enum wl_res got;
	unsigned kind = (unsigned)(r % 16);

	/*
	 * Racing TRACE_LOAD (scenario 7): the ring pages and loads are the
	 * race's; the same draw becomes an unknown call instead.
	 */
	if (c->racing && kind >= 12 && kind <= 14)
		kind = 11;
	switch (kind) {
	case 0:
		got = wl_call(c, WL_OP_SHARE, PKVM_HC_SHARE_HYP, 0, 0);
		wl_expect(c, "share pfn 0", got, WL_RES_EINVAL);
		break;
	case 1:
		got = wl_call(c, WL_OP_SHARE, PKVM_HC_SHARE_HYP,
			      WL_RAM_END_PFN + (r >> 40), 0);
		wl_expect(c, "share beyond RAM", got, WL_RES_EINVAL);
		break;
	case 2:
		got = wl_call(c, WL_OP_SHARE, PKVM_HC_SHARE_HYP, WL_MMIO_PFN,
			      0);
		wl_expect(c, "share MMIO", got, WL_RES_EINVAL);
		break;
	case 3:
		got = wl_call(c, WL_OP_SHARE, PKVM_HC_SHARE_HYP, WL_HYP_PFN, 0);
		wl_expect(c, "share hyp page", got, WL_RES_EPERM);
		break;
	case 4:
		got = wl_call(c, WL_OP_UNSHARE, PKVM_HC_UNSHARE_HYP, WL_HYP_PFN,
			      0);
		wl_expect(c, "unshare hyp page", got, WL_RES_EPERM);
		break;
	case 5:
		got = wl_call(c, WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, own, 0);
		wl_expect(c, "donate nr 0", got, WL_RES_EINVAL);
		break;
	case 6:
		got = wl_call(c, WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, own,
			      PKVM_DONATE_MAX_PAGES + 1);
		wl_expect(c, "donate nr 17", got, WL_RES_EINVAL);
		break;
	case 7:
		got = wl_call(c, WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST, own,
			      1ull << 40);
		wl_expect(c, "reclaim huge nr", got, WL_RES_EINVAL);
		break;
	case 8:
		got = wl_call(c, WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST,
			      WL_HYP_PFN, 1);
		wl_expect(c, "reclaim hyp image", got, WL_RES_EPERM);
		break;
	case 9:
		got = wl_call(c, WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP,
			      WL_RAM_END_PFN - 1, 2);
		wl_expect(c, "donate across RAM end", got, WL_RES_EINVAL);
		break;
	case 10:
		got = wl_call(c, WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, ~0ull,
			      2);
		wl_expect(c, "donate pfn overflow", got, WL_RES_EINVAL);
		break;
	case 11:
		got = unknown_call(c, r);
		wl_expect(c, "unknown id", got, WL_RES_NOTSUP);
		break;
	case 12:
		got = wl_call(c, WL_OP_UNSHARE, PKVM_HC_UNSHARE_HYP, ring, 0);
		wl_expect(c, "unshare ring page", got,
			  wl_trace_loaded ? WL_RES_EBUSY : WL_RES_OK);
		break;
	case 13:
		got = wl_call(c, WL_OP_SHARE, PKVM_HC_SHARE_HYP, ring, 0);
		wl_expect(c, "share ring page again", got, WL_RES_EPERM);
		break;
	case 14:
		got = wl_call(c, WL_OP_TRACE_LOAD, PKVM_HC_TRACE_LOAD,
			      wl_ctrl_pa() >> WL_PAGE_SHIFT, 0);
		wl_expect(c, "trace_load again", got, WL_RES_EBUSY);
		break;
	default: {
		/* The hyp's own memory is not the host's to read. */
		bool aborted = wl_access(c, PKVM_HYP_BASE, false, 0, 0);

		if (!aborted)
			wl_expect(c, "read hyp memory", WL_RES_OK,
				  WL_RES_ABORT);
		break;
	}
	}
}

/** Scenario 0: `ops` seeded operations on this CPU. */
void wl_stress(struct wl_cpu *c)
{
	wl_stress_ops(c, wl_cfg.ops);
}

/** The next `n` operations of this CPU's seeded stream. */
void wl_stress_ops(struct wl_cpu *c, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t r = wl_rand(c) % 100;
		uint32_t nr = 1 + (uint32_t)(wl_rand(c) % 4);

		if (r < 18)
			transition(c, WL_OP_SHARE, PKVM_HC_SHARE_HYP, 1,
				   PAGE_HOST, PAGE_SHARED);
		else if (r < 32)
			transition(c, WL_OP_UNSHARE, PKVM_HC_UNSHARE_HYP, 1,
				   PAGE_SHARED, PAGE_HOST);
		else if (r < 46)
			transition(c, WL_OP_DONATE, PKVM_HC_HOST_DONATE_HYP, nr,
				   PAGE_HOST, PAGE_DONATED);
		else if (r < 60)
			transition(c, WL_OP_RECLAIM, PKVM_HC_HYP_DONATE_HOST,
				   nr, PAGE_DONATED, PAGE_HOST);
		else if (r < 70)
			touch(c, false);
		else if (r < 80)
			touch(c, true);
		else
			invalid_call(c);
	}
}
