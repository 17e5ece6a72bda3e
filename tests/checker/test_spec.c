// SPDX-License-Identifier: MIT
/*
 * The specification's ownership transition table
 * (tests/checker/transitions.def, written from HYPERCALLS.md and upstream
 * pKVM's documented behaviour) run through the checker's spec. The hyp
 * has a table of its own, written from its code; tests/hyp/test_tables.c
 * holds the two against each other.
 */
#include <criterion/criterion.h>

#include "spec.h"

enum row_where { ROW_RAM, ROW_HYP, ROW_MMIO };

#define ROW_ST_NOPAGE SPEC_ST_NOPAGE
#define ROW_ST_OWNED SPEC_ST_OWNED
#define ROW_ST_SHARED_OWNED SPEC_ST_SHARED_OWNED
#define ROW_ST_SHARED_BORROWED SPEC_ST_SHARED_BORROWED

#define ROW_RAM_BASE 0x40000000ull
#define ROW_HYP_START 0x40200000ull

struct row_machine {
	uint64_t pfn;
	struct spec_page st; /* every RAM page starts in this situation */
	bool pinned;	     /* ... and is pinned by trace_load if set */
};

static struct spec_page row_page(const void *ctx, uint64_t pfn)
{
	const struct row_machine *rm = ctx;
	struct spec_page none = { SPEC_ST_NOPAGE, SPEC_ST_NOPAGE };

	(void)pfn;
	return rm->pfn == 0 ? none : rm->st;
}

static bool row_pinned(const void *ctx, uint64_t pfn)
{
	const struct row_machine *rm = ctx;

	(void)pfn;
	return rm->pinned;
}

static void row_run(enum row_where where, unsigned host, unsigned hyp,
		    bool pinned, unsigned call, uint64_t nr, int64_t ret,
		    unsigned host_after, unsigned hyp_after, const char *why)
{
	struct row_machine rm = { .st = { (uint8_t)host, (uint8_t)hyp },
				  .pinned = pinned };
	struct spec_machine m = {
		.ram_base = ROW_RAM_BASE,
		.ram_size = 0x10000000,
		.hyp_start = ROW_HYP_START,
		.hyp_end = ROW_HYP_START + 0x200000,
		.cpu_count = 1,
		.trace_loaded = pinned,
		.ctx = &rm,
		.page = row_page,
		.pinned = row_pinned,
	};
	uint64_t pfn = where == ROW_MMIO  ? 0x9000
		       : where == ROW_HYP ? ROW_HYP_START >> 12
					  : (ROW_RAM_BASE >> 12) + 0x1000;
	uint64_t x[4] = { PKVM_HC_BASE | call, pfn, nr, 0 };
	struct spec_outcome out;
	struct spec_page after;

	rm.pfn = where == ROW_MMIO ? 0 : pfn;
	spec_hcall(&m, x, NULL, &out);
	cr_assert_eq(out.x0, PKVM_SMCCC_SUCCESS);
	cr_assert(out.check_x1);
	cr_assert_eq(out.x1, ret, "x1 %lld, expected %lld (%s)",
		     (long long)out.x1, (long long)ret, why);
	after = rm.st;
	if (where == ROW_MMIO)
		after = (struct spec_page){ SPEC_ST_NOPAGE, SPEC_ST_NOPAGE };
	for (unsigned i = 0; i < out.effect_count; i++)
		if (out.effect[i].pfn == pfn)
			after = out.effect[i].after;
	cr_assert_eq(after.host, host_after, "host side %s, expected %s (%s)",
		     spec_state_name(after.host), spec_state_name(host_after),
		     why);
	cr_assert_eq(after.hyp, hyp_after, "hyp side %s, expected %s (%s)",
		     spec_state_name(after.hyp), spec_state_name(hyp_after),
		     why);
	cr_assert(ret != 0 || out.effect_count == (nr ? nr : 1),
		  "a successful call sets every page it names");
	cr_assert(ret == 0 || out.effect_count == 0,
		  "a refused call changes nothing");
}

