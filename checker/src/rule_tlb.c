// SPDX-License-Identifier: MIT
/*
 * TLB invalidation after an unmap (check `tlbi-after-unmap`).
 *
 * The rule. When a descriptor store replaces a valid descriptor (page,
 * block or table) with an invalid one, TLBs and walk caches may still hold
 * translations for the whole input range that descriptor covered: a page
 * (4 KiB), a level-2 block or table (2 MiB), a level-1 block or table
 * (1 GiB). Until they are invalidated, any CPU may keep using the old
 * mapping, so the store alone does not unmap anything (Arm ARM D8.13, "TLB
 * maintenance", and the break-before-make sequence in D8.14.1). The writer
 * must therefore, after the store and on the same CPU, before it lets the
 * component's lock go (other CPUs then act on the new state), or, for a
 * store made without the lock, before its trap exits:
 *
 *   hyp stage-1 (EL2 VA):   DSB  TLBI  DSB
 *   host stage-2 (IPA):     DSB  TLBI-IPA  DSB  TLBI-S1  DSB
 *
 * - The first DSB (ishst, ish or sy) makes the store visible to the
 *   table walkers before the invalidation: a TLBI issued before it may
 *   complete while walkers still see the old descriptor and refill from it.
 *   A DMB is not enough: it does not order the store against the TLBI.
 * - The TLBI must cover the range, in the Inner Shareable domain (the
 *   tables are shared by every CPU): stage 1 `vae2is` of a VA inside the
 *   range, or `alle2is`; stage 2 `ipas2e1is` of an IPA inside the range, or
 *   `vmalls12e1is` / `alle1is`, which drop every stage-2 and combined
 *   entry of the VMID (all VMIDs for alle1is) at once.
 * - Stage 2 needs a second invalidation. With stage 1 in use at EL1 the
 *   TLB may hold combined stage-1+2 entries, tagged by VA, not by IPA, and
 *   `ipas2e1is` is not required to remove them (Arm ARM, TLBI IPAS2E1IS:
 *   "stage 2 only"). So the host's stage-1 entries of the VMID are dropped
 *   too: `vmalle1is` (or vmalls12e1is / alle1is). It must come after a
 *   DSB ISH that completed the `ipas2e1is`: otherwise a walk on another
 *   CPU can rebuild a combined entry from the old stage-2 entry between
 *   the two. This is pKVM's __kvm_tlb_flush_vmid_ipa: `tlbi ipas2e1is;
 *   dsb ish; tlbi vmalle1is; dsb ish; isb`. The hyp cannot know whether
 *   the host's stage 1 is on (SCTLR_EL1 is the host's), so it is required
 *   for every host stage-2 unmap.
 * - The last DSB (ish or sy; an ST-only DSB does not wait for TLB
 *   maintenance) completes the invalidation on every CPU. The ISB that
 *   usually follows only matters to the issuing CPU's own instruction
 *   stream, and exception return synchronises that anyway: not required.
 *
 * What is deliberately not required (no false alarms):
 * - Valid -> valid stores. The hyp changes only the software state bits
 *   (55-56) under a live mapping; the hardware ignores them, so stale
 *   entries are harmless. Other valid -> valid changes are break-before-make
 *   questions, a separate rule (bbm.c).
 * - For a removed block, an address anywhere inside the block: a TLBI by
 *   address invalidates the entries of the block that contains it.
 * - For a removed table descriptor, likewise one address inside its range.
 *   The architecture would want every leaf under it invalidated (or a
 *   broad op) as well as the walk caches; requiring one address is a sound
 *   under-approximation: it never reports a correct sequence. This hyp
 *   never removes table descriptors.
 * - TLBI by address with a TTL level hint (operand bits 47:44) counts only
 *   if the hint is 0 or names the unmapped leaf's level (4 KiB granule).
 * - The non-shareable forms (alle2, vmalls12e1, dsb nsh) count only on a
 *   one-CPU machine (BOOT cpu count 1), where no other TLB exists.
 * - The host runs with VMID 0 (VTTBR_EL2, hyp/arch/aarch64 cpu.h): the
 *   VMID-tagged ops count for host stage-2 only with VMID 0 (alle1is: any).
 * - Barriers and TLBIs of other CPUs do not count: a DSB only orders and
 *   completes the issuing CPU's own accesses and maintenance.
 *
 * Loss. Records of the writer lost between the store and the judgement
 * may have held the maintenance; and a store after another CPU lost
 * records under the lock may have replaced a descriptor the shadow no
 * longer knows (its pages are unknown, replay.c "loss"). Both make the
 * unmap inconclusive, never a finding.
 *
 * The hooks: descriptor stores (before the model applies them: the old
 * descriptor), TLBI and BARRIER events, component lock releases (before
 * the lock goes), trap exits, loss. bbm.c reads the unmaps still waiting
 * (tlb_open_break): a break that is not finished.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "rule_tlb.h"

/* VMID of host stage-2 (VTTBR_EL2 as the hyp writes it). */
#define TLB_HOST_VMID 0u

