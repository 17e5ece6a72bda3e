// SPDX-License-Identifier: MIT
/*
 * The workload's main line: parameters, ring setup on CPU0, the per-CPU
 * run (stress or a scenario), the exception handler, and completion.
 *
 * Start-up order: every CPU enters wl_main; CPU0 reads the parameters, sets
 * up and loads the rings, then releases the others through wl_go. Each CPU
 * counts itself into wl_finished when done; CPU0 waits for all of them,
 * prints the completion line and powers the machine off.
 */
#include "wl.h"

/* How long CPU0 waits for the other CPUs to finish, in seconds. */
#define WL_FINISH_TIMEOUT_S 120u

struct wl_config wl_cfg;
struct wl_cpu wl_cpus[WL_MAX_CPUS];
bool wl_trace_loaded;

static volatile uint32_t wl_go;
static volatile uint32_t wl_finished;
/* CPUs whose scenario failed; CPU0 fails the run if any did. */
static volatile uint32_t wl_failed;

/** The register frame start.S saves on exception entry. */
struct wl_frame {
	uint64_t x[31];
	uint64_t elr;
	uint64_t spsr;
	uint64_t pad;
};

_Static_assert(sizeof(struct wl_frame) == 272, "frame size used in start.S");

void wl_main(uint64_t cpu, uint64_t count, uint64_t standalone);
void wl_exception(struct wl_frame *f, uint64_t idx);

static uint64_t esr_el1(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, esr_el1" : "=r"(v));
	return v;
}

static uint64_t far_el1(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, far_el1" : "=r"(v));
	return v;
}

/**
 * Called by the vectors. A data abort from the current EL with SP_EL1
 * (vector 4, offset 0x200) is what the hyp injects when the host touches
 * a page it does not own, and what QEMU raises for an unassigned address:
 * record it and step over the faulting (single) instruction. An
 * instruction abort there (EC 0x21 as the hyp injects it into EL1 from ABI
 * 3, 0x20 before; 0x21 from QEMU) can only come from wl_probe_exec():
 * resume at its return address.
 * Anything else is a bug here or in the hyp: report and power off.
 */
