/* SPDX-License-Identifier: MIT */
/*
 * The EL1 host workload: internal interfaces shared by its files.
 *
 * The workload plays the host kernel. It is entered by the hyp at
 * PKVM_WORKLOAD_BASE on every CPU at EL1h with the MMU off, sets up the trace
 * rings (CPU0), then runs either the seeded stress or one of the fixed
 * scenarios, and powers the machine off with PSCI SYSTEM_OFF. The memory map
 * it uses is in workload/README.md and below.
 */
#ifndef WL_H
#define WL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <pkvm/abi.h>
#include <pkvm/ring.h>

#define WL_MAX_CPUS PKVM_RING_MAX_CPUS
#define WL_PAGE_SIZE UINT64_C(4096)
#define WL_PAGE_SHIFT 12
#define WL_LINE_MAX 768 /* longest console line, terminator included */

/* Memory the workload uses, all host-owned RAM outside the hyp's range. */
#define WL_SHARED_POOL_PA UINT64_C(0x43000000) /* contended by every CPU */
#define WL_SHARED_POOL_PAGES 64u
#define WL_CPU_POOL_PA UINT64_C(0x44000000) /* + cpu * WL_CPU_POOL_STRIDE */
#define WL_CPU_POOL_PAGES 256u
#define WL_CPU_POOL_STRIDE UINT64_C(0x100000)
#define WL_SCEN_PA UINT64_C(0x46000000) /* scenario pages, + cpu * stride */
#define WL_SCEN_STRIDE UINT64_C(0x10000)
#define WL_RING_AREA_PA                                                        \
	UINT64_C(0x48000000) /* canaries, control page, rings                  \
			      */
#define WL_RING_AREA_END (PKVM_RAM_BASE + PKVM_RAM_SIZE)

/* A page the hyp is sure to own: the first page of its image range. */
#define WL_HYP_PFN (PKVM_HYP_BASE >> WL_PAGE_SHIFT)
#define WL_MMIO_PFN (PKVM_UART_BASE >> WL_PAGE_SHIFT)
#define WL_RAM_END_PFN ((PKVM_RAM_BASE + PKVM_RAM_SIZE) >> WL_PAGE_SHIFT)

/* Defaults when no parameter block was placed before boot. */
#define WL_DEFAULT_SEED UINT64_C(1)
#define WL_DEFAULT_OPS UINT64_C(2000)
#define WL_DEFAULT_RING_PAGES UINT64_C(64)

/* PSCI function ids the workload issues. */
#define WL_PSCI_SYSTEM_OFF UINT64_C(0x84000008)

/** Outcome classes of one hypercall, as counted in the summaries. */
enum wl_res {
	WL_RES_OK,
	WL_RES_EPERM,
	WL_RES_EINVAL,
	WL_RES_EBUSY,
	WL_RES_ENOMEM,
	WL_RES_OTHER,  /* any other -errno or positive value */
	WL_RES_NOTSUP, /* x0 = NOT_SUPPORTED: unknown id */
	WL_RES_ABORT,  /* memory access: abort injected */
	WL_RES_COUNT,
};

/** Operations counted per CPU. */
enum wl_op {
	WL_OP_SHARE,
	WL_OP_UNSHARE,
	WL_OP_DONATE,
	WL_OP_RECLAIM,
	WL_OP_TRACE_LOAD,
	WL_OP_UNKNOWN, /* unknown hypercall ids */
	WL_OP_READ,
	WL_OP_WRITE,
	WL_OP_COUNT,
};

/** The run's parameters after defaults were applied. */
struct wl_config {
	uint64_t seed;
	uint64_t ops;
	uint64_t scenario;
	uint64_t mode;
	uint64_t ring_pages;
	uint32_t cpu_count;
	bool from_params; /* false: PKVM_PARAMS_MAGIC absent, defaults used */
	bool standalone;  /* no EL2 (no hyp): hypercalls are not issued */
};

