/* SPDX-License-Identifier: MIT */
/*
 * Producer slow path: loading, the early-buffer copy, waiting (WAIT mode),
 * dropping and LOST records (DROP mode). The fast path is the inline
 * producer_emit() in <pkvm/producer.h>.
 *
 * Concurrency: every field of a struct producer_cpu is written only by its
 * own CPU, except `limit`, which producer_load() zeroes once with a
 * store-release after setting `loaded`; the slow path starts with an acquire
 * fence, so a CPU that saw limit == 0 also sees `loaded` == 1.
 */
#include <pkvm/producer.h>

void producer_init_cpu(struct producer *p, unsigned cpu,
		       struct pkvm_record *early, uint64_t cap)
{
	struct producer_cpu *pc = &p->cpu[cpu];

	pc->slots = early;
	pc->mask = cap - 1;
	pc->head = 0;
	pc->limit = cap;
	pc->produced = 0;
	pc->pub = &pc->local;
	pc->cpu = (uint16_t)cpu;
	pc->in_ring = false;
	pc->lost_pending = 0;
	pc->dropped = 0;
	pc->wait_ticks = 0;
	pc->early = early;
	pc->early_cap = cap;
}

/* Count `n` records as lost: they consume sequence numbers, nothing else. */
static void producer_drop(struct producer_cpu *pc, unsigned n, bool in_ring)
{
	if (!pc->lost_pending)
		pc->lost_first = pc->produced;
	pc->lost_pending += n;
	pc->produced += n;
	if (in_ring) {
		pc->dropped += n;
		pc->pub->dropped = pc->dropped;
	}
	pc->pub->written = pc->produced;
	/* Keep coming back to the slow path until the LOST record is out. */
	pc->limit = pc->head;
}

/*
 * Room for `n` records in the ring: true with `limit` refreshed, false when
 * a DROP-mode ring is full. A WAIT-mode ring waits for the consumer.
 */
static bool producer_room(struct producer_cpu *pc, unsigned n)
{
	uint64_t cap = pc->mask + 1;
	uint64_t tail = __atomic_load_n(&pc->pub->tail, __ATOMIC_ACQUIRE);

	if (pc->head + n - tail > cap) {
		if (pc->mode == PKVM_RING_DROP)
			return false;
		uint64_t t0 = producer_now();
		do {
			producer_relax();
			tail = __atomic_load_n(&pc->pub->tail,
					       __ATOMIC_ACQUIRE);
		} while (pc->head + n - tail > cap);
		pc->wait_ticks += producer_now() - t0;
		pc->pub->wait_ticks = pc->wait_ticks;
	}
	pc->limit = tail + cap;
	return true;
}

/* Store one record at head (room already made) and publish it. */
static void producer_put(struct producer_cpu *pc, const struct pkvm_record *r)
{
	pc->slots[pc->head & pc->mask] = *r;
	pc->head++;
	pc->pub->written = pc->produced;
	__atomic_store_n(&pc->pub->head, pc->head, __ATOMIC_RELEASE);
}

/* Write a one-record event of the producer's own (LOST, MARK). */
static void producer_put_own(struct producer_cpu *pc, unsigned kind, uint64_t a,
			     uint64_t b)
{
	struct pkvm_record r = {
		.ts = producer_now(),
		.kind = (uint8_t)kind,
		.flags = 0,
		.cpu = pc->cpu,
		.seq = (uint32_t)pc->produced,
		.a = a,
		.b = b,
	};
	pc->produced++;
	producer_put(pc, &r);
}

/*
 * Ring mode: make room for `n` records, first writing a pending LOST record.
 * Returns false (and counts the records as dropped) when there is no room.
 */
static bool producer_ring_prepare(struct producer_cpu *pc, unsigned n)
{
	if (pc->lost_pending) {
		if (!producer_room(pc, n + 1)) {
			producer_drop(pc, n, true);
			return false;
		}
		producer_put_own(pc, PKVM_EV_LOST, pc->lost_pending,
				 pc->lost_first);
		pc->lost_pending = 0;
		return true;
	}
	if (!producer_room(pc, n)) {
		producer_drop(pc, n, true);
		return false;
	}
	return true;
}

