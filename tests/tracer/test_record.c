/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the recorder's consumer (tracer/record/record.h) against
 * the fake producer: no QEMU. The memory is a mmap'd file laid out like
 * guest RAM, as pkvm-record sees it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pkvm/abi.h>

#include "fake_producer.h"
#include "record.h"

/* A mmap'd, unlinked temporary file of `size` bytes. */
static uint8_t *map_file(uint64_t size)
{
	char path[] = "/tmp/test-record-ram-XXXXXX";
	int fd = mkstemp(path);
	uint8_t *p;

	cr_assert(fd >= 0);
	unlink(path);
	cr_assert(ftruncate(fd, (off_t)size) == 0);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(p != MAP_FAILED);
	close(fd);
	return p;
}

static void tmp_trace(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "/tmp/test-record-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
}

static struct trace_writer *open_writer(const char *path, unsigned cpus)
{
	struct trace_info info = { .cpu_count = cpus,
				   .counter_freq = 62500000,
				   .abi_version = PKVM_ABI_VERSION };
	struct trace_error err;
	struct trace_writer *w;

	snprintf(info.identity, sizeof(info.identity), "test=record\n");
	w = trace_writer_open(path, &info, &err);
	cr_assert_not_null(w, "writer: %s", err.message);
	return w;
}

/* The kinds the fake producers cycle through: with and without
 * continuation records, so events straddle ring wrap-around. */
static const unsigned kinds[] = { PKVM_EV_PTE_WRITE,	PKVM_EV_TRAP_ENTRY,
				  PKVM_EV_LOCK_ACQUIRE, PKVM_EV_NONDET,
				  PKVM_EV_LOCK_RELEASE, PKVM_EV_TRAP_EXIT };
#define KIND_COUNT (sizeof(kinds) / sizeof(kinds[0]))

struct producer_arg {
	struct fake_producer *p;
	unsigned cpu;
	unsigned events;
	int *done;
};

