// SPDX-License-Identifier: MIT
/*
 * linux-6.12's release stores (check `pte-write-not-release`,
 * format/LINUX-6.12.md 10.5).
 *
 * The rule. A descriptor store that makes an entry valid and reachable is
 * a store-release (pte_write flag bit 3, FORMAT.md), so that a walker on
 * another CPU that sees the new descriptor also sees what it points to.
 * In 6.12's code (arch/arm64/kvm/hyp/pgtable.c) these are:
 *
 * - every store of stage2_make_pte, the make after a break: whatever it
 *   stores (a table, a leaf, an owner annotation, or 0 when an annotation
 *   is given back) over the `LOCKED` entry (0x400) stage2_try_break_pte
 *   left. Judged as: a store over `LOCKED` that is not `LOCKED` again;
 * - every store of kvm_pgtable_hyp_map (hyp_map_walker and
 *   hyp_map_walker_try_leaf), a leaf or a table descriptor, also when it
 *   only changes the software bits of a valid leaf. Judged as: a valid
 *   descriptor stored in a hyp stage-1 table over 0 or over a valid one;
 * - and, whatever the table, a valid descriptor stored over 0: 6.12 never
 *   makes a stage-2 entry valid without the break (the make is the
 *   release), and the hyp map walker stores with release. This is what
 *   judges the stores of __pkvm_init made before TTBR0_EL2 or VTTBR_EL2
 *   named their tables (model orphans: their component is not known yet).
 *
 * What 6.12 stores plain, and the rule allows: a break (0x400) and a
 * clear (0, kvm_clear_pte) over anything but `LOCKED`; a stage-2 change
 * of a valid leaf in place (stage2_try_set_pte: only software bits, or
 * the attribute walker's permissions); and the fixmap slot
 * (hyp_fixmap_map, fixmap_clear_slot: LINUX-6.12.md 7.4), whose entry is
 * never 0 once created (an invalid entry with an output address) and so
 * is never a store over 0 or over a valid entry of the map walker. A
 * release where a plain store suffices is never a finding.
 *
 * What is not judged: stores to pages the model knows as no table (a
 * guest's stage-2, a table's first store before it was linked: their old
 * entry is unknown), and stores whose old entry lost records (a plain
 * store the rule would judge is then inconclusive).
 *
 * The rule's one hook is the store, before the model applies it.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/record.h>

#include "rules.h"
#include "spec_l612.h"

/* Valid: a table, block or page descriptor (0b01 at level 3 is invalid).
 * An orphan's level is not known: bit 0 then. */
static bool release_valid(uint64_t d, int level, bool level_known)
{
	if (!level_known)
		return d & 1;
	return l612_is_table(d, level) || l612_is_leaf(d, level);
}

/*
 * Why the store of `nw` over `old` in a table of `comp` (0: not known
 * yet) at `level` must be a release, or NULL if 6.12 may store it plain.
 */
static const char *release_needed(unsigned comp, int level, bool level_known,
				  uint64_t old, uint64_t nw)
{
	bool old_valid = release_valid(old, level, level_known);
	bool new_valid = release_valid(nw, level, level_known);

	if (old == L612_PTE_LOCKED && nw != L612_PTE_LOCKED)
		return "the make after a break (stage2_make_pte)";
	if (!new_valid)
		return NULL; /* a break, a clear, an annotation's clear */
	if (old == 0)
		return comp == PKVM_COMP_HOST_S2
			       ? "a stage-2 entry made valid over 0"
			       : "a hyp stage-1 map (kvm_pgtable_hyp_map)";
	if (comp == PKVM_COMP_HYP_S1 && old_valid)
		return "a hyp stage-1 map over a valid entry "
		       "(hyp_map_walker_try_leaf)";
	return NULL;
}

static const char *release_comp_name(unsigned comp)
{
	switch (comp) {
	case PKVM_COMP_HOST_S2:
		return "host stage-2";
	case PKVM_COMP_HYP_S1:
		return "hyp stage-1";
	default:
		return "page-table";
	}
}

static void release_store(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	const struct model_table *t;
	uint64_t pa = ev->w[0], nw = ev->w[1], old;
	unsigned slot;
	const char *why;
	int ti;

	(void)self;
	if (!m || (ev->kbits & PKVM_REC_F_PTE_RELEASE))
		return;
	ti = model_table_find(m, pa & ~0xfffull);
	if (ti < 0)
		return; /* no table known: its old entry is not known */
	t = m->tables[ti];
	slot = (unsigned)((pa & 0xfff) >> 3);
	old = t->desc[slot];
	why = release_needed(t->orphan ? 0 : t->comp, t->level, !t->orphan, old,
			     nw);
	if (!why)
		return;
	if (view_cpu_lost(env->view, ev->cpu) ||
	    (!t->orphan && t->comp &&
	     view_range_unsure(env->view, t->comp,
			       t->base + (uint64_t)slot *
						 model_entry_size(t->level),
			       model_entry_size(t->level)))) {
		ck_inconclusive(env->out,
				"plain store to 0x%llx at event #%llu after "
				"lost records: its old entry is not known",
				(unsigned long long)pa,
				(unsigned long long)ev->index);
		return;
	}
	ck_finding(env->out, "pte-write-not-release", ev, pa,
		   t->writer[slot] != 0, t->writer[slot] - 1,
		   "plain store of 0x%llx over 0x%llx to a %s table "
		   "(0x%llx): %s is a store-release in 6.12 (LINUX-6.12.md "
		   "10.5)",
		   (unsigned long long)nw, (unsigned long long)old,
		   release_comp_name(t->orphan ? 0 : t->comp),
		   (unsigned long long)pa, why);
}

const struct ck_rule rule_l612_release = {
	.name = "l612-release",
	.system = PKVM_SYSTEM_LINUX612,
	.store_before = release_store,
};
