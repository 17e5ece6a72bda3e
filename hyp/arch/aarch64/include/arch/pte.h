/* SPDX-License-Identifier: MIT */
/*
 * AArch64 descriptor encoding (4 KiB granule, 32-bit input range, walks
 * start at level 1) for the host stage-2 and the hyp's EL2 stage-1. The
 * software bits follow format/include/pkvm/abi.h: page state in bits 56:55
 * of a valid descriptor, owner in bits 9:2 of an invalid host stage-2 one.
 *
 * Portable code never looks at descriptor bits: it goes through these
 * arch_pte_* functions only.
 */
#ifndef ARCH_PTE_H
#define ARCH_PTE_H

#include <stdbool.h>
#include <stdint.h>

#include <pkvm/abi.h>

#define ARCH_PTE_VALID (1ull << 0)
#define ARCH_PTE_TABLE (1ull << 1) /* table at levels 1-2, page at 3 */
#define ARCH_PTE_AF (1ull << 10)
#define ARCH_PTE_SH_INNER (3ull << 8)
#define ARCH_PTE_ADDR_MASK 0x0000FFFFFFFFF000ull
/* Stage-1 EL2: AttrIndx (MAIR_EL2 index 0 normal WB, 1 device) and AP. */
#define ARCH_S1_ATTR_NORMAL (0ull << 2)
#define ARCH_S1_ATTR_DEVICE (1ull << 2)
#define ARCH_S1_AP_RW (1ull << 6) /* AP[1] is RES1 at EL2 */
#define ARCH_S1_AP_RO (1ull << 7) /* AP[2]: read-only */
#define ARCH_S1_XN (1ull << 54)
/* Stage-2: MemAttr, S2AP, XN. */
#define ARCH_S2_MEMATTR_NORMAL (0xFull << 2) /* outer+inner WB */
#define ARCH_S2_MEMATTR_DEVICE (0x1ull << 2) /* Device-nGnRE */
#define ARCH_S2_AP_RW (3ull << 6)
#define ARCH_S2_AP_RO (1ull << 6)
#define ARCH_S2_XN (2ull << 53)

/* MAIR_EL2: index 0 normal WB RA/WA, index 1 Device-nGnRE. */
#define ARCH_MAIR_EL2 0x04FFull

/*
 * What a leaf lets its user do (arch_pte_make_leaf): portable code says
 * what, the arch encodes it. A leaf without ARCH_PROT_W is read-only, one
 * without ARCH_PROT_X execute-never (XN, for the hyp at EL2 or the host).
 */
#define ARCH_PROT_W 1u	    /* writable */
#define ARCH_PROT_X 2u	    /* executable */
#define ARCH_PROT_DEVICE 4u /* Device-nGnRE (else normal write-back) */

/** Levels of a walk: 1 (1 GiB per entry), 2 (2 MiB), 3 (4 KiB). */
#define ARCH_PT_FIRST_LEVEL 1
#define ARCH_PT_LAST_LEVEL 3
#define ARCH_PT_ENTRIES 512u

/** Bytes mapped by one entry at `level`. */
static inline uint64_t arch_pt_level_size(int level)
{
	return 1ull << (12 + 9 * (3 - level));
}

/** Index of `addr` in a table at `level`. */
static inline unsigned arch_pt_index(uint64_t addr, int level)
{
	return (unsigned)((addr >> (12 + 9 * (3 - level))) & 511);
}

static inline bool arch_pte_is_valid(uint64_t pte)
{
	return pte & ARCH_PTE_VALID;
}

/** A descriptor pointing to a next-level table (never at level 3). */
static inline bool arch_pte_is_table(uint64_t pte, int level)
{
	return level < 3 && (pte & 3) == 3;
}

/** A valid leaf: block at levels 1-2, page at level 3. */
static inline bool arch_pte_is_leaf(uint64_t pte, int level)
{
	return arch_pte_is_valid(pte) && !arch_pte_is_table(pte, level);
}

static inline uint64_t arch_pte_table_pa(uint64_t pte)
{
	return pte & ARCH_PTE_ADDR_MASK;
}

