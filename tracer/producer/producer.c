/* SPDX-License-Identifier: MIT */
/*
 * Producer slow path: loading, the early-buffer copy, waiting (WAIT mode),
 * drops and LOST records. The inline halves (producer_emit, producer_sync,
 * producer_publish) are in <pkvm/producer.h>.
 *
 * Concurrency: every field of a struct producer_cpu is written only by its
 * own CPU (or on its behalf while it is held outside the hyp). producer_load()
 * publishes the rings with a store-release of `loaded`; a CPU sees it at its
 * next sync point, whose slow path starts with an acquire fence.
 */
#include <pkvm/producer.h>

/* Records produced = head + seq_base from now on. */
static void producer_set_seq_base(struct producer_cpu *pc, uint64_t seq_base)
{
	pc->seq_base = seq_base;
	pc->hdr_base = seq_base << 32 | (uint64_t)pc->cpu << 16;
}

void producer_init_cpu(struct producer *p, unsigned cpu,
		       struct pkvm_record *early, uint64_t cap)
{
	struct producer_cpu *pc = &p->cpu[cpu];

	pc->slots = early;
	pc->mask = cap - 1;
	pc->head = 0;
	pc->limit = cap; /* the early buffer is never drained: no wrap */
	pc->overflow = 0;
	pc->cpu = (uint16_t)cpu;
	producer_set_seq_base(pc, 0);
	pc->pub = &pc->local;
	pc->in_ring = false;
	pc->lost_pending = 0;
	pc->dropped = 0;
	pc->wait_ticks = 0;
	pc->early = early;
}

/* Count `n` records as dropped: they take sequence numbers, no slots. */
static void producer_drop(struct producer_cpu *pc, uint64_t n)
{
	if (!pc->lost_pending)
		pc->lost_first = producer_cpu_produced(pc);
	pc->lost_pending += n;
	producer_set_seq_base(pc, pc->seq_base + n);
	if (pc->in_ring) {
		pc->dropped += n;
		pc->pub->dropped = pc->dropped;
	}
}

/*
 * Refresh `limit` from the consumer's tail; true if `n` records fit. A
 * WAIT-mode ring waits for the consumer until they do.
 */
static bool producer_room(struct producer_cpu *pc, unsigned n)
{
	uint64_t cap = pc->mask + 1;
	uint64_t tail = __atomic_load_n(&pc->pub->tail, __ATOMIC_ACQUIRE);

	if (pc->head + n - tail > cap && pc->mode == PKVM_RING_WAIT) {
		/* The consumer can only make room for what it can see. */
		producer_publish(pc);
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
	return pc->head + n - tail <= cap;
}

/* Store one record at head (room already made). */
static void producer_put(struct producer_cpu *pc, const struct pkvm_record *r)
{
	pc->slots[pc->head & pc->mask] = *r;
	pc->head++;
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
		.seq = (uint32_t)producer_cpu_produced(pc),
		.a = a,
		.b = b,
	};
	producer_put(pc, &r);
}

/*
 * Ring mode: make room for `n` records, first writing a pending LOST record.
 * False when a DROP-mode ring has no room for them; with a LOST record still
 * pending, nothing may be written before it, so `limit` stops at `head`.
 */
static bool producer_prepare(struct producer_cpu *pc, unsigned n)
{
	bool fits = producer_room(pc, n + (pc->lost_pending ? 1 : 0));

	if (pc->lost_pending) {
		if (pc->head >= pc->limit) {
			pc->limit = pc->head;
			return false;
		}
		producer_put_own(pc, PKVM_EV_LOST, pc->lost_pending,
				 pc->lost_first);
		pc->lost_pending = 0;
	}
	return fits;
}

/*
 * First sync point after loading: move this CPU to its ring and copy the early
 * buffer in. Early records keep their sequence numbers; if the ring has no
 * room for all of them (DROP mode), the rest are counted as lost so that the
 * lost range stays one contiguous run of sequence numbers.
 */
static void producer_switch(struct producer *p, struct producer_cpu *pc)
{
	struct pkvm_record *early = pc->early;
	uint64_t count = pc->head;
	uint64_t produced = producer_cpu_produced(pc);
	uint64_t copied = 0;
	/* Early losses so far: seq [early_lost_first, produced). */
	uint64_t early_lost = pc->lost_pending;

	pc->slots = p->rings[pc->cpu].records;
	pc->mask = p->rings[pc->cpu].nr_records - 1;
	pc->mode = p->mode;
	pc->pub = &p->ctrl->cpu[pc->cpu];
	pc->head = 0;
	producer_set_seq_base(pc, produced);
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
		/* The copies take slots but no new sequence numbers. */
		producer_set_seq_base(pc, produced - pc->head);
	}
	if (!pc->lost_pending && early_lost) {
		pc->lost_first = produced - early_lost;
		pc->lost_pending = early_lost;
	}
	if (producer_prepare(pc, 1))
		producer_put_own(pc, PKVM_EV_MARK, PKVM_MARK_EARLY_COPIED,
				 copied);
	else
		producer_drop(pc, 1);
	producer_publish(pc);
}

void producer_flush_early(struct producer *p, unsigned cpu)
{
	struct producer_cpu *pc = &p->cpu[cpu];

	if (!__atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE) || pc->in_ring)
		return;
	producer_switch(p, pc);
}

void producer_slow(struct producer *p, struct producer_cpu *pc, unsigned n)
{
	/* Pairs with the store-release of `loaded` in producer_load(). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (pc->overflow) {
		producer_drop(pc, pc->overflow);
		pc->overflow = 0;
	}
	if (!pc->in_ring && __atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE))
		producer_switch(p, pc);
	if (!pc->in_ring)
		return; /* early losses are reported once in the ring */
	/* DROP mode without room: emits past `limit` are counted, as drops. */
	(void)producer_prepare(pc, n);
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
	return producer_cpu_produced(&p->cpu[cpu]);
}