void wl_exception(struct wl_frame *f, uint64_t idx)
{
	uint64_t esr = esr_el1();
	uint64_t ec = esr >> 26;
	struct wl_cpu *c = wl_this_cpu();
	bool data = ec == 0x24 || ec == 0x25, fetch = ec == 0x20 || ec == 0x21;

	if (idx == 4 && (data || fetch) && c) {
		c->last_esr = esr;
		c->last_far = far_el1();
		c->abort_count++;
		f->elr = data ? f->elr + 4 : f->x[30];
		return;
	}
	wl_fail("unexpected exception vector=%lu esr=0x%lx elr=0x%lx "
		"far=0x%lx cpu=%d",
		idx, esr, f->elr, far_el1(), c ? (int)c->cpu : -1);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Reads the parameter block placed by the recorder, or uses defaults. */
static void read_params(uint32_t count, bool standalone)
{
	const volatile struct pkvm_params *p =
		(const volatile struct pkvm_params *)(uintptr_t)PKVM_PARAMS_PA;

	wl_cfg.cpu_count = count;
	wl_cfg.standalone = standalone;
	wl_cfg.seed = WL_DEFAULT_SEED;
	wl_cfg.ops = WL_DEFAULT_OPS;
	wl_cfg.scenario = 0;
	wl_cfg.mode = PKVM_RING_WAIT;
	wl_cfg.ring_pages = WL_DEFAULT_RING_PAGES;
	if (p->magic != PKVM_PARAMS_MAGIC)
		return;
	wl_cfg.from_params = true;
	wl_cfg.seed = p->seed;
	wl_cfg.ops = p->ops;
	wl_cfg.scenario = p->scenario;
	wl_cfg.mode = p->mode;
	wl_cfg.ring_pages = p->ring_pages;
}

static void check_config(void)
{
	if (wl_cfg.cpu_count == 0 || wl_cfg.cpu_count > WL_MAX_CPUS)
		wl_fail("cpu count %u not in 1..%u", wl_cfg.cpu_count,
			WL_MAX_CPUS);
	if (wl_cfg.mode > PKVM_RING_DROP)
		wl_fail("ring mode %lu is neither 0 (wait) nor 1 (drop)",
			wl_cfg.mode);
	if (!is_pow2(wl_cfg.ring_pages))
		wl_fail("ring_pages %lu is not a power of two",
			wl_cfg.ring_pages);
	if (wl_cfg.scenario > 7)
		wl_fail("unknown scenario %lu", wl_cfg.scenario);
}

/* Prints this CPU's per-operation counts (nonzero outcomes only). */
static void print_summary(struct wl_cpu *c)
{
	char buf[640];
	uint32_t n = 0;

	buf[0] = '\0';
	for (int op = 0; op < WL_OP_COUNT; op++) {
		for (int r = 0; r < WL_RES_COUNT; r++) {
			if (!c->counts[op][r])
				continue;
			n += wl_format(buf + n, sizeof(buf) - n, " %s.%s=%lu",
				       wl_op_name((enum wl_op)op),
				       wl_res_name((enum wl_res)r),
				       c->counts[op][r]);
		}
	}
	wl_printf("workload: cpu%u summary aborts=%lu unexpected_aborts=%lu "
		  "mismatches=%lu%s\n",
		  c->cpu, c->abort_count, c->unexpected_aborts, c->mismatches,
		  buf);
}

/* This CPU's part of the run. Returns false on a scenario failure. */
static bool run_cpu(struct wl_cpu *c)
{
	switch (wl_cfg.scenario) {
	case 0:
		wl_stress(c);
		return true;
	case 1:
		return wl_scenario1(c);
	case 2:
		return wl_scenario2(c);
	case 4:
		return c->cpu != 0 || wl_scenario4();
	case 5:
		return c->cpu != 0 || wl_scenario5(c);
	case 6:
		return c->cpu != 0 || wl_scenario6(c);
	case 7:
		if (c->cpu == 0)
			return wl_race_cpu0(c);
		wl_race_other(c);
		return true;
	default:
		/* Scenario 3 ran on CPU0 before the rings were loaded. */
		return true;
	}
}

/* CPU0: waits (bounded) until every CPU has counted itself finished. */
static void wait_finished(void)
{
	uint64_t limit = wl_ticks() + wl_tick_freq() * WL_FINISH_TIMEOUT_S;

	while (__atomic_load_n(&wl_finished, __ATOMIC_ACQUIRE) <
	       wl_cfg.cpu_count) {
		if (wl_ticks() > limit)
			wl_fail("only %u of %u CPUs finished within %us",
				wl_finished, wl_cfg.cpu_count,
				WL_FINISH_TIMEOUT_S);
		__asm__ volatile("yield");
	}
}

/*
 * Room the power-off still needs in CPU0's ring: its SMC trap and the
 * hyp's MARK system_off, a pending LOST record, with a wide margin.
 */
#define WL_END_ROOM 64u
/* How long CPU0 waits for the consumer to make that room, in seconds. */
#define WL_END_ROOM_TIMEOUT_S 2u

/*
 * CPU0, DROP mode, before it reads the rings' `dropped` counters: wait
 * (bounded) until the consumer has made room in CPU0's ring for the
 * records the power-off still writes. Every other CPU is idle in the host
 * by now, so the counters printed are then the run's final ones, the same
 * as the recorder's and the checker's; without the wait, a consumer that
 * is late at the end lets the power-off's own records be dropped after
 * they were read. With no consumer the wait gives up and says so.
 */
static void wait_end_room(void)
{
	const volatile struct pkvm_ring_cpu *r =
		&((const volatile struct pkvm_ring_ctrl *)(uintptr_t)
			  wl_ctrl_pa())
			 ->cpu[0];
	uint64_t limit = wl_ticks() + wl_tick_freq() * WL_END_ROOM_TIMEOUT_S;

	if (!wl_trace_loaded || wl_cfg.mode != PKVM_RING_DROP)
		return;
	while (r->nr_records - (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) -
				__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE)) <
	       WL_END_ROOM) {
		if (wl_ticks() > limit) {
			wl_printf("workload: cpu0's ring was not drained: "
				  "the power-off's records may be dropped "
				  "after dropped= below\n");
			return;
		}
		__asm__ volatile("yield");
	}
}

