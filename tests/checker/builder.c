// SPDX-License-Identifier: MIT
/* The trace builder of the checker's unit tests (builder.h). */
#include "builder.h"

#include <stdlib.h>
#include <string.h>

static void tb_push(struct tb *b, unsigned cpu, const struct pkvm_record *r)
{
	if (b->count[cpu] == b->cap[cpu]) {
		b->cap[cpu] = b->cap[cpu] ? 2 * b->cap[cpu] : 256;
		b->recs[cpu] = realloc(b->recs[cpu],
				       b->cap[cpu] * sizeof(*b->recs[cpu]));
		if (!b->recs[cpu])
			abort();
	}
	b->recs[cpu][b->count[cpu]++] = *r;
}

void tb_event(struct tb *b, unsigned cpu, unsigned kind, const uint64_t *w,
	      unsigned nwords)
{
	unsigned ncont = pkvm_event_ncont(kind);
	uint64_t ts = b->ts += 10;

	for (unsigned i = 0; i <= ncont; i++) {
		struct pkvm_record r = { 0 };

		r.ts = ts;
		r.kind = (uint8_t)kind;
		r.flags = (uint8_t)(i ? (PKVM_REC_F_CONT | i) : ncont);
		r.cpu = (uint16_t)cpu;
		r.seq = b->seq[cpu]++;
		r.a = 2 * i < nwords ? w[2 * i] : 0;
		r.b = 2 * i + 1 < nwords ? w[2 * i + 1] : 0;
		tb_push(b, cpu, &r);
	}
}

void tb_init(struct tb *b, unsigned ncpu)
{
	memset(b, 0, sizeof(*b));
	b->ncpu = ncpu;
	b->next_pool = TB_POOL_START + 0x2000;
}

void tb_set_form(struct tb *b, enum tb_form form)
{
	b->compact = form != TB_CANONICAL;
	b->fused = form == TB_FUSED;
}

void tb_free(struct tb *b)
{
	for (unsigned i = 0; i < 8; i++)
		free(b->recs[i]);
}

unsigned tb_abi(const struct tb *b)
{
	return b->abi ? b->abi : PKVM_ABI_VERSION;
}

void tb_sync(struct tb *b, unsigned cpu)
{
	unsigned u = b->unsynced[cpu];

	b->unsynced[cpu] = 0;
	if (!u || b->no_sync)
		return;
	tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISHST);
	if (u & (1u << PKVM_COMP_HYP_S1))
		tb_barrier(b, cpu, PKVM_BARRIER_ISB);
}

/* A table lock goes: the barriers the entries made valid under it need. */
static void tb_sync_for(struct tb *b, unsigned cpu, unsigned lock)
{
	if (lock == PKVM_LOCK_HOST_S2 || lock == PKVM_LOCK_HYP_S1)
		tb_sync(b, cpu);
}

void tb_lock(struct tb *b, unsigned cpu, unsigned lock)
{
	uint64_t w[2] = { lock, b->ticket[lock] };

	tb_event(b, cpu, PKVM_EV_LOCK_ACQUIRE, w, 2);
}

void tb_unlock(struct tb *b, unsigned cpu, unsigned lock)
{
	uint64_t w[2];

	tb_sync_for(b, cpu, lock);
	w[0] = lock;
	w[1] = b->ticket[lock]++;

	tb_event(b, cpu, PKVM_EV_LOCK_RELEASE, w, 2);
}

/*
 * Two locks back to back: one LOCK_ACQUIRE2/LOCK_RELEASE2 record in compact
 * mode, else the two single records it stands for.
 */
static void tb_lock_pair(struct tb *b, unsigned cpu, unsigned first,
			 unsigned second, bool acquire)
{
	uint64_t w[2] = { first | (uint64_t)second << 32,
			  b->ticket[first] | b->ticket[second] << 32 };
	void (*one)(struct tb *, unsigned, unsigned) =
		acquire ? tb_lock : tb_unlock;

	if (!acquire)
		tb_sync_for(b, cpu, first);
	if (!b->compact) {
		one(b, cpu, first);
		one(b, cpu, second);
		return;
	}
	if (!acquire) {
		b->ticket[first]++;
		b->ticket[second]++;
	}
	tb_event(b, cpu,
		 acquire ? PKVM_EV_LOCK_ACQUIRE2 : PKVM_EV_LOCK_RELEASE2, w, 2);
}

