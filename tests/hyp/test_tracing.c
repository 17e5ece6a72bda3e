/* SPDX-License-Identifier: MIT */
/*
 * TRACE_LOAD validation (format/HYPERCALLS.md trace_load, checks in order)
 * and the producer: early buffer copy, LOST records, sequence numbers,
 * no write outside the shared pages.
 */
#include <errno.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static int64_t th_load(void)
{
	return th_call(PKVM_HC_TRACE_LOAD, TH_CTRL_PA >> 12, 0);
}

/* A refused load leaves tracing off: the control block is not written. */
static void th_assert_not_loaded(void)
{
	cr_assert_eq(th_ctrl()->state, PKVM_RING_STATE_SETUP);
	cr_assert_eq(th_ctrl()->cpu[0].head, 0);
}

/* Each bad descriptor field gives -EINVAL, and nothing is loaded. */
Test(trace_load, bad_fields)
{
	th_boot(2, 0);
	th_trace_prepare(PKVM_RING_DROP, 512, true);
	struct pkvm_ring_ctrl *c = th_ctrl();
	struct pkvm_ring_ctrl good = *c;

	c->magic++;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "magic");
	*c = good;
	c->version = 2;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "version");
	*c = good;
	c->cpu_count = 1;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "cpu_count");
	*c = good;
	c->mode = 2;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "mode");
	*c = good;
	c->cpu[1].base_pa += 8;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "unaligned ring");
	*c = good;
	c->cpu[1].nr_records = 384;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "not a power of two");
	*c = good;
	c->cpu[1].nr_records = 64;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "too small");
	*c = good;
	c->cpu[1].nr_records = 1ull << 21;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "too large");
	*c = good;
	c->cpu[1].base_pa = 0x9000000;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "ring not in RAM");
	*c = good;
	c->cpu[1].base_pa = (PKVM_RAM_BASE + PKVM_RAM_SIZE) - 0x1000;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "ring runs off RAM");
	*c = good;
	c->cpu[1].base_pa = TH_RING_PA(0) + 0x1000;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "rings overlap");
	*c = good;
	c->cpu[1].base_pa = TH_CTRL_PA;
	cr_assert_eq(th_load(), -PKVM_EINVAL, "ring overlaps control page");
	*c = good;
	th_assert_not_loaded();
	cr_assert_eq(th_load(), 0);
	cr_assert_eq(th_ctrl()->state, PKVM_RING_STATE_RUNNING);
}

/* The control page must be shared; hyp-owned or MMIO pages are refused. */
Test(trace_load, control_page_checks)
{
	th_boot(1, 0);
	th_trace_prepare(PKVM_RING_DROP, 512, false);
	cr_assert_eq(th_load(), -PKVM_EPERM, "control page not shared");
	cr_assert_eq(th_call(PKVM_HC_TRACE_LOAD, TH_HYPMEM_PFN, 0), -PKVM_EPERM,
		     "hyp-owned page");
	cr_assert_eq(th_call(PKVM_HC_TRACE_LOAD, TH_MMIO_PFN, 0), -PKVM_EINVAL,
		     "MMIO");
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_CTRL_PA >> 12, 0), 0);
	cr_assert_eq(th_load(), -PKVM_EPERM, "rings not shared");
	/* All but the last ring page shared: still refused. */
	for (uint64_t p = 0; p < 3; p++)
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP,
				     (TH_RING_PA(0) >> 12) + p, 0),
			     0);
	cr_assert_eq(th_load(), -PKVM_EPERM, "last ring page not shared");
	th_assert_not_loaded();
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, (TH_RING_PA(0) >> 12) + 3, 0),
		     0);
	cr_assert_eq(th_load(), 0);
}

/* Loaded once: a second load is -EBUSY and the pages stay pinned. */
Test(trace_load, busy_and_pinned)
{
	th_boot(1, 0);
	th_trace_on(512);
	cr_assert_eq(th_load(), -PKVM_EBUSY);
	cr_assert_eq(th_call(PKVM_HC_UNSHARE_HYP, TH_CTRL_PA >> 12, 0),
		     -PKVM_EBUSY);
	cr_assert_eq(th_call(PKVM_HC_UNSHARE_HYP, (TH_RING_PA(0) >> 12) + 3, 0),
		     -PKVM_EBUSY);
	cr_assert_eq(th_hyp_state(TH_CTRL_PA >> 12), MEM_SHARED_BORROWED);
}