/* CPU0: totals, the completion line, canaries, power off. */
_Noreturn static void complete(bool ok)
{
	uint64_t mism = 0, unexp = 0, aborts = 0;
	uint64_t hvcs = 0, ticks = 0, records = 0, dropped = 0;
	const volatile struct pkvm_ring_ctrl *ctrl =
		(const volatile struct pkvm_ring_ctrl *)(uintptr_t)wl_ctrl_pa();

	wait_finished();
	wait_end_room();
	for (uint32_t i = 0; i < wl_cfg.cpu_count; i++) {
		mism += wl_cpus[i].mismatches;
		unexp += wl_cpus[i].unexpected_aborts;
		aborts += wl_cpus[i].abort_count;
		hvcs += wl_cpus[i].hvc_count;
		ticks += wl_cpus[i].hvc_ticks;
		records += wl_cpus[i].hvc_records;
		if (wl_trace_loaded)
			dropped += ctrl->cpu[i].dropped;
	}
	/* For tools/bench-hyp: hypercalls as the host saw them. */
	wl_printf("workload: hvcs=%lu hvc_ticks=%lu hvc_records=%lu "
		  "dropped=%lu\n",
		  hvcs, ticks, records, dropped);
	if (!wl_cfg.standalone && wl_rings_check_canaries() != 0)
		ok = false;
	if (__atomic_load_n(&wl_failed, __ATOMIC_ACQUIRE))
		ok = false;
	wl_printf("workload: done cpus=%u ops=%lu seed=%lu scenario=%lu "
		  "aborts=%lu unexpected_aborts=%lu mismatches=%lu\n",
		  wl_cfg.cpu_count, wl_cfg.ops, wl_cfg.seed, wl_cfg.scenario,
		  aborts, unexp, mism);
	if (!ok || mism || unexp)
		wl_fail("mismatches=%lu unexpected_aborts=%lu scenario_ok=%d",
			mism, unexp, ok);
	wl_power_off();
}

/* CPU0's set-up before the others may start. */
static bool cpu0_setup(uint32_t count, bool standalone)
{
	bool ok = true;

	read_params(count, standalone);
	wl_printf("workload: start cpus=%u seed=%lu ops=%lu scenario=%lu "
		  "mode=%s ring_pages=%lu params=%s%s\n",
		  count, wl_cfg.seed, wl_cfg.ops, wl_cfg.scenario,
		  wl_cfg.mode == PKVM_RING_DROP ? "drop" : "wait",
		  wl_cfg.ring_pages, wl_cfg.from_params ? "given" : "default",
		  standalone ? " standalone" : "");
	check_config();
	if (standalone)
		return true;
	/* Scenario 3 ends with the good TRACE_LOAD itself; scenario 7 loads
	 * while the other CPUs run (race.c). */
	if (wl_cfg.scenario == 3)
		ok = wl_scenario3() == 0;
	else if (wl_cfg.scenario == 7 && wl_rings_prepare() != 0)
		wl_fail("trace ring pages refused");
	else if (wl_cfg.scenario != 7 && wl_rings_setup() != 0)
		wl_fail("trace ring setup refused");
	return ok;
}

/** C entry on every CPU (start.S), with its stack and vectors set. */
void wl_main(uint64_t cpu, uint64_t count, uint64_t standalone)
{
	struct wl_cpu *c = &wl_cpus[cpu];
	bool ok = true;

	c->cpu = (uint32_t)cpu;
	if (cpu == 0) {
		if (count == 0 || count > WL_MAX_CPUS)
			wl_fail("cpu count %lu not in 1..%u", count,
				WL_MAX_CPUS);
		ok = cpu0_setup((uint32_t)count, standalone != 0);
		__atomic_store_n(&wl_go, 1, __ATOMIC_RELEASE);
		__asm__ volatile("sev");
	} else {
		while (!__atomic_load_n(&wl_go, __ATOMIC_ACQUIRE))
			__asm__ volatile("wfe");
	}
	wl_rand_seed(c, wl_cfg.seed, c->cpu);
	if (wl_cfg.standalone)
		wl_standalone(c);
	else if (!run_cpu(c))
		ok = false;
	if (!ok)
		__atomic_fetch_add(&wl_failed, 1, __ATOMIC_RELAXED);
	print_summary(c);
	__atomic_fetch_add(&wl_finished, 1, __ATOMIC_ACQ_REL);
	if (cpu == 0)
		complete(ok);
	/* Other CPUs idle; the hyp powers the machine off for CPU0. */
}