void tb_lock2(struct tb *b, unsigned cpu, unsigned first, unsigned second)
{
	tb_lock_pair(b, cpu, first, second, true);
}

void tb_unlock2(struct tb *b, unsigned cpu, unsigned first, unsigned second)
{
	tb_lock_pair(b, cpu, first, second, false);
}

void tb_barrier(struct tb *b, unsigned cpu, unsigned op)
{
	uint64_t w[2] = { op, 0 };

	tb_event(b, cpu, PKVM_EV_BARRIER, w, 2);
}

void tb_tlbi(struct tb *b, unsigned cpu, unsigned op, uint64_t operand,
	     unsigned flags)
{
	uint64_t w[2] = { op, operand };

	if (b->compact) {
		tb_event(b, cpu, PKVM_EV_TLBI, w, 2);
		b->recs[cpu][b->count[cpu] - 1].flags |= (uint8_t)flags;
		return;
	}
	if (flags & PKVM_REC_F_TLBI_DSB_ISHST_BEFORE)
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISHST);
	tb_event(b, cpu, PKVM_EV_TLBI, w, 2);
	if (flags & PKVM_REC_F_TLBI_DSB_ISH_AFTER)
		tb_barrier(b, cpu, PKVM_BARRIER_DSB_ISH);
	if (flags & PKVM_REC_F_TLBI_ISB_AFTER)
		tb_barrier(b, cpu, PKVM_BARRIER_ISB);
}

void tb_tlb_flush(struct tb *b, unsigned cpu, bool stage2, uint64_t addr)
{
	if (stage2) {
		tb_tlbi(b, cpu, PKVM_TLBI_IPAS2E1IS, addr >> 12,
			PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
				PKVM_REC_F_TLBI_DSB_ISH_AFTER);
		tb_tlbi(b, cpu, PKVM_TLBI_VMALLE1IS, 0,
			PKVM_REC_F_TLBI_DSB_ISH_AFTER |
				PKVM_REC_F_TLBI_ISB_AFTER);
	} else {
		tb_tlbi(b, cpu, PKVM_TLBI_VAE2IS, addr >> 12,
			PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
				PKVM_REC_F_TLBI_DSB_ISH_AFTER |
				PKVM_REC_F_TLBI_ISB_AFTER);
	}
}

/* Where the builder keeps the last value stored at descriptor `pa`. */
static uint64_t *tb_pte_slot(struct tb *b, uint64_t pa)
{
	for (unsigned i = 0; i < b->pte_count; i++)
		if (b->pte_pa[i] == pa)
			return &b->pte_val[i];
	if (b->pte_count == sizeof(b->pte_pa) / sizeof(b->pte_pa[0]))
		abort();
	b->pte_pa[b->pte_count] = pa;
	b->pte_val[b->pte_count] = 0;
	return &b->pte_val[b->pte_count++];
}

static uint64_t tb_root(unsigned comp);

/* The component and level of the table page the builder installed at
 * `page`, or false. */
static bool tb_table_of(const struct tb *b, uint64_t page, unsigned *comp,
			unsigned *level)
{
	for (unsigned c = 1; c < 3; c++) {
		*comp = c;
		*level = 1;
		if (page == tb_root(c))
			return true;
		*level = 2;
		if (page == b->l2[c] || page == b->l2_low[c])
			return true;
		*level = 3;
		for (unsigned i = 0; i < b->l3_count[c]; i++)
			if (page == b->l3_pa[c][i])
				return true;
	}
	return false;
}

static bool tb_valid(uint64_t d, unsigned level)
{
	return (d & 1) && !(level == 3 && (d & 3) == 1);
}

void tb_pte(struct tb *b, unsigned cpu, uint64_t pa, uint64_t val)
{
	uint64_t w[2] = { pa, val };
	uint64_t *slot = tb_pte_slot(b, pa);
	unsigned comp, level;

	if (tb_table_of(b, pa & ~0xfffull, &comp, &level) &&
	    !tb_valid(*slot, level) && tb_valid(val, level))
		b->unsynced[cpu] |= 1u << comp;
	*slot = val;
	tb_event(b, cpu, PKVM_EV_PTE_WRITE, w, 2);
}