/* TLBI by address: operand bits 43:0 the page, 47:44 the TTL hint. */
#define TLB_PAGE_MASK ((1ull << 44) - 1)
#define TLB_TTL_SHIFT 44
#define TLB_TTL_4K 0x4u /* TTL[3:2] = 0b01: 4 KiB granule */

static const char *tlb_comp_name(unsigned comp)
{
	return comp == PKVM_COMP_HOST_S2 ? "host stage-2" : "hyp stage-1";
}

static const char *tlb_lock_name(unsigned comp)
{
	return comp == PKVM_COMP_HOST_S2 ? "host_s2" : "hyp_s1";
}

/* Valid: a table, block or page descriptor (0b01 at level 3 is invalid). */
static bool tlb_valid(uint64_t d, int level)
{
	return (d & 1) && !(level == 3 && (d & 3) == 1);
}

static unsigned tlb_shift(int level)
{
	return (unsigned)(12 + 9 * (3 - level));
}

/** Per CPU: its unmaps waiting for TLB maintenance, oldest first. */
struct tlb_cpu {
	struct tlb_pending pend[TLB_MAX_PENDING];
	unsigned count;
};

/* The rule's state: per CPU, the unmaps waiting for their maintenance. */
struct tlb_rule {
	struct tlb_cpu cpu[CK_MAX_CPUS];
};

/* A store that replaces a valid descriptor with an invalid one waits. */
static void tlb_store(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct tlb_cpu *tc = &((struct tlb_rule *)self)->cpu[ev->cpu];
	const struct model *m = view_model(env->view);
	uint64_t pa = ev->w[0], value = ev->w[1];
	const struct model_table *t;
	struct tlb_pending *p;
	unsigned idx;
	int ti;

	if ((value & 3) == 3)
		return; /* a table or page descriptor: valid at every level */
	ti = model_table_find(m, pa);
	if (ti < 0 || !model_table_attached(m, ti))
		return; /* no live translation goes through it */
	t = m->tables[ti];
	idx = (unsigned)((pa & 0xfff) >> 3);
	if (!tlb_valid(t->desc[idx], t->level) || tlb_valid(value, t->level))
		return;
	if (tc->count == TLB_MAX_PENDING) {
		ck_inconclusive(env->out,
				"cpu%u: more than %u unmaps wait for TLB "
				"maintenance at once: not checked",
				ev->cpu, TLB_MAX_PENDING);
		return;
	}
	p = &tc->pend[tc->count++];
	memset(p, 0, sizeof(*p));
	p->size = 1ull << tlb_shift(t->level);
	p->base = t->base + idx * p->size;
	p->write = ev->index;
	p->pa = pa;
	p->old = t->desc[idx];
	p->value = value;
	p->comp = t->comp;
	p->level = t->level;
	p->step = TLB_STEP_DSB_BEFORE;
	p->table = t->level < 3 && (p->old & 3) == 3;
	/* lock id = comp id */
	p->locked = view_cpu_holds_comp(env->view, ev->cpu, t->comp);
	p->unsure = view_range_unsure(env->view, t->comp, p->base, p->size);
}

