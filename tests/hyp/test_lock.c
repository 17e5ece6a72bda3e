/* SPDX-License-Identifier: MIT */
/*
 * Locks under contention: several threads (one fake CPU each) run
 * hypercalls at once; every lock's tickets come out 0, 1, 2, ... exactly
 * once each, and each CPU's acquire and release records pair up.
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "helpers.h"

#define TH_THREADS 4
#define TH_OPS 16

static void *th_worker(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;

	fake_set_cpu(cpu);
	for (int i = 0; i < TH_OPS; i++) {
		uint64_t pfn = TH_RAM_PFN + 0x100 * cpu + i;
		if (th_call(PKVM_HC_SHARE_HYP, pfn, 0) != 0)
			return (void *)1;
		if (i % 2 && th_call(PKVM_HC_UNSHARE_HYP, pfn, 0) != 0)
			return (void *)1;
	}
	return NULL;
}

/* Threads contend; the final states are right and tickets are unique. */
Test(lock, tickets_in_order_under_contention)
{
	static struct pkvm_record r[TH_THREADS][4096];
	static uint8_t seen[4096];
	size_t n[TH_THREADS];
	pthread_t t[TH_THREADS];
	uint32_t max_ticket = 0;

	th_boot(TH_THREADS, 0);
	th_trace_on(4096);
	for (unsigned i = 0; i < TH_THREADS; i++)
		pthread_create(&t[i], NULL, th_worker, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < TH_THREADS; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		cr_assert_null(ret, "cpu %u: a hypercall failed", i);
	}
	for (unsigned c = 0; c < TH_THREADS; c++) {
		n[c] = th_ring_records(c, r[c], 4096);
		cr_assert_eq(th_count(r[c], n[c], PKVM_EV_LOST, ~0ull), 0);
		uint64_t held = ~0ull;
		for (size_t i = 0; i < n[c]; i++) {
			unsigned kind = r[c][i].kind;

			if (r[c][i].flags & PKVM_REC_F_CONT)
				continue; /* the head speaks for the event */
			/* The pair's records: host_s2 is first when taken,
			 * second when let go (reverse order); the fused
			 * hypercall forms carry the tickets in the entry's
			 * last record, and the release implies them. */
			bool entry2 = kind == PKVM_EV_HCALL_ENTRY_LOCK2;
			bool exit2 = kind == PKVM_EV_HCALL_EXIT_UNLOCK2;
			bool pair = kind == PKVM_EV_LOCK_ACQUIRE2 ||
				    kind == PKVM_EV_LOCK_RELEASE2;
			bool one = kind == PKVM_EV_LOCK_ACQUIRE ||
				   kind == PKVM_EV_LOCK_RELEASE;
			bool acquire = kind == PKVM_EV_LOCK_ACQUIRE2 ||
				       kind == PKVM_EV_LOCK_ACQUIRE || entry2;
			const struct pkvm_record *lr =
				entry2 ? &r[c][i + 2] : &r[c][i];
			unsigned shift = pair && !acquire ? 32 : 0;

			if (exit2) {
				cr_assert_neq(held, ~0ull, "release unheld");
				held = ~0ull;
				continue;
			}
			if (!(pair || one || entry2) ||
			    (uint32_t)(lr->a >> shift) != PKVM_LOCK_HOST_S2)
				continue;
			uint64_t ticket = (uint32_t)(lr->b >> shift);
			if (acquire) {
				cr_assert_eq(held, ~0ull, "nested acquire");
				held = ticket;
				cr_assert_lt(held, sizeof(seen));
				cr_assert_eq(seen[held]++, 0, "ticket twice");
				if (held > max_ticket)
					max_ticket = (uint32_t)held;
			} else {
				cr_assert_eq(ticket, held);
				held = ~0ull;
			}
		}
	}
	for (uint32_t i = 0; i <= max_ticket; i++)
		cr_assert_eq(seen[i], 1, "ticket %u missing", i);
	cr_assert_gt(max_ticket, TH_THREADS * TH_OPS);
	for (unsigned c = 0; c < TH_THREADS; c++)
		for (int i = 0; i < TH_OPS; i++)
			cr_assert_eq(th_host_state(TH_RAM_PFN + 0x100 * c + i),
				     i % 2 ? MEM_OWNED : MEM_SHARED_OWNED);
}

/*
 * The lock discipline (format/include/pkvm/abi.h PKVM_LOCK_ORDER_LIST,
 * PKVM_LOCK_NEEDS_LIST) as data: what it allows and refuses.
 */