/* Every host-written field is read once, as a NONDET host_read record. */
Test(trace_load, fields_read_once_recorded)
{
	static struct pkvm_record r[4096];

	th_boot(1, 0);
	th_trace_on(4096);
	size_t n = th_ring_records(0, r, 4096);
	size_t reads = 0;
	for (size_t i = 0; i + 1 < n; i++)
		if (r[i].kind == PKVM_EV_NONDET &&
		    r[i].a == PKVM_NONDET_HOST_READ &&
		    !(r[i].flags & PKVM_REC_F_CONT)) {
			cr_assert_eq(r[i + 1].flags, PKVM_REC_F_CONT | 1);
			reads++;
		}
	/* magic, version, cpu_count, mode, base_pa, nr_records. */
	cr_assert_eq(reads, 6);
	cr_assert_eq(th_count(r, n, PKVM_EV_MARK, PKVM_MARK_TRACE_ON), 1);
}

/* Tracing writes only the control block and the rings, nothing around. */
Test(trace_load, no_write_outside_shared_pages)
{
	th_boot(1, 0);
	uint8_t *before = fake_mem(TH_CTRL_PA - 0x1000);
	uint8_t *after = fake_mem(TH_RING_PA(0) + 512 * 32);
	memset(before, 0xA5, 0x1000);
	memset(after, 0x5A, 0x1000);
	uint8_t *ctrl_tail =
		fake_mem(TH_CTRL_PA + sizeof(struct pkvm_ring_ctrl));
	memset(ctrl_tail, 0x77, 0x1000 - sizeof(struct pkvm_ring_ctrl));
	th_trace_on(512);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + i, 0), 0);
	for (size_t i = 0; i < 0x1000; i++) {
		cr_assert_eq(before[i], 0xA5);
		cr_assert_eq(after[i], 0x5A);
	}
	for (size_t i = 0; i < 0x1000 - sizeof(struct pkvm_ring_ctrl); i++)
		cr_assert_eq(ctrl_tail[i], 0x77);
}

/* Early records are copied first, then MARK early_copied; seqs run on. */
Test(producer, early_copy_then_ring)
{
	static struct pkvm_record r[4096];

	th_boot(1, 0);
	uint64_t early = producer_produced(&hyp_producer, 0);
	th_trace_on(4096);
	size_t n = th_ring_records(0, r, 4096);
	cr_assert_eq(r[0].kind, PKVM_EV_BOOT);
	cr_assert_eq(r[0].flags, 6);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(r[i].seq, i, "record %zu", i);
	cr_assert_eq(th_count(r, n, PKVM_EV_LOST, ~0ull), 0);
	cr_assert_eq(th_count(r, n, PKVM_EV_MARK, PKVM_MARK_EARLY_COPIED), 1);
	cr_assert_gt(early, 50);
	cr_assert_eq(th_ctrl()->cpu[0].written,
		     producer_produced(&hyp_producer, 0));
}

/* An overflowing early buffer is reported by one LOST record at the copy. */
Test(producer, early_overflow_lost)
{
	static struct pkvm_record r[4096];

	th_boot(2, 0);
	uint64_t cap = hyp_producer.cpu[1].cap; /* the early buffer's */
	fake_set_cpu(1);
	for (uint64_t i = 0; i < cap / 2; i++)
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + i, 0), 0);
	fake_set_cpu(0);
	/* CPU 1 idles in the host: its buffer is copied for it at load. */
	th_trace_on(4096);
	size_t n = th_ring_records(1, r, 4096);
	/* The buffer closes at the first event that does not fit. */
	size_t kept = n - 2;
	cr_assert_gt(kept, cap - PKVM_EVENT_MAX_RECORDS);
	cr_assert_leq(kept, cap);
	cr_assert_eq(r[0].kind, PKVM_EV_MARK);
	cr_assert_eq(r[0].a, PKVM_MARK_CPU_UP);
	for (size_t i = 0; i < kept; i++)
		cr_assert_eq(r[i].seq, i, "early records keep their seq");
	cr_assert_eq(r[kept].kind, PKVM_EV_LOST);
	cr_assert_eq(r[kept].b, kept, "first lost seq");
	cr_assert_eq(r[kept].seq, kept + r[kept].a);
	cr_assert_eq(r[kept + 1].kind, PKVM_EV_MARK);
	cr_assert_eq(r[kept + 1].a, PKVM_MARK_EARLY_COPIED);
	cr_assert_eq(r[kept + 1].b, kept);
}