/* One Criterion test per row: the row's name says which property fails. */
#define SPEC_ROW(name, where, host, hyp, pinned, call, nr, ret, host_after,    \
		 hyp_after, why)                                               \
	Test(spec_transitions, name)                                           \
	{                                                                      \
		row_run(ROW_##where, ROW_ST_##host, ROW_ST_##hyp, pinned,      \
			PKVM_HC_##call, nr, ret, ROW_ST_##host_after,          \
			ROW_ST_##hyp_after, why);                              \
	}
#include "transitions.def"

static struct spec_page all_shared(const void *ctx, uint64_t pfn)
{
	struct spec_page p = { SPEC_ST_SHARED_OWNED, SPEC_ST_SHARED_BORROWED };

	(void)ctx;
	(void)pfn;
	return p;
}

static bool pinned_yes(const void *ctx, uint64_t pfn)
{
	(void)ctx;
	(void)pfn;
	return true;
}

Test(spec, unshare_pinned_is_busy)
{
	/* A page pinned by trace_load cannot be unshared: -EBUSY. */
	struct spec_machine m = { .ram_base = ROW_RAM_BASE,
				  .ram_size = 0x10000000,
				  .page = all_shared,
				  .pinned = pinned_yes };
	struct spec_outcome out;

	spec_unshare_hyp(&m, (ROW_RAM_BASE >> 12) + 5, &out);
	cr_assert_eq(out.x1, -PKVM_EBUSY);
	cr_assert_eq(out.effect_count, 0);
}

Test(spec, unknown_id_not_supported)
{
	/* An unknown hypercall id returns NOT_SUPPORTED and changes nothing. */
	struct spec_machine m = { .ram_base = ROW_RAM_BASE,
				  .ram_size = 0x10000000,
				  .page = all_shared };
	uint64_t x[4] = { PKVM_HC_BASE | 0x77, 0, 0, 0 };
	struct spec_outcome out;

	spec_hcall(&m, x, NULL, &out);
	cr_assert_eq(out.x0, PKVM_SMCCC_NOT_SUPPORTED);
	cr_assert_eq(out.effect_count, 0);
}

static void load_reads(struct spec_host_reads *r, uint64_t ctrl_pa,
		       uint64_t ring_pa, uint64_t nr)
{
	struct pkvm_ring_ctrl c = { 0 };

	memset(r, 0, sizeof(*r));
	c.magic = PKVM_RING_MAGIC;
	c.version = PKVM_RING_VERSION;
	c.cpu_count = 1;
	c.mode = PKVM_RING_WAIT;
	c.cpu[0].base_pa = ring_pa;
	c.cpu[0].nr_records = nr;
	r->ctrl_pa = ctrl_pa;
	memcpy(r->bytes, &c, sizeof(c));
	memset(r->known, 1, sizeof(r->known));
}

Test(spec, trace_load_validates_ring)
{
	/* trace_load accepts a valid ring and refuses a non-power-of-two. */
	struct spec_machine m = { .ram_base = ROW_RAM_BASE,
				  .ram_size = 0x10000000,
				  .cpu_count = 1,
				  .page = all_shared };
	struct spec_host_reads r;
	struct spec_outcome out;

	load_reads(&r, ROW_RAM_BASE + 0x100000, ROW_RAM_BASE + 0x200000, 256);
	spec_trace_load(&m, (ROW_RAM_BASE + 0x100000) >> 12, &r, &out);
	cr_assert_eq(out.x1, 0);
	cr_assert_eq(out.pin_count, 2);
	load_reads(&r, ROW_RAM_BASE + 0x100000, ROW_RAM_BASE + 0x200000, 200);
	spec_trace_load(&m, (ROW_RAM_BASE + 0x100000) >> 12, &r, &out);
	cr_assert_eq(out.x1, -PKVM_EINVAL);
	load_reads(&r, ROW_RAM_BASE + 0x100000, ROW_RAM_BASE + 0x100000, 256);
	spec_trace_load(&m, (ROW_RAM_BASE + 0x100000) >> 12, &r, &out);
	cr_assert_eq(out.x1, -PKVM_EINVAL, "ring overlapping the control page");
	m.trace_loaded = true;
	spec_trace_load(&m, (ROW_RAM_BASE + 0x100000) >> 12, &r, &out);
	cr_assert_eq(out.x1, -PKVM_EBUSY);
}
