/* SPDX-License-Identifier: MIT */
/*
 * gen-trace: a deterministic generator of synthetic traces, for tests,
 * fuzz corpora and benchmarks. The events are plausible rather than
 * conforming, and shaped like the hyp's (hyp/README.md, "Record
 * conventions"), compact forms included: hypercalls as HCALL_ENTRY_LOCK2
 * ... HCALL_EXIT_UNLOCK2 (format 3.0: the entry with the two table locks
 * taken, the release with the exit), or with --no-fuse as format 2.0
 * wrote them, HCALL_ENTRY, LOCK_ACQUIRE2, ..., LOCK_RELEASE2, HCALL_EXIT;
 * aborts as TRAP_ENTRY ... HCALL_EXIT; page-table writes under the lock of
 * their table with
 * per-lock tickets that agree across CPUs, allocations from the pool, TLB
 * maintenance with its barriers as TLBI flags, and, with --lost, windows
 * of dropped records. Timestamps advance as a 62.5 MHz counter would, so
 * compression figures mean something.
 *
 *   gen-trace --cpus N --records N --seed S [--lost] [--no-fuse] -o FILE
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/trace.h>

#define GEN_FREQ 62500000ull
#define GEN_MAX_CPUS 64u
#define GEN_OP_MAX 64u /* records of one operation, at most */

/** Per-CPU generator state. */
struct gen_cpu {
	uint64_t ts;
	uint32_t seq;
	uint64_t produced; /* records made, dropped ones included */
	uint64_t dropped;
	struct pkvm_record buf[GEN_OP_MAX];
	unsigned n;
};

struct gen {
	uint64_t rng;
	unsigned cpus;
	bool lost;
	bool no_fuse;	     /* hypercalls without the 3.0 fused kinds */
	uint64_t tickets[5]; /* next ticket per lock id */
	uint64_t pool_next;  /* next pool page handed out */
	struct gen_cpu cpu[GEN_MAX_CPUS];
};

/* splitmix64: small, fast and good enough for synthetic data. */
static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(struct gen *g, uint64_t n)
{
	return rnd(g) % n;
}

/* Append a record of `kind` (head, or continuation `cont` >= 1). */
static void emit(struct gen *g, unsigned cpu, unsigned kind, unsigned cont,
		 uint8_t extra_flags, uint64_t a, uint64_t b)
{
	struct gen_cpu *c = &g->cpu[cpu];
	struct pkvm_record *r = &c->buf[c->n++];

	c->ts += 3 + rnd_below(g, 40);
	r->ts = c->ts;
	r->kind = (uint8_t)kind;
	r->flags = cont ? (uint8_t)(PKVM_REC_F_CONT | cont)
			: (uint8_t)(pkvm_event_ncont(kind) | extra_flags);
	r->cpu = (uint16_t)cpu;
	r->seq = c->seq++;
	r->a = a;
	r->b = b;
}

/* An event: head words a, b then continuation words from `more`. */
static void event(struct gen *g, unsigned cpu, unsigned kind, uint8_t flags,
		  const uint64_t *w)
{
	emit(g, cpu, kind, 0, flags, w[0], w[1]);
	for (unsigned i = 1; i <= pkvm_event_ncont(kind); i++)
		emit(g, cpu, kind, i, 0, w[2 * i], w[2 * i + 1]);
}

static void simple(struct gen *g, unsigned cpu, unsigned kind, uint64_t a,
		   uint64_t b)
{
	uint64_t w[2] = { a, b };

	event(g, cpu, kind, 0, w);
}

static void boot(struct gen *g)
{
	uint64_t w[14] = { PKVM_ABI_VERSION | (uint64_t)g->cpus << 32,
			   GEN_FREQ,
			   PKVM_RAM_BASE,
			   PKVM_RAM_SIZE,
			   PKVM_HYP_BASE,
			   PKVM_HYP_BASE + 0x400000,
			   0x40400000,
			   0x40600000,
			   0x40400000,
			   0x40401000,
			   0x80023559,
			   0x80823510,
			   0,
			   0 };

	event(g, 0, PKVM_EV_BOOT, 0, w);
	for (unsigned i = 0; i < g->cpus; i++)
		simple(g, i, PKVM_EV_MARK, PKVM_MARK_CPU_UP, i);
}

/* Take a lock: the ticket order is global, as on the real machine. */
static uint64_t lock(struct gen *g, unsigned cpu, unsigned id)
{
	uint64_t t = g->tickets[id]++;

	simple(g, cpu, PKVM_EV_LOCK_ACQUIRE, id, t);
	return t;
}

