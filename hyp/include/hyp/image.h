/* SPDX-License-Identifier: MIT */
/*
 * What kind of image this is: production (hyp.elf, hyp-notrace.elf) or
 * test (hyp-test.elf, and the fake arch's test library). The choice is made
 * by linking one of src/image_prod.c or src/image_test.c, never by a flag
 * in the core: the production image simply has no test-only code, so no
 * host can reach it (format/HYPERCALLS.md "test_panic").
 */
#ifndef HYP_IMAGE_H
#define HYP_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <hyp/trap.h>

/*
 * BOOT boot_flags bit 0 (HYPERCALLS.md "test_panic"): the image has the
 * test-only hypercalls. Production images write 0.
 */
#define IMAGE_BOOT_F_TEST_HCALLS 1ull

/** This image's BOOT boot_flags. */
extern const uint64_t image_boot_flags;

/**
 * A hypercall id no production call has: run it if it is one of this
 * image's test-only calls (which may not return), else return false
 * (unknown id).
 */
bool image_test_hcall(struct trap_ctx *ctx, uint64_t id);

/**
 * A point where a hypercall has let go of the table locks but is not done
 * (TRACE_LOAD between its checks under host_s2 + hyp_s1 and its exit):
 * another CPU's hypercall may run here on any machine. The test image
 * yields the CPU a few times (a hint on hardware; on single-threaded QEMU
 * the other vCPUs run in turn), so that tests see those interleavings
 * every time instead of once in a blue moon; the production image does
 * nothing. Called with no table lock held.
 */
void image_race_window(void);

#endif /* HYP_IMAGE_H */
