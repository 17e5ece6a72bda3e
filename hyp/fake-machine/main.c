/* SPDX-License-Identifier: MIT */
/*
 * pkvm-fake-machine: run the real hyp core on the fake arch with one thread
 * per CPU making seeded random host calls (hypercalls with good and bad
 * arguments, stage-2 faults, SMCs), drain the rings live in WAIT mode (no
 * loss) and write a trace file with libpkvmtrace. Traces made this way are
 * what the checker sees from QEMU, minus the machine: a fast source of big
 * conforming traces for tests and benchmarks.
 *
 * usage: pkvm-fake-machine [--cpus N] [--ops K] [--seed S] OUT.trace
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arch/fake.h>
#include <hyp/hyp.h>
#include <pkvm/producer.h>
#include <pkvm/trace.h>

#define FM_CTRL_PA 0x4c000000ull
#define FM_RING_PA(i) (0x4c100000ull + (uint64_t)(i)*0x100000ull)
#define FM_RING_RECORDS 1024u
#define FM_WINDOW_PFN 0x48000ull /* pages the CPUs fight over */
#define FM_WINDOW_PAGES 2048u

static unsigned fm_ops = 2000;
static uint64_t fm_seed = 1;
static uint32_t fm_running;
static struct trace_writer *fm_writer;

