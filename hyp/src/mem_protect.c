/* SPDX-License-Identifier: MIT */
/*
 * Memory ownership: the host stage-2 and the hyp stage-1 and every
 * transition between page states (format/HYPERCALLS.md).
 *
 * Lock order, outermost first: host_s2 -> hyp_s1 -> pool. TRACE_LOAD takes
 * `trace` before host_s2 (tracing.c); no one takes `trace` inside them.
 * hyp_s1 is taken only with host_s2 held, so the hyp stage-1 is written
 * only with host_s2 held too. The same rules as data, the one place the
 * test builds check them from: abi.h PKVM_LOCK_ORDER_LIST and
 * PKVM_LOCK_NEEDS_LIST.
 *
 * Each hypercall: unpack, lock, *check* (read-only, returns the error),
 * *prepare* (takes every table page it will need; -ENOMEM leaves no change),
 * *do* (cannot fail), unlock. The dispatcher (trap.c) takes and lets go
 * of the host_s2 + hyp_s1 pair around the handlers below, so that it can
 * record the hypercall's entry with the acquisition and its exit with the
 * release, as one event each (FORMAT.md 3.1).
 */
#include <arch/pte.h>
#include <hyp/hyp.h>
#include <hyp/mem_protect.h>
#include <hyp/tracing.h>

struct pgtable mem_host_s2; /* every descriptor: mem_host_s2.lock */
struct pgtable mem_hyp_s1;  /* every descriptor: mem_hyp_s1.lock */

uint64_t mem_take_pair(struct mem_locked *m)
{
	return pgtable_take2(&mem_host_s2, &mem_hyp_s1, &m->host, &m->hyp);
}

void mem_sync_pair(struct mem_locked m)
{
	pgtable_sync2(m.host, m.hyp);
}

void mem_let_go_pair(struct mem_locked m)
{
	pgtable_let_go2(m.hyp, m.host);
}

static enum mem_state mem_state_of_bits(uint64_t bits)
{
	if (bits == PKVM_PAGE_SHARED_OWNED)
		return MEM_SHARED_OWNED;
	if (bits == PKVM_PAGE_SHARED_BORROWED)
		return MEM_SHARED_BORROWED;
	return MEM_OWNED;
}

enum mem_state mem_host_state(struct pgtable_locked host, uint64_t pfn)
{
	struct pgtable_walk w;

	pgtable_walk(host, pfn << HYP_PAGE_SHIFT, &w);
	if (arch_pte_is_valid(w.pte))
		return mem_state_of_bits(arch_pte_state(w.pte));
	return arch_pte_owner(w.pte) == PKVM_OWNER_HOST ? MEM_OWNED
							: MEM_NOPAGE;
}

enum mem_state mem_hyp_state(struct pgtable_locked hyp, uint64_t pfn)
{
	struct pgtable_walk w;

	pgtable_walk(hyp, pfn << HYP_PAGE_SHIFT, &w);
	if (arch_pte_is_valid(w.pte))
		return mem_state_of_bits(arch_pte_state(w.pte));
	return MEM_NOPAGE;
}

/*
 * Access per kind of page (format/HYPERCALLS.md "Mapping attributes"): the
 * host's RAM is its to read, write and run; MMIO is never executable (it
 * is not memory); the hyp writes the pages it owns or borrows but runs
 * only its own text (SCTLR_EL2.WXN makes that a rule of the machine).
 */
#define MEM_HOST_RAM (ARCH_PROT_W | ARCH_PROT_X)
#define MEM_HOST_MMIO (ARCH_PROT_W | ARCH_PROT_DEVICE)
#define MEM_HYP_DATA ARCH_PROT_W
#define MEM_HYP_MMIO (ARCH_PROT_W | ARCH_PROT_DEVICE)

static uint64_t mem_host_leaf(uint64_t pfn, uint64_t state)
{
	return arch_pte_make_leaf(true, 3, pfn << HYP_PAGE_SHIFT, MEM_HOST_RAM,
				  state);
}

static uint64_t mem_hyp_leaf(uint64_t pfn, uint64_t state)
{
	return arch_pte_make_leaf(false, 3, pfn << HYP_PAGE_SHIFT, MEM_HYP_DATA,
				  state);
}

