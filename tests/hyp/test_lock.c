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