/* The tickets of two locks taken back to back, packed as LOCK_ACQUIRE2's
 * (32 bits each, the first in the low half). */
static uint64_t tickets2(struct gen *g, unsigned first, unsigned second)
{
	return (g->tickets[first]++ & 0xFFFFFFFFu) |
	       (g->tickets[second]++ & 0xFFFFFFFFu) << 32;
}

/* Two locks back to back, one LOCK_ACQUIRE2. */
static uint64_t lock2(struct gen *g, unsigned cpu, unsigned first,
		      unsigned second)
{
	uint64_t t = tickets2(g, first, second);

	simple(g, cpu, PKVM_EV_LOCK_ACQUIRE2, first | (uint64_t)second << 32,
	       t);
	return t;
}

/* Let go of `first` then `second`, whose tickets `lock2` packed as given. */
static void unlock2(struct gen *g, unsigned cpu, unsigned first,
		    unsigned second, uint64_t tickets)
{
	simple(g, cpu, PKVM_EV_LOCK_RELEASE2, first | (uint64_t)second << 32,
	       tickets);
}

/* A TLBI with the barriers around it as flags, as the hyp records them. */
static void tlbi(struct gen *g, unsigned cpu, unsigned op, uint64_t operand,
		 uint8_t barriers)
{
	uint64_t w[2] = { op | 1u << 16, operand };

	event(g, cpu, PKVM_EV_TLBI, barriers, w);
}

static void pte_writes(struct gen *g, unsigned cpu, uint64_t pfn,
		       unsigned count, uint64_t state)
{
	uint64_t table = 0x40400000ull + (pfn >> 9 & 0x3F) * 0x1000;

	for (unsigned i = 0; i < count; i++) {
		uint64_t pa = (pfn + i) << 12;
		uint64_t desc = pa | 0x4C3 | state;

		uint64_t w[2] = { table + ((pfn + i) & 511) * 8, desc };

		/* The last write publishes the mapping: a store-release. */
		event(g, cpu, PKVM_EV_PTE_WRITE,
		      i + 1 == count ? PKVM_REC_F_PTE_RELEASE : 0, w);
	}
}

static void alloc_page(struct gen *g, unsigned cpu, unsigned comp)
{
	uint64_t w[4] = { PKVM_NONDET_ALLOC_PAGE,
			  0x40400000ull + (g->pool_next++ % 512) * 0x1000, 0,
			  comp };

	event(g, cpu, PKVM_EV_NONDET, 0, w);
}

/* A value read once from host memory, recorded once. */
static void host_read(struct gen *g, unsigned cpu, uint64_t pa)
{
	uint64_t w[4] = { PKVM_NONDET_HOST_READ, rnd(g) & 0xFFFF, pa, 0 };

	event(g, cpu, PKVM_EV_NONDET, 0, w);
}