/*
 * A level-3 store of a correct hyp: when it replaces a valid page with an
 * invalid descriptor, the TLB maintenance for `pfn` follows at once.
 */
static void tb_pte_l3(struct tb *b, unsigned cpu, unsigned comp, uint64_t pfn,
		      uint64_t val)
{
	uint64_t pa = tb_l3(b, cpu, comp, pfn);
	bool unmaps = (*tb_pte_slot(b, pa) & 3) == 3 && (val & 3) != 3;

	tb_pte(b, cpu, pa, val);
	if (unmaps)
		tb_tlb_flush(b, cpu, comp == PKVM_COMP_HOST_S2, pfn << 12);
}

void tb_nondet(struct tb *b, unsigned cpu, unsigned what, uint64_t value,
	       uint64_t addr, uint64_t aux)
{
	uint64_t w[4] = { what, value, addr, aux };

	tb_event(b, cpu, PKVM_EV_NONDET, w, 4);
}

void tb_mark(struct tb *b, unsigned cpu, unsigned what, uint64_t arg)
{
	uint64_t w[2] = { what, arg };

	tb_event(b, cpu, PKVM_EV_MARK, w, 2);
}

uint64_t tb_s2_page(uint64_t pa, uint64_t state)
{
	return pa | 3 | (0xfull << 2) | (3ull << 6) | (3ull << 8) |
	       (1ull << 10) | state;
}

uint64_t tb_s2_device(uint64_t pa)
{
	return pa | 3 | (0x1ull << 2) | (3ull << 6) | (1ull << 10);
}

uint64_t tb_s1_page(uint64_t pa, uint64_t state)
{
	/* normal, inner shareable, AF, read-write, execute-never */
	return pa | 3 | (3ull << 8) | (1ull << 10) | (1ull << 54) | state;
}

uint64_t tb_s2_owner_hyp(void)
{
	return (uint64_t)PKVM_OWNER_HYP << PKVM_PTE_OWNER_SHIFT;
}

/* A table page from the pool, under the pool lock (0 if it runs out). */
static uint64_t tb_alloc(struct tb *b, unsigned cpu, unsigned comp)
{
	uint64_t pa = b->alloc_fail ? 0 : b->next_pool;

	if (pa)
		b->next_pool += 0x1000;
	b->alloc_fail = false;
	tb_lock(b, cpu, PKVM_LOCK_POOL);
	tb_nondet(b, cpu, PKVM_NONDET_ALLOC_PAGE, pa, 0, comp);
	tb_unlock(b, cpu, PKVM_LOCK_POOL);
	if (pa && tb_abi(b) >= 2 && !(b->no_zero & TB_NO_ZERO_POOL))
		tb_mark(b, cpu, PKVM_MARK_PAGE_ZEROED, pa);
	return pa;
}

static uint64_t tb_root(unsigned comp)
{
	return comp == PKVM_COMP_HOST_S2 ? TB_HOST_ROOT : TB_HYP_ROOT;
}

/* Level-2 table for the 1 GiB slot of `pa` (installed on demand). */
static uint64_t tb_l2(struct tb *b, unsigned cpu, unsigned comp, uint64_t pa)
{
	unsigned i1 = (unsigned)(pa >> 30) & 3;
	uint64_t *slot = i1 == 1 ? &b->l2[comp] : &b->l2_low[comp];

	if (*slot == 0) {
		*slot = tb_alloc(b, cpu, comp);
		tb_pte(b, cpu, tb_root(comp) + 8 * i1, *slot | 3);
	}
	return *slot;
}

