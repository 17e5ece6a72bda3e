// SPDX-License-Identifier: MIT
/*
 * Break-before-make (check `break-before-make`).
 *
 * The rule. A store that replaces a valid descriptor with another valid
 * one, in a table some live translation goes through, must go through an
 * invalid descriptor and a completed TLB invalidation first (Arm ARM
 * D8.14.1) when the change is one of:
 *
 * - the output address (of a leaf, or the next-level table a table
 *   descriptor points at);
 * - block <-> table: a valid block replaced by a table descriptor (a
 *   split without the break) or a table by a block (a collapse);
 * - the size of the translation: the Contiguous bit (52) of a leaf, which
 *   lets one TLB entry cover 16 of them;
 * - the memory type or cacheability: stage-2 MemAttr[3:0] (bits 5:2,
 *   HCR_EL2.FWB off), stage-1 the MAIR_EL2 attribute byte AttrIndx (bits
 *   4:2) selects;
 * - the shareability SH (bits 9:8), where it means something: both
 *   descriptors cacheable Normal memory (Device and Normal non-cacheable
 *   memory are Outer Shareable whatever SH says).
 *
 * Otherwise the TLBs of other CPUs may hold the old translation next to
 * the new one: two entries for one address (a TLB conflict abort, or
 * either one used), or two views of the same memory with different
 * attributes (loss of coherency).
 *
 * What is deliberately not judged (no false alarms):
 * - The software bits (55-58: pKVM's page state, hyp/arch/aarch64 pte.h,
 *   and the owner annotation of invalid entries), PBHA (59-62), AF, nG,
 *   DBM: the hardware ignores the first ones and needs no break for the
 *   others.
 * - Permission changes (AP/S2AP 7:6, XN 54:53, the hierarchical table
 *   attributes 63:59): the architecture allows them in place (a stale
 *   entry at worst faults, or allows what the old descriptor allowed,
 *   which the TLB maintenance rules cover).
 * - Tables no live translation goes through (detached, or not a table of
 *   the model): no TLB can hold anything from them.
 * - Stage-1 attribute indexes while MAIR_EL2 is unknown: inconclusive.
 *
 * The break itself. A store of a valid descriptor into a slot whose
 * break this CPU has not finished (its invalid store still waits for TLB
 * maintenance, tlb.c) is judged the same way against the descriptor the
 * break removed: making it before the invalidation completed is no break
 * at all. Maintenance by other CPUs does not count (tlb.c).
 *
 * Loss. A store whose old descriptor lost records may have changed (its
 * pages unknown, tlb_shadow_unsure), or whose break lost records of the
 * writer, is inconclusive, never a finding.
 *
 * The finding is reported at the store, names the component, the range,
 * the old and new descriptors and what changed; `explained_by` is the
 * store that made the old descriptor (or the break), when the trace has
 * it. The rule's one hook is the store, before the model applies it (it
 * needs the old descriptor); it reads rule_tlb's unfinished breaks.
 */
#include <stdio.h>
#include <string.h>

#include <pkvm/abi.h>

#include "rule_tlb.h"

#define BBM_ADDR_MASK 0x0000fffffffff000ull
#define BBM_CONTIG (1ull << 52)
#define BBM_ATTR_SHIFT 2
#define BBM_SH_SHIFT 8

static const char *bbm_comp_name(unsigned comp)
{
	return comp == PKVM_COMP_HOST_S2 ? "host stage-2" : "hyp stage-1";
}

/* Valid: a table, block or page descriptor (0b01 at level 3 is invalid). */
static bool bbm_valid(uint64_t d, int level)
{
	return (d & 1) && !(level == 3 && (d & 3) == 1);
}

static bool bbm_table(uint64_t d, int level)
{
	return level < 3 && (d & 3) == 3;
}

static const char *bbm_kind(uint64_t d, int level)
{
	return bbm_table(d, level) ? "table" : level == 3 ? "page" : "block";
}

/** The memory attributes of a valid leaf that BBM cares about. */
struct bbm_attr {
	unsigned type;	/* stage-2 MemAttr, stage-1 MAIR attribute byte */
	unsigned sh;	/* SH[1:0] */
	bool cacheable; /* Normal memory, some level cacheable: SH counts */
	bool known;	/* stage-1: MAIR_EL2 was written */
};

static struct bbm_attr bbm_attr(const struct model *m, unsigned comp,
				uint64_t d)
{
	unsigned field = (unsigned)(d >> BBM_ATTR_SHIFT);
	struct bbm_attr a = { .sh = (unsigned)(d >> BBM_SH_SHIFT) & 3,
			      .known = true };

	if (comp == PKVM_COMP_HOST_S2) {
		a.type = field & 0xf;
		/* 0b00xx Device; 0b0101 Normal non-cacheable inner+outer. */
		a.cacheable = (a.type & 0xc) != 0 && a.type != 0x5;
		return a;
	}
	a.known = m->mair_known;
	a.type = (unsigned)(m->mair >> (8 * (field & 7))) & 0xff;
	/* 0x0X Device; 0x44 Normal non-cacheable inner+outer. */
	a.cacheable = (a.type & 0xf0) != 0 && a.type != 0x44;
	if (!a.known)
		a.type = field & 7; /* only the index is known */
	return a;
}

/*
 * What changed between two valid descriptors that needs a break, written
 * to `what`; false if nothing did. `*unsure`: it depends on state the
 * trace did not give (an unknown MAIR_EL2).
 */