static void *producer_thread(void *v)
{
	struct producer_arg *a = v;

	for (unsigned i = 0; i < a->events; i++)
		fake_producer_emit(a->p, a->cpu, kinds[i % KIND_COUNT]);
	__atomic_add_fetch(a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int done_count;
static unsigned threads_started;

static int producers_done(void *arg)
{
	(void)arg;
	return __atomic_load_n(&done_count, __ATOMIC_ACQUIRE) ==
	       (int)threads_started;
}

/* Read every record of `cpu` back; check contiguity and payloads. */
static uint64_t check_cpu_stream(struct trace_reader *r, unsigned cpu,
				 bool expect_contiguous)
{
	struct pkvm_record rec;
	struct trace_error err;
	uint64_t n = 0;
	uint32_t next = 0;
	int rc;

	while ((rc = trace_reader_next(r, cpu, &rec, &err)) == 1) {
		cr_assert_eq(rec.cpu, cpu);
		if (expect_contiguous)
			cr_assert_eq(rec.seq, next, "cpu %u: seq %u after %u",
				     cpu, rec.seq, next - 1);
		if (rec.kind != PKVM_EV_LOST)
			cr_assert_eq(rec.a, fake_payload(cpu, rec.seq),
				     "cpu %u seq %u: payload", cpu, rec.seq);
		next = rec.seq + 1;
		n++;
	}
	cr_assert_eq(rc, 0, "reader: %s", err.message);
	return n;
}

Test(record, wait_mode_loses_nothing,
     .description = "WAIT mode with a 128-record ring: a threaded producer "
		    "and the drain loop lose nothing, and the file "
		    "round-trips")
{
	enum { CPUS = 2, NR = 128, EVENTS = 20000 };
	uint64_t size = fake_producer_mem_size(CPUS, NR);
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct record_drain d;
	struct producer_arg args[CPUS];
	pthread_t th[CPUS];
	char path[64];

	fake_producer_init(&p, mem, CPUS, NR, PKVM_RING_WAIT);
	tmp_trace(path, sizeof(path));
	struct trace_writer *w = open_writer(path, CPUS);
	struct pkvm_ring_ctrl *c = record_find_ctrl(&rm, CPUS, true);

	cr_assert_eq((void *)c, (void *)p.ctrl);
	cr_assert_eq(record_drain_attach(&d, c, &rm, w), 0, "%s", d.message);
	done_count = 0;
	threads_started = CPUS;
	for (unsigned i = 0; i < CPUS; i++) {
		args[i] = (struct producer_arg){ &p, i, EVENTS, &done_count };
		pthread_create(&th[i], NULL, producer_thread, &args[i]);
	}
	cr_assert_eq(record_drain_loop(&d, producers_done, NULL, 50), 1);
	for (unsigned i = 0; i < CPUS; i++)
		pthread_join(th[i], NULL);
	cr_assert_geq(record_drain_all(&d), 0);

	uint64_t per_cpu = 0;
	for (unsigned i = 0; i < KIND_COUNT; i++)
		per_cpu += 1 + pkvm_event_ncont(kinds[i]);
	per_cpu = per_cpu * (EVENTS / KIND_COUNT);
	for (unsigned i = EVENTS / KIND_COUNT * KIND_COUNT; i < EVENTS; i++)
		per_cpu += 1 + pkvm_event_ncont(kinds[i % KIND_COUNT]);
	cr_assert_eq(RECORD_TOTAL(&d, records), CPUS * per_cpu);
	cr_assert_eq(RECORD_TOTAL(&d, gaps), 0);
	cr_assert_eq(RECORD_TOTAL(&d, bad), 0);
	cr_assert_eq(record_ctrl_dropped(&d), 0);

	struct trace_error err;
	cr_assert_eq(trace_writer_close(w, &err), 0, "%s", err.message);
	record_drain_release(&d);
	struct trace_reader *r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	for (unsigned i = 0; i < CPUS; i++) {
		cr_assert_eq(check_cpu_stream(r, i, true), per_cpu);
		const struct trace_cpu_summary *s = trace_reader_summary(r, i);
		cr_assert_not_null(s);
		cr_assert_eq(s->records, per_cpu);
		cr_assert_eq(s->lost, 0);
	}
	cr_assert_not(trace_reader_truncated(r, NULL));
	trace_reader_close(r);
	unlink(path);
	munmap(mem, size);
}

Test(record, drop_mode_gaps_match_lost,
     .description = "DROP mode: every sequence gap the consumer sees is "
		    "accounted for by LOST records and the hyp's counter")
{
	enum { CPUS = 1, NR = 128 };
	uint64_t size = fake_producer_mem_size(CPUS, NR);
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct record_drain d;
	char path[64];
	unsigned dropped_events = 0;

	fake_producer_init(&p, mem, CPUS, NR, PKVM_RING_DROP);
	tmp_trace(path, sizeof(path));
	struct trace_writer *w = open_writer(path, CPUS);
	cr_assert_eq(record_drain_attach(&d, p.ctrl, &rm, w), 0);
	/* Three rounds of overfilling the ring, draining in between. */
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 200; i++)
			dropped_events += !fake_producer_emit(
				&p, 0, kinds[i % KIND_COUNT]);
		cr_assert_geq(record_drain_all(&d), 0);
	}
	fake_producer_emit(&p, 0, PKVM_EV_PTE_WRITE); /* flushes a LOST */
	cr_assert_geq(record_drain_all(&d), 0);
	cr_assert_gt(dropped_events, 0);
	cr_assert_gt(RECORD_TOTAL(&d, gaps), 0);
	cr_assert_eq(RECORD_TOTAL(&d, gaps), RECORD_TOTAL(&d, lost));
	cr_assert_eq(RECORD_TOTAL(&d, lost), record_ctrl_dropped(&d));

	struct trace_error err;
	cr_assert_eq(trace_writer_close(w, &err), 0, "%s", err.message);
	record_drain_release(&d);
	struct trace_reader *r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	check_cpu_stream(r, 0, false);
	cr_assert_eq(trace_reader_summary(r, 0)->lost, record_ctrl_dropped(&d));
	trace_reader_close(r);
	unlink(path);
	munmap(mem, size);
}

