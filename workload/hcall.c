// SPDX-License-Identifier: MIT
/*
 * Hypercalls, memory probes and the bookkeeping of their outcomes.
 *
 * The workload does not decide whether the hyp is right (the checker does,
 * from the trace), but it keeps a loose model of what it expects and counts
 * every disagreement, so a console run alone already shows gross breakage.
 */
#include "wl.h"

/* How many disagreements per CPU are printed in full. */
#define WL_MISMATCH_PRINT_MAX 8u

/*
 * Records this CPU's ring has been told about (0 before TRACE_LOAD): those
 * published and those dropped.
 */
static uint64_t records_written(const struct wl_cpu *c)
{
	const volatile struct pkvm_ring_ctrl *ctrl =
		(const volatile struct pkvm_ring_ctrl *)(uintptr_t)wl_ctrl_pa();

	return wl_trace_loaded
		       ? ctrl->cpu[c->cpu].head + ctrl->cpu[c->cpu].dropped
		       : 0;
}

/**
 * One hypercall: returns x0, stores x1 through x1_out when it is not NULL.
 * Once tracing is loaded it also counts the call, the counter ticks it took
 * and the records the hyp wrote meanwhile (tools/bench-hyp reads the sums).
 */
uint64_t wl_hvc_raw(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3,
		    uint64_t *x1_out)
{
	struct wl_cpu *c = wl_this_cpu();
	bool counted = c && wl_trace_loaded;
	uint64_t before = counted ? records_written(c) : 0;
	struct wl_hvc_out out;
	uint64_t status = wl_hvc_timed(x0, x1, x2, x3, &out);

	if (counted) {
		c->hvc_count++;
		c->hvc_ticks += out.ticks;
		c->hvc_records += records_written(c) - before;
	}
	if (x1_out)
		*x1_out = out.x1;
	return status;
}

/** Issues host hypercall `id` with up to three arguments. */
struct wl_hret wl_hcall(uint32_t id, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct wl_hret r;
	uint64_t x1 = 0;

	r.status = wl_hvc_raw(PKVM_HC_BASE | id, a1, a2, a3, &x1);
	r.result = (int64_t)x1;
	return r;
}

/** Classifies a hypercall's x0/x1 into one counted outcome. */
enum wl_res wl_res_of(struct wl_hret r)
{
	if (r.status == PKVM_SMCCC_NOT_SUPPORTED)
		return WL_RES_NOTSUP;
	if (r.status != PKVM_SMCCC_SUCCESS)
		return WL_RES_OTHER;
	switch (r.result) {
	case 0:
		return WL_RES_OK;
	case -PKVM_EPERM:
		return WL_RES_EPERM;
	case -PKVM_EINVAL:
		return WL_RES_EINVAL;
	case -PKVM_EBUSY:
		return WL_RES_EBUSY;
	case -PKVM_ENOMEM:
		return WL_RES_ENOMEM;
	default:
		return WL_RES_OTHER;
	}
}

static const char *const res_names[WL_RES_COUNT] = {
	[WL_RES_OK] = "ok",	    [WL_RES_EPERM] = "eperm",
	[WL_RES_EINVAL] = "einval", [WL_RES_EBUSY] = "ebusy",
	[WL_RES_ENOMEM] = "enomem", [WL_RES_OTHER] = "other",
	[WL_RES_NOTSUP] = "notsup", [WL_RES_ABORT] = "abort",
};

static const char *const op_names[WL_OP_COUNT] = {
	[WL_OP_SHARE] = "share",
	[WL_OP_UNSHARE] = "unshare",
	[WL_OP_DONATE] = "donate",
	[WL_OP_RECLAIM] = "reclaim",
	[WL_OP_TRACE_LOAD] = "trace_load",
	[WL_OP_UNKNOWN] = "unknown",
	[WL_OP_READ] = "read",
	[WL_OP_WRITE] = "write",
};

/** Short name of an outcome, as printed in summaries. */
const char *wl_res_name(enum wl_res res)
{
	return res < WL_RES_COUNT ? res_names[res] : "?";
}

/** Short name of an operation, as printed in summaries. */
const char *wl_op_name(enum wl_op op)
{
	return op < WL_OP_COUNT ? op_names[op] : "?";
}

/** Issues a hypercall and counts its outcome under `op`. */
enum wl_res wl_call(struct wl_cpu *c, enum wl_op op, uint32_t id, uint64_t a1,
		    uint64_t a2)
{
	enum wl_res res = wl_res_of(wl_hcall(id, a1, a2, 0));

	c->counts[op][res]++;
	return res;
}

/**
 * Compares an outcome with the model's expectation; counts and prints a
 * disagreement. -ENOMEM is always allowed (HYPERCALLS.md: any handler may
 * run out of pool pages, with no effect). Returns true when they agree.
 */
bool wl_expect(struct wl_cpu *c, const char *what, enum wl_res got,
	       enum wl_res want)
{
	if (got == want || (got == WL_RES_ENOMEM && want != WL_RES_NOTSUP))
		return true;
	if (c->mismatches++ < WL_MISMATCH_PRINT_MAX)
		wl_printf("workload: cpu%u mismatch %s: got %s, expected %s\n",
			  c->cpu, what, wl_res_name(got), wl_res_name(want));
	return false;
}

/**
 * Reads (or writes `value` to) the 64-bit word at `pa` with one probing
 * instruction. Returns true when the access aborted (the hyp injected an
 * abort and the handler stepped over the instruction). The read value goes
 * to *out when out is not NULL.
 */
bool wl_access(struct wl_cpu *c, uint64_t pa, bool write, uint64_t value,
	       uint64_t *out)
{
	uint64_t before = c->abort_count;
	uint64_t v = 0;
	bool aborted;

	if (write)
		wl_probe_write(pa, value);
	else
		v = wl_probe_read(pa);
	aborted = c->abort_count != before;
	c->counts[write ? WL_OP_WRITE : WL_OP_READ]
		 [aborted ? WL_RES_ABORT : WL_RES_OK]++;
	if (out)
		*out = v;
	return aborted;
}

/** The calling CPU's state (TPIDR_EL1 holds its index), or NULL. */
struct wl_cpu *wl_this_cpu(void)
{
	uint64_t idx;

	__asm__ volatile("mrs %0, tpidr_el1" : "=r"(idx));
	return idx < WL_MAX_CPUS ? &wl_cpus[idx] : 0;
}

/** The virtual counter (CNTVCT_EL0), for timeouts. */
uint64_t wl_ticks(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
	return v;
}

/** Counter frequency (CNTFRQ_EL0) in Hz. */
uint64_t wl_tick_freq(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
	return v ? v : 62500000u;
}