uint64_t tb_l3(struct tb *b, unsigned cpu, unsigned comp, uint64_t pfn)
{
	uint64_t pa = pfn << 12;
	unsigned i2 = (unsigned)(pa >> 21) & 511;
	uint64_t l2 = tb_l2(b, cpu, comp, pa), l3 = 0;

	for (unsigned i = 0; i < b->l3_count[comp]; i++)
		if (b->l3_idx[comp][i] == (unsigned)(pa >> 21))
			l3 = b->l3_pa[comp][i];
	if (!l3) {
		l3 = tb_alloc(b, cpu, comp);
		if (!l3)
			return 0; /* the pool ran out: nothing installed */
		b->l3_idx[comp][b->l3_count[comp]] = (unsigned)(pa >> 21);
		b->l3_pa[comp][b->l3_count[comp]++] = l3;
		tb_pte(b, cpu, l2 + 8 * i2, l3 | 3);
	}
	return l3 + 8 * ((pa >> 12) & 511);
}

void tb_sysreg(struct tb *b, unsigned cpu, unsigned reg, uint64_t value)
{
	uint64_t w[2] = { reg, value };

	tb_event(b, cpu, PKVM_EV_SYSREG_WRITE, w, 2);
}

void tb_sysregs(struct tb *b, unsigned cpu, bool mair)
{
	/* HYPERCALLS.md "System registers", in the hyp's order. */
	if (mair)
		tb_sysreg(b, cpu, PKVM_SYSREG_MAIR_EL2,
			  b->mair ? b->mair : 0x04ff);
	tb_sysreg(b, cpu, PKVM_SYSREG_TCR_EL2, TB_TCR_EL2);
	tb_sysreg(b, cpu, PKVM_SYSREG_TTBR0_EL2, TB_HYP_ROOT);
	tb_sysreg(b, cpu, PKVM_SYSREG_SCTLR_EL2, TB_SCTLR_EL2);
	tb_sysreg(b, cpu, PKVM_SYSREG_VBAR_EL2, TB_VBAR_EL2);
	tb_sysreg(b, cpu, PKVM_SYSREG_VTCR_EL2, TB_VTCR_EL2);
	tb_sysreg(b, cpu, PKVM_SYSREG_VTTBR_EL2, TB_HOST_ROOT);
	tb_sysreg(b, cpu, PKVM_SYSREG_HCR_EL2, TB_HCR_EL2);
}

void tb_boot(struct tb *b)
{
	tb_boot_tables(b);
	for (unsigned c = 0; c < b->ncpu; c++) {
		if (c)
			tb_mark(b, c, PKVM_MARK_CPU_UP, c);
		tb_sysregs(b, c, c != 0 || b->mair_late);
		tb_mark(b, c, PKVM_MARK_HOST_ENTER, PKVM_WORKLOAD_BASE);
	}
}

void tb_boot_tables(struct tb *b)
{
	uint64_t boot[14] = { tb_abi(b) | ((uint64_t)b->ncpu << 32),
			      62500000,
			      TB_RAM_BASE,
			      TB_RAM_SIZE,
			      TB_HYP_START,
			      TB_HYP_END,
			      TB_POOL_START,
			      TB_POOL_END,
			      TB_HOST_ROOT,
			      TB_HYP_ROOT,
			      0,
			      0,
			      0,
			      b->boot_flags };
	uint64_t mair[2] = { PKVM_SYSREG_MAIR_EL2, b->mair ? b->mair : 0x04ff };
	bool abi2 = tb_abi(b) >= 2, pair = abi2 && !b->boot_hyp_alone;
	uint64_t l2;

	tb_event(b, 0, PKVM_EV_BOOT, boot, 14);
	if (abi2) {
		/* ABI 2: the layout, and the roots zeroed (abi.h MARK). */
		if (b->text_end || b->rodata_end) {
			tb_mark(b, 0, PKVM_MARK_TEXT_END,
				b->text_end ? b->text_end : TB_HYP_START);
			tb_mark(b, 0, PKVM_MARK_RODATA_END,
				b->rodata_end ? b->rodata_end : TB_HYP_START);
		}
		if (!(b->no_zero & TB_NO_ZERO_ROOTS)) {
			tb_mark(b, 0, PKVM_MARK_PAGE_ZEROED, TB_HOST_ROOT);
			tb_mark(b, 0, PKVM_MARK_PAGE_ZEROED, TB_HYP_ROOT);
		}
	}
	if (!b->mair_late)
		tb_event(b, 0, PKVM_EV_SYSREG_WRITE, mair, 2);
	/* ABI 2 builds both under the pair; ABI 1 one after the other. */
	if (pair)
		tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	else
		tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	/* host stage-2: [hyp_start, hyp_end) is one 2 MiB slot, owner hyp */
	l2 = tb_l2(b, 0, PKVM_COMP_HOST_S2, TB_HYP_START);
	tb_pte(b, 0, l2 + 8 * 1, tb_s2_owner_hyp());
	if (!pair) {
		tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
		tb_lock(b, 0, PKVM_LOCK_HYP_S1);
	}
	/* hyp stage-1: the same slot as one block, OWNED */
	l2 = tb_l2(b, 0, PKVM_COMP_HYP_S1, TB_HYP_START);
	tb_pte(b, 0, l2 + 8 * 1,
	       b->hyp_s1_block ? b->hyp_s1_block
			       : (tb_s1_page(TB_HYP_START, 0) & ~3ull) | 1);
	if (pair)
		tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	else
		tb_unlock(b, 0, PKVM_LOCK_HYP_S1);
}

