/* SPDX-License-Identifier: MIT */
/*
 * Draining the per-CPU rings (consumer side of tracer/include/pkvm/ring.h).
 *
 * One consumer drains every CPU in turn. For each ring it load-acquires
 * `head`, copies the records [tail, head) out of shared memory, and gives the
 * space back at once with a store-release of `tail`, before the (slow)
 * validation and compression: a WAIT-mode producer then waits only for a
 * copy, never for zstd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pkvm/abi.h>

#include "record.h"

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

struct pkvm_ring_ctrl *record_find_ctrl(const struct record_mem *mem,
					unsigned cpus, bool accepted)
{
	for (uint64_t off = 0; off + RECORD_CTRL_PAGE <= mem->size;
	     off += RECORD_CTRL_PAGE) {
		struct pkvm_ring_ctrl *c =
			(struct pkvm_ring_ctrl *)(mem->base + off);
		uint64_t magic = __atomic_load_n(&c->magic, __ATOMIC_ACQUIRE);

		if (magic != PKVM_RING_MAGIC || c->version != PKVM_RING_VERSION)
			continue;
		if (accepted && __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) ==
					PKVM_RING_STATE_SETUP)
			continue;
		if (cpus ? c->cpu_count == cpus
			 : c->cpu_count >= 1 &&
				    c->cpu_count <= PKVM_RING_MAX_CPUS)
			return c;
	}
	return NULL;
}

/* The host-written fields must describe something sane before we use them:
 * a corrupt or hostile block must give an error, not a wild pointer. */
static int check_ctrl(struct record_drain *d, const struct pkvm_ring_ctrl *c)
{
	if (c->magic != PKVM_RING_MAGIC || c->version != PKVM_RING_VERSION) {
		snprintf(d->message, sizeof(d->message),
			 "control block: bad magic or version %u", c->version);
		return -1;
	}
	if (c->cpu_count < 1 || c->cpu_count > PKVM_RING_MAX_CPUS) {
		snprintf(d->message, sizeof(d->message),
			 "control block: cpu_count %u not in 1..%u",
			 c->cpu_count, PKVM_RING_MAX_CPUS);
		return -1;
	}
	for (unsigned i = 0; i < c->cpu_count; i++) {
		uint64_t nr = c->cpu[i].nr_records;

		if (!is_pow2(nr) || nr < RECORD_MIN_NR_RECORDS ||
		    nr > RECORD_MAX_NR_RECORDS) {
			snprintf(d->message, sizeof(d->message),
				 "control block: cpu %u nr_records %llu is not "
				 "a power of two in 128..2^20",
				 i, (unsigned long long)nr);
			return -1;
		}
	}
	return 0;
}

static int alloc_buf(struct record_drain *d)
{
	uint64_t max = 0;

	for (unsigned i = 0; i < d->cpu_count; i++)
		if (d->nr_records[i] > max)
			max = d->nr_records[i];
	d->buf = calloc(max, sizeof(*d->buf));
	if (!d->buf) {
		snprintf(d->message, sizeof(d->message), "out of memory");
		return -1;
	}
	d->buf_cap = max;
	return 0;
}

int record_drain_attach_rings(struct record_drain *d,
			      struct pkvm_ring_ctrl *ctrl,
			      struct pkvm_record *const *rings,
			      struct trace_writer *writer)
{
	memset(d, 0, sizeof(*d));
	if (check_ctrl(d, ctrl))
		return -1;
	d->ctrl = ctrl;
	d->cpu_count = ctrl->cpu_count;
	d->writer = writer;
	for (unsigned i = 0; i < d->cpu_count; i++) {
		d->ring[i] = rings[i];
		d->nr_records[i] = ctrl->cpu[i].nr_records;
	}
	return alloc_buf(d);
}

int record_drain_attach(struct record_drain *d, struct pkvm_ring_ctrl *ctrl,
			const struct record_mem *mem,
			struct trace_writer *writer)
{
	struct pkvm_record *rings[PKVM_RING_MAX_CPUS] = { 0 };

