/* SPDX-License-Identifier: MIT */
/*
 * The hyp's ownership transition table (tests/hyp/transitions.def, written
 * from the hyp's own code) run through the real hyp core on the fake arch:
 * each row's start is made with the core's own hypercalls and checked to
 * be the states the table claims for it, then the call, then the return
 * value and both sides' states are read back through the core's walks.
 * tests/hyp/test_tables.c holds this table against the specification's.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <hyp/image.h>

#include "helpers.h"

enum th_start {
#define HYP_START(start, where, host, hyp, pinned) START_##start,
#define HYP_ROW(name, start, call, nr, ret, host_after, hyp_after)
#include "transitions.def"
};

/* The states each start leaves, as the table claims them. */
static const struct {
	enum mem_state host, hyp;
	bool pinned;
} th_starts[] = {
#define HYP_START(start, where, host, hyp, pinned)                             \
	[START_##start] = { MEM_##host, MEM_##hyp, pinned },
#define HYP_ROW(name, start, call, nr, ret, host_after, hyp_after)
#include "transitions.def"
};

struct th_transition {
	const char *name;
	enum th_start start;
	unsigned call;
	uint64_t nr;
	int64_t ret;
	enum mem_state host_after;
	enum mem_state hyp_after;
};

static struct th_transition th_table[] = {
#define HYP_START(start, where, host, hyp, pinned)
#define HYP_ROW(name, start, call, nr, ret, host, hyp)                         \
	{                                                                      \
		#name, START_##start, PKVM_HC_##call, nr,                      \
		ret,   MEM_##host,    MEM_##hyp                                \
	},
#include "transitions.def"
};

/* Put the page into its start state; returns its pfn. */
static uint64_t th_setup(enum th_start start)
{
	switch (start) {
	case START_HOST:
		return TH_RAM_PFN;
	case START_SHARED:
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN, 0), 0);
		return TH_RAM_PFN;
	case START_DONATED:
		cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, TH_RAM_PFN, 1),
			     0);
		return TH_RAM_PFN;
	case START_PINNED:
		/* The control page, shared, then pinned by trace_load. */
		th_trace_on(512);
		return TH_CTRL_PA >> HYP_PAGE_SHIFT;
	case START_HYPMEM:
		return TH_HYPMEM_PFN;
	case START_MMIO:
		return TH_MMIO_PFN;
	}
	return 0;
}

ParameterizedTestParameters(transitions, table)
{
	return cr_make_param_array(struct th_transition, th_table,
				   sizeof(th_table) / sizeof(th_table[0]));
}

/*
 * Every row: the start is what the table says it is; the call returns the
 * table's value and leaves its states.
 */
ParameterizedTest(struct th_transition *t, transitions, table)
{
	th_boot(1, 0);
	uint64_t pfn = th_setup(t->start);
	uint64_t x1 = 0, x0;

	cr_assert_eq(th_host_state(pfn), th_starts[t->start].host,
		     "%s: host state %d before the call", t->name,
		     th_host_state(pfn));
	cr_assert_eq(th_hyp_state(pfn), th_starts[t->start].hyp,
		     "%s: hyp state %d before the call", t->name,
		     th_hyp_state(pfn));
	x0 = fake_hvc(t->call, pfn, t->nr, 0, &x1);
	cr_assert_eq(x0, 0, "%s: x0", t->name);
	cr_assert_eq((int64_t)x1, t->ret, "%s: returned %lld, want %lld",
		     t->name, (long long)(int64_t)x1, (long long)t->ret);
	cr_assert_eq(th_host_state(pfn), t->host_after, "%s: host state %d",
		     t->name, th_host_state(pfn));
	cr_assert_eq(th_hyp_state(pfn), t->hyp_after, "%s: hyp state %d",
		     t->name, th_hyp_state(pfn));
}