/* A CPU that made no call since loading gets its early records anyway. */
Test(producer, idle_cpu_flushed_at_load)
{
	static struct pkvm_record r[1024];

	th_boot(3, 0);
	th_trace_on(1024);
	for (unsigned c = 1; c < 3; c++) {
		size_t n = th_ring_records(c, r, 1024);
		cr_assert_gt(n, 2, "cpu %u", c);
		cr_assert_eq(r[0].kind, PKVM_EV_MARK);
		cr_assert_eq(r[0].a, PKVM_MARK_CPU_UP);
		cr_assert_eq(th_count(r, n, PKVM_EV_MARK, PKVM_MARK_HOST_ENTER),
			     1);
		cr_assert_eq(r[n - 1].a, PKVM_MARK_EARLY_COPIED);
	}
}

/* DROP mode: a full ring drops, counts, and writes LOST once room is back. */
Test(producer, drop_mode_lost_record)
{
	static struct pkvm_record r[512];

	th_boot(1, 0);
	th_trace_on(512);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + i, 0), 0);
	struct pkvm_ring_cpu *rc = &th_ctrl()->cpu[0];
	cr_assert_eq(rc->head, 512);
	cr_assert_gt(rc->dropped, 0);
	uint64_t last_seq =
		((struct pkvm_record *)fake_mem(rc->base_pa))[511].seq;
	rc->tail = 512; /* consume everything */
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + 100, 0), 0);
	struct pkvm_record *ring = fake_mem(rc->base_pa);
	cr_assert_eq(ring[0].kind, PKVM_EV_LOST);
	cr_assert_eq(ring[0].b, last_seq + 1);
	cr_assert_eq(ring[0].seq, last_seq + 1 + ring[0].a);
	cr_assert_eq(ring[0].a, rc->dropped, "LOST %llu, dropped %llu",
		     (unsigned long long)ring[0].a,
		     (unsigned long long)rc->dropped);
	/* Every record produced is published or counted as dropped. */
	cr_assert_eq(rc->head + rc->dropped,
		     producer_produced(&hyp_producer, 0));
	cr_assert_leq(rc->written, producer_produced(&hyp_producer, 0));
	(void)r;
}

/*
 * An ownership hypercall (HVC #0) is one HCALL_ENTRY_LOCK2 (entry and lock
 * pair, taken first) ... one HCALL_EXIT_UNLOCK2 (release and exit), with
 * no lock records of the pair in between; the tickets count up per lock.
 */
