/* SPDX-License-Identifier: MIT */
/*
 * Host traps (format/HYPERCALLS.md "Host hypercalls" and "Host traps"):
 * every one records its entry first and its exit last, so everything it
 * does lies between them on this CPU. (An ownership hypercall's entry
 * record is written once it holds its lock pair, and stands for the entry
 * followed by the acquisition: spinning for a lock records nothing.)
 */
#include <hyp/arch.h>
#include <hyp/htrace.h>
#include <hyp/hyp.h>
#include <hyp/image.h>
#include <hyp/mem_protect.h>
#include <hyp/tracing.h>
#include <hyp/trap.h>

#define TRAP_PSCI_SYSTEM_OFF 0x84000008ull

/* The host's source bits on the trap and hypercall records. */
#define TRAP_SRC (PKVM_REC_SOURCE_HOST << PKVM_REC_F_KIND_SHIFT)

/* Any trap: TRAP_ENTRY. (HVC #0 takes trap_hvc0()'s compact records.) */
__attribute__((always_inline)) static inline void
trap_record_entry(const struct trap_ctx *ctx)
{
	uint64_t w[8] = {
		ctx->esr,     ctx->elr,	    ctx->far,	  ctx->hpfar,
		ctx->regs[0], ctx->regs[1], ctx->regs[2], ctx->regs[3]
	};

	htrace_emit(PKVM_EV_TRAP_ENTRY, TRAP_SRC, w, 4);
}

/* What an HCALL_EXIT leaves out: it may be used only if none changed. */
struct trap_kept {
	uint64_t x2, x3, elr, spsr;
};

static struct trap_kept trap_kept_of(const struct trap_ctx *ctx)
{
	return (struct trap_kept){ ctx->regs[2], ctx->regs[3], ctx->elr,
				   ctx->spsr };
}

__attribute__((always_inline)) static inline void
trap_record_exit(const struct trap_ctx *ctx, const struct trap_kept *at_entry,
		 uint64_t inj_esr, uint64_t inj_far)
{
	uint64_t changed =
		(ctx->regs[2] ^ at_entry->x2) | (ctx->regs[3] ^ at_entry->x3) |
		(ctx->elr ^ at_entry->elr) | (ctx->spsr ^ at_entry->spsr);

	if (!(changed | inj_esr)) {
		htrace1(PKVM_EV_HCALL_EXIT, TRAP_SRC, ctx->regs[0],
			ctx->regs[1]);
		return;
	}
	uint64_t w[8] = { ctx->regs[0], ctx->regs[1], ctx->regs[2],
			  ctx->regs[3], inj_esr,      inj_far,
			  ctx->elr,	ctx->spsr };

	htrace_emit(PKVM_EV_TRAP_EXIT, TRAP_SRC, w, 4);
}

/* The ownership hypercalls, run with host_s2 + hyp_s1 held; else NULL. */
static mem_hcall_fn *trap_owned_call(uint64_t id)
{
	switch (id) {
	case PKVM_HC_SHARE_HYP:
		return mem_share_hyp;
	case PKVM_HC_UNSHARE_HYP:
		return mem_unshare_hyp;
	case PKVM_HC_HOST_DONATE_HYP:
		return mem_host_donate_hyp;
	case PKVM_HC_HYP_DONATE_HOST:
		return mem_hyp_donate_host;
	default:
		return NULL;
	}
}

/*
 * An ownership hypercall whose entry is recorded already: the pair as
 * LOCK_ACQUIRE2 and LOCK_RELEASE2 (hyp_s1 let go first, as pKVM does).
 */
static int64_t trap_owned(mem_hcall_fn *fn, uint64_t a1, uint64_t a2)
{
	struct mem_locked m;
	uint64_t t = mem_take_pair(&m);
	int64_t ret;

	htrace_lock2(true, PKVM_LOCK_HOST_S2, (uint32_t)t, PKVM_LOCK_HYP_S1,
		     (uint32_t)(t >> 32), HTRACE_SITE_HERE());
	ret = fn(m, a1, a2);
	mem_sync_pair(m);
	htrace_lock2(false, PKVM_LOCK_HYP_S1, (uint32_t)(t >> 32),
		     PKVM_LOCK_HOST_S2, (uint32_t)t, HTRACE_SITE_HERE());
	mem_let_go_pair(m);
	return ret;
}

/* Run hypercall `id`; false if the id is unknown. */
static bool trap_hcall(struct trap_ctx *ctx, uint64_t id)
{
	uint64_t *r = ctx->regs;
	mem_hcall_fn *fn = trap_owned_call(id);

	if (fn) {
		r[1] = (uint64_t)trap_owned(fn, r[1], r[2]);
		return true;
	}
	switch (id) {
	case PKVM_HC_TRACE_LOAD:
		r[1] = (uint64_t)tracing_load(r[1]);
		return true;
	default:
		/* Only a test image has more (TEST_PANIC). */
		return image_test_hcall(ctx, id);
	}
}

