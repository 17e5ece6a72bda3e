// SPDX-License-Identifier: MIT
/*
 * format/LINUX-6.12.md 9.1 as pure functions (spec_l612_fault.h), read
 * against 6.12's handle_host_mem_abort, host_stage2_idmap,
 * find_mem_range, host_stage2_adjust_range (nvhe/mem_protect.c) and
 * stage2_set_prot_attr (pgtable.c).
 */
#include "spec_l612_fault.h"

#include <stddef.h>

#include "spec_l612.h"

#define L612_S2_AF (1ull << 10)
#define L612_S2_SH_IS (3ull << 8)
#define L612_S2_SH_MASK (3ull << 8)
#define L612_S2_AP_RW (3ull << 6)
#define L612_S2_AP_MASK (3ull << 6)
#define L612_S2_MEMATTR_SHIFT 2
#define L612_S2_MEMATTR_MASK (0xfull << L612_S2_MEMATTR_SHIFT)
#define L612_S2_XN (1ull << 54)	   /* KVM_PTE_LEAF_ATTR_HI_S2_XN */
#define L612_S2_XN0 (1ull << 53)   /* XN[0] (FEAT_XNX): never set */
#define L612_SW_ALL (0xfull << 55) /* KVM_PGTABLE_PROT_SW0-3 */
#define L612_MT_S2_NORMAL 0xfu	   /* MT_S2_NORMAL: write-back */
#define L612_MT_S2_FWB_NORMAL 0x6u /* MT_S2_FWB_NORMAL */

static uint64_t l612_granule(int level)
{
	return 1ull << (12 + 9 * (3 - level));
}

bool l612_mem_range(const struct l612_mem *mem, uint64_t addr, uint64_t *start,
		    uint64_t *end)
{
	*start = 0;
	*end = UINT64_MAX;
	for (unsigned i = 0; i < mem->count; i++) {
		uint64_t b = mem->reg[i][0], e = b + mem->reg[i][1];

		if (addr < b) {
			*end = b;
			return false;
		}
		if (addr < e) {
			*start = b;
			*end = e;
			return true;
		}
		*start = e;
	}
	return false;
}

bool l612_mem_is_mmio(const struct l612_mem *mem, uint64_t base, uint64_t size)
{
	for (unsigned i = 0; i < mem->count; i++) {
		uint64_t b = mem->reg[i][0], e = b + mem->reg[i][1];

		if (base < e && base + size > b)
			return false;
	}
	return true;
}

void l612_host_fault(const struct l612_mem *mem, uint64_t hpfar, uint64_t desc,
		     int level, struct l612_fault *out)
{
	uint64_t rs, re;

	out->ipa = (hpfar & L612_HPFAR_MASK) << 8;
	out->memory = l612_mem_range(mem, out->ipa, &rs, &re);
	if (l612_is_leaf(desc, level))
		out->kind = L612_FAULT_RETRY; /* -EAGAIN: mapped already */
	else if (desc != 0)
		out->kind = L612_FAULT_PANIC; /* -EPERM: BUG_ON */
	else
		out->kind = L612_FAULT_MAP; /* host_stage2_idmap_locked */
}

uint64_t l612_leaf_oa(const struct l612_mem *mem, uint64_t d, int level)
{
	uint64_t oa;

	if (mem->lpa2)
		oa = (d & 0x0003fffffffff000ull) | ((d >> 8) & 3) << 50;
	else
		oa = d & 0x0000fffffffff000ull;
	return oa & ~(l612_granule(level) - 1);
}

const char *l612_fault_leaf_wrong(const struct l612_mem *mem,
				  const struct l612_fault *f, uint64_t in,
				  int level, uint64_t d)
{
	uint64_t size = l612_granule(level), rs, re;
	unsigned attr =
		(unsigned)((d & L612_S2_MEMATTR_MASK) >> L612_S2_MEMATTR_SHIFT);

	if (level < 1)
		return "a block at a level 6.12 never maps one";
	if (l612_leaf_oa(mem, d, level) != in)
		return "not an identity mapping";
	l612_mem_range(mem, f->ipa, &rs, &re);
	if (in < rs || in + size - 1 > re - 1)
		return f->memory ? "it reaches beyond the RAM region of the "
				   "faulting address"
				 : "it reaches beyond the MMIO gap of the "
				   "faulting address";
	if (!(d & L612_S2_AF))
		return "AF clear";
	if ((d & L612_S2_AP_MASK) != L612_S2_AP_RW)
		return "not read-write (S2AP)";
	if (!mem->lpa2 && (d & L612_S2_SH_MASK) != L612_S2_SH_IS)
		return "not inner shareable";
	if (attr != L612_MT_S2_NORMAL && attr != L612_MT_S2_FWB_NORMAL)
		return "not normal write-back memory (MemAttr)";
	if (d & L612_S2_XN0)
		return "XN[0] set";
	if (f->memory && (d & L612_S2_XN))
		return "memory mapped execute-never";
	if (!f->memory && !(d & L612_S2_XN))
		return "MMIO mapped executable";
	if (d & L612_SW_ALL)
		return "software bits (page state) not 0";
	return NULL;
}
