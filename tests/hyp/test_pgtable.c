/* SPDX-License-Identifier: MIT */
/*
 * The page-table walker through the core: lazy block and page mappings,
 * block splitting with break-before-make, owner annotations, and -ENOMEM
 * leaving the tables exactly as they were.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <arch/pte.h>
#include <hyp/pool.h>

#include "helpers.h"

#define TH_BLOCK (2ull << 20)

/* Boot annotates the whole hyp range owner=hyp with level-2 descriptors. */
Test(pgtable, boot_annotates_hyp_range)
{
	th_boot(1, 0);
	for (uint64_t a = PKVM_HYP_BASE; a < PKVM_HYP_LIMIT; a += TH_BLOCK) {
		struct pgtable_walk w = th_host_walk(a);
		cr_assert_eq(w.level, 2);
		cr_assert(!arch_pte_is_valid(w.pte));
		cr_assert_eq(arch_pte_owner(w.pte), PKVM_OWNER_HYP);
		cr_assert(arch_pte_is_valid(th_hyp_walk(a).pte));
	}
	cr_assert_eq(th_host_state(PKVM_HYP_BASE >> 12), MEM_NOPAGE);
	cr_assert_eq(th_host_state(PKVM_HYP_LIMIT >> 12), MEM_OWNED);
}

/* A fault in an untouched 2 MiB of host RAM maps the whole block. */
Test(pgtable, fault_maps_block)
{
	th_boot(1, 0);
	uint64_t ipa = 0x48612345;
	cr_assert(!fake_abort(ipa));
	struct pgtable_walk w = th_host_walk(ipa);
	cr_assert_eq(w.level, 2);
	cr_assert(arch_pte_is_leaf(w.pte, 2));
	cr_assert_eq(arch_pte_leaf_pa(w.pte, 2), 0x48600000);
	cr_assert_eq(arch_pte_state(w.pte), PKVM_PAGE_OWNED);
}

/* Next to a finer mapping, a fault maps one page only. */
Test(pgtable, fault_maps_page_beside_share)
{
	th_boot(1, 0);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, 0x48400, 0), 0);
	cr_assert(!fake_abort(0x48401008));
	struct pgtable_walk w = th_host_walk(0x48401008);
	cr_assert_eq(w.level, 3);
	cr_assert_eq(arch_pte_leaf_pa(w.pte, 3), 0x48401000);
	cr_assert(!arch_pte_is_valid(th_host_walk(0x48402000).pte));
}

/* MMIO faults map one device page; hyp-owned pages inject an abort. */
Test(pgtable, fault_mmio_and_refused)
{
	th_boot(1, 0);
	cr_assert(!fake_abort(0x09000010));
	struct pgtable_walk w = th_host_walk(0x09000000);
	cr_assert_eq(w.level, 3);
	cr_assert(arch_pte_is_device(true, w.pte));
	cr_assert(fake_abort(PKVM_HYP_BASE + 0x10));
	cr_assert_eq(fake_stats.sysreg[PKVM_SYSREG_ELR_EL1],
		     PKVM_WORKLOAD_BASE + 0x100);
	cr_assert(fake_abort(0x100000000ull), "beyond the IPA space");
}

/* Sharing a page inside a mapped block splits it: every page keeps its map. */
Test(pgtable, split_block_keeps_mappings)
{
	th_boot(1, 0);
	cr_assert(!fake_abort(0x48600000));
	cr_assert_eq(th_host_walk(0x48600000).level, 2);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, 0x48601, 0), 0);
	for (uint64_t a = 0x48600000; a < 0x48800000; a += 0x1000) {
		struct pgtable_walk w = th_host_walk(a);
		cr_assert_eq(w.level, 3);
		cr_assert(arch_pte_is_leaf(w.pte, 3));
		cr_assert_eq(arch_pte_leaf_pa(w.pte, 3), a);
		cr_assert_eq(arch_pte_state(w.pte),
			     a == 0x48601000 ? PKVM_PAGE_SHARED_OWNED
					     : PKVM_PAGE_OWNED);
	}
}

/*
 * The split is break-before-make: invalid, DSB, TLBI, DSB, then table (the
 * barriers ride on the TLBI records' flags).
 */
