/* SPDX-License-Identifier: MIT */
/*
 * The production image (hyp.elf, hyp-notrace.elf): no test-only
 * hypercalls. TEST_PANIC's id is an unknown call here, like any other.
 */
#include <hyp/image.h>

const uint64_t image_boot_flags = 0;

bool image_test_hcall(struct trap_ctx *ctx, uint64_t id)
{
	(void)ctx;
	(void)id;
	return false;
}

void image_race_window(void)
{
}