Test(producer, hcall_records)
{
	static struct pkvm_record r[4096];
	uint64_t pair = PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32;
	uint64_t tickets[2];

	th_boot(1, 0);
	th_trace_on(4096);
	for (unsigned k = 0; k < 2; k++) {
		size_t n0 = th_ring_records(0, r, 4096);
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + k, 0), 0);
		size_t n = th_ring_records(0, r, 4096);

		cr_assert_eq(r[n0].kind, PKVM_EV_HCALL_ENTRY_LOCK2);
		cr_assert_eq(r[n0].flags, 2, "host source, two continuations");
		cr_assert_eq(r[n0].a, PKVM_WORKLOAD_BASE + 0x104, "elr");
		cr_assert_eq(r[n0].b, PKVM_HC_BASE | PKVM_HC_SHARE_HYP, "x0");
		cr_assert_eq(r[n0 + 1].a, TH_RAM_PFN + k, "x1");
		cr_assert_eq(r[n0 + 1].b, 0, "x2");
		cr_assert_eq(r[n0 + 2].a, pair, "locks: host_s2, hyp_s1");
		tickets[k] = r[n0 + 2].b;
		cr_assert_eq(r[n - 1].kind, PKVM_EV_HCALL_EXIT_UNLOCK2);
		cr_assert_eq(r[n - 1].flags, 0, "host source, no continuation");
		cr_assert_eq(r[n - 1].a, 0, "x0 out");
		cr_assert_eq(r[n - 1].b, 0, "x1 out");
		cr_assert_geq(
			th_count(r + n0, n - n0, PKVM_EV_PTE_WRITE, ~0ull), 2,
			"host and hyp descriptors");
		/* The pair is in the two fused records only. */
		for (unsigned k2 = PKVM_EV_LOCK_ACQUIRE2;
		     k2 <= PKVM_EV_LOCK_RELEASE2; k2++)
			cr_assert_eq(th_count(r + n0, n - n0, k2, ~0ull), 0);
		for (unsigned id = PKVM_LOCK_HOST_S2; id <= PKVM_LOCK_HYP_S1;
		     id++) {
			cr_assert_eq(th_count(r + n0, n - n0,
					      PKVM_EV_LOCK_ACQUIRE, id),
				     0);
			cr_assert_eq(th_count(r + n0, n - n0,
					      PKVM_EV_LOCK_RELEASE, id),
				     0);
		}
	}
	cr_assert_eq(tickets[1], tickets[0] + (1ull | 1ull << 32),
		     "each lock's ticket counts up");
}

/*
 * Other hypercalls keep the HCALL_ENTRY ... HCALL_EXIT pair, and an HVC
 * with another immediate (the ESR differs) takes the canonical entry with
 * the pair as LOCK_ACQUIRE2 / LOCK_RELEASE2 (released in reverse order).
 */
Test(producer, hcall_records_other_forms)
{
	static struct pkvm_record r[4096];
	uint64_t pair = PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32;
	uint64_t x1 = 0;

	th_boot(1, 0);
	th_trace_on(4096);
	size_t n0 = th_ring_records(0, r, 4096);
	cr_assert_eq(th_call(PKVM_HC_TRACE_LOAD, TH_CTRL_PA >> 12, 0),
		     -PKVM_EBUSY);
	size_t n = th_ring_records(0, r, 4096);

	cr_assert_eq(r[n0].kind, PKVM_EV_HCALL_ENTRY);
	cr_assert_eq(r[n0].b, PKVM_HC_BASE | PKVM_HC_TRACE_LOAD, "x0");
	cr_assert_eq(r[n - 1].kind, PKVM_EV_HCALL_EXIT);
	cr_assert_eq(r[n - 1].b, (uint64_t)-PKVM_EBUSY, "x1 out");

	n0 = n;
	cr_assert_eq(fake_hvc_imm(1, PKVM_HC_SHARE_HYP, TH_RAM_PFN, 0, 0, &x1),
		     0);
	cr_assert_eq(x1, 0);
	n = th_ring_records(0, r, 4096);
	cr_assert_eq(r[n0].kind, PKVM_EV_TRAP_ENTRY);
	cr_assert_eq(r[n0].a, (uint64_t)TRAP_EC_HVC64 << 26 | 1ull << 25 | 1,
		     "esr");
	cr_assert_eq(r[n0 + 4].kind, PKVM_EV_LOCK_ACQUIRE2);
	cr_assert_eq(r[n0 + 4].a, pair);
	cr_assert_eq(r[n - 2].kind, PKVM_EV_LOCK_RELEASE2);
	cr_assert_eq(r[n - 2].a, pair >> 32 | pair << 32, "reverse order");
	cr_assert_eq(r[n - 2].b, r[n0 + 4].b >> 32 | r[n0 + 4].b << 32,
		     "the tickets taken");
	cr_assert_eq(r[n - 1].kind, PKVM_EV_HCALL_EXIT);
	cr_assert_eq(th_host_state(TH_RAM_PFN), MEM_SHARED_OWNED);
}

