/* SPDX-License-Identifier: MIT */
/*
 * The real producer (tracer/producer), built natively, as the consumer sees
 * it through the published ring state: after every publish, `written` is
 * the number of records the CPU produced (ring.h), whichever path (fast
 * path, drops, LOST record) the records took. pkvm-record stores it in the
 * end summary as `produced`, so a stale value would read as a tail loss.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <pkvm/producer.h>

uint64_t producer_now(void)
{
	static uint64_t t;

	return ++t;
}

void producer_relax(void)
{
}

#define EARLY_CAP 256u
#define RING_CAP 128u

static struct producer prod;
static struct pkvm_ring_ctrl ctrl;
static struct pkvm_record early[EARLY_CAP];
static struct pkvm_record ring[RING_CAP];

/* One CPU in a DROP-mode ring of RING_CAP records, after a few early
 * records. */
static struct producer_cpu *setup(void)
{
	struct producer_ring r = { ring, RING_CAP };
	struct producer_cpu *pc = &prod.cpu[0];
	uint64_t w[2] = { 0, 0 };

	memset(&prod, 0, sizeof(prod));
	memset(&ctrl, 0, sizeof(ctrl));
	prod.cpu_count = 1;
	producer_init_cpu(&prod, 0, early, EARLY_CAP);
	for (int i = 0; i < 5; i++)
		producer_emit(pc, PKVM_EV_BARRIER, 0, w, 1);
	ctrl.cpu[0].nr_records = RING_CAP;
	producer_load(&prod, &ctrl, &r, PKVM_RING_DROP, 1000);
	producer_sync(&prod, pc);
	cr_assert(pc->in_ring);
	return pc;
}

/* A trap's worth of one-record events, then its publish. */
static void trap(struct producer_cpu *pc, unsigned events)
{
	uint64_t w[2] = { 1, 2 };

	for (unsigned i = 0; i < events; i++)
		producer_emit(pc, PKVM_EV_BARRIER, 0, w, 1);
	producer_publish(pc);
}

/* After each publish, `written` = records produced (drops included). */
Test(producer_publish, written_with_every_head)
{
	struct producer_cpu *pc = setup();
	struct pkvm_ring_cpu *rc = &ctrl.cpu[0];

	for (unsigned t = 0; t < 200; t++) {
		trap(pc, 1 + t % 7);
		cr_assert_eq(rc->written, producer_produced(&prod, 0),
			     "trap %u: written %llu, produced %llu", t,
			     (unsigned long long)rc->written,
			     (unsigned long long)producer_produced(&prod, 0));
		/* The consumer catches up now and then: drops, then a LOST
		 * record, then records on the fast path again. */
		if (t % 40 == 39)
			rc->tail = rc->head;
	}
	cr_assert_gt(rc->dropped, 0, "the ring never overflowed");
}

/* Quiet after losses: the fast-path records after the LOST count too. */
Test(producer_publish, fast_path_after_loss)
{
	struct producer_cpu *pc = setup();
	struct pkvm_ring_cpu *rc = &ctrl.cpu[0];

	trap(pc, RING_CAP + 10); /* overflow: drops */
	cr_assert_gt(rc->dropped, 0);
	rc->tail = rc->head;
	trap(pc, 3); /* LOST record through the slow path, then 3 records */
	trap(pc, 3); /* fast path only */
	cr_assert_eq(rc->written, producer_produced(&prod, 0));
	cr_assert_eq(rc->written, rc->head + rc->dropped);
}
