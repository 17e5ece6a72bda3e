/* SPDX-License-Identifier: MIT */
/*
 * What the trace says about memory the checker cannot see (abi.h MARK
 * text_end, rodata_end, page_zeroed): the image's layout right after BOOT,
 * and that every table page, roots included, was zeroed after it was
 * handed out and before it was linked, on the CPU that linked it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <arch/pte.h>
#include <hyp/pool.h>

#include "helpers.h"

#define TZ_RECORDS 8192
#define TZ_CPUS 2

static struct pkvm_record tz_rec[TZ_CPUS][TZ_RECORDS];
static size_t tz_count[TZ_CPUS];

static void tz_read_rings(unsigned cpus)
{
	for (unsigned c = 0; c < cpus; c++) {
		tz_count[c] = th_ring_records(c, tz_rec[c], TZ_RECORDS);
		cr_assert_eq(
			th_count(tz_rec[c], tz_count[c], PKVM_EV_LOST, ~0ull),
			0);
	}
}

/* The layout follows BOOT at once; the roots are zeroed before use. */
Test(zeroing, layout_and_roots_follow_boot)
{
	const struct pkvm_record *r = tz_rec[0];

	th_boot(1, 0);
	th_trace_on(TZ_RECORDS);
	tz_read_rings(1);
	cr_assert_eq(r[0].kind, PKVM_EV_BOOT);
	cr_assert_eq(r[7].kind, PKVM_EV_MARK);
	cr_assert_eq(r[7].a, PKVM_MARK_TEXT_END);
	cr_assert_eq(r[7].b, hyp_cfg.text_end);
	cr_assert_eq(r[8].kind, PKVM_EV_MARK);
	cr_assert_eq(r[8].a, PKVM_MARK_RODATA_END);
	cr_assert_eq(r[8].b, hyp_cfg.rodata_end);
	/* BOOT's continuation 4 names the roots (host_s2_root, hyp_s1_root). */
	cr_assert_eq(r[9].a, PKVM_MARK_PAGE_ZEROED);
	cr_assert_eq(r[9].b, r[4].a);
	cr_assert_eq(r[10].a, PKVM_MARK_PAGE_ZEROED);
	cr_assert_eq(r[10].b, r[4].b);
	cr_assert_eq(th_count(r, tz_count[0], PKVM_EV_MARK, PKVM_MARK_TEXT_END),
		     1);
	cr_assert_eq(
		th_count(r, tz_count[0], PKVM_EV_MARK, PKVM_MARK_RODATA_END),
		1);
}

/*
 * Per CPU, in record order: pages handed out (NONDET alloc_page), then
 * zeroed (MARK page_zeroed of such a page, or of a root), then linked (a
 * table descriptor: the store-release PTE_WRITE, hyp/README.md). Returns
 * the number of links; fails the test on a link of a page not zeroed.
 */
static unsigned tz_check_cpu(const struct pkvm_record *r, size_t n,
			     uint64_t root0, uint64_t root1)
{
	static uint64_t handed[1024], zeroed[1024];
	unsigned nh = 0, nz = 0, links = 0;

	zeroed[nz++] = root0;
	zeroed[nz++] = root1;
	for (size_t i = 0; i < n; i++) {
		if (r[i].flags & PKVM_REC_F_CONT)
			continue;
		if (r[i].kind == PKVM_EV_NONDET &&
		    r[i].a == PKVM_NONDET_ALLOC_PAGE && r[i].b) {
			cr_assert_lt(nh, 1024);
			handed[nh++] = r[i].b;
		} else if (r[i].kind == PKVM_EV_MARK &&
			   r[i].a == PKVM_MARK_PAGE_ZEROED) {
			bool ours = r[i].b == root0 || r[i].b == root1;

			for (unsigned k = 0; k < nh; k++)
				ours |= handed[k] == r[i].b;
			cr_assert(ours, "page 0x%llx zeroed, never handed out",
				  (unsigned long long)r[i].b);
			cr_assert_lt(nz, 1024);
			zeroed[nz++] = r[i].b;
		} else if (r[i].kind == PKVM_EV_PTE_WRITE &&
			   (r[i].flags & PKVM_REC_F_PTE_RELEASE)) {
			uint64_t table = arch_pte_table_pa(r[i].b);
			bool ok = false;

			for (unsigned k = 0; k < nz; k++)
				ok |= zeroed[k] == table;
			cr_assert(ok,
				  "table page 0x%llx linked at 0x%llx, no "
				  "page_zeroed for it before",
				  (unsigned long long)table,
				  (unsigned long long)r[i].a);
			links++;
		}
	}
	return links;
}

static void *tz_worker(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;
	uint64_t base = TH_RAM_PFN + 0x2000 * (cpu + 1);

	fake_set_cpu(cpu);
	/* New 2 MiB regions: tables in both stage tables, and splits. */
	for (uint64_t i = 0; i < 4; i++) {
		th_call(PKVM_HC_SHARE_HYP, base + 0x200 * i, 0);
		th_call(PKVM_HC_HOST_DONATE_HYP, base + 0x200 * i + 8, 4);
		fake_abort((base + 0x200 * i + 0x100) << 12);
		fake_abort(0x50000000ull + ((cpu * 8 + i) << 21));
	}
	return NULL;
}

/* Every table linked, on every CPU, was zeroed there after its handout. */
Test(zeroing, every_linked_table_was_zeroed_first)
{
	pthread_t t[TZ_CPUS];
	unsigned links = 0;

	th_boot(TZ_CPUS, 0);
	th_trace_on(TZ_RECORDS);
	for (unsigned i = 0; i < TZ_CPUS; i++)
		pthread_create(&t[i], NULL, tz_worker, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < TZ_CPUS; i++)
		pthread_join(t[i], NULL);
	fake_set_cpu(0);
	tz_read_rings(TZ_CPUS);
	for (unsigned c = 0; c < TZ_CPUS; c++) {
		unsigned l = tz_check_cpu(tz_rec[c], tz_count[c],
					  tz_rec[0][4].a, tz_rec[0][4].b);

		cr_assert_gt(l, 4, "cpu%u linked only %u tables", c, l);
		links += l;
	}
	cr_assert_gt(links, 16);
}

/*
 * The zeroing is real: pool pages full of old contents before they are
 * handed out still give empty entries next to the ones the call wrote.
 */
Test(zeroing, dirty_pool_pages_are_linked_empty)
{
	uint64_t left, first;
	uint64_t pfn = TH_RAM_PFN + 0x4000;

	th_boot(1, 64);
	left = pool_pages_left();
	first = hyp_cfg.pool_end - left * HYP_PAGE_SIZE;
	memset(fake_mem(first), 0xa5, left * HYP_PAGE_SIZE);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, pfn, 0), 0);
	cr_assert_lt(pool_pages_left(), left, "the share took no table");
	/* The share's own entries, and their empty neighbours. */
	cr_assert_eq(th_hyp_state(pfn), MEM_SHARED_BORROWED);
	cr_assert_eq(th_hyp_walk((pfn + 1) << 12).pte, 0);
	cr_assert_eq(th_hyp_walk((pfn - 1) << 12).pte, 0);
	cr_assert_eq(th_host_state(pfn), MEM_SHARED_OWNED);
	cr_assert_eq(th_host_walk((pfn + 0x200) << 12).pte, 0);
}