void tb_entry(struct tb *b, unsigned cpu, uint64_t esr, uint64_t far,
	      uint64_t hpfar, uint64_t x0, uint64_t x1, uint64_t x2)
{
	uint64_t w[8] = { esr, TB_ELR, far, hpfar, x0, x1, x2, 0 };

	b->smc[cpu] = ((esr >> 26) & 0x3f) == 0x17;
	b->entry_x2[cpu] = x2;
	b->entry_x3[cpu] = 0;
	tb_event(b, cpu, PKVM_EV_TRAP_ENTRY, w, 8);
}

void tb_hvc(struct tb *b, unsigned cpu, unsigned id, uint64_t a1, uint64_t a2)
{
	uint64_t w[4] = { TB_ELR, PKVM_HC_BASE | id, a1, a2 };

	if (!b->compact) {
		tb_entry(b, cpu, TB_ESR_HVC, 0, 0, PKVM_HC_BASE | id, a1, a2);
		return;
	}
	b->smc[cpu] = false;
	b->entry_x2[cpu] = a2;
	b->entry_x3[cpu] = 0;
	tb_event(b, cpu, PKVM_EV_HCALL_ENTRY, w, 4);
}

void tb_exit_full(struct tb *b, unsigned cpu, uint64_t x0, uint64_t x1,
		  uint64_t inject_esr, uint64_t inject_far, uint64_t elr,
		  uint64_t spsr)
{
	uint64_t w[8] = { x0,
			  x1,
			  b->entry_x2[cpu],
			  b->entry_x3[cpu],
			  inject_esr,
			  inject_far,
			  elr,
			  spsr };

	tb_event(b, cpu, PKVM_EV_TRAP_EXIT, w, 8);
}

void tb_exit(struct tb *b, unsigned cpu, uint64_t x0, uint64_t x1)
{
	uint64_t w[2] = { x0, x1 };

	/* An hvc returns to the instruction after it, which ELR_EL2 holds
	 * already; a trapped SMC to itself, so the hyp moves elr on. */
	if (!b->compact || b->smc[cpu]) {
		tb_exit_full(b, cpu, x0, x1, 0, 0,
			     TB_ELR + (b->smc[cpu] ? 4 : 0), 0x3c5);
		return;
	}
	tb_event(b, cpu, PKVM_EV_HCALL_EXIT, w, 2);
}

void tb_hvc_lock2(struct tb *b, unsigned cpu, unsigned id, uint64_t a1,
		  uint64_t a2, unsigned first, unsigned second)
{
	uint64_t w[6] = { TB_ELR,
			  PKVM_HC_BASE | id,
			  a1,
			  a2,
			  first | (uint64_t)second << 32,
			  b->ticket[first] | b->ticket[second] << 32 };

	if (!b->fused) {
		tb_hvc(b, cpu, id, a1, a2);
		tb_lock2(b, cpu, first, second);
		return;
	}
	b->smc[cpu] = false;
	b->entry_x2[cpu] = a2;
	b->entry_x3[cpu] = 0;
	tb_event(b, cpu, PKVM_EV_HCALL_ENTRY_LOCK2, w, 6);
}