/*
 * First emit after loading: move this CPU to its ring and copy the early
 * buffer in. Early records keep their sequence numbers; if the ring has no
 * room for all of them (DROP mode), the rest are counted as lost so that the
 * lost range stays one contiguous run of sequence numbers.
 */
static void producer_switch(struct producer *p, struct producer_cpu *pc)
{
	struct pkvm_record *early = pc->early;
	uint64_t count = pc->head;
	uint64_t copied = 0;
	/* Early losses so far: seq [early_lost_first, produced). */
	uint64_t early_lost = pc->lost_pending;

	pc->slots = p->rings[pc->cpu].records;
	pc->mask = p->rings[pc->cpu].nr_records - 1;
	pc->mode = p->mode;
	pc->pub = &p->ctrl->cpu[pc->cpu];
	pc->head = 0;
	pc->in_ring = true;
	pc->lost_pending = 0;
	for (uint64_t i = 0; i < count; i++) {
		if (!producer_room(pc, 1)) {
			/* Everything from here on is lost, early losses too. */
			pc->lost_first = early[i].seq;
			pc->lost_pending = count - i + early_lost;
			pc->dropped += count - i;
			pc->pub->dropped = pc->dropped;
			break;
		}
		producer_put(pc, &early[i]);
		copied++;
	}
	if (!pc->lost_pending && early_lost) {
		pc->lost_first = pc->produced - early_lost;
		pc->lost_pending = early_lost;
	}
	if (producer_ring_prepare(pc, 1))
		producer_put_own(pc, PKVM_EV_MARK, PKVM_MARK_EARLY_COPIED,
				 copied);
}

void producer_flush_early(struct producer *p, unsigned cpu)
{
	struct producer_cpu *pc = &p->cpu[cpu];

	if (!__atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE) || pc->in_ring)
		return;
	producer_switch(p, pc);
}

bool producer_slow(struct producer *p, struct producer_cpu *pc, unsigned n)
{
	/* Pairs with the store-release of `limit` in producer_load(). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (!pc->in_ring) {
		if (!__atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE)) {
			/* Early buffer full: count, report once loaded. */
			producer_drop(pc, n, false);
			return false;
		}
		producer_switch(p, pc);
	}
	return producer_ring_prepare(pc, n);
}

void producer_load(struct producer *p, struct pkvm_ring_ctrl *ctrl,
		   const struct producer_ring *rings, uint32_t mode,
		   uint64_t counter_freq)
{
	for (unsigned i = 0; i < p->cpu_count; i++) {
		p->rings[i].records = rings[i].records;
		p->rings[i].nr_records = rings[i].nr_records;
		ctrl->cpu[i].dropped = 0;
		ctrl->cpu[i].wait_ticks = 0;
		ctrl->cpu[i].written = 0;
		__atomic_store_n(&ctrl->cpu[i].head, 0, __ATOMIC_RELEASE);
	}
	ctrl->counter_freq = counter_freq;
	ctrl->panic_code = 0;
	ctrl->panic_addr = 0;
	p->mode = mode;
	p->ctrl = ctrl;
	__atomic_store_n(&ctrl->state, PKVM_RING_STATE_RUNNING,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&p->loaded, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < p->cpu_count; i++)
		__atomic_store_n(&p->cpu[i].limit, 0, __ATOMIC_RELEASE);
}

void producer_set_state(struct producer *p, uint32_t state, uint64_t code,
			uint64_t addr)
{
	if (!__atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE))
		return;
	p->ctrl->panic_code = code;
	p->ctrl->panic_addr = addr;
	__atomic_store_n(&p->ctrl->state, state, __ATOMIC_RELEASE);
}

uint64_t producer_produced(const struct producer *p, unsigned cpu)
{
	return p->cpu[cpu].produced;
}