Test(record, find_skips_refused_blocks,
     .description = "the control block search skips refused (SETUP) blocks "
		    "and blocks for another CPU count")
{
	uint64_t size = fake_producer_mem_size(2, 128) + 0x2000;
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct pkvm_ring_ctrl *refused = (struct pkvm_ring_ctrl *)mem;
	struct pkvm_ring_ctrl *other = (struct pkvm_ring_ctrl *)(mem + 0x1000);

	fake_producer_init(&p, mem, 2, 128, PKVM_RING_WAIT);
	*refused = *p.ctrl;
	refused->state = PKVM_RING_STATE_SETUP;
	*other = *p.ctrl;
	other->cpu_count = 3;
	cr_assert_eq((void *)record_find_ctrl(&rm, 2, true), (void *)p.ctrl);
	cr_assert_eq((void *)record_find_ctrl(&rm, 2, false), (void *)refused);
	cr_assert_eq((void *)record_find_ctrl(&rm, 3, true), (void *)other);
	cr_assert_null(record_find_ctrl(&rm, 4, false));
	munmap(mem, size);
}

Test(record, attach_rejects_bad_blocks,
     .description = "attach refuses a ring size that is not a power of two "
		    "and a ring outside the mapped RAM, with a message")
{
	uint64_t size = fake_producer_mem_size(1, 128);
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct record_drain d;

	fake_producer_init(&p, mem, 1, 128, PKVM_RING_WAIT);
	p.ctrl->cpu[0].nr_records = 130;
	cr_assert_eq(record_drain_attach(&d, p.ctrl, &rm, NULL), -1);
	cr_assert(strstr(d.message, "power of two"), "%s", d.message);
	p.ctrl->cpu[0].nr_records = 128;
	p.ctrl->cpu[0].base_pa = FAKE_PA_BASE + size - 0x1000 + 0x1000;
	cr_assert_eq(record_drain_attach(&d, p.ctrl, &rm, NULL), -1);
	cr_assert(strstr(d.message, "inside RAM"), "%s", d.message);
	p.ctrl->cpu[0].base_pa = FAKE_PA_BASE + FAKE_RING_OFFSET;
	cr_assert_eq(record_drain_attach(&d, p.ctrl, &rm, NULL), 0);
	record_drain_release(&d);
	munmap(mem, size);
}

Test(record, rejects_foreign_records,
     .description = "a record whose cpu field names another CPU, or of kind "
		    "0, is rejected and counted, not written")
{
	uint64_t size = fake_producer_mem_size(1, 128);
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct record_drain d;
	char path[64];

	fake_producer_init(&p, mem, 1, 128, PKVM_RING_WAIT);
	tmp_trace(path, sizeof(path));
	struct trace_writer *w = open_writer(path, 1);
	cr_assert_eq(record_drain_attach(&d, p.ctrl, &rm, w), 0);
	fake_producer_emit(&p, 0, PKVM_EV_PTE_WRITE);
	fake_producer_emit(&p, 0, PKVM_EV_PTE_WRITE);
	fake_producer_emit(&p, 0, PKVM_EV_PTE_WRITE);
	p.ring[0][1].cpu = 5;
	p.ring[0][2].kind = 0;
	cr_assert_eq(record_drain_all(&d), 3);
	cr_assert_eq(RECORD_TOTAL(&d, records), 1);
	cr_assert_eq(RECORD_TOTAL(&d, bad), 2);
	struct trace_error err;
	cr_assert_eq(trace_writer_close(w, &err), 0, "%s", err.message);
	record_drain_release(&d);
	unlink(path);
	munmap(mem, size);
}