Test(pgtable, split_is_break_before_make)
{
	static struct pkvm_record r[8192];

	th_boot(1, 0);
	th_trace_on(8192);
	cr_assert(!fake_abort(0x48600000));
	uint64_t slot = th_host_walk(0x48600000).pte_pa;
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, 0x48601, 0), 0);
	size_t n = th_ring_records(0, r, 8192), i;
	for (i = 0; i < n; i++)
		if (r[i].kind == PKVM_EV_PTE_WRITE && r[i].a == slot &&
		    r[i].b == 0)
			break;
	cr_assert_lt(i + 4, n, "no break of the block found");
	cr_assert_eq(r[i + 1].kind, PKVM_EV_TLBI);
	cr_assert_eq(r[i + 1].a, PKVM_TLBI_IPAS2E1IS);
	cr_assert_eq(r[i + 1].b, 0x48600);
	cr_assert_eq(r[i + 1].flags, PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
					     PKVM_REC_F_TLBI_DSB_ISH_AFTER);
	cr_assert_eq(r[i + 2].kind, PKVM_EV_TLBI);
	cr_assert_eq(r[i + 2].a, PKVM_TLBI_VMALLE1IS);
	cr_assert_eq(r[i + 2].flags,
		     PKVM_REC_F_TLBI_DSB_ISH_AFTER | PKVM_REC_F_TLBI_ISB_AFTER);
	size_t j = i + 3;
	while (j < n && r[j].kind != PKVM_EV_PTE_WRITE)
		j++;
	cr_assert_lt(j, n);
	cr_assert_eq(r[j].a, slot, "the table goes in the broken slot");
	cr_assert(r[j].flags & PKVM_REC_F_PTE_RELEASE);
	cr_assert(arch_pte_is_table(r[j].b, 2));
}

/* Donation annotates the host descriptor and maps the page for the hyp. */
Test(pgtable, donate_annotates)
{
	th_boot(1, 0);
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, 0x48800, 1), 0);
	struct pgtable_walk w = th_host_walk(0x48800000);
	cr_assert_eq(w.level, 3);
	cr_assert(!arch_pte_is_valid(w.pte));
	cr_assert_eq(arch_pte_owner(w.pte), PKVM_OWNER_HYP);
	w = th_hyp_walk(0x48800000);
	cr_assert(arch_pte_is_leaf(w.pte, 3));
	cr_assert_eq(arch_pte_state(w.pte), PKVM_PAGE_OWNED);
	cr_assert_eq(th_call(PKVM_HC_HYP_DONATE_HOST, 0x48800, 1), 0);
	cr_assert_eq(th_host_walk(0x48800000).pte, 0);
	cr_assert_eq(th_hyp_walk(0x48800000).pte, 0);
}

/* Snapshot of the pool (every table lives there). */
static void th_snapshot(uint8_t *buf, size_t pages)
{
	memcpy(buf, fake_mem(0x40400000), pages * HYP_PAGE_SIZE);
}

/* Out of pool pages: -ENOMEM and not one descriptor changed. */
Test(pgtable, enomem_no_change)
{
	/*
	 * Boot needs 5 tables (the hyp stage-1's first 2 MiB is mapped page
	 * by page); leave one spare for the host side only.
	 */
	static uint8_t before[16 * 4096], after[16 * 4096];

	for (unsigned spare = 0; spare < 2; spare++) {
		th_boot(1, 5 + spare);
		cr_assert_eq(pool_pages_left(), spare);
		th_snapshot(before, 8);
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, 0x48a00, 0),
			     -PKVM_ENOMEM);
		th_snapshot(after, 8);
		cr_assert_eq(
			memcmp(before, after, sizeof(before[0]) * 8 * 4096), 0,
			"tables changed on -ENOMEM (spare %u)", spare);
		cr_assert_eq(th_host_state(0x48a00), MEM_OWNED);
		cr_assert_eq(th_hyp_state(0x48a00), MEM_NOPAGE);
	}
}

/*
 * With the pool empty, a host fault it may make is answered anyway: the
 * hyp injects an abort and changes nothing (before, nothing happened and
 * the host faulted again forever).
 */
Test(pgtable, enomem_fault_injects)
{
	static uint8_t before[8 * 4096], after[8 * 4096];

	th_boot(1, 5);
	cr_assert_eq(pool_pages_left(), 0);
	th_snapshot(before, 7);
	cr_assert(fake_abort(0x0a000000), "MMIO needs tables: injected");
	cr_assert(fake_abort(0xc0001000), "so does another GiB");
	cr_assert_eq(fake_stats.sysreg[PKVM_SYSREG_FAR_EL1], 0xc0001000);
	th_snapshot(after, 7);
	cr_assert_eq(memcmp(before, after, sizeof(before[0]) * 7 * 4096), 0);
	cr_assert(!arch_pte_is_valid(th_host_walk(0x0a000000).pte));
	/* Host RAM needs no table (a 2 MiB block under the boot's L2). */
	cr_assert(!fake_abort(0x48600000));
}

/*
 * Faults no mapping resolves are injected at once, in one trap: an
 * instruction fetch from MMIO (execute-never), mapped or not, and any
 * fault that is not a translation fault (a permission or access-flag
 * fault), even on the host's own mapped memory. A translation fault on a
 * page another CPU mapped meanwhile returns to the host with no change.
 */