/* Tables for level-3 entries of [pfn, pfn + nr) in both stage tables. */
static int mem_prepare_both(struct mem_locked m, uint64_t pfn, uint64_t nr,
			    struct pgtable_memcache *host_mc,
			    struct pgtable_memcache *hyp_mc)
{
	uint64_t addr = pfn << HYP_PAGE_SHIFT, size = nr << HYP_PAGE_SHIFT;
	int ret = pgtable_prepare(m.host, addr, size, 3, host_mc);

	if (ret)
		return ret;
	return pgtable_prepare(m.hyp, addr, size, 3, hyp_mc);
}

/* [pfn, pfn + nr) is 1..16 pages of RAM, else -EINVAL. */
static int mem_check_range(uint64_t pfn, uint64_t nr)
{
	if (nr == 0 || nr > PKVM_DONATE_MAX_PAGES)
		return -PKVM_EINVAL;
	if (!hyp_pfn_in_ram(pfn) || !hyp_pfn_in_ram(pfn + nr - 1))
		return -PKVM_EINVAL;
	return 0;
}

static int mem_check_share(struct mem_locked m, uint64_t pfn)
{
	if (!hyp_pfn_in_ram(pfn))
		return -PKVM_EINVAL;
	if (mem_host_state(m.host, pfn) != MEM_OWNED ||
	    mem_hyp_state(m.hyp, pfn) != MEM_NOPAGE)
		return -PKVM_EPERM;
	return 0;
}

int64_t mem_share_hyp(struct mem_locked m, uint64_t pfn, uint64_t unused)
{
	struct pgtable_memcache hmc, ymc;
	int ret = mem_check_share(m, pfn);

	(void)unused; /* x2: not an argument of this call */
	if (!ret)
		ret = mem_prepare_both(m, pfn, 1, &hmc, &ymc);
	if (!ret) {
		/* host OWNED => SHARED_OWNED; hyp NOPAGE => SHARED_BORROWED */
		pgtable_set(m.host, pfn << HYP_PAGE_SHIFT, 3,
			    mem_host_leaf(pfn, PKVM_PAGE_SHARED_OWNED), &hmc);
		pgtable_set(m.hyp, pfn << HYP_PAGE_SHIFT, 3,
			    mem_hyp_leaf(pfn, PKVM_PAGE_SHARED_BORROWED), &ymc);
	}
	return ret;
}

static int mem_check_unshare(struct mem_locked m, uint64_t pfn)
{
	if (!hyp_pfn_in_ram(pfn))
		return -PKVM_EINVAL;
	if (mem_host_state(m.host, pfn) != MEM_SHARED_OWNED ||
	    mem_hyp_state(m.hyp, pfn) != MEM_SHARED_BORROWED)
		return -PKVM_EPERM;
	if (tracing_pinned(m.host, pfn))
		return -PKVM_EBUSY;
	return 0;
}

int64_t mem_unshare_hyp(struct mem_locked m, uint64_t pfn, uint64_t unused)
{
	struct pgtable_memcache hmc, ymc;
	int ret = mem_check_unshare(m, pfn);

	(void)unused; /* x2: not an argument of this call */
	if (!ret)
		ret = mem_prepare_both(m, pfn, 1, &hmc, &ymc);
	if (!ret) {
		/* host SHARED_OWNED => OWNED (stays mapped) */
		pgtable_set(m.host, pfn << HYP_PAGE_SHIFT, 3,
			    mem_host_leaf(pfn, PKVM_PAGE_OWNED), &hmc);
		/* hyp SHARED_BORROWED => NOPAGE (unmapped) */
		pgtable_set(m.hyp, pfn << HYP_PAGE_SHIFT, 3,
			    arch_pte_make_annot(PKVM_OWNER_HOST), &ymc);
	}
	return ret;
}

static int mem_check_donate(struct mem_locked m, uint64_t pfn, uint64_t nr)
{
	int ret = mem_check_range(pfn, nr);

	for (uint64_t i = 0; !ret && i < nr; i++)
		if (mem_host_state(m.host, pfn + i) != MEM_OWNED ||
		    mem_hyp_state(m.hyp, pfn + i) != MEM_NOPAGE)
			ret = -PKVM_EPERM;
	return ret;
}