/* Fill a 2-CPU ring set without draining; returns records per CPU. */
static unsigned fill_rings(struct fake_producer *p, uint8_t *mem)
{
	fake_producer_init(p, mem, 2, 128, PKVM_RING_WAIT);
	for (unsigned i = 0; i < 30; i++) {
		fake_producer_emit(p, 0, kinds[i % KIND_COUNT]);
		fake_producer_emit(p, 1, kinds[(i + 1) % KIND_COUNT]);
	}
	return (unsigned)p->ctrl->cpu[0].head;
}

Test(record, dump_round_trip,
     .description = "a ring dump saved and loaded again gives the same "
		    "records as draining the rings directly")
{
	uint64_t size = fake_producer_mem_size(2, 128);
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct record_drain d;
	struct record_dump dump;
	char dpath[64], tpath[64], msg[256];

	unsigned per_cpu = fill_rings(&p, mem);
	cr_assert_eq(record_drain_attach(&d, p.ctrl, &rm, NULL), 0);
	tmp_trace(dpath, sizeof(dpath));
	cr_assert_eq(record_dump_save(&d, dpath, false, msg, sizeof(msg)), 0,
		     "%s", msg);
	record_drain_release(&d);
	cr_assert_eq(record_dump_load(&dump, dpath, msg, sizeof(msg)), 0, "%s",
		     msg);
	cr_assert_eq(dump.ctrl->cpu[1].head, p.ctrl->cpu[1].head);

	tmp_trace(tpath, sizeof(tpath));
	struct trace_writer *w = open_writer(tpath, 2);
	cr_assert_eq(record_drain_attach_rings(&d, dump.ctrl, dump.rings, w),
		     0);
	cr_assert_eq(record_drain_all(&d), 2 * (long)per_cpu);
	struct trace_error err;
	cr_assert_eq(trace_writer_close(w, &err), 0, "%s", err.message);
	record_drain_release(&d);
	record_dump_free(&dump);
	struct trace_reader *r = trace_reader_open(tpath, &err);
	cr_assert_not_null(r, "%s", err.message);
	cr_assert_eq(check_cpu_stream(r, 0, true), per_cpu);
	cr_assert_eq(check_cpu_stream(r, 1, true), per_cpu);
	trace_reader_close(r);
	unlink(dpath);
	unlink(tpath);
	munmap(mem, size);
}

Test(record, dump_rejects_bad_files,
     .description = "a truncated dump and one with a bad magic are refused "
		    "with the file and the byte offset named")
{
	uint64_t size = fake_producer_mem_size(2, 128);
	uint8_t *mem = map_file(size);
	struct fake_producer p;
	struct record_drain d;
	struct record_dump dump;
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	char dpath[64], msg[256];

	fill_rings(&p, mem);
	cr_assert_eq(record_drain_attach(&d, p.ctrl, &rm, NULL), 0);
	tmp_trace(dpath, sizeof(dpath));
	cr_assert_eq(record_dump_save(&d, dpath, false, msg, sizeof(msg)), 0);
	record_drain_release(&d);
	cr_assert_eq(truncate(dpath, 4096 + 128 * 32 + 100), 0);
	cr_assert_eq(record_dump_load(&dump, dpath, msg, sizeof(msg)), -1);
	cr_assert(strstr(msg, dpath) && strstr(msg, "truncated"), "%s", msg);

	FILE *f = fopen(dpath, "r+b");
	cr_assert_not_null(f);
	fputc('X', f);
	fclose(f);
	cr_assert_eq(record_dump_load(&dump, dpath, msg, sizeof(msg)), -1);
	cr_assert(strstr(msg, "offset 0"), "%s", msg);
	unlink(dpath);
	munmap(mem, size);
}

/* Drain a DROP-mode ring that overflowed at the very end: its LOST record
 * is still pending when the run stops. Returns the writer's file path. */
