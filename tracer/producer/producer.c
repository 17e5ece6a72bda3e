/* SPDX-License-Identifier: MIT */
/*
 * Producer slow path: loading, the early-buffer copy, the end of the ring,
 * spilling and waiting (WAIT mode), drops and LOST records. The inline
 * halves (producer_emit, producer_sync, producer_publish) are in
 * <pkvm/producer.h>.
 *
 * Waiting for the consumer happens only where the CPU holds no lock: when
 * it copies an early buffer or a spill into its ring at a sync point or on
 * leaving the hyp, and when it stops. An emit never waits (it may run with
 * any lock held): in WAIT mode it spills instead.
 *
 * Concurrency: every field of a struct producer_cpu is written only by its
 * own CPU (or on its behalf while it is held outside the hyp). producer_load()
 * publishes the rings with a store-release of `loaded`; a CPU sees it at its
 * next sync point, whose slow path starts with an acquire fence.
 */
#include <pkvm/producer.h>

/* The next record's second word, from `produced` (after the slow path). */
static void producer_set_hdr(struct producer_cpu *pc)
{
	pc->hdr = producer_cpu_produced(pc) << 32 | (uint64_t)pc->cpu << 16;
}

/*
 * Where emits may write without a look: up to `limit` or the end of the
 * buffer, whichever comes first; nowhere while a LOST record is pending.
 */
static void producer_set_wend(struct producer_cpu *pc)
{
	uint64_t head = producer_head(pc);
	uint64_t end = pc->lap + pc->cap;

	if (pc->limit < end)
		end = pc->limit;
	if (pc->lost_pending || end <= head)
		pc->wend = pc->wp;
	else
		pc->wend = pc->slots + (end - pc->lap);
}

static void producer_set_pub(struct producer_cpu *pc, struct pkvm_ring_cpu *pub)
{
	pc->pub = pub;
	pc->pub_head = &pub->head;
}

/*
 * Publish `written` (records produced, dropped ones included) and `head`:
 * whenever the slow path dropped or copied records, and before it waits.
 */
static void producer_publish_all(struct producer_cpu *pc)
{
	pc->pub->written = producer_cpu_produced(pc);
	producer_publish(pc);
}

/* Write into `slots` from index `head` on (lap and wp follow). */
static void producer_start(struct producer_cpu *pc, struct pkvm_record *slots,
			   uint64_t cap, uint64_t head)
{
	pc->slots = slots;
	pc->cap = cap;
	pc->lap = head & ~(cap - 1);
	pc->wp = slots + (head & (cap - 1));
}

void producer_init_cpu(struct producer *p, unsigned cpu,
		       struct pkvm_record *early, uint64_t cap)
{
	struct producer_cpu *pc = &p->cpu[cpu];

	producer_start(pc, early, cap, 0);
	pc->limit = cap; /* the early buffer is never drained: no wrap */
	pc->cpu = (uint16_t)cpu;
	pc->seq_base = 0;
	producer_set_pub(pc, &pc->local);
	pc->in_ring = false;
	pc->where = PRODUCER_CPU_PRODUCING;
	pc->lost_pending = 0;
	pc->dropped = 0;
	pc->wait_ticks = 0;
	pc->early = early;
	/* Once copied into the ring, the early buffer is the spill. */
	pc->spill = early;
	pc->spill_cap = cap;
	pc->spilling = 0;
	pc->no_wait = false;
	producer_set_hdr(pc);
	producer_set_wend(pc);
}

/* Count `n` records as dropped: they take sequence numbers, no slots. */
static void producer_drop(struct producer_cpu *pc, uint64_t n)
{
	if (!pc->lost_pending)
		pc->lost_first = producer_cpu_produced(pc);
	pc->lost_pending += n;
	pc->seq_base += n;
	if (pc->in_ring) {
		pc->dropped += n;
		pc->pub->dropped = pc->dropped;
	}
}