/* An abort that only maps returns with HCALL_EXIT; an injected one does not. */
Test(producer, trap_exit_forms)
{
	static struct pkvm_record r[4096];

	th_boot(1, 0);
	th_trace_on(4096);
	size_t n0 = th_ring_records(0, r, 4096);
	cr_assert(!fake_abort(0x48600000), "host memory: mapped, no abort");
	size_t n1 = th_ring_records(0, r, 4096);
	cr_assert_eq(r[n0].kind, PKVM_EV_TRAP_ENTRY);
	cr_assert_eq(r[n1 - 1].kind, PKVM_EV_HCALL_EXIT);
	cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, TH_RAM_PFN, 1), 0);
	n1 = th_ring_records(0, r, 4096);
	cr_assert(fake_abort(TH_RAM_PFN << 12), "the hyp's page: injected");
	size_t n2 = th_ring_records(0, r, 4096);
	cr_assert_eq(r[n1].kind, PKVM_EV_TRAP_ENTRY);
	cr_assert_eq(r[n2 - 4].kind, PKVM_EV_TRAP_EXIT);
	cr_assert_neq(r[n2 - 2].a, 0, "inject_esr");
	/* The summary is the ESR_EL1 written: from EL1h, EC 0x25. */
	cr_assert_eq(r[n2 - 2].a, fake_stats.sysreg[PKVM_SYSREG_ESR_EL1]);
	cr_assert_eq(r[n2 - 2].a >> 26, 0x25);
}

/*
 * A consumer thread for WAIT mode: copies CPU 0's records out as they come;
 * while `th_pause` is set it stops draining (a host that stops reading).
 */
static struct pkvm_record th_sink[1 << 16];
static size_t th_sunk;
static int th_stop, th_pause;
/* Times `head` was seen inside an event (its continuations not yet out). */
static unsigned th_half_events;

static void *th_consume(void *arg)
{
	struct pkvm_ring_cpu *rc = &th_ctrl()->cpu[0];
	const struct pkvm_record *ring = fake_mem(rc->base_pa);

	(void)arg;
	for (;;) {
		int stop = __atomic_load_n(&th_stop, __ATOMIC_ACQUIRE);

		if (!stop && __atomic_load_n(&th_pause, __ATOMIC_ACQUIRE)) {
			sched_yield();
			continue;
		}
		uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE);
		for (uint64_t t = rc->tail; t < head; t++) {
			const struct pkvm_record *rec = &ring[t & 127];

			if (th_sunk < sizeof(th_sink) / sizeof(th_sink[0]))
				th_sink[th_sunk++] = *rec;
			if (t + 1 == head && !(rec->flags & PKVM_REC_F_CONT) &&
			    (rec->flags & PKVM_REC_F_NCONT_MASK))
				th_half_events++;
			if (t + 1 == head && (rec->flags & PKVM_REC_F_CONT) &&
			    (rec->flags & PKVM_REC_F_NCONT_MASK) !=
				    pkvm_event_ncont(rec->kind))
				th_half_events++;
		}
		__atomic_store_n(&rc->tail, head, __ATOMIC_RELEASE);
		if (stop)
			return NULL;
	}
}

/* `cpus` CPUs, the smallest WAIT-mode rings, CPU 0's drained by th_consume().
 */
static pthread_t th_wait_start_cpus(unsigned cpus)
{
	pthread_t t;

	__atomic_store_n(&th_stop, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&th_pause, 0, __ATOMIC_RELEASE);
	th_sunk = 0;
	th_half_events = 0;
	th_boot(cpus, 0);
	th_trace_prepare(PKVM_RING_WAIT, 128, true);
	pthread_create(&t, NULL, th_consume, NULL);
	cr_assert_eq(th_call(PKVM_HC_TRACE_LOAD, TH_CTRL_PA >> 12, 0), 0);
	return t;
}

static pthread_t th_wait_start(void)
{
	return th_wait_start_cpus(1);
}

