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

#endif /* HYP_IMAGE_H */
