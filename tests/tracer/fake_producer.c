/* SPDX-License-Identifier: MIT */
/*
 * The fake producer (fake_producer.h). Single producer per CPU: each CPU's
 * state is touched only by the thread that emits for that CPU.
 */
#include <sched.h>
#include <string.h>

#include <pkvm/abi.h>

#include "fake_producer.h"

uint64_t fake_producer_mem_size(unsigned cpus, uint64_t nr_records)
{
	return FAKE_RING_OFFSET + cpus * nr_records * PKVM_RECORD_SIZE;
}

void fake_producer_init(struct fake_producer *p, uint8_t *mem, unsigned cpus,
			uint64_t nr_records, unsigned mode)
{
	memset(p, 0, sizeof(*p));
	p->mem = mem;
	p->ctrl = (struct pkvm_ring_ctrl *)(mem + FAKE_CTRL_OFFSET);
	p->ctrl->version = PKVM_RING_VERSION;
	p->ctrl->cpu_count = cpus;
	p->ctrl->mode = mode;
	p->ctrl->counter_freq = 62500000;
	for (unsigned i = 0; i < cpus; i++) {
		uint64_t off =
			FAKE_RING_OFFSET + i * nr_records * PKVM_RECORD_SIZE;

		p->ctrl->cpu[i].base_pa = FAKE_PA_BASE + off;
		p->ctrl->cpu[i].nr_records = nr_records;
		p->ring[i] = (struct pkvm_record *)(mem + off);
	}
	__atomic_store_n(&p->ctrl->magic, PKVM_RING_MAGIC, __ATOMIC_RELEASE);
	__atomic_store_n(&p->ctrl->state, PKVM_RING_STATE_RUNNING,
			 __ATOMIC_RELEASE);
}

uint64_t fake_payload(unsigned cpu, uint32_t seq)
{
	return ((uint64_t)cpu << 32 | seq) * 0x9e3779b97f4a7c15ull;
}

static uint64_t room(struct fake_producer *p, unsigned cpu)
{
	struct pkvm_ring_cpu *c = &p->ctrl->cpu[cpu];
	uint64_t tail = __atomic_load_n(&c->tail, __ATOMIC_ACQUIRE);

	return c->nr_records - (c->head - tail);
}

/* Make room for `n` records: wait (WAIT) or report false (DROP). */
static bool reserve(struct fake_producer *p, unsigned cpu, uint64_t n)
{
	struct pkvm_ring_cpu *c = &p->ctrl->cpu[cpu];

	while (room(p, cpu) < n) {
		if (p->ctrl->mode == PKVM_RING_DROP)
			return false;
		c->wait_ticks++;
		sched_yield();
	}
	return true;
}

static void put(struct fake_producer *p, unsigned cpu,
		const struct pkvm_record *r)
{
	struct pkvm_ring_cpu *c = &p->ctrl->cpu[cpu];

	p->ring[cpu][c->head & (c->nr_records - 1)] = *r;
	c->written++;
	__atomic_store_n(&c->head, c->head + 1, __ATOMIC_RELEASE);
}

static void put_lost(struct fake_producer *p, unsigned cpu)
{
	struct pkvm_record r = { .ts = p->seq[cpu],
				 .kind = PKVM_EV_LOST,
				 .cpu = (uint16_t)cpu,
				 .seq = p->seq[cpu]++,
				 .a = p->pending_lost[cpu],
				 .b = p->first_lost[cpu] };

	put(p, cpu, &r);
	p->pending_lost[cpu] = 0;
}

bool fake_producer_emit(struct fake_producer *p, unsigned cpu, unsigned kind)
{
	unsigned ncont = pkvm_event_ncont(kind);
	uint64_t need = 1 + ncont + (p->pending_lost[cpu] ? 1 : 0);

	if (!reserve(p, cpu, need)) {
		/* The whole event goes, its sequence numbers consumed. */
		if (!p->pending_lost[cpu])
			p->first_lost[cpu] = p->seq[cpu];
		p->pending_lost[cpu] += 1 + ncont;
		p->ctrl->cpu[cpu].dropped += 1 + ncont;
		p->ctrl->cpu[cpu].written += 1 + ncont;
		p->seq[cpu] += 1 + ncont;
		return false;
	}
	if (p->pending_lost[cpu])
		put_lost(p, cpu);
	for (unsigned i = 0; i <= ncont; i++) {
		uint32_t seq = p->seq[cpu]++;
		struct pkvm_record r = {
			.ts = seq,
			.kind = (uint8_t)kind,
			.flags = (uint8_t)(i ? PKVM_REC_F_CONT | i : ncont),
			.cpu = (uint16_t)cpu,
			.seq = seq,
			.a = fake_payload(cpu, seq),
			.b = kind == PKVM_EV_MARK ? PKVM_MARK_CPU_UP : seq,
		};

		/* A MARK's `what` is in `a`; keep it a known mark. */
		if (kind == PKVM_EV_MARK)
			r.a = PKVM_MARK_CPU_UP;
		put(p, cpu, &r);
	}
	return true;
}
