/* SPDX-License-Identifier: MIT */
/*
 * Host traps (format/HYPERCALLS.md "Host hypercalls" and "Host traps"):
 * every one records TRAP_ENTRY first (before any lock) and TRAP_EXIT last,
 * so everything it does lies between them on this CPU.
 */
#include <hyp/arch.h>
#include <hyp/htrace.h>
#include <hyp/hyp.h>
#include <hyp/mem_protect.h>
#include <hyp/tracing.h>
#include <hyp/trap.h>

#define TRAP_PSCI_SYSTEM_OFF 0x84000008ull

/* HVC #0 from the host: HCALL_ENTRY (FAR/HPFAR are UNKNOWN, x3 unused). */
__attribute__((always_inline)) static inline void
trap_record_entry(const struct trap_ctx *ctx)
{
	if (ctx->esr == PKVM_HCALL_ENTRY_ESR) {
		uint64_t w[4] = { ctx->elr, ctx->regs[0], ctx->regs[1],
				  ctx->regs[2] };

		htrace_emit(PKVM_EV_HCALL_ENTRY,
			    PKVM_REC_SOURCE_HOST << PKVM_REC_F_KIND_SHIFT, w,
			    2);
		return;
	}
	uint64_t w[8] = {
		ctx->esr,     ctx->elr,	    ctx->far,	  ctx->hpfar,
		ctx->regs[0], ctx->regs[1], ctx->regs[2], ctx->regs[3]
	};

	htrace_emit(PKVM_EV_TRAP_ENTRY,
		    PKVM_REC_SOURCE_HOST << PKVM_REC_F_KIND_SHIFT, w, 4);
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
		htrace1(PKVM_EV_HCALL_EXIT,
			PKVM_REC_SOURCE_HOST << PKVM_REC_F_KIND_SHIFT,
			ctx->regs[0], ctx->regs[1]);
		return;
	}
	uint64_t w[8] = { ctx->regs[0], ctx->regs[1], ctx->regs[2],
			  ctx->regs[3], inj_esr,      inj_far,
			  ctx->elr,	ctx->spsr };

	htrace_emit(PKVM_EV_TRAP_EXIT,
		    PKVM_REC_SOURCE_HOST << PKVM_REC_F_KIND_SHIFT, w, 4);
}

/* Run hypercall `id`; false if the id is unknown. */
static bool trap_hcall(struct trap_ctx *ctx, uint64_t id)
{
	uint64_t *r = ctx->regs;

	switch (id) {
	case PKVM_HC_SHARE_HYP:
		r[1] = (uint64_t)mem_share_hyp(r[1]);
		return true;
	case PKVM_HC_UNSHARE_HYP:
		r[1] = (uint64_t)mem_unshare_hyp(r[1]);
		return true;
	case PKVM_HC_HOST_DONATE_HYP:
		r[1] = (uint64_t)mem_host_donate_hyp(r[1], r[2]);
		return true;
	case PKVM_HC_HYP_DONATE_HOST:
		r[1] = (uint64_t)mem_hyp_donate_host(r[1], r[2]);
		return true;
	case PKVM_HC_TRACE_LOAD:
		r[1] = (uint64_t)tracing_load(r[1]);
		return true;
	case PKVM_HC_TEST_PANIC:
		hyp_panic(PKVM_PANIC_TEST, ctx->elr, "test_panic hypercall");
	default:
		return false;
	}
}

static void trap_hvc(struct trap_ctx *ctx)
{
	uint64_t x0 = ctx->regs[0];
	bool known = (x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE &&
		     trap_hcall(ctx, x0 & PKVM_HC_ID_MASK);

	ctx->regs[0] = known ? PKVM_SMCCC_SUCCESS : PKVM_SMCCC_NOT_SUPPORTED;
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
 * Inject the abort into the host as pKVM does: the EL1 fault registers get
 * the EL2 ones, and the host resumes at its "current EL with SP_ELx"
 * synchronous vector (VBAR_EL1 + 0x200) in EL1h with DAIF masked.
 */
static void trap_inject_abort(struct trap_ctx *ctx)
{
	uint64_t vbar = arch_read_vbar_el1();

	htrace_nondet(PKVM_NONDET_HOST_SYSREG, vbar, PKVM_NONDET_REG_VBAR_EL1,
		      0);
	arch_sysreg_write(PKVM_SYSREG_ESR_EL1, ctx->esr);
	htrace_sysreg(PKVM_SYSREG_ESR_EL1, ctx->esr);
	arch_sysreg_write(PKVM_SYSREG_FAR_EL1, ctx->far);
	htrace_sysreg(PKVM_SYSREG_FAR_EL1, ctx->far);
	arch_sysreg_write(PKVM_SYSREG_ELR_EL1, ctx->elr);
	htrace_sysreg(PKVM_SYSREG_ELR_EL1, ctx->elr);
	arch_sysreg_write(PKVM_SYSREG_SPSR_EL1, ctx->spsr);
	htrace_sysreg(PKVM_SYSREG_SPSR_EL1, ctx->spsr);
	ctx->elr = vbar + 0x200;
	ctx->spsr = TRAP_SPSR_EL1H_MASKED;
}

/* Returns true if an abort was injected. */
static bool trap_abort(struct trap_ctx *ctx)
{
	uint64_t ipa = (((ctx->hpfar >> 4) & ((1ull << 36) - 1)) << 12) |
		       (ctx->far & 0xFFF);

	if (mem_host_fault(ipa))
		return false;
	trap_inject_abort(ctx);
	return true;
}

void trap_host_sync(struct trap_ctx *ctx)
{
	unsigned ec = (unsigned)(ctx->esr >> 26) & 0x3F;
	uint64_t esr = ctx->esr, far = ctx->far;
	bool injected = false;
	struct trap_kept kept = trap_kept_of(ctx);

	tracing_cpu_enter();
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
		injected = trap_abort(ctx);
		break;
	default:
		/* Nothing else is trapped; leave the host as it was. */
		break;
	}
	trap_record_exit(ctx, &kept, injected ? esr : 0, injected ? far : 0);
	htrace_trap_done();
	tracing_cpu_leave();
}

void trap_host_async(struct trap_ctx *ctx)
{
	struct trap_kept kept = trap_kept_of(ctx);

	tracing_cpu_enter();
	trap_record_entry(ctx);
	trap_record_exit(ctx, &kept, 0, 0);
	htrace_trap_done();
	tracing_cpu_leave();
}