/*
 * Refresh `limit` from the consumer's tail; true if `n` records fit. If
 * `may_wait` (the caller holds no lock) and the ring is in WAIT mode, wait
 * for the consumer until they do.
 */
static bool producer_room(struct producer_cpu *pc, unsigned n, bool may_wait)
{
	uint64_t head = producer_head(pc);
	uint64_t tail = __atomic_load_n(&pc->pub->tail, __ATOMIC_ACQUIRE);

	if (head + n - tail > pc->cap && may_wait &&
	    pc->mode == PKVM_RING_WAIT && !pc->no_wait) {
		/* The consumer can only make room for what it can see. */
		producer_publish_all(pc);
		uint64_t t0 = producer_now();
		do {
			producer_relax();
			tail = __atomic_load_n(&pc->pub->tail,
					       __ATOMIC_ACQUIRE);
		} while (head + n - tail > pc->cap);
		pc->wait_ticks += producer_now() - t0;
		pc->pub->wait_ticks = pc->wait_ticks;
	}
	pc->limit = tail + pc->cap;
	return head + n - tail <= pc->cap;
}

/* Store one record at the next index (room already made). */
static void producer_put(struct producer_cpu *pc, const struct pkvm_record *r)
{
	if (pc->wp == pc->slots + pc->cap) {
		/* The end of the ring: on from its start. */
		pc->wp = pc->slots;
		pc->lap += pc->cap;
	}
	*pc->wp++ = *r;
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
 * WAIT mode, the ring full, and the CPU may hold a lock: go on in the spill
 * (the records stay in order; producer_spill_drain() copies them over when
 * the CPU holds no lock). A pending LOST record goes first.
 */
static void producer_spill_start(struct producer_cpu *pc)
{
	uint64_t produced = producer_cpu_produced(pc);

	/* The consumer gets what the ring holds now; nothing more until the
	 * spill is drained (publishing `head` goes nowhere meanwhile). */
	producer_publish_all(pc);
	pc->ring_head = producer_head(pc);
	producer_start(pc, pc->spill, pc->spill_cap, 0);
	pc->seq_base = produced;
	pc->limit = pc->spill_cap;
	pc->pub_head = &pc->local.head;
	pc->spilling = 1;
	if (pc->lost_pending) {
		producer_put_own(pc, PKVM_EV_LOST, pc->lost_pending,
				 pc->lost_first);
		pc->lost_pending = 0;
	}
}

/*
 * Ring mode: make room for `n` records, first writing a pending LOST record.
 * Waits only if `may_wait` (no lock held); else a WAIT-mode ring without
 * room spills. False when the records cannot be written (no room in a
 * DROP-mode ring; the LOST record may still have been written), true when
 * they fit in the ring or, now spilling, in the spill.
 */
static bool producer_prepare(struct producer_cpu *pc, unsigned n, bool may_wait)
{
	bool fits = producer_room(pc, n + (pc->lost_pending ? 1 : 0), may_wait);

	if (!fits && pc->mode == PKVM_RING_WAIT && !may_wait &&
	    pc->spill_cap > n) {
		producer_spill_start(pc);
		return producer_head(pc) + n <= pc->limit;
	}
	if (pc->lost_pending) {
		if (producer_head(pc) >= pc->limit)
			return false;
		producer_put_own(pc, PKVM_EV_LOST, pc->lost_pending,
				 pc->lost_first);
		pc->lost_pending = 0;
	}
	return fits;
}

void producer_emit_slow(struct producer_cpu *pc, uint64_t ts, unsigned kind,
			unsigned kflags, const uint64_t *words, unsigned n)
{
	bool fits;

	/* Never waits: the caller may hold any lock. */
	if (pc->in_ring && !pc->spilling)
		fits = producer_prepare(pc, n, false);
	else /* the early buffer or the spill: losses reported in the ring */
		fits = !pc->lost_pending && producer_head(pc) + n <= pc->limit;
	if (fits) {
		/* The event's records take consecutive sequence numbers. */
		uint64_t seq = producer_cpu_produced(pc);

		for (unsigned i = 0; i < n; i++) {
			struct pkvm_record r = {
				.ts = ts,
				.kind = (uint8_t)kind,
				.flags = (uint8_t)(i ? PKVM_REC_F_CONT | i
						     : kflags | (n - 1)),
				.cpu = pc->cpu,
				.seq = (uint32_t)(seq + i),
				.a = words[2 * i],
				.b = words[2 * i + 1],
			};
			producer_put(pc, &r);
		}
	} else {
		producer_drop(pc, n);
		pc->pub->written = producer_cpu_produced(pc);
	}
	producer_set_hdr(pc);
	producer_set_wend(pc);
}

/*
 * Copy `count` records (sequence numbers kept) from `from` into the ring,
 * which the caller has just made the CPU's buffer, at the CPU's ring head,
 * waiting for room if `may_wait`. `lost` records were lost right after
 * them (`lost_first` the first). If the ring has no room for them all
 * (`may_wait` false, or DROP mode) the rest are lost too, so that the lost
 * range stays one contiguous run of sequence numbers; the losses are left
 * pending (a LOST record before the next record). Returns how many were
 * copied.
 */
static uint64_t producer_copy_in(struct producer_cpu *pc,
				 const struct pkvm_record *from, uint64_t count,
				 uint64_t lost, uint64_t lost_first,
				 bool may_wait)
{
	uint64_t produced = producer_cpu_produced(pc);
	uint64_t copied = 0;

	pc->lost_pending = 0;
	for (uint64_t i = 0; i < count; i++) {
		/*
		 * Room for a whole event at its head: a wait publishes
		 * `head`, and the consumer must never see half an event (a
		 * run that stops right then would end inside one).
		 */
		uint64_t n = 1 + (from[i].flags & PKVM_REC_F_NCONT_MASK);

		if (from[i].flags & PKVM_REC_F_CONT)
			n = 0;
		else if (n > count - i)
			n = count - i;
		if (n && !producer_room(pc, (unsigned)n, may_wait)) {
			/* Everything from here on is lost, the losses too. */
			pc->lost_first = produced - lost - (count - i);
			pc->lost_pending = count - i + lost;
			pc->dropped += count - i;
			pc->pub->dropped = pc->dropped;
			return copied;
		}
		producer_put(pc, &from[i]);
		copied++;
		/* The copies take slots but no new sequence numbers. */
		pc->seq_base = produced - producer_head(pc);
	}
	if (lost) {
		pc->lost_first = lost_first;
		pc->lost_pending = lost;
	}
	return copied;
}

/*
 * Leaving the hyp or stopping, no lock held: copy the spill into the ring,
 * waiting for room (WAIT mode) unless `may_wait` is false, then write the
 * pending LOST record if any, and publish.
 */
static void producer_spill_drain(struct producer *p, struct producer_cpu *pc,
				 bool may_wait)
{
	struct pkvm_record *spill = pc->slots;
	uint64_t count = producer_head(pc);
	uint64_t produced = producer_cpu_produced(pc);
	uint64_t lost = pc->lost_pending, lost_first = pc->lost_first;

	producer_start(pc, p->rings[pc->cpu].records,
		       p->rings[pc->cpu].nr_records, pc->ring_head);
	pc->pub_head = &pc->pub->head;
	pc->spilling = 0;
	pc->seq_base = produced - producer_head(pc);
	producer_copy_in(pc, spill, count, lost, lost_first, may_wait);
	producer_prepare(pc, 0, may_wait);
	producer_set_hdr(pc);
	producer_set_wend(pc);
	producer_publish_all(pc);
}

/*
 * First sync point after loading: move this CPU to its ring and copy the early
 * buffer in. Early records keep their sequence numbers; if the ring has no
 * room for all of them (DROP mode, or a CPU that may not wait), the rest are
 * counted as lost so that the lost range stays one contiguous run of
 * sequence numbers. Called where the CPU holds no lock (a sync point, or
 * on its behalf while it is away), so WAIT mode waits here.
 */
static void producer_switch(struct producer *p, struct producer_cpu *pc)
{
	struct pkvm_record *early = pc->early;
	uint64_t count = producer_head(pc);
	uint64_t produced = producer_cpu_produced(pc);
	/* Early losses so far: seq [produced - early_lost, produced). */
	uint64_t early_lost = pc->lost_pending;
	bool may_wait = !pc->no_wait;
	uint64_t copied;

	producer_start(pc, p->rings[pc->cpu].records,
		       p->rings[pc->cpu].nr_records, 0);
	pc->mode = p->mode;
	producer_set_pub(pc, &p->ctrl->cpu[pc->cpu]);
	pc->seq_base = produced;
	pc->in_ring = true;
	copied = producer_copy_in(pc, early, count, early_lost,
				  produced - early_lost, may_wait);
	if (producer_prepare(pc, 1, may_wait))
		producer_put_own(pc, PKVM_EV_MARK, PKVM_MARK_EARLY_COPIED,
				 copied);
	else
		producer_drop(pc, 1);
	producer_set_hdr(pc);
	producer_set_wend(pc);
	producer_publish_all(pc);
}

void producer_enter_slow(struct producer_cpu *pc)
{
	uint32_t expected = PRODUCER_CPU_AWAY;

	/* Wait out a flush; acquire on failure too (a flusher's IN_RING). */
	while (!__atomic_compare_exchange_n(
		&pc->where, &expected, PRODUCER_CPU_PRODUCING, false,
		__ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
		if (expected == PRODUCER_CPU_PRODUCING)
			return; /* not back from away (boot; the fake arch) */
		if (expected == PRODUCER_CPU_IN_RING)
			return; /* a flush moved us for good meanwhile */
		expected = PRODUCER_CPU_AWAY;
		producer_relax();
	}
}

void producer_leave_slow(struct producer *p, struct producer_cpu *pc)
{
	/* No lock is held on the way out: the place to wait for room. */
	if (pc->spilling)
		producer_spill_drain(p, pc, true);
	producer_sync(p, pc);
	producer_publish(pc);
	/* In the ring (the sync point just moved us): for good. */
	__atomic_store_n(&pc->where,
			 pc->in_ring ? PRODUCER_CPU_IN_RING : PRODUCER_CPU_AWAY,
			 __ATOMIC_RELEASE);
}

void producer_flush_others(struct producer *p, struct producer_cpu *self)
{
	if (!__atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE))
		return;
	for (unsigned i = 0; i < p->cpu_count; i++) {
		struct producer_cpu *pc = &p->cpu[i];
		uint32_t expected = PRODUCER_CPU_AWAY;

		if (pc == self ||
		    !__atomic_compare_exchange_n(
			    &pc->where, &expected, PRODUCER_CPU_FLUSHING, false,
			    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue; /* producing: it moves itself */
		if (!pc->in_ring)
			producer_switch(p, pc);
		__atomic_store_n(&pc->where, PRODUCER_CPU_IN_RING,
				 __ATOMIC_RELEASE);
	}
}

void producer_sync_slow(struct producer *p, struct producer_cpu *pc)
{
	/* Pairs with the store-release of `loaded` in producer_load(). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (!pc->in_ring && __atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE))
		producer_switch(p, pc);
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

void producer_no_wait(struct producer_cpu *pc)
{
	pc->no_wait = true;
}

void producer_set_state(struct producer *p, struct producer_cpu *pc,
			uint32_t state, uint64_t code, uint64_t addr)
{
	if (pc->spilling)
		producer_spill_drain(p, pc, true);
	producer_publish_all(pc);
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