Test(pgtable, unresolvable_faults_inject)
{
	th_boot(1, 0);
	uint64_t uart = PKVM_UART_BASE;
	uint64_t fetch = FAKE_ESR_IABT(FAKE_FSC_TRANSLATION_L3);

	cr_assert(fake_abort_esr(uart, fetch), "fetch from unmapped MMIO");
	cr_assert(!arch_pte_is_valid(th_host_walk(uart).pte), "not mapped");
	cr_assert(!fake_abort(uart), "a read maps it (device, XN)");
	cr_assert(fake_abort_esr(uart, FAKE_ESR_IABT(FAKE_FSC_PERMISSION_L3)),
		  "fetch from the mapped XN device page");
	/* From EL1h: the same-EL class, 0x21 (ABI 3). */
	cr_assert_eq(fake_stats.sysreg[PKVM_SYSREG_ESR_EL1],
		     FAKE_ESR_IABT(FAKE_FSC_PERMISSION_L3) | (1ull << 26));

	cr_assert(!fake_abort_esr(0x48600000, fetch), "fetch from host RAM");
	cr_assert(!fake_abort(0x48600000), "mapped meanwhile: no change");
	cr_assert(fake_abort_esr(0x48600000,
				 FAKE_ESR_DABT(FAKE_FSC_PERMISSION_L3)),
		  "a permission fault no mapping explains");
	cr_assert(fake_abort_esr(0x48600000,
				 FAKE_ESR_DABT(FAKE_FSC_ACCESS_FLAG_L3)),
		  "an access flag fault");
	cr_assert_eq(th_host_state(0x48600), MEM_OWNED);
}

/*
 * The ESR_EL1 an injection writes has the class the host's level would see
 * (HYPERCALLS.md "Stage-2 abort" rule 1, ABI 3): from EL1h or EL1t the
 * same-EL one (0x25, 0x21), from EL0t the lower-EL one the trap had (0x24,
 * 0x20); IL and ISS as trapped.
 */
Test(pgtable, injected_esr_class_by_mode)
{
	static const struct {
		uint64_t spsr, esr, want;
	} c[] = {
		{ 0x3C5, FAKE_ESR_DABT(0x07),
		  FAKE_ESR_DABT(0x07) | 1ull << 26 },
		{ 0x3C4, FAKE_ESR_DABT(0x07),
		  FAKE_ESR_DABT(0x07) | 1ull << 26 },
		{ 0x000, FAKE_ESR_DABT(0x07), FAKE_ESR_DABT(0x07) },
		{ 0x3C5, FAKE_ESR_IABT(0x0F),
		  FAKE_ESR_IABT(0x0F) | 1ull << 26 },
		{ 0x000, FAKE_ESR_IABT(0x0F), FAKE_ESR_IABT(0x0F) },
	};

	th_boot(1, 0);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		/* The hyp's own memory: injected whatever the class. */
		cr_assert(fake_abort_from(PKVM_HYP_BASE + 0x1008, c[i].esr,
					  c[i].spsr),
			  "case %zu injected", i);
		cr_assert_eq(fake_stats.sysreg[PKVM_SYSREG_ESR_EL1], c[i].want,
			     "case %zu: ESR_EL1 0x%llx", i,
			     (unsigned long long)
				     fake_stats.sysreg[PKVM_SYSREG_ESR_EL1]);
	}
}

/* The index of the first record of `kind` at or after `from`, or `n`. */
static size_t th_find(const struct pkvm_record *r, size_t from, size_t n,
		      unsigned kind)
{
	while (from < n && (r[from].kind != kind || r[from].flags & 0x80))
		from++;
	return from;
}

/*
 * A new valid entry is followed by DSB ISHST (and, in the hyp's stage-1, an
 * ISB) after its last store and before the lock goes; a change that makes
 * nothing valid (unshare: state bits, an unmap with its TLB maintenance)
 * adds no such barrier.
 */