/* ---- the sequence --------------------------------------------------- */

/* A DSB that orders the store before what follows (step DSB_BEFORE). */
static bool tlb_dsb_orders(unsigned op, bool one_cpu)
{
	return op == PKVM_BARRIER_DSB_ISHST || op == PKVM_BARRIER_DSB_ISH ||
	       op == PKVM_BARRIER_DSB_SY ||
	       (one_cpu && op == PKVM_BARRIER_DSB_NSH);
}

/* A DSB that waits for earlier TLB maintenance to complete. */
static bool tlb_dsb_completes(unsigned op, bool one_cpu)
{
	return op == PKVM_BARRIER_DSB_ISH || op == PKVM_BARRIER_DSB_SY ||
	       (one_cpu && op == PKVM_BARRIER_DSB_NSH);
}

static void tlb_on_barrier(struct tlb_pending *p, unsigned op, bool one_cpu)
{
	switch (p->step) {
	case TLB_STEP_DSB_BEFORE:
		if (tlb_dsb_orders(op, one_cpu))
			p->step = TLB_STEP_TLBI;
		return;
	case TLB_STEP_DSB_MID:
		if (tlb_dsb_completes(op, one_cpu))
			p->step = TLB_STEP_S1_TLBI;
		return;
	case TLB_STEP_DSB_AFTER:
		if (tlb_dsb_completes(op, one_cpu))
			p->step = TLB_STEP_DONE;
		return;
	default:
		return;
	}
}

/* A TLBI by address (page number in the operand) inside the range. */
static bool tlb_addr_covers(const struct tlb_pending *p, uint64_t operand)
{
	uint64_t page = operand & TLB_PAGE_MASK;
	unsigned ttl = (unsigned)(operand >> TLB_TTL_SHIFT) & 0xf;

	if (ttl != 0 &&
	    (p->table ||
	     (p->level < 0 || ttl != (TLB_TTL_4K | (unsigned)p->level))))
		return false;
	return page >= p->base >> MODEL_PAGE_SHIFT &&
	       page < (p->base + p->size) >> MODEL_PAGE_SHIFT;
}

/*
 * A range TLBI (RIPAS2E1IS and friends, FEAT_TLBIRANGE) inside the range:
 * operand BaseADDR[36:0] (pages, 4 KiB granule), NUM[43:39], SCALE[45:44],
 * TG[47:46] (0b01: 4 KiB); it covers (NUM + 1) << (5 * SCALE + 1) pages.
 * Another granule, or a TTL hint other than 0 or the leaf's level, does
 * not count. The unmapped range must lie wholly inside it.
 */
static bool tlb_range_covers(const struct tlb_pending *p, uint64_t operand)
{
	uint64_t base = operand & ((1ull << 37) - 1);
	uint64_t num = (operand >> 39) & 0x1f, scale = (operand >> 44) & 3;
	uint64_t pages = (num + 1) << (5 * scale + 1);
	unsigned ttl = (unsigned)(operand >> 37) & 3;
	uint64_t first = p->base >> MODEL_PAGE_SHIFT;
	uint64_t last = (p->base + p->size - 1) >> MODEL_PAGE_SHIFT;

	if (((operand >> 46) & 3) != 1)
		return false;
	if (ttl != 0 && (p->table || p->level < 0 || ttl != (unsigned)p->level))
		return false;
	return first >= base && last < base + pages;
}

