/* SPDX-License-Identifier: MIT */
/*
 * Portable boot. The primary CPU records BOOT (the first record on CPU 0),
 * then builds the tables; every CPU then writes its EL2 registers, each
 * write recorded, and records MARK host_enter before its first ERET.
 *
 * The two roots are the first two pages of [pool_start, pool_end): they are
 * fixed, so BOOT can name them before any allocation is recorded, and the
 * allocator hands out pages from pool_start + 2 pages on.
 */
#include <hyp/arch.h>
#include <hyp/boot.h>
#include <hyp/htrace.h>
#include <hyp/image.h>
#include <hyp/mem_protect.h>
#include <hyp/pgtable.h>
#include <hyp/pool.h>
#include <hyp/tracing.h>

#include <arch/pte.h>

struct hyp_config hyp_cfg;

static void hyp_boot_record(uint64_t host_root, uint64_t hyp_root)
{
	uint64_t w[14] = {
		PKVM_ABI_VERSION | ((uint64_t)hyp_cfg.cpu_count << 32),
		arch_counter_freq(),
		hyp_cfg.ram_base,
		hyp_cfg.ram_size,
		hyp_cfg.hyp_start,
		hyp_cfg.hyp_end,
		hyp_cfg.pool_start,
		hyp_cfg.pool_end,
		host_root,
		hyp_root,
		ARCH_VTCR_EL2,
		ARCH_TCR_EL2,
		0, /* hyp_va_offset: the hyp runs identity mapped */
		image_boot_flags | (ARCH_TRACE_SITES ? PKVM_BOOT_F_SITES : 0),
	};

	htrace_emit(PKVM_EV_BOOT, 0, w, 7);
}

void hyp_boot_primary(const struct hyp_config *cfg)
{
	uint64_t host_root = cfg->pool_start;
	uint64_t hyp_root = cfg->pool_start + HYP_PAGE_SIZE;

	hyp_cfg = *cfg;
	tracing_boot(cfg->cpu_count);
	CHECK(cfg->hyp_start <= cfg->text_end &&
	      cfg->text_end <= cfg->rodata_end &&
	      cfg->rodata_end <= cfg->hyp_end &&
	      !((cfg->text_end | cfg->rodata_end) & (HYP_PAGE_SIZE - 1)));
	/* What a site counts from (arch/cpu.h; hyp.ld asserts it too). */
	CHECK(!ARCH_TRACE_SITES ||
	      (cfg->hyp_start % PKVM_SITE_SPAN == 0 &&
	       cfg->text_end - cfg->hyp_start <= PKVM_SITE_SPAN));
	hyp_boot_record(host_root, hyp_root);
	/* The image's layout, which BOOT does not carry (abi.h). */
	htrace_mark(PKVM_MARK_TEXT_END, cfg->text_end);
	htrace_mark(PKVM_MARK_RODATA_END, cfg->rodata_end);
	pool_init(cfg->pool_start + 2 * HYP_PAGE_SIZE, cfg->pool_end);
	mem_boot_tables(host_root, hyp_root);
}

static void hyp_sysreg_write(enum pkvm_sysreg reg, uint64_t value)
{
	arch_sysreg_write(reg, value);
	htrace_sysreg(reg, value);
}

void hyp_boot_cpu(unsigned cpu, bool secondary)
{
	(void)cpu;
	if (secondary)
		htrace_mark(PKVM_MARK_CPU_UP, arch_read_mpidr());
	/* The hyp's own stage-1; the arch enables it on the SCTLR write. */
	hyp_sysreg_write(PKVM_SYSREG_MAIR_EL2, ARCH_MAIR_EL2);
	hyp_sysreg_write(PKVM_SYSREG_TCR_EL2, ARCH_TCR_EL2);
	hyp_sysreg_write(PKVM_SYSREG_TTBR0_EL2, ARCH_TTBR0(mem_hyp_s1.root));
	hyp_tlbi(PKVM_TLBI_ALLE2, 0);
	hyp_sysreg_write(PKVM_SYSREG_SCTLR_EL2, ARCH_SCTLR_EL2);
	/* (The arch's dsb sy; isb around the SCTLR write are not recorded.) */
	hyp_barrier(PKVM_BARRIER_ISB);
	hyp_sysreg_write(PKVM_SYSREG_VBAR_EL2, arch_vectors());
	/* The host's stage-2, then trapping on. */
	hyp_sysreg_write(PKVM_SYSREG_VTCR_EL2, ARCH_VTCR_EL2);
	hyp_sysreg_write(PKVM_SYSREG_VTTBR_EL2, ARCH_VTTBR(mem_host_s2.root));
	hyp_barrier(PKVM_BARRIER_ISB);
	hyp_tlbi(PKVM_TLBI_VMALLS12E1, 0);
	hyp_barrier(PKVM_BARRIER_DSB_NSH);
	hyp_sysreg_write(PKVM_SYSREG_HCR_EL2, ARCH_HCR_EL2);
	hyp_barrier(PKVM_BARRIER_ISB);
}

void hyp_boot_host_enter(void)
{
	htrace_mark(PKVM_MARK_HOST_ENTER, hyp_cfg.host_entry);
	tracing_cpu_leave(false);
}