static uint64_t fm_rand(uint64_t *s)
{
	/* xorshift64*: deterministic per CPU from the seed. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

/* One random host action: mostly ownership calls, some faults and junk. */
static void fm_one(uint64_t *s)
{
	uint64_t r = fm_rand(s);
	uint64_t pfn = FM_WINDOW_PFN + (r >> 8) % FM_WINDOW_PAGES;
	uint64_t nr = 1 + (r >> 40) % 4;

	switch (r % 10) {
	case 0:
	case 1:
		fake_hvc(PKVM_HC_SHARE_HYP, pfn, 0, 0, NULL);
		break;
	case 2:
	case 3:
		fake_hvc(PKVM_HC_UNSHARE_HYP, pfn, 0, 0, NULL);
		break;
	case 4:
		fake_hvc(PKVM_HC_HOST_DONATE_HYP, pfn, nr, 0, NULL);
		break;
	case 5:
		fake_hvc(PKVM_HC_HYP_DONATE_HOST, pfn, nr, 0, NULL);
		break;
	case 6:
	case 7:
		fake_abort((pfn << 12) | ((r >> 20) & 0xFF8));
		break;
	case 8:
		/* Bad arguments: MMIO, the hyp's range, an unknown id. */
		fake_hvc(PKVM_HC_SHARE_HYP, (r >> 50) & 1 ? 0x9000 : 0x40300, 0,
			 0, NULL);
		fake_hvc(0x40 + (r >> 56), 0, 0, 0, NULL);
		break;
	default:
		fake_abort(0x09000000 + ((r >> 16) & 0xFFF000));
		break;
	}
}

static void *fm_cpu(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg;
	uint64_t s = fm_seed * 0x9E3779B97F4A7C15ull + cpu + 1;

	fake_set_cpu(cpu);
	for (unsigned i = 0; i < fm_ops; i++)
		fm_one(&s);
	return NULL;
}

/* Move every published record of every CPU to the writer. */
static int fm_drain(struct pkvm_ring_ctrl *c, unsigned cpus)
{
	struct trace_error err;

	for (unsigned i = 0; i < cpus; i++) {
		struct pkvm_ring_cpu *rc = &c->cpu[i];
		const struct pkvm_record *ring = fake_mem(rc->base_pa);
		uint64_t head = __atomic_load_n(&rc->head, __ATOMIC_ACQUIRE);
		uint64_t tail = rc->tail;

		while (tail != head) {
			uint64_t slot = tail & (FM_RING_RECORDS - 1);
			uint64_t n = head - tail;
			if (n > FM_RING_RECORDS - slot)
				n = FM_RING_RECORDS - slot;
			if (trace_writer_add(fm_writer, i, ring + slot, n,
					     &err)) {
				fprintf(stderr, "pkvm-fake-machine: %s\n",
					err.message);
				return -1;
			}
			tail += n;
		}
		__atomic_store_n(&rc->tail, tail, __ATOMIC_RELEASE);
	}
	return 0;
}

/*
 * The run ended cleanly (SYSTEM_OFF): say so in the end summary, with each
 * producer's count. The rings are in WAIT mode, where nothing is dropped
 * and every record made is published, so a ring's `head` is its producer's
 * count (its `written` is only refreshed at drops, waits and stops:
 * pkvm/ring.h).
 */
static int fm_end(const struct pkvm_ring_ctrl *c, unsigned cpus,
		  struct trace_error *err)
{
	trace_writer_set_outcome(fm_writer, TRACE_OUTCOME_CLEAN,
				 "the machine powered off");
	for (unsigned i = 0; i < cpus; i++)
		if (trace_writer_set_producer(fm_writer, i, c->cpu[i].head,
					      c->cpu[i].dropped, err))
			return -1;
	return 0;
}

static void *fm_consumer(void *arg)
{
	struct pkvm_ring_ctrl *c = arg;

	while (__atomic_load_n(&fm_running, __ATOMIC_ACQUIRE))
		if (fm_drain(c, hyp_cfg.cpu_count))
			exit(1);
	return NULL;
}

/* Lay out the control block and rings, share them, load tracing. */
static struct pkvm_ring_ctrl *fm_trace_setup(unsigned cpus)
{
	struct pkvm_ring_ctrl *c = fake_mem(FM_CTRL_PA);
	uint64_t x1 = 0, pages = FM_RING_RECORDS * 32 / 4096;

	memset(c, 0, sizeof(*c));
	c->magic = PKVM_RING_MAGIC;
	c->version = PKVM_RING_VERSION;
	c->cpu_count = cpus;
	c->mode = PKVM_RING_WAIT;
	fake_hvc(PKVM_HC_SHARE_HYP, FM_CTRL_PA >> 12, 0, 0, NULL);
	for (unsigned i = 0; i < cpus; i++) {
		c->cpu[i].base_pa = FM_RING_PA(i);
		c->cpu[i].nr_records = FM_RING_RECORDS;
		for (uint64_t p = 0; p < pages; p++)
			fake_hvc(PKVM_HC_SHARE_HYP, (FM_RING_PA(i) >> 12) + p,
				 0, 0, NULL);
	}
	fake_hvc(PKVM_HC_TRACE_LOAD, FM_CTRL_PA >> 12, 0, 0, &x1);
	if (x1) {
		fprintf(stderr, "pkvm-fake-machine: TRACE_LOAD failed: %lld\n",
			(long long)(int64_t)x1);
		exit(70);
	}
	return c;
}

static void fm_usage(void)
{
	fprintf(stderr, "usage: pkvm-fake-machine [--cpus N] [--ops K] "
			"[--seed S] OUT.trace\n");
	exit(2);
}

static void fm_parse(int argc, char **argv, unsigned *cpus)
{
	static const struct option opts[] = {
		{ "cpus", required_argument, NULL, 'c' },
		{ "ops", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long long v;
		if (c == '?')
			fm_usage();
		v = strtoull(optarg, &end, 0);
		if (*end || !*optarg)
			fm_usage();
		if (c == 'c')
			*cpus = (unsigned)v;
		else if (c == 'o')
			fm_ops = (unsigned)v;
		else
			fm_seed = v;
	}
	if (optind != argc - 1 || *cpus < 1 || *cpus > 8)
		fm_usage();
}

int main(int argc, char **argv)
{
	unsigned cpus = 2;
	pthread_t t[8], consumer;
	struct trace_info info = { 0 };
	struct trace_error err;

	fm_parse(argc, argv, &cpus);
	fake_boot(cpus, 4096);
	struct pkvm_ring_ctrl *c = fm_trace_setup(cpus);
	info.cpu_count = cpus;
	info.counter_freq = 62500000;
	info.abi_version = PKVM_ABI_VERSION;
	snprintf(info.identity, sizeof(info.identity),
		 "producer=pkvm-fake-machine\nseed=%llu\nops=%u\nmode=wait\n",
		 (unsigned long long)fm_seed, fm_ops);
	fm_writer = trace_writer_open(argv[optind], &info, &err);
	if (!fm_writer) {
		fprintf(stderr, "pkvm-fake-machine: %s: %s\n", argv[optind],
			err.message);
		return 1;
	}
	fm_running = 1;
	pthread_create(&consumer, NULL, fm_consumer, c);
	for (unsigned i = 0; i < cpus; i++)
		pthread_create(&t[i], NULL, fm_cpu, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < cpus; i++)
		pthread_join(t[i], NULL);
	fake_smc(0x84000008); /* SYSTEM_OFF on CPU 0 */
	__atomic_store_n(&fm_running, 0, __ATOMIC_RELEASE);
	pthread_join(consumer, NULL);
	if (fm_drain(c, cpus) || fm_end(c, cpus, &err) ||
	    trace_writer_close(fm_writer, &err)) {
		fprintf(stderr, "pkvm-fake-machine: %s\n", err.message);
		return 1;
	}
	return 0;
}
