/* SPDX-License-Identifier: MIT */
/*
 * Salvage (salvage.h): the records our hyp wrote that never reached the
 * consumer, read from guest RAM after the machine stopped.
 *
 * The producer state (struct producer, tracer/producer) is read as the hyp
 * left it; every pointer in it is a hyp VA, which in our hyp is the PA.
 * Nothing read here is trusted: each pointer and count is checked against
 * RAM and against the others before use, and a record is taken only if it
 * carries the CPU and the sequence number expected next, so a CPU stopped
 * in the middle of an event, or a state that makes no sense, costs records
 * (counted as lost through `produced`), never a wrong one in the trace.
 *
 * Per CPU, after the records drained from its ring (sequence numbers up to
 * `next`):
 *   1. its early buffer from `next` on: records whose sequence number is
 *      their index (the early buffer is never drained and never wraps), for
 *      a CPU that never reached its ring or was stopped while copying;
 *   2. its ring from the published `head` to its own write position, for a
 *      CPU in its ring (records written after its last publish);
 *   3. for a CPU that never reached its ring and whose early buffer
 *      overflowed, the LOST record it would have written at the copy
 *      (count, first lost sequence number) at its next sequence number.
 * What remains between the last record and `produced` is a tail loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/producer.h>

#include "elfsym.h"
#include "salvage.h"

/* e_machine of AArch64 (EM_AARCH64 in <elf.h>). */
#define EM_AARCH64_SALVAGE 183u

/* Host pointer to [pa, pa + len) in `mem`, or NULL if not all inside. */
static void *at_pa(const struct record_mem *mem, uint64_t pa, uint64_t len)
{
	if (pa < mem->pa_base || pa - mem->pa_base > mem->size ||
	    len > mem->size - (pa - mem->pa_base))
		return NULL;
	return mem->base + (pa - mem->pa_base);
}

