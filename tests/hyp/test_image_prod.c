/* SPDX-License-Identifier: MIT */
/*
 * The core linked as the production image (hyp/src/image_prod.c, as in
 * hyp.elf): no test-only hypercall. TEST_PANIC's id is unknown like any
 * other (x0 = NOT_SUPPORTED, no effect) and BOOT says so (boot_flags 0).
 */
#include <criterion/criterion.h>

#include <hyp/image.h>

#include "helpers.h"

/* The host calls TEST_PANIC's id: refused, and the hyp runs on. */
Test(image_prod, test_panic_id_unknown)
{
	static struct pkvm_record r[4096];
	uint64_t x1 = 0;

	th_boot(1, 0);
	th_trace_on(4096);
	cr_assert_eq(fake_hvc(PKVM_HC_TEST_PANIC, 0, 0, 0, &x1),
		     PKVM_SMCCC_NOT_SUPPORTED);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN, 0), 0,
		     "still running");
	size_t n = th_ring_records(0, r, 4096);
	cr_assert_eq(th_count(r, n, PKVM_EV_PANIC, ~0ull), 0);
	cr_assert_eq(r[0].kind, PKVM_EV_BOOT);
	cr_assert_eq(r[6].b, 0, "boot_flags: no test-only calls");
}
