/* SPDX-License-Identifier: MIT */
/*
 * The hyp's global configuration, fixed at boot and read-only afterwards
 * (so it needs no lock), and the CHECK() of its own invariants.
 */
#ifndef HYP_HYP_H
#define HYP_HYP_H

#include <stdbool.h>
#include <stdint.h>

#include <pkvm/abi.h>

#define HYP_PAGE_SIZE 4096ull
#define HYP_PAGE_SHIFT 12

/** The machine and the hyp's own memory, as the BOOT record reports them. */
struct hyp_config {
	uint64_t ram_base;
	uint64_t ram_size;
	uint64_t hyp_start; /* all hyp-owned memory: [hyp_start, hyp_end) */
	uint64_t hyp_end;
	/*
	 * The image's code is [hyp_start, text_end) and its read-only data
	 * [text_end, rodata_end), both page aligned; everything after is
	 * written (data, bss, stacks, early buffers, the pool).
	 */
	uint64_t text_end;
	uint64_t rodata_end;
	uint64_t pool_start; /* page-table pages: [pool_start, pool_end) */
	uint64_t pool_end;
	uint64_t host_entry; /* where every CPU enters the host */
	unsigned cpu_count;
};

/** Set by hyp_boot_primary(); read-only afterwards. */
extern struct hyp_config hyp_cfg;

/** True if page frame `pfn` is RAM. */
static inline bool hyp_pfn_in_ram(uint64_t pfn)
{
	uint64_t first = hyp_cfg.ram_base >> HYP_PAGE_SHIFT;

	return pfn >= first &&
	       pfn - first < (hyp_cfg.ram_size >> HYP_PAGE_SHIFT);
}

/** True if page frame `pfn` is part of the hyp's own range. */
static inline bool hyp_pfn_in_hyp(uint64_t pfn)
{
	return pfn >= (hyp_cfg.hyp_start >> HYP_PAGE_SHIFT) &&
	       pfn < (hyp_cfg.hyp_end >> HYP_PAGE_SHIFT);
}

/**
 * Panic: PANIC record, ring state PANIC, message on the console, every CPU
 * stops. Only for the hyp's own broken invariants and TEST_PANIC.
 */
_Noreturn void hyp_panic(uint64_t code, uint64_t addr, const char *why);

/** Called by CHECK(); reports the caller's address. */
_Noreturn void hyp_check_failed(const char *what);

/** An invariant of the hyp itself (never host input): panics if false. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (__builtin_expect(!(cond), 0))                              \
			hyp_check_failed(#cond);                               \
	} while (0)

/** Write a string and a 64-bit hex number on the console. */
void hyp_puts(const char *s);
void hyp_put_hex(uint64_t v);
void hyp_put_dec(uint64_t v);

/* Freestanding helpers (the compiler may also call memset/memcpy). */
void *memset(void *dst, int c, __SIZE_TYPE__ n);
void *memcpy(void *dst, const void *src, __SIZE_TYPE__ n);

#endif /* HYP_HYP_H */