/** Per-CPU state; the abort fields are written by the exception handler. */
struct wl_cpu {
	uint32_t cpu;
	volatile uint64_t abort_count;
	volatile uint64_t last_esr;
	volatile uint64_t last_far;
	uint64_t unexpected_aborts;
	uint64_t mismatches;
	uint64_t counts[WL_OP_COUNT][WL_RES_COUNT];
	/* Hypercalls made once tracing is loaded, for tools/bench-hyp. */
	uint64_t hvc_count;
	uint64_t hvc_ticks;   /* counter ticks inside them */
	uint64_t hvc_records; /* records the hyp wrote during them */
	uint64_t rng;
	/* In scenario 7's race (before tracing is loaded): stress steps make
	 * no call that touches tracing. */
	bool racing;
	uint8_t page_state[WL_CPU_POOL_PAGES];
	char line[WL_LINE_MAX];
};

/** Result of a hypercall: x0 (SMCCC status) and x1 (0 or -errno). */
struct wl_hret {
	uint64_t status;
	int64_t result;
};

extern struct wl_config wl_cfg;
extern struct wl_cpu wl_cpus[WL_MAX_CPUS];
/* Set once TRACE_LOAD succeeded; pinned pages refuse unshare from then. */
extern bool wl_trace_loaded;

/* start.S */
uint64_t wl_probe_read(uint64_t pa);
void wl_probe_write(uint64_t pa, uint64_t value);
void wl_probe_exec(uint64_t pa);
uint64_t wl_smc(uint64_t fid);
/** What wl_hvc_timed() returns besides x0. */
struct wl_hvc_out {
	uint64_t x1;
	uint64_t ticks; /* counter ticks around the hvc instruction */
};
uint64_t wl_hvc_timed(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3,
		      struct wl_hvc_out *out);

/* console.c */
void wl_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
uint32_t wl_format(char *buf, uint32_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
_Noreturn void wl_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
_Noreturn void wl_power_off(void);

/* hcall.c */
uint64_t wl_hvc_raw(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3,
		    uint64_t *x1_out);
struct wl_hret wl_hcall(uint32_t id, uint64_t a1, uint64_t a2, uint64_t a3);
enum wl_res wl_res_of(struct wl_hret r);
const char *wl_res_name(enum wl_res res);
const char *wl_op_name(enum wl_op op);
enum wl_res wl_call(struct wl_cpu *c, enum wl_op op, uint32_t id, uint64_t a1,
		    uint64_t a2);
bool wl_expect(struct wl_cpu *c, const char *what, enum wl_res got,
	       enum wl_res want);
bool wl_access(struct wl_cpu *c, uint64_t pa, bool write, uint64_t value,
	       uint64_t *out);
struct wl_cpu *wl_this_cpu(void);
uint64_t wl_ticks(void);
uint64_t wl_tick_freq(void);

/* rings.c */
int wl_rings_prepare(void);
struct wl_hret wl_rings_load(void);
int wl_rings_setup(void);
uint64_t wl_ring_base(uint32_t cpu);
uint64_t wl_ctrl_pa(void);
int wl_rings_check_canaries(void);
uint32_t wl_rings_spoil_count(void);
uint64_t wl_rings_spoil(uint32_t i, enum wl_res *want);
int wl_scenario3(void);

/* race.c */
bool wl_race_cpu0(struct wl_cpu *c);
void wl_race_other(struct wl_cpu *c);

/* stress.c */
void wl_stress(struct wl_cpu *c);
void wl_stress_ops(struct wl_cpu *c, uint64_t n);
uint64_t wl_rand(struct wl_cpu *c);
void wl_rand_seed(struct wl_cpu *c, uint64_t seed, uint32_t cpu);

/* scenario.c */
bool wl_scenario1(struct wl_cpu *c);
bool wl_scenario2(struct wl_cpu *c);
bool wl_scenario4(void);
bool wl_scenario5(struct wl_cpu *c);
bool wl_scenario6(struct wl_cpu *c);
void wl_standalone(struct wl_cpu *c);

/* Reads/writes of memory the hyp or another CPU may change under us. */
static inline uint64_t wl_read64(uint64_t pa)
{
	return *(volatile uint64_t *)(uintptr_t)pa;
}

static inline void wl_write64(uint64_t pa, uint64_t v)
{
	*(volatile uint64_t *)(uintptr_t)pa = v;
}

static inline void wl_write32(uint64_t pa, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)pa = v;
}

#endif /* WL_H */