/* How one TLBI relates to an unmap of host stage-2 or hyp stage-1. */
enum tlb_cover {
	TLB_COVER_NONE,	 /* unrelated */
	TLB_COVER_OTHER, /* the right kind, other addresses */
	TLB_COVER_S2,	 /* the stage-2 entries of the range only */
	TLB_COVER_S1,	 /* the host's stage-1 (combined) entries only */
	TLB_COVER_ALL,	 /* everything the unmap needs invalidated */
};

static enum tlb_cover tlb_cover(const struct tlb_pending *p, uint64_t op,
				uint64_t operand, bool one_cpu)
{
	unsigned id = (unsigned)(op & 0xffff);
	bool host_vmid = ((op >> 16) & 0xffff) == TLB_HOST_VMID;

	if (p->comp == PKVM_COMP_HYP_S1) {
		/* A last-level (leaf-only) TLBI leaves the walk caches: it
		 * covers a removed leaf, not a removed table. */
		if (id == PKVM_TLBI_VAE2IS ||
		    (one_cpu && id == PKVM_TLBI_VAE2) ||
		    (!p->table && (id == PKVM_TLBI_VALE2IS ||
				   (one_cpu && id == PKVM_TLBI_VALE2))))
			return tlb_addr_covers(p, operand) ? TLB_COVER_ALL
							   : TLB_COVER_OTHER;
		return id == PKVM_TLBI_ALLE2IS ||
				       (one_cpu && id == PKVM_TLBI_ALLE2)
			       ? TLB_COVER_ALL
			       : TLB_COVER_NONE;
	}
	if (id == PKVM_TLBI_ALLE1IS ||
	    (host_vmid && (id == PKVM_TLBI_VMALLS12E1IS ||
			   (one_cpu && id == PKVM_TLBI_VMALLS12E1))))
		return TLB_COVER_ALL;
	if (id == PKVM_TLBI_IPAS2E1IS || (one_cpu && id == PKVM_TLBI_IPAS2E1) ||
	    (!p->table && id == PKVM_TLBI_IPAS2LE1IS))
		return host_vmid && tlb_addr_covers(p, operand)
			       ? TLB_COVER_S2
			       : TLB_COVER_OTHER;
	if (id == PKVM_TLBI_RIPAS2E1IS ||
	    (!p->table && id == PKVM_TLBI_RIPAS2LE1IS))
		return host_vmid && tlb_range_covers(p, operand)
			       ? TLB_COVER_S2
			       : TLB_COVER_OTHER;
	if (id == PKVM_TLBI_ALLE1 && one_cpu)
		return TLB_COVER_ALL;
	if (host_vmid &&
	    (id == PKVM_TLBI_VMALLE1IS || (one_cpu && id == PKVM_TLBI_VMALLE1)))
		return TLB_COVER_S1;
	return TLB_COVER_NONE;
}

/* The step a covering invalidation leads to: stage 2 may need a second. */
static enum tlb_step tlb_after(const struct tlb_pending *p,
			       enum tlb_cover cover)
{
	if (p->comp == PKVM_COMP_HOST_S2 && cover == TLB_COVER_S2)
		return TLB_STEP_DSB_MID;
	return TLB_STEP_DSB_AFTER;
}

static void tlb_on_tlbi(struct tlb_pending *p, uint64_t op, uint64_t operand,
			bool one_cpu)
{
	enum tlb_cover cover = tlb_cover(p, op, operand, one_cpu);

	switch (p->step) {
	case TLB_STEP_DSB_BEFORE:
		/* Not ordered after the store: it does not count. */
		if (cover == TLB_COVER_ALL || cover == TLB_COVER_S2)
			p->early_tlbi = true;
		return;
	case TLB_STEP_TLBI:
		if (cover == TLB_COVER_ALL || cover == TLB_COVER_S2)
			p->step = (uint8_t)tlb_after(p, cover);
		else if (cover == TLB_COVER_OTHER)
			p->other_tlbi = true;
		return;
	case TLB_STEP_DSB_MID:
		if (cover == TLB_COVER_ALL)
			p->step = TLB_STEP_DSB_AFTER;
		else if (cover == TLB_COVER_S1)
			p->early_s1 = true; /* ipas2e1is not complete yet */
		return;
	case TLB_STEP_S1_TLBI:
		if (cover == TLB_COVER_ALL || cover == TLB_COVER_S1)
			p->step = TLB_STEP_DSB_AFTER;
		return;
	default:
		return;
	}
}