static void tail_run(struct fake_producer *p, struct record_drain *d,
		     uint8_t *mem, struct record_mem *rm, char *path,
		     size_t len)
{
	fake_producer_init(p, mem, 1, 128, PKVM_RING_DROP);
	tmp_trace(path, len);
	cr_assert_eq(record_drain_attach(d, p->ctrl, rm, open_writer(path, 1)),
		     0);
	for (unsigned i = 0; i < 200; i++)
		fake_producer_emit(p, 0, kinds[i % KIND_COUNT]);
	cr_assert_geq(record_drain_all(d), 0);
	cr_assert_gt(p->pending_lost[0], 0);
}

Test(record, tail_loss_accounted,
     .description = "records dropped at the end of a stream, with no LOST "
		    "record after them, are counted as a tail loss from the "
		    "producer's `written`, and stored in the end summary")
{
	uint64_t size = fake_producer_mem_size(1, 128);
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct record_drain d;
	struct record_totals t;
	struct trace_error err;
	char path[64];
	uint64_t produced, dropped;

	tail_run(&p, &d, mem, &rm, path, sizeof(path));
	produced = p.ctrl->cpu[0].written;
	dropped = p.ctrl->cpu[0].dropped;
	cr_assert_eq(record_account_all(&d, &produced, &dropped, &t, stderr),
		     0);
	cr_assert_eq(t.contradictions, 0);
	cr_assert_eq(t.tail, p.pending_lost[0]);
	cr_assert_eq(t.lost, t.lost_counts + t.tail);
	cr_assert_eq(t.lost, dropped, "lost %llu, dropped %llu",
		     (unsigned long long)t.lost, (unsigned long long)dropped);
	cr_assert_eq(trace_writer_close(d.writer, &err), 0, "%s", err.message);
	record_drain_release(&d);

	struct trace_reader *r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	check_cpu_stream(r, 0, false);
	const struct trace_cpu_summary *s = trace_reader_summary(r, 0);
	cr_assert_eq(s->produced, produced);
	cr_assert_eq(s->dropped, dropped);
	cr_assert_eq(s->produced - (s->last_seq + 1), p.pending_lost[0]);
	trace_reader_close(r);
	unlink(path);
	munmap(mem, size);
}

Test(record, contradicting_counters_unknown,
     .description = "a `written` below the records drained, or a `dropped` "
		    "above what is missing, is reported and stored as "
		    "unknown, never trusted")
{
	uint64_t size = fake_producer_mem_size(1, 128);
	uint8_t *mem = map_file(size);
	struct record_mem rm = { mem, FAKE_PA_BASE, size };
	struct fake_producer p;
	struct record_drain d;
	struct record_totals t;
	struct trace_error err;
	char path[64];
	uint64_t produced, dropped;

	tail_run(&p, &d, mem, &rm, path, sizeof(path));
	produced = d.stats[0].next_seq64 - 1; /* stale: short of the last */
	dropped = p.ctrl->cpu[0].dropped;
	cr_assert_eq(record_account_all(&d, &produced, &dropped, &t, stderr),
		     0);
	cr_assert_eq(t.contradictions, 1);
	cr_assert(strstr(t.cpu[0].why, "made"), "%s", t.cpu[0].why);
	cr_assert_eq(t.cpu[0].produced, TRACE_COUNT_UNKNOWN);

	produced = p.ctrl->cpu[0].written;
	dropped = produced - RECORD_TOTAL(&d, records) + 1;
	cr_assert_eq(record_account_all(&d, &produced, &dropped, &t, stderr),
		     0);
	cr_assert_eq(t.contradictions, 1);
	cr_assert(strstr(t.cpu[0].why, "dropped"), "%s", t.cpu[0].why);
	cr_assert_eq(trace_writer_close(d.writer, &err), 0, "%s", err.message);
	record_drain_release(&d);

	struct trace_reader *r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	check_cpu_stream(r, 0, false);
	cr_assert_eq(trace_reader_summary(r, 0)->produced, TRACE_COUNT_UNKNOWN);
	cr_assert_eq(trace_reader_summary(r, 0)->dropped, TRACE_COUNT_UNKNOWN);
	trace_reader_close(r);
	unlink(path);
	munmap(mem, size);
}