/*
 * Stop the consumer; every record produced must have reached it, in order,
 * every event whole (its continuations right after it). Returns how many
 * events crossed the end of the ring (the slow path's wrap).
 */
static size_t th_wait_finish_lossless(pthread_t t)
{
	size_t across_end = 0;

	__atomic_store_n(&th_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	cr_assert_eq(th_sunk, producer_produced(&hyp_producer, 0));
	for (size_t i = 0; i < th_sunk; i++)
		cr_assert_eq(th_sink[i].seq, i, "record %zu", i);
	for (size_t i = 0; i < th_sunk;) {
		unsigned ncont = th_sink[i].flags & PKVM_REC_F_NCONT_MASK;

		cr_assert_eq(th_sink[i].flags & PKVM_REC_F_CONT, 0,
			     "record %zu: a head", i);
		cr_assert_eq(ncont, pkvm_event_ncont(th_sink[i].kind));
		for (unsigned k = 1; k <= ncont; k++) {
			cr_assert_lt(i + k, th_sunk);
			cr_assert_eq(th_sink[i + k].kind, th_sink[i].kind);
			cr_assert_eq(th_sink[i + k].flags, PKVM_REC_F_CONT | k,
				     "record %zu", i + k);
		}
		across_end += i % 128 + ncont >= 128;
		i += 1 + ncont;
	}
	cr_assert_eq(th_count(th_sink, th_sunk, PKVM_EV_LOST, ~0ull), 0);
	cr_assert_eq(th_ctrl()->cpu[0].dropped, 0);
	cr_assert_eq(th_half_events, 0, "head published inside an event");
	return across_end;
}

/* WAIT mode: a ring far smaller than the output loses nothing. */
Test(producer, wait_mode_lossless)
{
	pthread_t t = th_wait_start();

	/*
	 * An unknown id (three records) between the shares, so that the
	 * events do not all keep to one alignment in the ring.
	 */
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + i, 0), 0);
		cr_assert_eq(fake_hvc(0x7f, 0, 0, 0, NULL),
			     PKVM_SMCCC_NOT_SUPPORTED);
	}
	cr_assert_gt(th_wait_finish_lossless(t), 0,
		     "no event crossed the ring's end");
	cr_assert_gt(th_ctrl()->cpu[0].wait_ticks, 0);
}

/*
 * WAIT mode with the smallest ring: the longest paths (a block split writing
 * 512 entries, multi-page donations with their TLB maintenance) wait for
 * room event by event, so nothing is dropped however long a trap is.
 */
Test(producer, wait_mode_long_paths_lossless)
{
	pthread_t t = th_wait_start();

	cr_assert(!fake_abort(0x48600000), "maps a 2 MiB block");
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, 0x48601, 0), 0, "splits it");
	for (uint64_t pfn = 0x48610; pfn < 0x48650; pfn += 16) {
		cr_assert_eq(th_call(PKVM_HC_HOST_DONATE_HYP, pfn, 16), 0);
		cr_assert_eq(th_call(PKVM_HC_HYP_DONATE_HOST, pfn, 16), 0);
	}
	th_wait_finish_lossless(t);
	cr_assert_gt(th_sunk, 700, "the split alone writes 512 entries");
}

/* CPU 0's work while its consumer is paused: a thread, since it may wait. */
struct th_cpu0_job {
	uint64_t pfn, count; /* share [pfn, pfn + count) */
	bool split;	     /* first map the 2 MiB block holding pfn */
	int64_t ret;	     /* first non-zero result, or 0 */
};

static void *th_cpu0_work(void *arg)
{
	struct th_cpu0_job *job = arg;

	fake_set_cpu(0);
	if (job->split)
		fake_abort((job->pfn << 12) & ~0x1fffffull);
	for (uint64_t i = 0; i < job->count && !job->ret; i++)
		job->ret = th_call(PKVM_HC_SHARE_HYP, job->pfn + i, 0);
	return NULL;
}

/* Wait until CPU 0 has published a full ring (its consumer is paused). */
static void th_wait_ring_full(void)
{
	struct pkvm_ring_cpu *rc = &th_ctrl()->cpu[0];

	for (;;) {
		uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE);

		if (head - rc->tail > rc->nr_records - 8)
			break;
		sched_yield();
	}
	usleep(20000); /* let CPU 0 get to wherever it waits */
}