/* Drop the unmaps whose maintenance is complete, keeping the order. */
static void tlb_compact(struct tlb_cpu *tc)
{
	unsigned n = 0;

	for (unsigned i = 0; i < tc->count; i++)
		if (tc->pend[i].step != TLB_STEP_DONE)
			tc->pend[n++] = tc->pend[i];
	tc->count = n;
}

static void tlb_maintenance(void *self, const struct ck_env *env,
			    const struct ck_event *ev)
{
	struct tlb_cpu *tc = &((struct tlb_rule *)self)->cpu[ev->cpu];
	bool one_cpu;

	if (tc->count == 0)
		return;
	one_cpu = view_boot(env->view)->cpu_count == 1;
	for (unsigned i = 0; i < tc->count; i++) {
		if (ev->kind == PKVM_EV_BARRIER)
			tlb_on_barrier(&tc->pend[i], (unsigned)ev->w[0],
				       one_cpu);
		else if (ev->kind == PKVM_EV_TLBI)
			tlb_on_tlbi(&tc->pend[i], ev->w[0], ev->w[1], one_cpu);
	}
	tlb_compact(tc);
}

/* ---- judgement ------------------------------------------------------ */

static const char *tlb_missing(const struct tlb_pending *p)
{
	bool s2 = p->comp == PKVM_COMP_HOST_S2;

	if (p->early_tlbi && p->step <= TLB_STEP_TLBI)
		return "the TLBI covering it came before any DSB ordered the "
		       "store (TLBI before DSB), so walkers may refill from "
		       "the old descriptor";
	switch (p->step) {
	case TLB_STEP_DSB_BEFORE:
		return "no DSB after the store, and so no TLBI ordered after "
		       "it";
	case TLB_STEP_TLBI:
		if (p->other_tlbi)
			return s2 ? "no TLBI covering the range: the "
				    "ipas2e1is issued name other IPAs (or "
				    "another VMID)"
				  : "no TLBI covering the range: the vae2is "
				    "issued name other VAs";
		return "no TLBI covering the range after the DSB";
	case TLB_STEP_DSB_MID:
	case TLB_STEP_S1_TLBI:
		if (p->early_s1)
			return "vmalle1is came before a DSB ISH completed the "
			       "ipas2e1is, so a walk could rebuild a combined "
			       "entry from the old stage-2 entry";
		if (p->step == TLB_STEP_DSB_MID)
			return "no DSB ISH completing the ipas2e1is, and so no "
			       "stage-1 invalidation after it";
		return "no vmalle1is (or vmalls12e1is, alle1is) after the "
		       "ipas2e1is and its DSB: combined stage-1+2 entries are "
		       "tagged by VA and survive ipas2e1is";
	default:
		return "no DSB ISH (or SY) after the TLBI to complete it";
	}
}