int64_t mem_host_donate_hyp(struct mem_locked m, uint64_t pfn, uint64_t nr)
{
	struct pgtable_memcache hmc, ymc;
	int ret = mem_check_donate(m, pfn, nr);

	if (!ret)
		ret = mem_prepare_both(m, pfn, nr, &hmc, &ymc);
	for (uint64_t i = 0; !ret && i < nr; i++) {
		uint64_t addr = (pfn + i) << HYP_PAGE_SHIFT;
		/* host OWNED => NOPAGE (unmapped, annotated owner hyp) */
		pgtable_set(m.host, addr, 3,
			    arch_pte_make_annot(PKVM_OWNER_HYP), &hmc);
		/* hyp NOPAGE => OWNED (mapped) */
		pgtable_set(m.hyp, addr, 3, mem_hyp_leaf(pfn + i, 0), &ymc);
	}
	return ret;
}

static int mem_check_reclaim(struct mem_locked m, uint64_t pfn, uint64_t nr)
{
	int ret = mem_check_range(pfn, nr);

	for (uint64_t i = 0; !ret && i < nr; i++)
		if (hyp_pfn_in_hyp(pfn + i) ||
		    mem_hyp_state(m.hyp, pfn + i) != MEM_OWNED ||
		    mem_host_state(m.host, pfn + i) != MEM_NOPAGE)
			ret = -PKVM_EPERM;
	return ret;
}

int64_t mem_hyp_donate_host(struct mem_locked m, uint64_t pfn, uint64_t nr)
{
	struct pgtable_memcache hmc, ymc;
	int ret = mem_check_reclaim(m, pfn, nr);

	if (!ret)
		ret = mem_prepare_both(m, pfn, nr, &hmc, &ymc);
	for (uint64_t i = 0; !ret && i < nr; i++) {
		uint64_t addr = (pfn + i) << HYP_PAGE_SHIFT;
		/* hyp OWNED => NOPAGE (unmapped) */
		pgtable_set(m.hyp, addr, 3,
			    arch_pte_make_annot(PKVM_OWNER_HOST), &ymc);
		/* host NOPAGE => OWNED (annotation cleared, mapped lazily) */
		pgtable_set(m.host, addr, 3,
			    arch_pte_make_annot(PKVM_OWNER_HOST), &hmc);
	}
	return ret;
}

/*
 * Lazy identity map of a host page it may access. A 2 MiB block when the
 * walk stops above level 3 on an empty, unannotated descriptor (so every page
 * of that 2 MiB is host OWNED, unmapped, with nothing finer below); else one
 * page. False only if the pool ran out (then nothing changed).
 */
static bool mem_host_map(struct pgtable_locked host, uint64_t ipa, bool device,
			 uint64_t state)
{
	struct pgtable_memcache mc;
	struct pgtable_walk w;
	int level = 3;
	uint64_t base = ipa & ~(HYP_PAGE_SIZE - 1);

	pgtable_walk(host, ipa, &w);
	if (arch_pte_is_valid(w.pte))
		return true; /* another CPU mapped it since the fault */
	if (!device && state == PKVM_PAGE_OWNED && w.level <= 2 && w.pte == 0) {
		level = 2;
		base = ipa & ~(arch_pt_level_size(2) - 1);
	}
	if (pgtable_prepare(host, base, arch_pt_level_size(level), level, &mc))
		return false;
	pgtable_set(host, base, level,
		    arch_pte_make_leaf(true, level, base,
				       device ? MEM_HOST_MMIO : MEM_HOST_RAM,
				       state),
		    &mc);
	return true;
}

/*
 * Whether a fault can be resolved by mapping, before looking at any table:
 * not beyond the 32-bit IPA space, not a permission (or access flag, or any
 * other) fault, since the hyp only ever maps with every access the host may
 * have (the only permission fault it can cause is an instruction fetch
 * from MMIO), and no instruction fetch from MMIO, which is execute-never.
 * Retrying such a fault would only take it again.
 */