	memset(d, 0, sizeof(*d));
	if (check_ctrl(d, ctrl))
		return -1;
	for (unsigned i = 0; i < ctrl->cpu_count; i++) {
		uint64_t pa = ctrl->cpu[i].base_pa;
		uint64_t len = ctrl->cpu[i].nr_records * PKVM_RECORD_SIZE;

		if ((pa & (RECORD_CTRL_PAGE - 1)) || pa < mem->pa_base ||
		    pa - mem->pa_base > mem->size ||
		    len > mem->size - (pa - mem->pa_base)) {
			snprintf(d->message, sizeof(d->message),
				 "control block: cpu %u ring at PA 0x%llx "
				 "(%llu bytes) is not page aligned inside RAM",
				 i, (unsigned long long)pa,
				 (unsigned long long)len);
			return -1;
		}
		rings[i] =
			(struct pkvm_record *)(mem->base + (pa - mem->pa_base));
	}
	return record_drain_attach_rings(d, ctrl, rings, writer);
}

/*
 * Records taken from one ring per pass: four pages' worth. A backlog (a
 * full ring at power-off, or a recorder that fell behind) is then written
 * round-robin, a few pages per CPU at a time, instead of one CPU's whole
 * ring after another's; the file keeps the CPUs' records close together,
 * and a reader that follows each CPU holds fewer frames at once.
 */
#define RECORD_DRAIN_CHUNK (4u * 127u)

/* Copy up to RECORD_DRAIN_CHUNK records from [tail, head) of ring `cpu`
 * into d->buf and release their space. Returns the number copied. */
static uint64_t take(struct record_drain *d, unsigned cpu)
{
	struct pkvm_ring_cpu *c = &d->ctrl->cpu[cpu];
	uint64_t nr = d->nr_records[cpu];
	uint64_t head = __atomic_load_n(&c->head, __ATOMIC_ACQUIRE);
	uint64_t tail = c->tail;
	uint64_t n = head - tail;

	if (head == tail)
		return 0;
	if (head < tail) {
		/* Only a broken producer moves head backwards; do not follow
		 * it (that would re-read old records as new ones). */
		d->stats[cpu].overruns++;
		return 0;
	}
	if (n > nr) {
		/* A producer that overwrote unread records: what is left is
		 * the newest ring's worth. The sequence gap shows the loss. */
		d->stats[cpu].overruns++;
		tail = head - nr;
		n = nr;
	}
	if (n > RECORD_DRAIN_CHUNK)
		n = RECORD_DRAIN_CHUNK;
	uint64_t slot = tail & (nr - 1);
	uint64_t first = nr - slot < n ? nr - slot : n;

	memcpy(d->buf, d->ring[cpu] + slot, first * sizeof(*d->buf));
	memcpy(d->buf + first, d->ring[cpu], (n - first) * sizeof(*d->buf));
	__atomic_store_n(&c->tail, tail + n, __ATOMIC_RELEASE);
	return n;
}

/* Validate one record of `cpu`; update the statistics. False: reject it. */
static bool accept(struct record_drain *d, unsigned cpu,
		   const struct pkvm_record *r)
{
	struct record_cpu_stats *s = &d->stats[cpu];

	if (r->cpu != cpu || r->kind == PKVM_EV_INVALID ||
	    r->kind > PKVM_EV_MAX_KNOWN) {
		s->bad++;
		return false;
	}
	/* A stream that starts inside an event (a dump taken mid-stream, or
	 * after an overrun) begins with continuations whose head is gone:
	 * skip them, the file format needs whole events. */
	if ((r->flags & PKVM_REC_F_CONT) && s->cont_left == 0) {
		s->partial++;
		return false;
	}
	s->cont_left = (r->flags & PKVM_REC_F_CONT)
			       ? s->cont_left - 1
			       : (r->flags & PKVM_REC_F_NCONT_MASK);
	if (s->seen) {
		uint32_t delta = r->seq - s->next_seq;

		/* Sequence numbers wrap modulo 2^32; a step of 2^31 or more
		 * is a step backwards, which the file format forbids. */
		if (delta >= 0x80000000u) {
			s->bad++;
			return false;
		}
		s->gaps += delta;
		/* As the checker counts: a LOST record explains the gap
		 * before it (its count is added below), any other record
		 * does not. */
		if (r->kind != PKVM_EV_LOST)
			s->unexplained += delta;
		s->next_seq64 += delta + 1;
	} else {
		s->first_seq = r->seq;
		s->next_seq64 = (uint64_t)r->seq + 1;
	}
	s->seen = true;
	s->next_seq = r->seq + 1;
	s->last_ts = r->ts;
	if (r->flags & PKVM_REC_F_CONT)
		return true;
	if (r->kind == PKVM_EV_LOST)
		s->lost += r->a;
	else if (r->kind == PKVM_EV_PANIC)
		d->panic_seen = true;
	else if (r->kind == PKVM_EV_MARK && r->a == PKVM_MARK_SYSTEM_OFF)
		d->system_off_seen = true;
	return true;
}