static uint64_t va(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* A record of `cpu` with sequence number `seq` (low 32 bits), of a known
 * kind: what salvage may take. Anything else ends the salvaged run. */
static bool plausible(const struct pkvm_record *r, unsigned cpu, uint64_t seq)
{
	return r->cpu == cpu && r->seq == (uint32_t)seq &&
	       r->kind != PKVM_EV_INVALID && r->kind <= PKVM_EV_MAX_KNOWN;
}

/* The producer's own view of `cpu`, checked; false with `c->why`. */
static bool cpu_sane(const struct producer_cpu *pc, unsigned cpu,
		     const struct record_mem *mem, struct salvage_cpu *c)
{
	uint64_t used = va(pc->wp) - va(pc->slots);

	/* The early buffer is its slots until the CPU is in its ring; no
	 * buffer holds 2^32 records (and cap * 32 must not wrap). */
	if (pc->cpu != cpu || !is_pow2(pc->cap) || pc->cap > (1ull << 32) ||
	    (!pc->in_ring && pc->slots != pc->early) ||
	    va(pc->wp) < va(pc->slots) || used % PKVM_RECORD_SIZE ||
	    used / PKVM_RECORD_SIZE > pc->cap ||
	    !at_pa(mem, va(pc->slots), pc->cap * PKVM_RECORD_SIZE)) {
		snprintf(c->why, sizeof(c->why),
			 "cpu %u: its producer state makes no sense (cpu %u, "
			 "%llu records at 0x%llx, write position 0x%llx)",
			 cpu, pc->cpu, (unsigned long long)pc->cap,
			 (unsigned long long)va(pc->slots),
			 (unsigned long long)va(pc->wp));
		return false;
	}
	return true;
}

/*
 * Records of `recs` up to the end of the last whole event: a run of
 * salvaged records may stop inside an event (a CPU stopped while writing
 * it), and the trace holds whole events only.
 */
static uint64_t whole(const struct pkvm_record *recs, uint64_t n)
{
	for (uint64_t i = n; i-- > 0;) {
		if (recs[i].flags & PKVM_REC_F_CONT)
			continue;
		if (n - i - 1 < (recs[i].flags & PKVM_REC_F_NCONT_MASK))
			return i;
		return n;
	}
	return 0;
}

/* Add the whole events of `recs` (a stable copy) to the trace; `*n` gets
 * how many records that was. */
static int add(struct record_drain *d, unsigned cpu,
	       const struct pkvm_record *recs, uint64_t *n,
	       struct salvage_result *res)
{
	*n = whole(recs, *n);
	if (*n && record_drain_add(d, cpu, recs, *n))
		return -1;
	res->records += *n;
	return 0;
}

static uint64_t next_seq(const struct record_drain *d, unsigned cpu)
{
	const struct record_cpu_stats *s = &d->stats[cpu];

	return s->seen ? s->next_seq64 : 0;
}

/* Step 1: the early buffer from the next sequence number on. */
static int from_early(const struct salvage_image *img,
		      const struct record_mem *mem, struct record_drain *d,
		      const struct producer_cpu *pc, unsigned cpu,
		      struct salvage_result *res)
{
	uint64_t start = va(pc->early);
	uint64_t end = img->object_end ? img->object_end(img->ctx, start) : 0;
	uint64_t cap, k = next_seq(d, cpu), n = 0;
	const struct pkvm_record *early;
	struct pkvm_record *copy;
	int rc;

	if (!pc->in_ring) /* writing into it: its own count is the bound */
		end = va(pc->wp);
	cap = end > start ? (end - start) / PKVM_RECORD_SIZE : 0;
	early = at_pa(mem, start, cap * PKVM_RECORD_SIZE);
	if (!early || k >= cap)
		return 0;
	copy = malloc((cap - k) * sizeof(*copy));
	if (!copy)
		return 0;
	for (; k < cap && plausible(&early[k], cpu, k); k++)
		copy[n++] = early[k];
	rc = add(d, cpu, copy, &n, res);
	res->cpu[cpu].early = n;
	free(copy);
	return rc;
}

/* Step 2: the ring past the published head, up to the write position. */
static int from_ring(const struct record_mem *mem, struct record_drain *d,
		     const struct producer_cpu *pc, unsigned cpu,
		     struct salvage_result *res)
{
	struct pkvm_ring_cpu *rc = &d->ctrl->cpu[cpu];
	uint64_t mine = producer_head(pc);
	uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE);
	uint64_t next = next_seq(d, cpu), n = 0;
	const struct pkvm_record *ring;
	struct pkvm_record *copy;
	int ret;

	if (va(pc->slots) != rc->base_pa || pc->cap != rc->nr_records ||
	    mine < head || mine - rc->tail > pc->cap) {
		snprintf(res->cpu[cpu].why, sizeof(res->cpu[cpu].why),
			 "cpu %u: its write position %llu contradicts its "
			 "ring (head %llu, tail %llu, %llu records)",
			 cpu, (unsigned long long)mine,
			 (unsigned long long)head, (unsigned long long)rc->tail,
			 (unsigned long long)rc->nr_records);
		return 1;
	}
	ring = at_pa(mem, rc->base_pa, pc->cap * PKVM_RECORD_SIZE);
	copy = ring ? malloc((mine - head + 1) * sizeof(*copy)) : NULL;
	if (!copy)
		return 0;
	for (uint64_t i = head; i < mine; i++) {
		const struct pkvm_record *r = &ring[i & (pc->cap - 1)];
		uint32_t delta = r->seq - (uint32_t)next;

		/* Copies of early records already taken in step 1. */
		if (delta >= 0x80000000u && r->cpu == cpu)
			continue;
		/* Forward only, and a gap only before a LOST record. */
		if (delta && r->kind != PKVM_EV_LOST)
			break;
		if (!plausible(r, cpu, next + delta))
			break;
		copy[n++] = *r;
		next += delta + 1;
	}
	ret = add(d, cpu, copy, &n, res);
	res->cpu[cpu].unpublished = n;
	free(copy);
	return ret;
}

/* Step 3: the LOST record of an early buffer that overflowed. */
static int early_lost(struct record_drain *d, const struct producer_cpu *pc,
		      unsigned cpu, struct salvage_result *res)
{
	uint64_t produced = producer_cpu_produced(pc);
	uint64_t next = next_seq(d, cpu);
	struct pkvm_record r = {
		.ts = d->stats[cpu].last_ts,
		.kind = PKVM_EV_LOST,
		.cpu = (uint16_t)cpu,
		.seq = (uint32_t)produced,
		.a = pc->lost_pending,
		.b = pc->lost_first,
	};
	uint64_t one = 1;

	res->cpu[cpu].produced = produced;
	if (pc->in_ring || !pc->lost_pending || pc->lost_first != next ||
	    next + pc->lost_pending != produced)
		return 0;
	if (add(d, cpu, &r, &one, res))
		return -1;
	res->cpu[cpu].lost_record = true;
	res->cpu[cpu].produced = produced + 1;
	return 0;
}

static int salvage_cpu(const struct salvage_image *img,
		       const struct record_mem *mem, struct record_drain *d,
		       const struct producer_cpu *pc, unsigned cpu,
		       struct salvage_result *res)
{
	struct salvage_cpu *c = &res->cpu[cpu];
	int rc;

	if (!cpu_sane(pc, cpu, mem, c))
		return 0;
	if (from_early(img, mem, d, pc, cpu, res))
		return -1;
	if (pc->in_ring) {
		if (!d->ctrl) {
			snprintf(c->why, sizeof(c->why),
				 "cpu %u writes a ring the recorder never "
				 "found",
				 cpu);
			return 0;
		}
		rc = from_ring(mem, d, pc, cpu, res);
		if (rc)
			return rc < 0 ? -1 : 0;
	}
	if (early_lost(d, pc, cpu, res))
		return -1;
	c->dropped = pc->in_ring ? pc->dropped : 0;
	c->known = true;
	return 0;
}