/* An HVC: the call in x0 (ours: 0xC6000000 | id), status in x0. */
static void trap_hvc(struct trap_ctx *ctx)
{
	uint64_t x0 = ctx->regs[0];
	bool known = (x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE &&
		     trap_hcall(ctx, x0 & PKVM_HC_ID_MASK);

	ctx->regs[0] = known ? PKVM_SMCCC_SUCCESS : PKVM_SMCCC_NOT_SUPPORTED;
}

/*
 * HVC #0 from AArch64 (ESR_EL2 exactly PKVM_HCALL_ENTRY_ESR), nearly every
 * trap: the compact records (FORMAT.md 3.1). An ownership call takes its
 * lock pair first and records its entry with the acquisition
 * (HCALL_ENTRY_LOCK2), and its release with the exit (HCALL_EXIT_UNLOCK2)
 * just before letting go; any other call is HCALL_ENTRY ... HCALL_EXIT.
 * This path writes x0 and x1 only and injects nothing, so the exit's
 * condition (x2, x3, ELR and SPSR as at entry) holds by construction.
 */
static void trap_hvc0(struct trap_ctx *ctx)
{
	uint64_t x0 = ctx->regs[0];
	mem_hcall_fn *fn = (x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE
				   ? trap_owned_call(x0 & PKVM_HC_ID_MASK)
				   : NULL;

	if (fn) {
		struct mem_locked m;
		uint64_t t = mem_take_pair(&m);
		uint64_t x1 = ctx->regs[1], x2 = ctx->regs[2];
		uint64_t w[6] = { ctx->elr, x0, x1, x2, MEM_PAIR_LOCK_IDS, t };
		int64_t ret;

		htrace_emit(PKVM_EV_HCALL_ENTRY_LOCK2, TRAP_SRC, w, 3);
		ret = fn(m, x1, x2);
		mem_sync_pair(m);
		ctx->regs[0] = PKVM_SMCCC_SUCCESS;
		ctx->regs[1] = (uint64_t)ret;
		htrace1(PKVM_EV_HCALL_EXIT_UNLOCK2, TRAP_SRC,
			PKVM_SMCCC_SUCCESS, (uint64_t)ret);
		mem_let_go_pair(m);
		return;
	}
	uint64_t w[4] = { ctx->elr, x0, ctx->regs[1], ctx->regs[2] };

	htrace_emit(PKVM_EV_HCALL_ENTRY, TRAP_SRC, w, 2);
	trap_hvc(ctx);
	htrace1(PKVM_EV_HCALL_EXIT, TRAP_SRC, ctx->regs[0], ctx->regs[1]);
}

static void trap_smc(struct trap_ctx *ctx)
{
	/* A trapped SMC returns to itself: skip it. */
	ctx->elr += 4;
	if (ctx->regs[0] != TRAP_PSCI_SYSTEM_OFF) {
		ctx->regs[0] = PKVM_SMCCC_NOT_SUPPORTED;
		return;
	}
	/* Every CPU's records must be in its ring before STOPPED. */
	tracing_flush_others();
	htrace_mark(PKVM_MARK_SYSTEM_OFF, 0);
	tracing_stop(PKVM_RING_STATE_STOPPED, 0, 0);
	hyp_puts("hyp: system off\n");
	arch_system_off();
}

/*
 * The offset from VBAR_EL1 of the synchronous vector an exception taken to
 * EL1h from `spsr`'s mode uses (Arm ARM, "Exception vectors"): current EL
 * with SP_EL0 (EL1t) 0x000, current EL with SP_ELx (EL1h) 0x200, lower EL
 * in AArch64 (EL0t) 0x400.
 */
static uint64_t trap_sync_vector(uint64_t spsr)
{
	switch (spsr & TRAP_SPSR_MODE_MASK) {
	case TRAP_SPSR_EL1H:
		return 0x200;
	case TRAP_SPSR_EL1T:
		return 0x000;
	default:
		return 0x400;
	}
}

/*
 * The ESR_EL1 an abort injected into a host in `spsr`'s mode carries: the
 * ESR_EL2 it trapped with, whose class says "from a lower EL" (0x20, 0x24),
 * turned into the same-EL class (0x21, 0x25) when the host was at EL1 (EL1t
 * or EL1h, M[3:2] = 1), as an abort taken there without a change of level
 * would show; from EL0 the lower-EL class is right as it is. IL and ISS
 * are passed on unchanged (HYPERCALLS.md "Stage-2 abort", rule 1).
 */
static uint64_t trap_inject_esr(uint64_t esr, uint64_t spsr)
{
	uint64_t mode = spsr & TRAP_SPSR_MODE_MASK;

	if (mode == TRAP_SPSR_EL1T || mode == TRAP_SPSR_EL1H)
		esr |= (uint64_t)TRAP_EC_SAME_EL_BIT << TRAP_ESR_EC_SHIFT;
	return esr;
}

/*
 * The PSTATE the host resumes in after an exception taken to EL1h from
 * PSTATE `old`, with SCTLR_EL1 `sctlr` (HYPERCALLS.md "Stage-2 abort"
 * rule 3, as Linux 6.12's enter_exception64): EL1h, D, A, I, F masked;
 * N, Z, C, V, DIT and PAN kept; PAN set if SCTLR_EL1.SPAN is 0; SSBS =
 * SCTLR_EL1.DSSBS; everything else (UAO, SS, IL, BTYPE, TCO: no MTE here)
 * 0.
 */
static uint64_t trap_inject_pstate(uint64_t old, uint64_t sctlr)
{
	uint64_t pstate = TRAP_SPSR_EL1H_MASKED | (old & TRAP_PSTATE_KEPT);

	if (!(sctlr & TRAP_SCTLR_EL1_SPAN))
		pstate |= TRAP_PSTATE_PAN;
	if (sctlr & TRAP_SCTLR_EL1_DSSBS)
		pstate |= TRAP_PSTATE_SSBS;
	return pstate;
}

/*
 * Inject the abort into the host (HYPERCALLS.md "Stage-2 abort"): the EL1
 * fault registers get the EL2 ones (the class as seen from the host's
 * level), and the host resumes at the synchronous vector for the mode it
 * was in, in EL1h with DAIF masked and the PSTATE exception entry builds.
 * Returns the ESR_EL1 written.
 */
static uint64_t trap_inject_abort(struct trap_ctx *ctx)
{
	uint64_t vbar = arch_read_vbar_el1();
	uint64_t sctlr = arch_read_sctlr_el1();
	uint64_t esr = trap_inject_esr(ctx->esr, ctx->spsr);

	htrace_nondet(PKVM_NONDET_HOST_SYSREG, vbar, PKVM_NONDET_REG_VBAR_EL1,
		      0);
	htrace_nondet(PKVM_NONDET_HOST_SYSREG, sctlr, PKVM_NONDET_REG_SCTLR_EL1,
		      0);
	arch_sysreg_write(PKVM_SYSREG_ESR_EL1, esr);
	htrace_sysreg(PKVM_SYSREG_ESR_EL1, esr);
	arch_sysreg_write(PKVM_SYSREG_FAR_EL1, ctx->far);
	htrace_sysreg(PKVM_SYSREG_FAR_EL1, ctx->far);
	arch_sysreg_write(PKVM_SYSREG_ELR_EL1, ctx->elr);
	htrace_sysreg(PKVM_SYSREG_ELR_EL1, ctx->elr);
	arch_sysreg_write(PKVM_SYSREG_SPSR_EL1, ctx->spsr);
	htrace_sysreg(PKVM_SYSREG_SPSR_EL1, ctx->spsr);
	ctx->elr = vbar + trap_sync_vector(ctx->spsr);
	ctx->spsr = trap_inject_pstate(ctx->spsr, sctlr);
	return esr;
}

/*
 * A stage-2 abort: mapped (the host retries the access) or injected, in
 * this one trap. Returns the ESR_EL1 of the abort injected, or 0 (none:
 * an injected ESR always has a class).
 */
static uint64_t trap_abort(struct trap_ctx *ctx)
{
	/* ESR ISS: DFSC/IFSC in bits 5:0, 0b0001xx a translation fault. */
	struct mem_fault f = {
		.ipa = (((ctx->hpfar >> 4) & ((1ull << 36) - 1)) << 12) |
		       (ctx->far & 0xFFF),
		.exec = ((ctx->esr >> 26) & 0x3F) == TRAP_EC_IABT_LOW,
		.translation = (ctx->esr & 0x3C) == 0x04,
	};

	if (mem_host_fault(&f))
		return 0;
	return trap_inject_abort(ctx);
}

/* Every other synchronous trap: the canonical entry and exit records. */
static __attribute__((noinline)) void trap_host_other(struct trap_ctx *ctx)
{
	unsigned ec = (unsigned)(ctx->esr >> 26) & 0x3F;
	uint64_t far = ctx->far, inj_esr = 0;
	struct trap_kept kept = trap_kept_of(ctx);

	trap_record_entry(ctx);
	switch (ec) {
	case TRAP_EC_HVC64:
		trap_hvc(ctx);
		break;
	case TRAP_EC_SMC64:
		trap_smc(ctx);
		break;
	case TRAP_EC_IABT_LOW:
	case TRAP_EC_DABT_LOW:
		inj_esr = trap_abort(ctx);
		break;
	default:
		/* Nothing else is trapped; leave the host as it was. */
		break;
	}
	trap_record_exit(ctx, &kept, inj_esr, inj_esr ? far : 0);
}

void trap_host_sync(struct trap_ctx *ctx)
{
	bool in_ring = tracing_cpu_enter();

	/* Kept apart so that the common path saves few registers. */
	if (ctx->esr == PKVM_HCALL_ENTRY_ESR)
		trap_hvc0(ctx);
	else
		trap_host_other(ctx);
	tracing_cpu_leave(in_ring);
}

void trap_host_async(struct trap_ctx *ctx)
{
	bool in_ring = tracing_cpu_enter();
	struct trap_kept kept = trap_kept_of(ctx);

	trap_record_entry(ctx);
	trap_record_exit(ctx, &kept, 0, 0);
	tracing_cpu_leave(in_ring);
}
