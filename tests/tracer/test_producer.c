/* SPDX-License-Identifier: MIT */
/*
 * The real producer (tracer/producer), built natively, as the consumer sees
 * it. Through the published ring state: after every publish, `written` is
 * the number of records the CPU produced (ring.h), whichever path (fast
 * path, drops, LOST record) the records took; pkvm-record stores it in the
 * end summary as `produced`, so a stale value would read as a tail loss.
 * Through its private state: salvage (tracer/record/salvage.c) finds what
 * a stopped hyp wrote and never published.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pkvm/producer.h>

#include "elfsym.h"
#include "record.h"
#include "salvage.h"

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

/* ---- salvage (tracer/record/salvage.c) ---------------------------------- */

/*
 * Salvage reads the producer state out of "guest RAM" by PA. Here RAM is a
 * block of this process's memory whose PA is its address, so the real
 * producer's pointers are valid PAs, as the hyp's VAs are in our hyp.
 */
struct ram {
	struct producer prod;
	uint8_t pad[4096 - sizeof(struct producer) % 4096];
	struct pkvm_ring_ctrl ctrl;
	uint8_t pad2[4096 - sizeof(struct pkvm_ring_ctrl)];
	struct pkvm_record early[EARLY_CAP]; /* 2 pages */
	struct pkvm_record ring[RING_CAP];   /* 1 page */
};

static struct ram *ram;
static struct record_mem ram_mem;

static uint64_t ram_object_end(const void *ctx, uint64_t addr)
{
	(void)ctx;
	if (addr - (uintptr_t)ram->early < sizeof(ram->early))
		return (uintptr_t)ram->early + sizeof(ram->early);
	return 0;
}

static struct salvage_image ram_image(void)
{
	struct salvage_image img = {
		.producer_pa = (uintptr_t)&ram->prod,
		.producer_size = sizeof(struct producer),
		.object_end = ram_object_end,
	};
	return img;
}

/* One CPU writing into its early buffer, nothing loaded. */
static struct producer_cpu *ram_boot(void)
{
	ram = aligned_alloc(4096, sizeof(*ram));
	cr_assert_not_null(ram);
	memset(ram, 0, sizeof(*ram));
	ram_mem = (struct record_mem){ (uint8_t *)ram, (uintptr_t)ram,
				       sizeof(*ram) };
	ram->prod.cpu_count = 1;
	producer_init_cpu(&ram->prod, 0, ram->early, EARLY_CAP);
	return &ram->prod.cpu[0];
}

static struct trace_writer *salvage_writer(char *path, size_t len)
{
	struct trace_info info = { .cpu_count = 1, .counter_freq = 1000 };
	struct trace_error err;
	struct trace_writer *w;
	int fd;

	snprintf(path, len, "/tmp/test-salvage-XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	w = trace_writer_open(path, &info, &err);
	cr_assert_not_null(w, "%s", err.message);
	return w;
}

/* The end of a run: the counters salvage found, checked, in the summary. */
static struct record_totals
account(struct record_drain *d, const struct salvage_result *res, bool attached)
{
	uint64_t produced, dropped;
	struct record_totals t;

	salvage_counters(d, attached, res, &produced, &dropped);
	cr_assert_eq(record_account_all(d, &produced, &dropped, &t, stderr), 0);
	cr_assert_eq(t.contradictions, 0);
	return t;
}

/* Account, close the writer, read the trace back: its kinds in order into
 * `kinds` (up to `max`), its summary into `sum`. Returns the record count. */
static size_t read_back(struct record_drain *d,
			const struct salvage_result *res, bool attached,
			const char *path, unsigned *kinds, size_t max,
			struct trace_cpu_summary *sum)
{
	struct trace_error err;
	struct trace_reader *r;
	struct pkvm_record rec;
	size_t n = 0;
	int rc;