/* Validate d->buf[0..n) in place (rejected records removed) and write. */
static int process(struct record_drain *d, unsigned cpu, uint64_t n)
{
	uint64_t good = 0;

	for (uint64_t i = 0; i < n; i++) {
		if (!accept(d, cpu, &d->buf[i]))
			continue;
		d->buf[good++] = d->buf[i];
	}
	if (good == 0)
		return 0;
	if (trace_writer_add(d->writer, cpu, d->buf, good, &d->err)) {
		snprintf(d->message, sizeof(d->message),
			 "writing cpu %u records: %s", cpu, d->err.message);
		return -1;
	}
	d->stats[cpu].records += good;
	return 0;
}

int record_drain_attach_none(struct record_drain *d, unsigned cpus,
			     struct trace_writer *writer)
{
	memset(d, 0, sizeof(*d));
	if (cpus < 1 || cpus > PKVM_RING_MAX_CPUS) {
		snprintf(d->message, sizeof(d->message),
			 "cpu count %u not in 1..%u", cpus, PKVM_RING_MAX_CPUS);
		return -1;
	}
	d->cpu_count = cpus;
	d->writer = writer;
	for (unsigned i = 0; i < cpus; i++)
		d->nr_records[i] = RECORD_MIN_NR_RECORDS;
	return alloc_buf(d);
}

int record_drain_add(struct record_drain *d, unsigned cpu,
		     const struct pkvm_record *recs, size_t count)
{
	while (count) {
		size_t n = count < d->buf_cap ? count : d->buf_cap;

		memcpy(d->buf, recs, n * sizeof(*recs));
		if (process(d, cpu, n))
			return -1;
		recs += n;
		count -= n;
	}
	return 0;
}

long record_drain_once(struct record_drain *d)
{
	long total = 0;

	for (unsigned cpu = 0; cpu < d->cpu_count; cpu++) {
		uint64_t n = take(d, cpu);

		if (n && process(d, cpu, n))
			return -1;
		total += (long)n;
	}
	return total;
}

long record_drain_all(struct record_drain *d)
{
	long total = 0;
	long n;

	while ((n = record_drain_once(d)) > 0)
		total += n;
	return n < 0 ? -1 : total;
}

uint64_t record_drain_total(const struct record_drain *d, size_t field_offset)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < d->cpu_count; i++) {
		uint64_t v;

		memcpy(&v, (const uint8_t *)&d->stats[i] + field_offset,
		       sizeof(v));
		sum += v;
	}
	return sum;
}

uint64_t record_ctrl_dropped(const struct record_drain *d)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < d->cpu_count; i++)
		sum += __atomic_load_n(&d->ctrl->cpu[i].dropped,
				       __ATOMIC_RELAXED);
	return sum;
}

uint64_t record_ctrl_wait_ticks(const struct record_drain *d)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < d->cpu_count; i++)
		sum += __atomic_load_n(&d->ctrl->cpu[i].wait_ticks,
				       __ATOMIC_RELAXED);
	return sum;
}

void record_drain_release(struct record_drain *d)
{
	free(d->buf);
	d->buf = NULL;
	d->buf_cap = 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True when a pass took more than half of some ring: the producer may be
 * close to waiting, so go round again without sleeping. */
static bool busy(const struct record_drain *d, long n)
{
	for (unsigned i = 0; i < d->cpu_count; i++)
		if ((uint64_t)n > d->nr_records[i] / 2)
			return true;
	return false;
}

int record_drain_loop(struct record_drain *d, int (*poll)(void *arg), void *arg,
		      unsigned idle_us)
{
	uint64_t last_poll = 0;

	for (;;) {
		long n = record_drain_once(d);
		uint64_t now = now_ns();

		if (n < 0)
			return -1;
		if (n == 0 || now - last_poll >= 50000000u) {
			int r = poll(arg);

			if (r)
				return r;
			last_poll = now;
		}
		if (!busy(d, n))
			usleep(idle_us);
	}
}