static bool mem_fault_mappable(const struct mem_fault *f)
{
	if (f->ipa >> 32 || !f->translation)
		return false;
	return !f->exec || hyp_pfn_in_ram(f->ipa >> HYP_PAGE_SHIFT);
}

bool mem_host_fault(const struct mem_fault *f)
{
	uint64_t pfn = f->ipa >> HYP_PAGE_SHIFT;
	struct pgtable_locked host;
	bool ok = false;

	if (!mem_fault_mappable(f))
		return false;
	host = pgtable_lock(&mem_host_s2);
	if (!hyp_pfn_in_ram(pfn)) {
		ok = mem_host_map(host, f->ipa, true, PKVM_PAGE_OWNED);
	} else {
		enum mem_state st = mem_host_state(host, pfn);
		if (st == MEM_OWNED)
			ok = mem_host_map(host, f->ipa, false, PKVM_PAGE_OWNED);
		else if (st == MEM_SHARED_OWNED)
			ok = mem_host_map(host, f->ipa, false,
					  PKVM_PAGE_SHARED_OWNED);
	}
	/* Not the host's, or the pool ran out: the caller injects. */
	pgtable_unlock(host);
	return ok;
}

/*
 * Boot: one descriptor per 2 MiB where aligned, else per page, over
 * [start, end): a hyp mapping (OWNED, normal, `prot`) or, if `host_annot`,
 * a host annotation (owner hyp).
 */
static void mem_boot_range(struct pgtable_locked ptl, uint64_t start,
			   uint64_t end, bool host_annot, unsigned prot)
{
	uint64_t block = arch_pt_level_size(2);

	for (uint64_t a = start; a < end;) {
		struct pgtable_memcache mc;
		int level = (!(a & (block - 1)) && end - a >= block) ? 2 : 3;
		uint64_t size = arch_pt_level_size(level);
		uint64_t pte = host_annot ? arch_pte_make_annot(PKVM_OWNER_HYP)
					  : arch_pte_make_leaf(false, level, a,
							       prot, 0);

		CHECK(pgtable_prepare(ptl, a, size, level, &mc) == 0);
		pgtable_set(ptl, a, level, pte, &mc);
		a += size;
	}
}

void mem_boot_tables(uint64_t root_host, uint64_t root_hyp)
{
	struct pgtable_locked host, hyp;
	struct pgtable_memcache mc;

	pgtable_init(&mem_host_s2, root_host, PKVM_COMP_HOST_S2, true,
		     PKVM_LOCK_HOST_S2);
	pgtable_init(&mem_hyp_s1, root_hyp, PKVM_COMP_HYP_S1, false,
		     PKVM_LOCK_HYP_S1);

	/*
	 * Both tables under the pair, as every later change: the hyp
	 * stage-1 is only ever written with host_s2 held (abi.h
	 * PKVM_LOCK_NEEDS_LIST), even here where no other CPU runs yet.
	 */
	pgtable_lock2(&mem_host_s2, &mem_hyp_s1, &host, &hyp);
	/* The image: text RX, rodata R, everything after it RW; all XN but
	 * text. */
	mem_boot_range(hyp, hyp_cfg.hyp_start, hyp_cfg.text_end, false,
		       ARCH_PROT_X);
	mem_boot_range(hyp, hyp_cfg.text_end, hyp_cfg.rodata_end, false, 0);
	mem_boot_range(hyp, hyp_cfg.rodata_end, hyp_cfg.hyp_end, false,
		       MEM_HYP_DATA);
	CHECK(pgtable_prepare(hyp, PKVM_UART_BASE, HYP_PAGE_SIZE, 3, &mc) == 0);
	pgtable_set(
		hyp, PKVM_UART_BASE, 3,
		arch_pte_make_leaf(false, 3, PKVM_UART_BASE, MEM_HYP_MMIO, 0),
		&mc);
	/* The hyp's range, annotated owner hyp in the host stage-2. */
	mem_boot_range(host, hyp_cfg.hyp_start, hyp_cfg.hyp_end, true, 0);
	/* Let go of hyp_s1 first, then host_s2, as the hypercalls do. */
	pgtable_unlock2(hyp, host);
}