void tb_unlock2_exit(struct tb *b, unsigned cpu, unsigned first,
		     unsigned second, uint64_t x0, uint64_t x1)
{
	uint64_t w[2] = { x0, x1 };

	if (!b->fused) {
		tb_unlock2(b, cpu, second, first);
		tb_exit(b, cpu, x0, x1);
		return;
	}
	tb_sync(b, cpu);
	/* The releases are the entry's: only their tickets move on. */
	b->ticket[first]++;
	b->ticket[second]++;
	tb_event(b, cpu, PKVM_EV_HCALL_EXIT_UNLOCK2, w, 2);
}

/*
 * A two-lock hypercall body storing one host and one hyp descriptor, each
 * followed by the TLB maintenance if it unmapped the page.
 */
void tb_two_sided(struct tb *b, unsigned cpu, unsigned id, uint64_t pfn,
		  uint64_t host, uint64_t hyp)
{
	tb_hvc_lock2(b, cpu, id, pfn, id >= PKVM_HC_HOST_DONATE_HYP ? 1 : 0,
		     PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_pte_l3(b, cpu, PKVM_COMP_HOST_S2, pfn, host);
	tb_pte_l3(b, cpu, PKVM_COMP_HYP_S1, pfn, hyp);
	tb_unlock2_exit(b, cpu, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0, 0);
}

void tb_share(struct tb *b, unsigned cpu, uint64_t pfn)
{
	tb_two_sided(b, cpu, PKVM_HC_SHARE_HYP, pfn,
		     tb_s2_page(pfn << 12, PKVM_PAGE_SHARED_OWNED),
		     tb_s1_page(pfn << 12, PKVM_PAGE_SHARED_BORROWED));
}

void tb_unshare(struct tb *b, unsigned cpu, uint64_t pfn)
{
	tb_two_sided(b, cpu, PKVM_HC_UNSHARE_HYP, pfn,
		     tb_s2_page(pfn << 12, PKVM_PAGE_OWNED), 0);
}

void tb_donate(struct tb *b, unsigned cpu, uint64_t pfn)
{
	tb_two_sided(b, cpu, PKVM_HC_HOST_DONATE_HYP, pfn, tb_s2_owner_hyp(),
		     tb_s1_page(pfn << 12, PKVM_PAGE_OWNED));
}

void tb_reclaim(struct tb *b, unsigned cpu, uint64_t pfn)
{
	tb_two_sided(b, cpu, PKVM_HC_HYP_DONATE_HOST, pfn, 0, 0);
}

void tb_refuse(struct tb *b, unsigned cpu, unsigned id, uint64_t a1,
	       uint64_t a2, int64_t err)
{
	tb_hvc_lock2(b, cpu, id, a1, a2, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	tb_unlock2_exit(b, cpu, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0,
			(uint64_t)err);
}

static void tb_abort_entry(struct tb *b, unsigned cpu, uint64_t pfn)
{
	tb_entry(b, cpu, TB_ESR_DABT, (pfn << 12) | 0x10, (pfn << 12) >> 8,
		 0x1234, 0, 0);
}

void tb_abort_map(struct tb *b, unsigned cpu, uint64_t pfn)
{
	bool ram = pfn >= (TB_RAM_BASE >> 12) &&
		   pfn < ((TB_RAM_BASE + TB_RAM_SIZE) >> 12);

	tb_abort_entry(b, cpu, pfn);
	tb_lock(b, cpu, PKVM_LOCK_HOST_S2);
	tb_pte(b, cpu, tb_l3(b, cpu, PKVM_COMP_HOST_S2, pfn),
	       ram ? tb_s2_page(pfn << 12, PKVM_PAGE_OWNED)
		   : tb_s2_device(pfn << 12));
	tb_unlock(b, cpu, PKVM_LOCK_HOST_S2);
	if (b->compact)
		tb_exit(b, cpu, 0x1234, 0); /* x0 as at entry, elr the same */
	else
		tb_exit_full(b, cpu, 0x1234, 0, 0, 0, TB_ELR, 0x3c5);
}

uint64_t tb_inject_esr(const struct tb *b, uint64_t esr, uint64_t spsr)
{
	uint64_t ec = esr >> 26 & 0x3f, mode = spsr & 0x1f;

	if (tb_abi(b) >= 3 && (mode == 0x4 || mode == 0x5) &&
	    (ec == 0x20 || ec == 0x24))
		return esr | 1ull << 26;
	return esr;
}

uint64_t tb_inject_spsr(const struct tb *b, uint64_t spsr)
{
	/* TB_SCTLR_EL1 has SPAN set and DSSBS clear: PAN only if kept. */
	return tb_abi(b) >= 3 ? 0x3c5 | (spsr & 0xf1400000ull) : 0x3c5;
}

void tb_inject_regs(struct tb *b, unsigned cpu, uint64_t esr, uint64_t far,
		    uint64_t elr, uint64_t spsr)
{
	tb_nondet(b, cpu, PKVM_NONDET_HOST_SYSREG, TB_VBAR,
		  PKVM_NONDET_REG_VBAR_EL1, 0);
	if (tb_abi(b) >= 3)
		tb_nondet(b, cpu, PKVM_NONDET_HOST_SYSREG, TB_SCTLR_EL1,
			  PKVM_NONDET_REG_SCTLR_EL1, 0);
	tb_sysreg(b, cpu, PKVM_SYSREG_ESR_EL1, esr);
	tb_sysreg(b, cpu, PKVM_SYSREG_FAR_EL1, far);
	tb_sysreg(b, cpu, PKVM_SYSREG_ELR_EL1, elr);
	tb_sysreg(b, cpu, PKVM_SYSREG_SPSR_EL1, spsr);
}

void tb_abort_inject(struct tb *b, unsigned cpu, uint64_t pfn)
{
	tb_abort_entry(b, cpu, pfn);
	tb_lock(b, cpu, PKVM_LOCK_HOST_S2);
	tb_unlock(b, cpu, PKVM_LOCK_HOST_S2);
	uint64_t esr = tb_inject_esr(b, TB_ESR_DABT, TB_HOST_SPSR);

	tb_inject_regs(b, cpu, esr, (pfn << 12) | 0x10, TB_ELR, TB_HOST_SPSR);
	tb_exit_full(b, cpu, 0x1234, 0, esr, (pfn << 12) | 0x10,
		     TB_VBAR + 0x200, tb_inject_spsr(b, TB_HOST_SPSR));
}

struct tb_sink_ctx {
	struct tb_result *r;
	const char *focus;
};

static void tb_sink(void *ctx, const struct ck_finding *f)
{
	struct tb_sink_ctx *c = ctx;
	struct tb_result *r = c->r;

	if (r->count < 16)
		strncpy(r->checks[r->count], f->check,
			sizeof(r->checks[0]) - 1);
	r->count++;
	if (!c->focus || strcmp(f->check, c->focus) != 0 || r->focus_count++)
		return;
	r->kind = f->event->kind;
	r->addr = f->addr;
	r->has_explain = f->has_explain;
	r->explain = f->explain_index;
	memcpy(r->text, f->text, sizeof(r->text));
}

int tb_check_focus(struct tb *b, struct tb_result *r, const char *focus,
		   bool capture, uint64_t index)
{
	struct ck_memsrc m;
	struct ck_options opt = { .context = 4,
				  .capture = capture,
				  .capture_index = index };
	struct tb_sink_ctx ctx = { r, focus };
	struct ck_sink sink = { .ctx = &ctx, .finding = tb_sink };

	memset(r, 0, sizeof(*r));
	ck_memsrc_init(&m, b->ncpu);
	m.src.abi_version = tb_abi(b); /* the header agrees with BOOT */
	if (b->system)
		m.src.system = b->system;
	m.complete = true; /* a whole run, as built */
	for (unsigned c = 0; c < b->ncpu; c++)
		ck_memsrc_set(&m, c, b->recs[c], b->count[c]);
	r->exit = ck_run(&m.src, &opt, &sink, &r->sum);
	return r->sum.has_captured ? r->sum.captured.kind : -1;
}

void tb_check(struct tb *b, struct tb_result *r)
{
	tb_check_focus(b, r, NULL, false, 0);
}

bool tb_only(const struct tb_result *r, const char *check, unsigned n)
{
	if (r->count != n)
		return false;
	for (unsigned i = 0; i < n && i < 16; i++)
		if (strcmp(r->checks[i], check) != 0)
			return false;
	return true;
}
