/* SPDX-License-Identifier: MIT */
/*
 * Hand-built linux-6.12 traces (test_linux.c, test_linux_mem.c): the
 * machine of builder.h as pKVM 6.12 lays it out, and the helpers that
 * write its boot, locks, stores and hypercalls as 6.12 does, and judge
 * what the checker says of them.
 */
#ifndef PKVM_TESTS_LINUX_TB_H
#define PKVM_TESTS_LINUX_TB_H

#include <stdbool.h>
#include <stdint.h>

#include "builder.h"

/* The machine: 16 MiB of RAM at 0x40000000 (builder.h). */
#define LK_OFF 0x7f0000000000ull /* hyp VA = PA + LK_OFF (48-bit VA) */
#define LK_TCR 16ull		 /* TCR_EL2.T0SZ 16: 48 bits, level 0 */
/* VTCR_EL2: T0SZ 24 (40-bit IPA), SL0 1 (level 1): 2 concatenated pages */
#define LK_VTCR (24ull | 1ull << 6)
/* Hyp stage-1 tables (levels 0-3) and host stage-2 (root 2 pages, L2, L3) */
#define LK_S1_L0 0x40300000ull
#define LK_S1_L1 0x40301000ull
#define LK_S1_L2 0x40302000ull
#define LK_S1_L3 0x40303000ull
#define LK_S2_ROOT 0x40310000ull
#define LK_S2_L2 0x40312000ull
#define LK_S2_L3 0x40313000ull
/* Locks: PAs of their words, generation 0 (static). */
#define LK_HOST 0x40100000ull
#define LK_PGD 0x40100010ull
#define LK_VMT 0x40100020ull
#define LK_HPOOL 0x40100030ull
#define LK_VM(i) (0x40180000ull + 0x100ull * (i) + (1ull << 48))
/* More VMs than the replay has lock slots (31) and than its first lock
 * tables hold (64 and 128 entries: they grow while slots are reused). */
#define LK_VMS 100u
/* The page the scenarios share, in the 2 MiB of the hyp page of boot. */
#define LK_PAGE (0x40000000ull + 0x280000ull)
#define LK_HYP_PAGE (0x40000000ull + 0x200000ull)

struct lk {
	struct tb b;
	uint64_t lock[128], ticket[128];
	unsigned nlocks;
};

void lk_lock(struct lk *t, unsigned cpu, uint64_t raw);
void lk_unlock(struct lk *t, unsigned cpu, uint64_t raw);
void lk_store_as(struct lk *t, unsigned cpu, uint64_t pa, uint64_t v,
		 bool release);
void lk_store(struct lk *t, unsigned cpu, uint64_t pa, uint64_t v);
uint64_t lk_s1_leaf(uint64_t pa);
uint64_t lk_s2_leaf(uint64_t pa);
uint64_t lk_s1_page(uint64_t pa, unsigned state);
uint64_t lk_s2_page(uint64_t pa, unsigned state);
void lk_hvc(struct lk *t, unsigned cpu, unsigned id, uint64_t a1);
void lk_boot(struct lk *t, unsigned ncpu);
void lk_share_unshare(struct lk *t, unsigned cpu, bool no_tlbi,
		      bool pgd_unlocked);
void lk_s2_remap(struct lk *t, unsigned cpu, bool no_break);
void lk_check(struct lk *t, struct tb_result *r);
void lk_expect(const struct tb_result *r, int exit, const char *check,
	       unsigned n);
void lk_expect_unjudged(const struct tb_result *r);

#endif /* PKVM_TESTS_LINUX_TB_H */
