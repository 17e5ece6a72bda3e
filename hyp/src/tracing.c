/* SPDX-License-Identifier: MIT */
/*
 * TRACE_LOAD: validate the host's control block and hand the rings to the
 * producer (tracer/producer).
 *
 * Lock order: `trace` first, then host_s2 -> hyp_s1 to read the tables.
 * Every host-written field is read exactly once (a NONDET host_read record
 * each) into a private copy, and only the copy is used afterwards, so the
 * host cannot change a value between its check and its use.
 */
#include <hyp/arch.h>
#include <hyp/hyp.h>
#include <hyp/image.h>
#include <hyp/lock.h>
#include <hyp/mem_protect.h>
#include <hyp/tracing.h>
#include <pkvm/ring.h>

struct producer hyp_producer;

/*
 * Early buffers: hyp-private, in the hyp's .bss. CPU 0 records the boot and
 * every SHARE_HYP the host makes to set up tracing (about 14 records per
 * ring page: 8 CPUs x 512 pages fit), so it gets the big one (2 MiB; the
 * pool keeps more than 3 MiB, ten times what the tables can need). Once
 * copied into its ring, a CPU's early buffer is its WAIT-mode spill
 * (producer.h), which must hold the longest trap's records to keep WAIT
 * mode lossless: a 16-page donation splitting two 2 MiB blocks writes
 * about 1,120 (2 x 516 for the splits), so the others get 2,048.
 */
#ifndef TRACING_EARLY_CPU0 /* the fake arch may ask for more */
#define TRACING_EARLY_CPU0 65536u
#endif
#ifndef TRACING_EARLY_OTHER
#define TRACING_EARLY_OTHER 2048u
#endif
static struct pkvm_record tracing_early0[TRACING_EARLY_CPU0];
static struct pkvm_record tracing_early[PKVM_RING_MAX_CPUS - 1]
				       [TRACING_EARLY_OTHER];

static struct hyp_lock tracing_lock = HYP_LOCK_INIT(PKVM_LOCK_TRACE);

/*
 * The pinned pages: written once in TRACE_LOAD while holding trace, host_s2
 * and hyp_s1; read under host_s2 (unshare's -EBUSY check).
 */
static struct {
	bool loaded;
	uint64_t ctrl_pfn;
	unsigned count;
	uint64_t ring_pfn[PKVM_RING_MAX_CPUS];
	uint64_t ring_pages[PKVM_RING_MAX_CPUS];
} tracing_pins;

/** A validated copy of what the host wrote. */
struct tracing_desc {
	uint64_t ctrl_pa;
	uint32_t mode;
	uint64_t base[PKVM_RING_MAX_CPUS];
	uint64_t nr[PKVM_RING_MAX_CPUS];
};

void tracing_boot(unsigned cpu_count)
{
	/* Boot state (the fake arch may boot more than once per process). */
	memset(&hyp_producer, 0, sizeof(hyp_producer));
	memset(&tracing_pins, 0, sizeof(tracing_pins));
	hyp_producer.cpu_count = cpu_count;
	producer_init_cpu(&hyp_producer, 0, tracing_early0, TRACING_EARLY_CPU0);
	for (unsigned i = 1; i < PKVM_RING_MAX_CPUS; i++)
		producer_init_cpu(&hyp_producer, i, tracing_early[i - 1],
				  TRACING_EARLY_OTHER);
}

void *hyp_cpu_data(unsigned cpu)
{
	return &hyp_producer.cpu[cpu];
}

bool tracing_pinned(struct pgtable_locked host, uint64_t pfn)
{
	(void)host; /* the witness: pins change only with host_s2 held */
	if (!tracing_pins.loaded)
		return false;
	if (pfn == tracing_pins.ctrl_pfn)
		return true;
	for (unsigned i = 0; i < tracing_pins.count; i++)
		if (pfn - tracing_pins.ring_pfn[i] < tracing_pins.ring_pages[i])
			return true;
	return false;
}

/* Read a host-written field once, recording the value. */
static uint64_t tracing_read64(uint64_t pa)
{
	uint64_t v = *(volatile uint64_t *)arch_pa_to_va(pa);

	htrace_nondet(PKVM_NONDET_HOST_READ, v, pa, 0);
	return v;
}

static uint32_t tracing_read32(uint64_t pa)
{
	uint32_t v = *(volatile uint32_t *)arch_pa_to_va(pa);

	htrace_nondet(PKVM_NONDET_HOST_READ, v, pa, 0);
	return v;
}

#define TRACING_FIELD(pa, field) ((pa) + offsetof(struct pkvm_ring_ctrl, field))

/* Ring i's own checks: page aligned, power-of-two size in range, in RAM. */
static bool tracing_ring_ok(uint64_t base, uint64_t nr)
{
	uint64_t bytes = nr * sizeof(struct pkvm_record);

	if (base & (HYP_PAGE_SIZE - 1))
		return false;
	if (nr < 128 || nr > (1ull << 20) || (nr & (nr - 1)))
		return false;
	return hyp_pfn_in_ram(base >> HYP_PAGE_SHIFT) &&
	       hyp_pfn_in_ram((base + bytes - 1) >> HYP_PAGE_SHIFT);
}

static bool tracing_overlap(uint64_t a, uint64_t asz, uint64_t b, uint64_t bsz)
{
	return a < b + bsz && b < a + asz;
}