/* Judge one unmap whose time is up: a finding, or inconclusive. */
static void tlb_judge(const struct ck_env *env, const struct ck_event *ev,
		      const struct tlb_pending *p)
{
	bool s2 = p->comp == PKVM_COMP_HOST_S2;
	char when[64];

	if (p->unsure) {
		ck_inconclusive(env->out,
				"cpu%u: TLB maintenance after the %s unmap "
				"at #%llu: records were lost",
				ev->cpu, tlb_comp_name(p->comp),
				(unsigned long long)p->write);
		return;
	}
	if (p->locked)
		snprintf(when, sizeof(when), "before cpu%u lets %s go", ev->cpu,
			 tlb_lock_name(p->comp));
	else
		snprintf(when, sizeof(when),
			 "before its trap exits (stored without %s)",
			 tlb_lock_name(p->comp));
	ck_finding(env->out, "tlbi-after-unmap", ev, p->base, true, p->write,
		   "%s: the store at #%llu (level-%d %s descriptor at 0x%llx, "
		   "0x%llx -> 0x%llx) unmapped %s [0x%llx, 0x%llx); %s, cpu%u "
		   "must issue %s; missing: %s",
		   tlb_comp_name(p->comp), (unsigned long long)p->write,
		   p->level,
		   p->table	   ? "table"
		   : p->level == 3 ? "page"
				   : "block",
		   (unsigned long long)p->pa, (unsigned long long)p->old,
		   (unsigned long long)p->value, s2 ? "IPA" : "VA",
		   (unsigned long long)p->base,
		   (unsigned long long)(p->base + p->size), when, ev->cpu,
		   s2 ? "a DSB (ishst, ish or sy), tlbi ipas2e1is of an IPA in "
			"the range, dsb ish, tlbi vmalle1is, dsb ish (or "
			"vmalls12e1is / alle1is for both TLBIs)"
		      : "a DSB (ishst, ish or sy), tlbi vae2is of a VA in the "
			"range (or alle2is), dsb ish",
		   tlb_missing(p));
}

/*
 * Judge, in store order, and drop this CPU's waiting unmaps: those of
 * component `comp` made under its lock (`locked`), or those made without.
 */
static void tlb_judge_some(struct tlb_cpu *tc, const struct ck_env *env,
			   const struct ck_event *ev, bool locked,
			   unsigned comp)
{
	for (unsigned i = 0; i < tc->count; i++) {
		struct tlb_pending *p = &tc->pend[i];

		if (p->locked != locked || (locked && p->comp != comp))
			continue;
		tlb_judge(env, ev, p);
		p->step = TLB_STEP_DONE;
	}
	tlb_compact(tc);
}

/* Before a component lock goes: the unmaps made under it are judged. */
static void tlb_release(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct tlb_cpu *tc = &((struct tlb_rule *)self)->cpu[ev->cpu];
	unsigned comp = view_lock_comp(env->view, (unsigned)ev->w[0]);

	if (tc->count == 0)
		return;
	if (comp == PKVM_COMP_HOST_S2 || comp == PKVM_COMP_HYP_S1)
		tlb_judge_some(tc, env, ev, true, comp);
}

/* At a trap's exit: the unmaps made without the lock are judged. */
static void tlb_trap_exit(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct tlb_cpu *tc = &((struct tlb_rule *)self)->cpu[ev->cpu];

	if (tc->count == 0)
		return;
	tlb_judge_some(tc, env, ev, false, 0);
}

static void tlb_loss(void *self, const struct ck_env *env, unsigned cpu)
{
	struct tlb_cpu *tc = &((struct tlb_rule *)self)->cpu[cpu];

	(void)env;
	for (unsigned i = 0; i < tc->count; i++)
		tc->pend[i].unsure = true;
}

const struct tlb_pending *tlb_open_break(const void *tlb, unsigned cpu,
					 uint64_t pa)
{
	const struct tlb_cpu *tc = &((const struct tlb_rule *)tlb)->cpu[cpu];

	for (unsigned i = tc->count; i-- > 0;)
		if (tc->pend[i].pa == pa)
			return &tc->pend[i];
	return NULL;
}

static void *tlb_create(const struct ck_env *env, unsigned cpu_count)
{
	struct tlb_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_tlb = {
	.name = "tlb",
	.create = tlb_create,
	.destroy = free,
	.store_before = tlb_store,
	.maintenance = tlb_maintenance,
	.lock_release = tlb_release,
	.trap_exit = tlb_trap_exit,
	.loss = tlb_loss,
};