static inline uint64_t arch_pte_make_table(uint64_t table_pa)
{
	return table_pa | 3;
}

/** Output address of a leaf. */
static inline uint64_t arch_pte_leaf_pa(uint64_t pte, int level)
{
	return pte & ARCH_PTE_ADDR_MASK & ~(arch_pt_level_size(level) - 1);
}

/**
 * A leaf mapping `pa` at `level`, for a stage-2 (host) or stage-1 (hyp)
 * table, with the access `prot` allows (ARCH_PROT_*) and the page state
 * bits.
 */
static inline uint64_t arch_pte_make_leaf(bool stage2, int level, uint64_t pa,
					  unsigned prot, uint64_t state)
{
	uint64_t d = pa | ARCH_PTE_VALID | ARCH_PTE_AF | state;
	bool device = prot & ARCH_PROT_DEVICE;

	if (level == 3)
		d |= ARCH_PTE_TABLE;
	if (stage2) {
		d |= (prot & ARCH_PROT_W) ? ARCH_S2_AP_RW : ARCH_S2_AP_RO;
		d |= device ? ARCH_S2_MEMATTR_DEVICE
			    : ARCH_S2_MEMATTR_NORMAL | ARCH_PTE_SH_INNER;
		d |= (prot & ARCH_PROT_X) ? 0 : ARCH_S2_XN;
	} else {
		d |= ARCH_S1_AP_RW | ((prot & ARCH_PROT_W) ? 0 : ARCH_S1_AP_RO);
		d |= device ? ARCH_S1_ATTR_DEVICE
			    : ARCH_S1_ATTR_NORMAL | ARCH_PTE_SH_INNER;
		d |= (prot & ARCH_PROT_X) ? 0 : ARCH_S1_XN;
	}
	return d;
}

/** The same leaf attributes and state, moved to `level` and `pa`. */
static inline uint64_t arch_pte_leaf_relevel(uint64_t pte, int from, int to,
					     uint64_t pa)
{
	uint64_t attrs = pte & ~ARCH_PTE_ADDR_MASK & ~ARCH_PTE_TABLE;

	(void)from;
	return pa | attrs | (to == 3 ? ARCH_PTE_TABLE : 0);
}

/** Page state bits of a valid leaf (PKVM_PAGE_*). */
static inline uint64_t arch_pte_state(uint64_t pte)
{
	return pte & PKVM_PTE_STATE_MASK;
}

/** The same leaf with other state bits. */
static inline uint64_t arch_pte_set_state(uint64_t pte, uint64_t state)
{
	return (pte & ~PKVM_PTE_STATE_MASK) | state;
}

/** An invalid descriptor annotated with `owner` (0 = host, no annotation). */
static inline uint64_t arch_pte_make_annot(unsigned owner)
{
	return (uint64_t)owner << PKVM_PTE_OWNER_SHIFT;
}

/** Owner annotation of an invalid descriptor. */
static inline unsigned arch_pte_owner(uint64_t pte)
{
	return (unsigned)((pte & PKVM_PTE_OWNER_MASK) >> PKVM_PTE_OWNER_SHIFT);
}

/** True if the descriptor is device memory. */
static inline bool arch_pte_is_device(bool stage2, uint64_t pte)
{
	if (stage2)
		return (pte & (0xFull << 2)) == ARCH_S2_MEMATTR_DEVICE;
	return (pte & (7ull << 2)) == ARCH_S1_ATTR_DEVICE;
}

/** True if the leaf allows writes. */
static inline bool arch_pte_is_writable(bool stage2, uint64_t pte)
{
	if (stage2)
		return (pte & ARCH_S2_AP_RW) == ARCH_S2_AP_RW;
	return !(pte & ARCH_S1_AP_RO);
}

/** True if the leaf allows instruction fetches (its user's). */
static inline bool arch_pte_is_executable(bool stage2, uint64_t pte)
{
	return !(pte & (stage2 ? ARCH_S2_XN : ARCH_S1_XN));
}

#endif /* ARCH_PTE_H */