/* Check 4: read every host-written field once and validate it. */
static int tracing_read_desc(uint64_t ctrl_pa, struct tracing_desc *d)
{
	unsigned n = hyp_cfg.cpu_count;

	d->ctrl_pa = ctrl_pa;
	if (tracing_read64(TRACING_FIELD(ctrl_pa, magic)) != PKVM_RING_MAGIC ||
	    tracing_read32(TRACING_FIELD(ctrl_pa, version)) !=
		    PKVM_RING_VERSION ||
	    tracing_read32(TRACING_FIELD(ctrl_pa, cpu_count)) != n)
		return -PKVM_EINVAL;
	d->mode = tracing_read32(TRACING_FIELD(ctrl_pa, mode));
	if (d->mode != PKVM_RING_WAIT && d->mode != PKVM_RING_DROP)
		return -PKVM_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		d->base[i] =
			tracing_read64(TRACING_FIELD(ctrl_pa, cpu[i].base_pa));
		d->nr[i] = tracing_read64(
			TRACING_FIELD(ctrl_pa, cpu[i].nr_records));
		if (!tracing_ring_ok(d->base[i], d->nr[i]))
			return -PKVM_EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t sz = d->nr[i] * sizeof(struct pkvm_record);
		if (tracing_overlap(d->base[i], sz, ctrl_pa, HYP_PAGE_SIZE))
			return -PKVM_EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (tracing_overlap(d->base[i], sz, d->base[j],
					    d->nr[j] *
						    sizeof(struct pkvm_record)))
				return -PKVM_EINVAL;
	}
	return 0;
}

/* Check 5: every ring page shared with the hyp. */
static int tracing_check_shared(struct pgtable_locked hyp,
				const struct tracing_desc *d)
{
	for (unsigned i = 0; i < hyp_cfg.cpu_count; i++) {
		uint64_t first = d->base[i] >> HYP_PAGE_SHIFT;
		uint64_t pages =
			d->nr[i] * sizeof(struct pkvm_record) / HYP_PAGE_SIZE;
		for (uint64_t p = 0; p < pages; p++)
			if (mem_hyp_state(hyp, first + p) !=
			    MEM_SHARED_BORROWED)
				return -PKVM_EPERM;
	}
	return 0;
}

/* Do: pin the pages and hand the rings to the producer. Cannot fail. */
static void tracing_do_load(const struct tracing_desc *d)
{
	struct producer_ring rings[PKVM_RING_MAX_CPUS];

	tracing_pins.ctrl_pfn = d->ctrl_pa >> HYP_PAGE_SHIFT;
	tracing_pins.count = hyp_cfg.cpu_count;
	for (unsigned i = 0; i < hyp_cfg.cpu_count; i++) {
		tracing_pins.ring_pfn[i] = d->base[i] >> HYP_PAGE_SHIFT;
		tracing_pins.ring_pages[i] =
			d->nr[i] * sizeof(struct pkvm_record) / HYP_PAGE_SIZE;
		rings[i].records = arch_pa_to_va(d->base[i]);
		rings[i].nr_records = d->nr[i];
	}
	tracing_pins.loaded = true;
	producer_load(&hyp_producer, arch_pa_to_va(d->ctrl_pa), rings, d->mode,
		      arch_counter_freq());
}

/* Checks 3-6, with the tables locked. */
static int tracing_load_locked(uint64_t ctrl_pfn)
{
	struct pgtable_locked host, hyp;
	struct tracing_desc d;
	int ret = 0;

	pgtable_lock2(&mem_host_s2, &mem_hyp_s1, &host, &hyp);
	if (mem_hyp_state(hyp, ctrl_pfn) != MEM_SHARED_BORROWED)
		ret = -PKVM_EPERM;
	if (!ret)
		ret = tracing_read_desc(ctrl_pfn << HYP_PAGE_SHIFT, &d);
	if (!ret)
		ret = tracing_check_shared(hyp, &d);
	if (!ret)
		tracing_do_load(&d);
	pgtable_unlock2(hyp, host);
	/* Others may unshare and share between here and the exit. */
	image_race_window();
	return ret;
}

int64_t tracing_load(uint64_t ctrl_pfn)
{
	int ret = 0;

	hyp_lock_acquire(&tracing_lock);
	if (tracing_pins.loaded)
		ret = -PKVM_EBUSY;
	else if (!hyp_pfn_in_ram(ctrl_pfn))
		ret = -PKVM_EINVAL;
	else
		ret = tracing_load_locked(ctrl_pfn);
	if (!ret)
		htrace_mark(PKVM_MARK_TRACE_ON, ctrl_pfn << HYP_PAGE_SHIFT);
	hyp_lock_release(&tracing_lock);
	/* CPUs idling in the host would keep their early records forever. */
	if (!ret)
		tracing_flush_others();
	return ret;
}

void tracing_flush_others(void)
{
#if HYP_TRACE
	producer_flush_others(&hyp_producer, htrace_cpu());
#endif
}

void tracing_stop(uint32_t state, uint64_t code, uint64_t addr)
{
	producer_set_state(&hyp_producer, htrace_cpu(), state, code, addr);
}

uint64_t producer_now(void)
{
	return arch_counter();
}

void producer_relax(void)
{
	arch_relax();
}