/* The producer state as a whole: found, the right size, our control block. */
static const struct producer *producer_of(const struct salvage_image *img,
					  const struct record_mem *mem,
					  const struct record_drain *d,
					  struct salvage_result *res)
{
	const struct producer *p =
		at_pa(mem, img->producer_pa, sizeof(struct producer));

	if (!p || img->producer_size != sizeof(struct producer)) {
		snprintf(res->message, sizeof(res->message),
			 "the image's producer state (%llu bytes at 0x%llx) "
			 "is not this recorder's (%zu bytes) or not in RAM",
			 (unsigned long long)img->producer_size,
			 (unsigned long long)img->producer_pa,
			 sizeof(struct producer));
		return NULL;
	}
	if (p->cpu_count != d->cpu_count) {
		snprintf(res->message, sizeof(res->message),
			 "the hyp runs %u CPUs, the trace has %u", p->cpu_count,
			 d->cpu_count);
		return NULL;
	}
	if (d->ctrl && p->loaded &&
	    va(p->ctrl) !=
		    mem->pa_base + (uint64_t)((uint8_t *)d->ctrl - mem->base)) {
		snprintf(res->message, sizeof(res->message),
			 "the hyp loaded the control block at 0x%llx, not "
			 "the one drained",
			 (unsigned long long)va(p->ctrl));
		return NULL;
	}
	return p;
}

int salvage_run(const struct salvage_image *img, const struct record_mem *mem,
		struct record_drain *d, struct salvage_result *res)
{
	const struct producer *p;

	memset(res, 0, sizeof(*res));
	p = producer_of(img, mem, d, res);
	if (!p)
		return 0;
	for (unsigned i = 0; i < d->cpu_count; i++) {
		/* A stable copy: the machine has stopped, but the RAM file is
		 * shared memory all the same. */
		struct producer_cpu pc;
		uint8_t in_ring;

		memcpy(&pc, &p->cpu[i], sizeof(pc));
		/* A bool is 0 or 1 in the hyp; any other byte is a broken
		 * state, and must not be read as a bool here. */
		memcpy(&in_ring, &p->cpu[i].in_ring, sizeof(in_ring));
		if (in_ring > 1) {
			snprintf(res->cpu[i].why, sizeof(res->cpu[i].why),
				 "cpu %u: its producer state makes no sense "
				 "(in_ring %u)",
				 i, in_ring);
			continue;
		}
		if (salvage_cpu(img, mem, d, &pc, i, res))
			return -1;
	}
	return 0;
}

static uint64_t elf_object_end(const void *ctx, uint64_t addr)
{
	struct elfsym_sym sym;

	if (elfsym_containing(ctx, addr, &sym))
		return 0;
	return sym.value + sym.size;
}

int salvage_image_from_elf(struct salvage_image *img, const struct elfsym *elf,
			   char *msg, size_t msg_len)
{
	struct elfsym_sym sym;

	memset(img, 0, sizeof(*img));
	if (elf->machine != EM_AARCH64_SALVAGE) {
		snprintf(msg, msg_len, "not an AArch64 image (machine %u)",
			 elf->machine);
		return -1;
	}
	if (elfsym_find(elf, "hyp_producer", &sym)) {
		snprintf(msg, msg_len, "no hyp_producer symbol: not our hyp");
		return -1;
	}
	img->producer_pa = sym.value;
	img->producer_size = sym.size;
	img->object_end = elf_object_end;
	img->ctx = elf;
	return 0;
}

void salvage_report(const struct salvage_result *r, unsigned cpus, FILE *log)
{
	if (r->message[0])
		fprintf(log, "pkvm-record: cannot salvage: %s\n", r->message);
	for (unsigned i = 0; i < cpus; i++)
		if (r->cpu[i].why[0])
			fprintf(log, "pkvm-record: salvage: %s\n",
				r->cpu[i].why);
}

void salvage_counters(const struct record_drain *d, bool attached,
		      const struct salvage_result *sv, uint64_t *produced,
		      uint64_t *dropped)
{
	for (unsigned i = 0; i < d->cpu_count; i++) {
		struct pkvm_ring_cpu *c = attached ? &d->ctrl->cpu[i] : NULL;

		produced[i] = dropped[i] = TRACE_COUNT_UNKNOWN;
		if (sv && sv->cpu[i].known) {
			produced[i] = sv->cpu[i].produced;
			dropped[i] = sv->cpu[i].dropped;
		} else if (c) {
			/* After the final drain: `written` is published with
			 * `head` (ring.h), so it covers every record. */
			produced[i] =
				__atomic_load_n(&c->written, __ATOMIC_ACQUIRE);
			dropped[i] =
				__atomic_load_n(&c->dropped, __ATOMIC_ACQUIRE);
		}
	}
}