/* A pinned start really is pinned: the control page refuses unshare. */
Test(transitions, pinned_start_is_pinned)
{
	th_boot(1, 0);
	cr_assert(th_starts[START_PINNED].pinned);
	cr_assert_eq(th_setup(START_PINNED), TH_CTRL_PA >> HYP_PAGE_SHIFT);
	cr_assert_eq(th_call(PKVM_HC_UNSHARE_HYP, TH_CTRL_PA >> 12, 0),
		     -PKVM_EBUSY);
}

/* A page the table does not name stays untouched by any row's call. */
Test(transitions, neighbour_untouched)
{
	th_boot(1, 0);
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, TH_RAM_PFN, 3), 0);
	cr_assert_eq(th_host_state(TH_RAM_PFN + 3), MEM_OWNED);
	cr_assert_eq(th_hyp_state(TH_RAM_PFN + 3), MEM_NOPAGE);
	cr_assert_eq(th_host_state(TH_RAM_PFN + 2), MEM_NOPAGE);
	cr_assert_eq(th_hyp_state(TH_RAM_PFN + 2), MEM_OWNED);
}

/* A donation is all or nothing: one bad page in the range refuses all. */
Test(transitions, donate_range_atomic)
{
	th_boot(1, 0);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + 5, 0), 0);
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, TH_RAM_PFN, 8),
		     -PKVM_EPERM);
	for (uint64_t i = 0; i < 8; i++)
		if (i != 5)
			cr_assert_eq(th_host_state(TH_RAM_PFN + i), MEM_OWNED);
}

/* Reclaiming pages of the hyp's own range is refused. */
Test(transitions, reclaim_hyp_range_refused)
{
	th_boot(1, 0);
	cr_assert_eq(th_call(PKVM_HC_HYP_DONATE_HOST, TH_HYPMEM_PFN, 1),
		     -PKVM_EPERM);
	cr_assert_eq(th_hyp_state(TH_HYPMEM_PFN), MEM_OWNED);
}

/* A range running off the end of RAM is invalid. */
Test(transitions, donate_past_ram_end)
{
	th_boot(1, 0);
	uint64_t last = (PKVM_RAM_BASE + PKVM_RAM_SIZE) / HYP_PAGE_SIZE - 1;
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, last, 2), -PKVM_EINVAL);
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, last, 1), 0);
}

/* Unknown hypercall ids return NOT_SUPPORTED and leave x1 alone. */
Test(transitions, unknown_id)
{
	th_boot(1, 0);
	uint64_t x1 = 0;
	cr_assert_eq(fake_hvc(0x99, 1234, 0, 0, &x1), PKVM_SMCCC_NOT_SUPPORTED);
	cr_assert_eq(x1, 1234);
}

/* SYSTEM_OFF powers off and stops the rings; other SMCs are refused. */
Test(transitions, smc)
{
	th_boot(1, 0);
	th_trace_on(512);
	cr_assert_eq(fake_smc(0x84000000), PKVM_SMCCC_NOT_SUPPORTED);
	cr_assert(!fake_stats.system_off);
	fake_smc(0x84000008);
	cr_assert(fake_stats.system_off);
	cr_assert_eq(th_ctrl()->state, PKVM_RING_STATE_STOPPED);
}

/*
 * TEST_PANIC (this test library is the test image) stops the CPU (the fake
 * arch ends the process).
 */
Test(transitions, test_panic, .exit_code = FAKE_PARK_EXIT)
{
	th_boot(1, 0);
	fake_hvc(PKVM_HC_TEST_PANIC, 0, 0, 0, NULL);
}

/* The test image says what it is: BOOT boot_flags bit 0. */
Test(transitions, test_image_boot_flag)
{
	static struct pkvm_record r[4096];

	th_boot(1, 0);
	th_trace_on(4096);
	th_ring_records(0, r, 4096);
	cr_assert_eq(r[0].kind, PKVM_EV_BOOT);
	cr_assert_eq(r[6].b, IMAGE_BOOT_F_TEST_HCALLS);
}