Test(lock_order, the_written_order)
{
	uint32_t none = 0, trace = 1u << PKVM_LOCK_TRACE;
	uint32_t host = 1u << PKVM_LOCK_HOST_S2;
	uint32_t pair = host | 1u << PKVM_LOCK_HYP_S1;

	cr_assert(pkvm_lock_may_take(none, PKVM_LOCK_TRACE));
	cr_assert(pkvm_lock_may_take(trace, PKVM_LOCK_HOST_S2));
	cr_assert(pkvm_lock_may_take(host, PKVM_LOCK_HYP_S1));
	cr_assert(pkvm_lock_may_take(pair, PKVM_LOCK_POOL));
	cr_assert(pkvm_lock_may_take(host, PKVM_LOCK_POOL));
	cr_assert(pkvm_lock_may_take(none, PKVM_LOCK_POOL));
	/* Against the order, twice the same lock, hyp_s1 alone. */
	cr_assert(!pkvm_lock_may_take(host, PKVM_LOCK_TRACE));
	cr_assert(!pkvm_lock_may_take(1u << PKVM_LOCK_POOL, PKVM_LOCK_HOST_S2));
	cr_assert(!pkvm_lock_may_take(host, PKVM_LOCK_HOST_S2));
	cr_assert(!pkvm_lock_may_take(none, PKVM_LOCK_HYP_S1));
	cr_assert(!pkvm_lock_may_take(trace, PKVM_LOCK_HYP_S1));
}

/* No lock is held by any CPU once every trap has returned. */
static void th_assert_none_held(void)
{
	for (unsigned i = 0; i < PKVM_RING_MAX_CPUS; i++)
		cr_assert_eq(hyp_locks_held[i], 0, "cpu%u holds 0x%x", i,
			     hyp_locks_held[i]);
}

/*
 * Every path that takes locks, once, with the discipline checked (a
 * violation panics: the process would exit FAKE_PARK_EXIT): boot, each
 * ownership call, host faults (RAM and MMIO, which allocate tables under
 * host_s2), TRACE_LOAD refused and accepted, SYSTEM_OFF. Each lets go of
 * everything it took.
 */
Test(lock_order, every_path_keeps_it)
{
	th_boot(2, 0);
	th_assert_none_held();
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN, 0), 0);
	cr_assert_eq(th_call(PKVM_HC_UNSHARE_HYP, TH_RAM_PFN, 0), 0);
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, TH_RAM_PFN, 4), 0);
	cr_assert_eq(th_call(PKVM_HC_HYP_DONATE_HOST, TH_RAM_PFN, 4), 0);
	cr_assert(!fake_abort((TH_RAM_PFN + 0x200) << 12));
	cr_assert(!fake_abort(0x0a000000ull));
	cr_assert(fake_abort(TH_HYPMEM_PFN << 12));
	th_trace_prepare(PKVM_RING_DROP, 512, true);
	th_ctrl()->magic = 0;
	cr_assert_eq(th_call(PKVM_HC_TRACE_LOAD, TH_CTRL_PA >> 12, 0),
		     -PKVM_EINVAL);
	th_ctrl()->magic = PKVM_RING_MAGIC;
	cr_assert_eq(th_call(PKVM_HC_TRACE_LOAD, TH_CTRL_PA >> 12, 0), 0);
	cr_assert_eq(th_call(PKVM_HC_UNSHARE_HYP, TH_CTRL_PA >> 12, 0),
		     -PKVM_EBUSY);
	fake_set_cpu(1);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + 1, 0), 0);
	fake_set_cpu(0);
	fake_smc(0x84000008);
	th_assert_none_held();
}

/* A lock taken against the order panics at once (the CPU parks). */
Test(lock_order, against_the_order_panics, .exit_code = FAKE_PARK_EXIT)
{
	struct hyp_lock pool = HYP_LOCK_INIT(PKVM_LOCK_POOL);
	struct hyp_lock host = HYP_LOCK_INIT(PKVM_LOCK_HOST_S2);

	th_boot(1, 0);
	hyp_lock_acquire(&pool);
	hyp_lock_acquire(&host);
}

/* hyp_s1 taken without host_s2 held panics. */
Test(lock_order, hyp_s1_alone_panics, .exit_code = FAKE_PARK_EXIT)
{
	th_boot(1, 0);
	pgtable_lock(&mem_hyp_s1);
}

/*
 * A hyp stage-1 store after host_s2 was let go (hyp_s1 still held) panics:
 * the store itself is checked, not only the acquisition.
 */
Test(lock_order, hyp_s1_store_without_host_s2_panics,
     .exit_code = FAKE_PARK_EXIT)
{
	struct pgtable_locked host, hyp;
	struct pgtable_memcache mc;
	uint64_t pa = TH_RAM_PFN << 12;

	th_boot(1, 0);
	pgtable_lock2(&mem_host_s2, &mem_hyp_s1, &host, &hyp);
	hyp_lock_release(&mem_host_s2.lock);
	cr_assert_eq(pgtable_prepare(hyp, pa, HYP_PAGE_SIZE, 3, &mc), 0);
	pgtable_set(hyp, pa, 3, 0, &mc);
}