static bool bbm_changes(const struct model *m, unsigned comp, int level,
			uint64_t old, uint64_t new, char *what, size_t len,
			bool *unsure)
{
	uint64_t size = 1ull << (12 + 9 * (3 - level));
	uint64_t oa_mask = BBM_ADDR_MASK;
	struct bbm_attr a, b;
	size_t n = 0;

	*unsure = false;
	what[0] = 0;
	if (bbm_table(old, level) != bbm_table(new, level)) {
		snprintf(what, len, "%s -> %s (%s without the break)",
			 bbm_kind(old, level), bbm_kind(new, level),
			 bbm_table(new, level) ? "a split" : "a collapse");
		return true;
	}
	if (!bbm_table(old, level))
		oa_mask &= ~(size - 1);
	if ((old & oa_mask) != (new &oa_mask))
		n += (size_t)snprintf(
			what + n, len - n, "%soutput address 0x%llx -> 0x%llx",
			n ? ", " : "", (unsigned long long)(old & oa_mask),
			(unsigned long long)(new &oa_mask));
	if (bbm_table(old, level))
		return n != 0; /* table attributes are permissions only */
	if ((old ^ new) & BBM_CONTIG)
		n += (size_t)snprintf(what + n, len - n,
				      "%sthe Contiguous bit (size of the "
				      "translation)",
				      n ? ", " : "");
	a = bbm_attr(m, comp, old);
	b = bbm_attr(m, comp, new);
	if (a.type != b.type) {
		if (!a.known) {
			*unsure = true;
		} else {
			n += (size_t)snprintf(
				what + n, len - n,
				"%smemory type/cacheability (%s 0x%x -> 0x%x)",
				n ? ", " : "",
				comp == PKVM_COMP_HOST_S2 ? "MemAttr"
							  : "MAIR attribute",
				a.type, b.type);
		}
	} else if (a.cacheable && b.cacheable && a.sh != b.sh) {
		n += (size_t)snprintf(what + n, len - n,
				      "%sshareability (SH %u -> %u)",
				      n ? ", " : "", a.sh, b.sh);
	}
	return n != 0;
}

/* Report one store that replaced `old` (made at event `made` - 1, if not 0). */
static void bbm_report(struct ck_findings *out, const struct ck_event *ev,
		       const struct model_table *t, unsigned idx, uint64_t old,
		       uint64_t made, const char *what, bool broken)
{
	uint64_t size = 1ull << (12 + 9 * (3 - t->level));
	uint64_t base = t->base + idx * size;
	char from[48] = "";

	if (made)
		snprintf(from, sizeof(from), ", stored at #%llu",
			 (unsigned long long)(made - 1));
	ck_finding(
		out, "break-before-make", ev, base, made != 0,
		made ? made - 1 : 0,
		"%s: cpu%u's store at #%llu (level-%d descriptor at 0x%llx) "
		"makes the valid %s 0x%llx for %s [0x%llx, 0x%llx) %s the "
		"valid %s 0x%llx%s; changed: %s. It must first store an "
		"invalid descriptor and complete its TLB invalidation (DSB, "
		"TLBI, DSB), Arm ARM D8.14.1",
		bbm_comp_name(t->comp), ev->cpu, (unsigned long long)ev->index,
		t->level, (unsigned long long)ev->w[0],
		bbm_kind(ev->w[1], t->level), (unsigned long long)ev->w[1],
		t->comp == PKVM_COMP_HOST_S2 ? "IPA" : "VA",
		(unsigned long long)base, (unsigned long long)(base + size),
		broken ? "before the TLB invalidation of its break removed"
		       : "directly over",
		bbm_kind(old, t->level), (unsigned long long)old, from, what);
}

static void bbm_store(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	uint64_t pa = ev->w[0], value = ev->w[1], old, made, size;
	const struct tlb_pending *p = NULL;
	const struct model_table *t;
	bool changed, unsure, broken = false;
	char what[200];
	unsigned idx;
	int ti;

	(void)self;
	ti = model_table_find(m, pa);
	if (ti < 0)
		return;
	t = m->tables[ti];
	idx = (unsigned)((pa & 0xfff) >> 3);
	old = t->desc[idx];
	made = t->writer[idx];
	if (!bbm_valid(value, t->level) || !model_table_attached(m, ti))
		return;
	if (!bbm_valid(old, t->level)) {
		p = tlb_open_break(rules_self(env->rules, &rule_tlb), ev->cpu,
				   pa);
		if (!p)
			return;
		old = p->old;
		made = p->write + 1;
		broken = true;
	}
	size = 1ull << (12 + 9 * (3 - t->level));
	changed = bbm_changes(m, t->comp, t->level, old, value, what,
			      sizeof(what), &unsure);
	if (!changed && !unsure)
		return;
	if (p ? p->unsure
	      : view_range_unsure(env->view, t->comp, t->base + idx * size,
				  size)) {
		ck_inconclusive(env->out,
				"cpu%u: break-before-make at the %s store "
				"#%llu: records were lost",
				ev->cpu, bbm_comp_name(t->comp),
				(unsigned long long)ev->index);
		return;
	}
	if (!changed) {
		ck_inconclusive(env->out,
				"cpu%u: break-before-make at the hyp stage-1 "
				"store #%llu: its attribute index changed and "
				"MAIR_EL2 is unknown",
				ev->cpu, (unsigned long long)ev->index);
		return;
	}
	bbm_report(env->out, ev, t, idx, old, made, what, broken);
}

const struct ck_rule rule_bbm = {
	.name = "bbm",
	.store_before = bbm_store,
};