	account(d, res, attached);
	cr_assert_eq(trace_writer_close(d->writer, &err), 0, "%s", err.message);
	record_drain_release(d);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	while ((rc = trace_reader_next(r, 0, &rec, &err)) == 1) {
		if (n < max)
			kinds[n] = rec.kind;
		n++;
	}
	cr_assert_eq(rc, 0, "%s", err.message);
	*sum = *trace_reader_summary(r, 0);
	trace_reader_close(r);
	unlink(path);
	return n;
}

/* A hyp that panicked before TRACE_LOAD: its early buffer, PANIC last. */
Test(salvage, early_buffer_before_load)
{
	struct producer_cpu *pc = ram_boot();
	struct salvage_image img = ram_image();
	struct salvage_result res;
	struct record_drain d;
	struct trace_cpu_summary sum;
	unsigned kinds[16];
	uint64_t w[2 * 7] = { 0 };
	char path[64];

	producer_emit(pc, PKVM_EV_BOOT, 0, w, 7);
	producer_emit(pc, PKVM_EV_BARRIER, 0, w, 1);
	producer_emit(pc, PKVM_EV_PANIC, 0, w, 1);
	cr_assert_eq(record_drain_attach_none(&d, 1, salvage_writer(path, 64)),
		     0);
	cr_assert_eq(salvage_run(&img, &ram_mem, &d, &res), 0);
	cr_assert_str_empty(res.message);
	cr_assert(res.cpu[0].known, "%s", res.cpu[0].why);
	cr_assert_eq(res.cpu[0].early, 9);
	cr_assert_eq(res.cpu[0].produced, 9);
	cr_assert_eq(read_back(&d, &res, false, path, kinds, 16, &sum), 9);
	cr_assert_eq(kinds[0], PKVM_EV_BOOT);
	cr_assert_eq(kinds[8], PKVM_EV_PANIC);
	cr_assert_eq(sum.produced, 9);
	cr_assert_eq(sum.lost, 0);
	free(ram);
}

/* An early buffer that overflowed: the LOST record the copy would write. */
Test(salvage, early_overflow_lost_record)
{
	struct producer_cpu *pc = ram_boot();
	struct salvage_image img = ram_image();
	struct salvage_result res;
	struct record_drain d;
	struct trace_cpu_summary sum;
	unsigned kinds[EARLY_CAP + 1];
	uint64_t w[2] = { 0 };
	char path[64];

	for (unsigned i = 0; i < EARLY_CAP + 40; i++)
		producer_emit(pc, PKVM_EV_BARRIER, 0, w, 1);
	cr_assert_eq(record_drain_attach_none(&d, 1, salvage_writer(path, 64)),
		     0);
	cr_assert_eq(salvage_run(&img, &ram_mem, &d, &res), 0);
	cr_assert(res.cpu[0].lost_record);
	cr_assert_eq(res.cpu[0].produced, EARLY_CAP + 40 + 1);
	cr_assert_eq(
		read_back(&d, &res, false, path, kinds, EARLY_CAP + 1, &sum),
		EARLY_CAP + 1, "the LOST record follows the gap");
	cr_assert_eq(kinds[EARLY_CAP], PKVM_EV_LOST);
	cr_assert_eq(sum.lost, 40);
	cr_assert_eq(sum.last_seq, EARLY_CAP + 40, "the LOST record's seq");
	cr_assert_eq(sum.produced, sum.last_seq + 1, "no tail loss");
	free(ram);
}

/* In its ring: the records written after the last publish. */
Test(salvage, unpublished_ring_records)
{
	struct producer_cpu *pc = ram_boot();
	struct salvage_image img = ram_image();
	struct producer_ring r = { ram->ring, RING_CAP };
	struct salvage_result res;
	struct record_drain d;
	struct trace_cpu_summary sum;
	unsigned kinds[64];
	uint64_t w[2] = { 0 };
	size_t n;
	char path[64];

	trap(pc, 3);
	ram->ctrl.cpu[0].base_pa = (uintptr_t)ram->ring;
	ram->ctrl.cpu[0].nr_records = RING_CAP;
	ram->ctrl.magic = PKVM_RING_MAGIC;
	ram->ctrl.version = PKVM_RING_VERSION;
	ram->ctrl.cpu_count = 1;
	producer_load(&ram->prod, &ram->ctrl, &r, PKVM_RING_DROP, 1000);
	producer_sync(&ram->prod, pc);
	trap(pc, 10);		    /* published */
	for (int i = 0; i < 5; i++) /* not published: the CPU stopped */
		producer_emit(pc, PKVM_EV_TLBI, 0, w, 1);
	cr_assert_eq(record_drain_attach(&d, &ram->ctrl, &ram_mem,
					 salvage_writer(path, 64)),
		     0);
	cr_assert_gt(record_drain_all(&d), 10);
	cr_assert_eq(salvage_run(&img, &ram_mem, &d, &res), 0);
	cr_assert(res.cpu[0].known, "%s", res.cpu[0].why);
	cr_assert_eq(res.cpu[0].unpublished, 5);
	cr_assert_eq(res.cpu[0].produced, producer_produced(&ram->prod, 0));
	n = read_back(&d, &res, true, path, kinds, 64, &sum);
	cr_assert_eq(n, producer_produced(&ram->prod, 0));
	cr_assert_eq(kinds[n - 1], PKVM_EV_TLBI);
	free(ram);
}

/* A record that is not the next one ends the salvage: a tail loss. */
Test(salvage, stops_at_a_stale_record)
{
	struct producer_cpu *pc = ram_boot();
	struct salvage_image img = ram_image();
	struct salvage_result res;
	struct record_drain d;
	struct trace_cpu_summary sum;
	unsigned kinds[16];
	uint64_t w[2] = { 0 };
	char path[64];

	for (int i = 0; i < 10; i++)
		producer_emit(pc, PKVM_EV_BARRIER, 0, w, 1);
	ram->early[6].seq = 99; /* stale, or half written */
	cr_assert_eq(record_drain_attach_none(&d, 1, salvage_writer(path, 64)),
		     0);
	cr_assert_eq(salvage_run(&img, &ram_mem, &d, &res), 0);
	cr_assert_eq(res.cpu[0].early, 6);
	cr_assert_eq(read_back(&d, &res, false, path, kinds, 16, &sum), 6);
	cr_assert_eq(sum.produced - (sum.last_seq + 1), 4, "a tail loss of 4");
	free(ram);
}

/* An image whose producer state has another layout is refused. */
Test(salvage, refuses_another_layout)
{
	struct salvage_image img;
	struct salvage_result res;
	struct record_drain d;
	char path[64];

	ram_boot();
	img = ram_image();
	img.producer_size += 8;
	cr_assert_eq(record_drain_attach_none(&d, 1, salvage_writer(path, 64)),
		     0);
	cr_assert_eq(salvage_run(&img, &ram_mem, &d, &res), 0);
	cr_assert(strstr(res.message, "not this recorder's"), "%s",
		  res.message);
	cr_assert_eq(res.records, 0);
	cr_assert_eq(res.cpu[0].known, false);
	trace_writer_close(d.writer, NULL);
	record_drain_release(&d);
	unlink(path);
	free(ram);
}

/* ---- the image's symbols (tracer/record/elfsym.c) ------------------------ */

/*
 * A global the test finds in its own symbol table: kept, and global, under
 * the link-time optimisation of an optimised build too, which otherwise
 * drops it (nothing uses it by name).
 */
__attribute__((used, visibility("default"))) uint64_t elfsym_probe[7];

Test(elfsym, finds_symbols_refuses_bad_files)
{
	struct elfsym e;
	struct elfsym_sym sym;
	struct salvage_image img;
	char msg[256], path[] = "/tmp/test-elfsym-XXXXXX";
	FILE *f;
	int fd;

	/* This test program is an ELF64 file with a symbol table. */
	cr_assert_eq(elfsym_open(&e, "/proc/self/exe", msg, sizeof(msg)), 0,
		     "%s", msg);
	/* (ASan pads globals: the object may be larger than declared.) */
	cr_assert_eq(elfsym_find(&e, "elfsym_probe", &sym), 0);
	cr_assert_geq(sym.size, sizeof(elfsym_probe));
	uint64_t probe = sym.value;
	cr_assert_eq(elfsym_containing(&e, probe + 20, &sym), 0);
	cr_assert_eq(sym.value, probe);
	cr_assert_eq(elfsym_find(&e, "no_such_symbol_here", &sym), -1);
	/* Not our hyp: another machine (unless this is an AArch64 host). */
	if (e.machine != 183)
		cr_assert_eq(salvage_image_from_elf(&img, &e, msg, sizeof(msg)),
			     -1);
	elfsym_close(&e);

	/* A file cut inside its section headers: the file and the offset. */
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	{
		FILE *self = fopen("/proc/self/exe", "rb");
		char buf[64];

		cr_assert_eq(fread(buf, 1, sizeof(buf), self), sizeof(buf));
		fwrite(buf, 1, sizeof(buf), f);
		fclose(self);
	}
	fclose(f);
	cr_assert_eq(elfsym_open(&e, path, msg, sizeof(msg)), -1);
	cr_assert(strstr(msg, path) && strstr(msg, "offset"), "%s", msg);
	f = fopen(path, "wb");
	fputs("not an elf file at all", f);
	fclose(f);
	cr_assert_eq(elfsym_open(&e, path, msg, sizeof(msg)), -1);
	cr_assert(strstr(msg, "offset 0: not an ELF file"), "%s", msg);
	unlink(path);
}