/*
 * A host that stops draining (WAIT mode) never stalls the other CPUs: CPU 0
 * fills its ring while it holds host_s2 and hyp_s1, finishes its
 * hypercall (the rest of its records spill) and lets the locks go, so CPU 1
 * gets them; CPU 0 waits for room only on its way out, holding nothing.
 * Once the consumer drains again, nothing was lost.
 */
Test(producer, wait_mode_lock_holder_never_waits, .timeout = 120)
{
	pthread_t t = th_wait_start_cpus(2), w;
	struct th_cpu0_job job = { .pfn = TH_RAM_PFN, .count = 40 };

	__atomic_store_n(&th_pause, 1, __ATOMIC_RELEASE);
	pthread_create(&w, NULL, th_cpu0_work, &job);
	th_wait_ring_full();
	fake_set_cpu(1);
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_RAM_PFN + 0x100, 0), 0,
		     "CPU 1 takes the locks CPU 0 used");
	cr_assert_eq(th_host_state(TH_RAM_PFN + 0x100), MEM_SHARED_OWNED);
	/*
	 * CPU 0 is still on its way out, waiting for room: its ring is full
	 * up to less than one event (an event that does not fit whole is
	 * spilled, so the last few slots may stay empty).
	 */
	cr_assert_eq(pthread_tryjoin_np(w, NULL), EBUSY,
		     "CPU 0 still waits for room");
	cr_assert_geq(
		__atomic_load_n(&th_ctrl()->cpu[0].tail, __ATOMIC_ACQUIRE) +
			128,
		th_ctrl()->cpu[0].head);
	cr_assert_lt(
		__atomic_load_n(&th_ctrl()->cpu[0].tail, __ATOMIC_ACQUIRE) +
			128,
		th_ctrl()->cpu[0].head + 8, "CPU 0's ring is full");
	fake_set_cpu(0);
	__atomic_store_n(&th_pause, 0, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
	cr_assert_eq(job.ret, 0);
	th_wait_finish_lossless(t);
}

/*
 * What does not fit in the ring or the spill, while the consumer does not
 * drain, is dropped and counted (a LOST record once there is room), never
 * waited for under a lock: a block split (over 512 records) with a 64-record
 * spill.
 */
Test(producer, wait_mode_spill_overflow_counted, .timeout = 120)
{
	pthread_t t = th_wait_start(), w;
	struct th_cpu0_job job = { .pfn = 0x48601, .count = 1, .split = true };
	struct pkvm_ring_cpu *rc = &th_ctrl()->cpu[0];
	uint64_t lost = 0;

	__atomic_store_n(&th_pause, 1, __ATOMIC_RELEASE);
	hyp_producer.cpu[0].spill_cap = 64;
	pthread_create(&w, NULL, th_cpu0_work, &job);
	th_wait_ring_full();
	__atomic_store_n(&th_pause, 0, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
	cr_assert_eq(job.ret, 0, "the share finished");
	__atomic_store_n(&th_stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	cr_assert_gt(rc->dropped, 0, "the spill overflowed");
	for (size_t i = 0; i < th_sunk; i++) {
		if (th_sink[i].kind == PKVM_EV_LOST) {
			cr_assert_eq(th_sink[i].b, th_sink[i - 1].seq + 1,
				     "first lost right after the last kept");
			cr_assert_eq(th_sink[i].seq,
				     th_sink[i].b + th_sink[i].a);
			lost += th_sink[i].a;
		} else if (i > 0) {
			cr_assert_eq(th_sink[i].seq, th_sink[i - 1].seq + 1,
				     "record %zu: no silent gap", i);
		}
	}
	cr_assert_eq(lost, rc->dropped, "every drop in a LOST record");
	cr_assert_eq(th_sunk + rc->dropped,
		     producer_produced(&hyp_producer, 0));
	cr_assert_eq(th_host_state(0x48601), MEM_SHARED_OWNED);
}