Test(pgtable, barriers_after_making_valid)
{
	static struct pkvm_record r[8192];

	th_boot(1, 0);
	th_trace_on(8192);
	size_t n0 = th_ring_records(0, r, 8192);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN, 0), 0);
	size_t n = th_ring_records(0, r, 8192);
	size_t last_pte = n0, b;
	for (size_t i = n0; i < n; i++)
		if (r[i].kind == PKVM_EV_PTE_WRITE)
			last_pte = i;
	b = th_find(r, n0, n, PKVM_EV_BARRIER);
	cr_assert_eq(b, last_pte + 1,
		     "share: a barrier right after the stores");
	cr_assert_eq(r[b].a, PKVM_BARRIER_DSB_ISHST);
	cr_assert_eq(r[b + 1].kind, PKVM_EV_BARRIER);
	cr_assert_eq(r[b + 1].a, PKVM_BARRIER_ISB, "hyp stage-1: an ISB too");
	cr_assert_eq(r[b + 2].kind, PKVM_EV_HCALL_EXIT_UNLOCK2,
		     "before the locks go");

	/* Unshare makes nothing valid: no barrier record of its own. */
	n0 = n;
	cr_assert_eq(th_call(PKVM_HC_UNSHARE_HYP, TH_RAM_PFN, 0), 0);
	n = th_ring_records(0, r, 8192);
	cr_assert_eq(th_count(r + n0, n - n0, PKVM_EV_BARRIER, ~0ull), 0);

	/* A host fault's new mapping: DSB ISHST only, before the release. */
	n0 = n;
	cr_assert(!fake_abort(0x48600000));
	n = th_ring_records(0, r, 8192);
	last_pte = th_find(r, n0, n, PKVM_EV_PTE_WRITE);
	while (th_find(r, last_pte + 1, n, PKVM_EV_PTE_WRITE) < n)
		last_pte = th_find(r, last_pte + 1, n, PKVM_EV_PTE_WRITE);
	cr_assert_eq(r[last_pte + 1].kind, PKVM_EV_BARRIER);
	cr_assert_eq(r[last_pte + 1].a, PKVM_BARRIER_DSB_ISHST);
	cr_assert_eq(r[last_pte + 2].kind, PKVM_EV_LOCK_RELEASE);
	cr_assert_eq(r[last_pte + 2].a, PKVM_LOCK_HOST_S2);
	cr_assert_eq(th_count(r + n0, n - n0, PKVM_EV_BARRIER, ~0ull), 1,
		     "stage-2: no ISB");
}

/* Writable, executable, device: one hyp stage-1 or host stage-2 leaf. */
static void th_assert_prot(struct pgtable_walk w, bool stage2, bool w_ok,
			   bool x_ok, bool device, const char *what)
{
	cr_assert(arch_pte_is_valid(w.pte), "%s: mapped", what);
	cr_assert_eq(arch_pte_is_writable(stage2, w.pte), w_ok, "%s: %s", what,
		     w_ok ? "writable" : "read-only");
	cr_assert_eq(arch_pte_is_executable(stage2, w.pte), x_ok, "%s: %s",
		     what, x_ok ? "executable" : "execute-never");
	cr_assert_eq(arch_pte_is_device(stage2, w.pte), device, "%s: %s", what,
		     device ? "device" : "normal");
}

/*
 * The hyp's stage-1 (HYPERCALLS.md "Mapping attributes"): text RX, rodata
 * R XN, the rest of its range RW XN, the UART device RW XN, pages the host
 * shares or donates RW XN; WXN is on. The host's RAM is RWX, its MMIO RW XN.
 */
Test(pgtable, mapping_attributes)
{
	th_boot(1, 0);
	uint64_t text = hyp_cfg.hyp_start, ro = hyp_cfg.text_end;
	uint64_t rw = hyp_cfg.rodata_end;

	cr_assert_lt(text, ro, "the fake image has text");
	cr_assert_lt(ro, rw, "and rodata");
	th_assert_prot(th_hyp_walk(text), false, false, true, false, "text");
	th_assert_prot(th_hyp_walk(ro - 0x1000), false, false, true, false,
		       "last text page");
	th_assert_prot(th_hyp_walk(ro), false, false, false, false, "rodata");
	th_assert_prot(th_hyp_walk(rw), false, true, false, false, "data");
	th_assert_prot(th_hyp_walk(hyp_cfg.pool_start), false, true, false,
		       false, "pool");
	th_assert_prot(th_hyp_walk(PKVM_HYP_LIMIT - 0x1000), false, true, false,
		       false, "end of the hyp range");
	th_assert_prot(th_hyp_walk(PKVM_UART_BASE), false, true, false, true,
		       "UART");
	cr_assert(fake_stats.sysreg[PKVM_SYSREG_SCTLR_EL2] & (1ull << 19),
		  "SCTLR_EL2.WXN");

	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN, 0), 0);
	th_assert_prot(th_hyp_walk(TH_RAM_PFN << 12), false, true, false, false,
		       "shared page");
	th_assert_prot(th_host_walk(TH_RAM_PFN << 12), true, true, true, false,
		       "host side of the share");
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, TH_RAM_PFN + 1, 1), 0);
	th_assert_prot(th_hyp_walk((TH_RAM_PFN + 1) << 12), false, true, false,
		       false, "donated page");
	cr_assert(!fake_abort(0x48600000));
	th_assert_prot(th_host_walk(0x48600000), true, true, true, false,
		       "host RAM");
	cr_assert(!fake_abort(0x09000000));
	th_assert_prot(th_host_walk(0x09000000), true, true, false, true,
		       "host MMIO");
}