/* One host hypercall, from trap entry to trap exit. */
static void hypercall(struct gen *g, unsigned cpu)
{
	unsigned id = 1 + (unsigned)rnd_below(g, 4);
	uint64_t pfn = (PKVM_RAM_BASE >> 12) + 0x1000 + rnd_below(g, 0x8000);
	unsigned pages = id >= PKVM_HC_HOST_DONATE_HYP
				 ? 1 + (unsigned)rnd_below(g, 4)
				 : 1;
	uint64_t t, err = rnd_below(g, 16) == 0 ? (uint64_t)-16 : 0;
	uint64_t elr = PKVM_WORKLOAD_BASE + 0x100 + 4 * rnd_below(g, 256);
	uint64_t in[6] = { elr,
			   PKVM_HC_BASE | id,
			   pfn,
			   pages,
			   PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32,
			   0 };

	if (g->no_fuse) {
		event(g, cpu, PKVM_EV_HCALL_ENTRY, 0, in);
		t = lock2(g, cpu, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	} else {
		/* The hyp takes the pair before it records the entry. */
		in[5] = t = tickets2(g, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
		event(g, cpu, PKVM_EV_HCALL_ENTRY_LOCK2, 0, in);
	}
	host_read(g, cpu, pfn << 12);
	if (!err) {
		if (rnd_below(g, 8) == 0)
			alloc_page(g, cpu, PKVM_COMP_HOST_S2);
		pte_writes(g, cpu, pfn, pages, PKVM_PAGE_SHARED_OWNED);
		pte_writes(g, cpu, pfn, pages, PKVM_PAGE_SHARED_BORROWED);
		/* Unmapping's maintenance at stage 2 (hyp/README.md). */
		tlbi(g, cpu, PKVM_TLBI_IPAS2E1IS, pfn,
		     PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
			     PKVM_REC_F_TLBI_DSB_ISH_AFTER);
		tlbi(g, cpu, PKVM_TLBI_VMALLE1IS, 0,
		     PKVM_REC_F_TLBI_DSB_ISH_AFTER | PKVM_REC_F_TLBI_ISB_AFTER);
	}
	if (!g->no_fuse) {
		/* The releases, in reverse order, come with the exit. */
		simple(g, cpu, PKVM_EV_HCALL_EXIT_UNLOCK2, 0, err);
		return;
	}
	/* Released in the reverse order: hyp_s1 (high half) first. */
	unlock2(g, cpu, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2,
		t >> 32 | (t & 0xFFFFFFFFu) << 32);
	simple(g, cpu, PKVM_EV_HCALL_EXIT, 0, err);
}

/*
 * A host stage-2 data abort on a page it owns: the hyp maps it lazily,
 * sometimes needing a new table page from the pool.
 */
static void abort_trap(struct gen *g, unsigned cpu)
{
	uint64_t pfn = (PKVM_RAM_BASE >> 12) + 0x1000 + rnd_below(g, 0x8000);
	uint64_t elr = PKVM_WORKLOAD_BASE + 0x800 + 4 * rnd_below(g, 64);
	uint64_t in[8] = { 0x93C08047, elr, (pfn << 12) | 0x10, pfn << 4, 0, 0,
			   0,	       0 };
	uint64_t t;

	event(g, cpu, PKVM_EV_TRAP_ENTRY, 0, in);
	t = lock(g, cpu, PKVM_LOCK_HOST_S2);
	if (rnd_below(g, 4) == 0)
		alloc_page(g, cpu, PKVM_COMP_HOST_S2);
	pte_writes(g, cpu, pfn, 1, PKVM_PAGE_OWNED);
	simple(g, cpu, PKVM_EV_LOCK_RELEASE, PKVM_LOCK_HOST_S2, t);
	/* Resumes at the faulting instruction, registers untouched. */
	simple(g, cpu, PKVM_EV_HCALL_EXIT, 0, 0);
}

/* Rarely: an abort, a system-register write or a mark. */
static void misc(struct gen *g, unsigned cpu)
{
	switch (rnd_below(g, 4)) {
	case 3:
		abort_trap(g, cpu);
		break;
	case 0:
		simple(g, cpu, PKVM_EV_SYSREG_WRITE, PKVM_SYSREG_VTTBR_EL2,
		       0x40400000ull | 1ull << 48);
		break;
	case 1:
		simple(g, cpu, PKVM_EV_TLBI, PKVM_TLBI_VMALLS12E1IS | 1u << 16,
		       0);
		break;
	default:
		simple(g, cpu, PKVM_EV_MARK, PKVM_MARK_HOST_ENTER,
		       PKVM_WORKLOAD_BASE);
		break;
	}
}

/*
 * Drop a few records, as a ring in drop mode would: the sequence numbers
 * skip `count` and a LOST record names the gap.
 */
static void lose(struct gen *g, unsigned cpu)
{
	struct gen_cpu *c = &g->cpu[cpu];
	uint64_t count = 1 + rnd_below(g, 200);
	uint32_t first = c->seq;

	c->seq += (uint32_t)count;
	c->produced += count;
	c->dropped += count;
	c->ts += count * 20;
	simple(g, cpu, PKVM_EV_LOST, count, first);
}

/* The CPU whose clock is furthest behind goes next. */
static unsigned next_cpu(const struct gen *g)
{
	unsigned best = 0;

	for (unsigned i = 1; i < g->cpus; i++)
		if (g->cpu[i].ts < g->cpu[best].ts)
			best = i;
	return best;
}

static int flush_cpu(struct gen *g, struct trace_writer *w, unsigned cpu,
		     uint64_t *total)
{
	struct trace_error err;
	struct gen_cpu *c = &g->cpu[cpu];

	if (trace_writer_add(w, cpu, c->buf, c->n, &err) < 0) {
		fprintf(stderr, "gen-trace: %s\n", err.message);
		return -1;
	}
	*total += c->n;
	c->produced += c->n;
	c->n = 0;
	return 0;
}

/*
 * The end of a run: the test_panic hypercall, and the hyp's PANIC; the end
 * summary says so, with each producer's exact counts (every record made
 * is in the file or in a LOST record's count).
 */
static int finish(struct gen *g, struct trace_writer *w, uint64_t *total)
{
	uint64_t in[4] = { PKVM_WORKLOAD_BASE + 0x40,
			   PKVM_HC_BASE | PKVM_HC_TEST_PANIC, 0, 0 };
	struct trace_error err;

	event(g, 0, PKVM_EV_HCALL_ENTRY, 0, in);
	simple(g, 0, PKVM_EV_PANIC, PKVM_PANIC_TEST, PKVM_WORKLOAD_BASE + 0x40);
	if (flush_cpu(g, w, 0, total) < 0)
		return -1;
	trace_writer_set_outcome(w, TRACE_OUTCOME_PANIC,
				 "the hyp panicked in test_panic");
	for (unsigned i = 0; i < g->cpus; i++)
		if (trace_writer_set_producer(w, i, g->cpu[i].produced,
					      g->cpu[i].dropped, &err) < 0) {
			fprintf(stderr, "gen-trace: %s\n", err.message);
			return -1;
		}
	return 0;
}

static int generate(struct gen *g, struct trace_writer *w, uint64_t records)
{
	uint64_t total = 0;

	boot(g);
	for (unsigned i = 0; i < g->cpus; i++)
		if (flush_cpu(g, w, i, &total) < 0)
			return -1;
	while (total + 8 < records) {
		unsigned cpu = next_cpu(g);
		uint64_t dice = rnd_below(g, 1000);

		g->cpu[cpu].ts += 50 + rnd_below(g, 2000);
		if (g->lost && dice < 5)
			lose(g, cpu);
		else if (dice < 40)
			misc(g, cpu);
		else
			hypercall(g, cpu);
		if (flush_cpu(g, w, cpu, &total) < 0)
			return -1;
	}
	return finish(g, w, &total);
}

static void usage(void)
{
	fprintf(stderr, "usage: gen-trace [--cpus N] [--records N] "
			"[--seed S] [--lost] [--no-fuse] -o FILE\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || !*s || *end ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct gen *g, uint64_t *records,
		      const char **path)
{
	static const struct option opts[] = {
		{ "cpus", required_argument, NULL, 'c' },
		{ "records", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "lost", no_argument, NULL, 'l' },
		{ "no-fuse", no_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:n:s:lo:", opts, NULL)) != -1) {
		if (ch == 'l') {
			g->lost = true;
		} else if (ch == 'f') {
			g->no_fuse = true;
		} else if (ch == 'o') {
			*path = optarg;
		} else if (ch == 'c' || ch == 'n' || ch == 's') {
			if (parse_u64(optarg, &v) < 0)
				return -1;
			if (ch == 'c')
				g->cpus = (unsigned)v;
			else if (ch == 'n')
				*records = v;
			else
				g->rng = v;
		} else {
			return -1;
		}
	}
	if (optind != argc || !*path || g->cpus == 0 || g->cpus > GEN_MAX_CPUS)
		return -1;
	return 0;
}

/** Entry point: see the comment at the top of the file. */
int main(int argc, char **argv)
{
	static struct gen g = { .cpus = 4, .rng = 1 };
	struct trace_info info = { .cpu_count = 0 };
	uint64_t records = 100000;
	const char *path = NULL;
	struct trace_error err;
	struct trace_writer *w;

	if (parse_args(argc, argv, &g, &records, &path) < 0) {
		usage();
		return 2;
	}
	info.cpu_count = g.cpus;
	info.counter_freq = GEN_FREQ;
	info.abi_version = PKVM_ABI_VERSION;
	snprintf(info.identity, sizeof(info.identity),
		 "generator=gen-trace\nseed=%" PRIu64 "\nrecords=%" PRIu64 "\n",
		 g.rng, records);
	for (unsigned i = 0; i < g.cpus; i++)
		g.cpu[i].ts = 1000 + 7 * i;
	g.tickets[PKVM_LOCK_HOST_S2] = g.tickets[PKVM_LOCK_HYP_S1] = 0;
	w = trace_writer_open(path, &info, &err);
	if (!w) {
		fprintf(stderr, "gen-trace: %s\n", err.message);
		return 1;
	}
	if (generate(&g, w, records) < 0) {
		trace_writer_close(w, &err);
		return 1;
	}
	if (trace_writer_close(w, &err) < 0) {
		fprintf(stderr, "gen-trace: %s\n", err.message);
		return 1;
	}
	return 0;
}
