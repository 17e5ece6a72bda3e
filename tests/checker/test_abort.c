// SPDX-License-Identifier: MIT
/*
 * Host stage-2 aborts always answered (format/HYPERCALLS.md "Stage-2
 * abort"): every abort is mapped or injected in its own trap. Hand-built
 * traces of the hyp's answers conform; a hyp that leaves the host faulting
 * again (no change, no injection), maps what it may not, or changes the
 * page when the pool ran out is one finding each.
 */
#include <criterion/criterion.h>

#include "builder.h"

#define TA_ELR 0x41000100ull	       /* the builder's trap ELR */
#define TA_ESR_IABT_XLAT 0x82000007ull /* instruction abort, translation L3 */
#define TA_ESR_IABT_PERM 0x8200000full /* instruction abort, permission L3 */
#define TA_ESR_DABT_PERM 0x9200004full /* data abort (write), permission L3 */
#define TA_MMIO_FAR 0x0a000010ull      /* MMIO the builder has no table for */

static struct tb b;
static struct tb_result r;

static void setup(void)
{
	tb_init(&b, 1);
	tb_boot(&b);
}

static void teardown(void)
{
	tb_free(&b);
}

TestSuite(abort, .init = setup, .fini = teardown);

static void expect_pass(void)
{
	tb_check(&b, &r);
	cr_assert_eq(r.count, 0, "%u findings, first %s", r.count,
		     r.count ? r.checks[0] : "");
	cr_assert_eq(r.exit, CK_EXIT_OK, "exit %d (%s)", r.exit,
		     r.sum.first_inconclusive);
}

static void expect_only(const char *check)
{
	tb_check(&b, &r);
	cr_assert(tb_only(&r, check, 1),
		  "expected one %s, got %u findings, first %s", check, r.count,
		  r.count ? r.checks[0] : "none");
	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
}

static void ta_entry(uint64_t esr, uint64_t far)
{
	tb_entry(&b, 0, esr, far, (far >> 12) << 4, 0x1234, 0, 0);
}

/* The injection's exit: the EL1 registers get the EL2 ones. */
static void ta_inject_exit(uint64_t esr, uint64_t far)
{
	/* The ESR_EL1 the host at EL1h is given (the same-EL class). */
	esr = tb_inject_esr(&b, esr, TB_HOST_SPSR);
	tb_inject_regs(&b, 0, esr, far, TA_ELR, TB_HOST_SPSR);
	tb_exit_full(&b, 0, 0x1234, 0, esr, far, TB_VBAR + 0x200,
		     tb_inject_spsr(&b, TB_HOST_SPSR));
}

/* Return to the faulting instruction with nothing injected. */
static void ta_retry_exit(void)
{
	tb_exit_full(&b, 0, 0x1234, 0, 0, 0, TA_ELR, 0x3c5);
}

/*
 * An MMIO fault whose level-3 table cannot be had: no store. (The UART's
 * mapping first, so that the level-2 table of the low GiB exists.)
 */
static void ta_mmio_enomem(void)
{
	tb_abort_map(&b, 0, TB_MMIO_PFN);
	ta_entry(TB_ESR_DABT, TA_MMIO_FAR);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	b.alloc_fail = true;
	cr_assert_eq(tb_l3(&b, 0, PKVM_COMP_HOST_S2, TA_MMIO_FAR >> 12), 0);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
}

Test(abort, enomem_injected_conforms)
{
	/* The pool ran out: no change, the abort injected. */
	ta_mmio_enomem();
	ta_inject_exit(TB_ESR_DABT, TA_MMIO_FAR);
	expect_pass();
}

Test(abort, enomem_left_faulting)
{
	/* The pool ran out and the hyp just returned: the host faults again. */
	ta_mmio_enomem();
	ta_retry_exit();
	expect_only("missing-mapping");
}

Test(abort, injected_without_enomem)
{
	/* An MMIO read injected although the pool did not run out. */
	tb_abort_map(&b, 0, TB_MMIO_PFN);
	ta_entry(TB_ESR_DABT, TA_MMIO_FAR);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	ta_inject_exit(TB_ESR_DABT, TA_MMIO_FAR);
	tb_check(&b, &r);
	cr_assert_eq(r.exit, CK_EXIT_FINDINGS);
	cr_assert_eq(r.count, 2);
	cr_assert_str_eq(r.checks[0], "abort-injection");
	cr_assert_str_eq(r.checks[1], "missing-mapping", "the page to map");
}

Test(abort, enomem_with_change)
{
	/* The pool ran out for one table, yet the page got mapped. */
	uint64_t slot;

	tb_abort_map(&b, 0, TB_MMIO_PFN);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	slot = tb_l3(&b, 0, PKVM_COMP_HOST_S2, TA_MMIO_FAR >> 12);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);

	ta_entry(TB_ESR_DABT, TA_MMIO_FAR);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	b.alloc_fail = true;
	tb_l3(&b, 0, PKVM_COMP_HOST_S2, 0x0c000000 >> 12);
	tb_pte(&b, 0, slot, tb_s2_device(TA_MMIO_FAR & ~0xfffull));
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	ta_inject_exit(TB_ESR_DABT, TA_MMIO_FAR);
	expect_only("trap-effect");
}

Test(abort, fetch_from_mmio_injected)
{
	/* MMIO is execute-never: a fetch is injected, mapped or not. */
	ta_entry(TA_ESR_IABT_XLAT, TA_MMIO_FAR);
	ta_inject_exit(TA_ESR_IABT_XLAT, TA_MMIO_FAR);
	tb_abort_map(&b, 0, TA_MMIO_FAR >> 12);
	ta_entry(TA_ESR_IABT_PERM, TA_MMIO_FAR);
	ta_inject_exit(TA_ESR_IABT_PERM, TA_MMIO_FAR);
	expect_pass();
}

Test(abort, fetch_from_mmio_mapped)
{
	/* Mapping MMIO for a fetch: the host would fault again (XN). */
	uint64_t pfn = TA_MMIO_FAR >> 12;

	ta_entry(TA_ESR_IABT_XLAT, TA_MMIO_FAR);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_pte(&b, 0, tb_l3(&b, 0, PKVM_COMP_HOST_S2, pfn),
	       tb_s2_device(pfn << 12));
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	ta_retry_exit();
	expect_only("abort-injection");
}

Test(abort, xn_fetch_left_faulting)
{
	/* The old livelock: a fetch from a mapped XN page, nothing done. */
	tb_abort_map(&b, 0, TA_MMIO_FAR >> 12);
	ta_entry(TA_ESR_IABT_PERM, TA_MMIO_FAR);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	ta_retry_exit();
	expect_only("abort-injection");
}

Test(abort, permission_fault_on_host_memory)
{
	/* No mapping explains a permission fault: injected, even on RAM. */
	uint64_t far = TB_HOST_PFN(3) << 12;

	tb_abort_map(&b, 0, TB_HOST_PFN(3));
	ta_entry(TA_ESR_DABT_PERM, far);
	ta_inject_exit(TA_ESR_DABT_PERM, far);
	expect_pass();
}

Test(abort, race_already_mapped_conforms)
{
	/* A translation fault on a page mapped since: back, no change. */
	uint64_t far = TB_HOST_PFN(4) << 12;

	tb_abort_map(&b, 0, TB_HOST_PFN(4));
	ta_entry(TB_ESR_DABT, far);
	tb_lock(&b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(&b, 0, PKVM_LOCK_HOST_S2);
	ta_retry_exit();
	expect_pass();
}
