/* SPDX-License-Identifier: MIT */
/*
 * The test image (hyp-test.elf, the fake arch's test library): the
 * test-only hypercalls, for the tests of a hyp that panics (the recorder's
 * panic outcome, the checker's verdict on it). Never linked into hyp.elf.
 */
#include <hyp/arch.h>
#include <hyp/hyp.h>
#include <hyp/image.h>

const uint64_t image_boot_flags = IMAGE_BOOT_F_TEST_HCALLS;

bool image_test_hcall(struct trap_ctx *ctx, uint64_t id)
{
	if (id == PKVM_HC_TEST_PANIC)
		hyp_panic(PKVM_PANIC_TEST, ctx->elr, "test_panic hypercall");
	return false;
}

/*
 * Single-threaded QEMU runs the next vCPU when this one yields, until that
 * one yields too or leaves its loop (a broadcast TLBI does, so a hypercall
 * that unmaps takes about two turns): a few turns let the other CPUs
 * finish what they start here.
 */
#define IMAGE_RACE_TURNS 8

void image_race_window(void)
{
	for (int i = 0; i < IMAGE_RACE_TURNS; i++)
		arch_relax();
}
