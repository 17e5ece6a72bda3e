/* SPDX-License-Identifier: MIT */
/*
 * The fake arch: the portable core as a native library. RAM is an array,
 * TLB maintenance and barriers are counted (there is no TLB), system
 * register writes are remembered, and a parked CPU ends the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <arch/fake.h>
#include <hyp/arch.h>
#include <hyp/boot.h>
#include <hyp/hyp.h>

static _Thread_local unsigned fake_cpu_index;
_Thread_local void *fake_this_cpu;
uint64_t fake_ticks;
struct fake_stats fake_stats;
static uint8_t *fake_ram;

void *fake_mem(uint64_t pa)
{
	if (pa < PKVM_RAM_BASE || pa - PKVM_RAM_BASE >= PKVM_RAM_SIZE) {
		fprintf(stderr, "fake: access outside RAM at %#llx\n",
			(unsigned long long)pa);
		abort();
	}
	return fake_ram + (pa - PKVM_RAM_BASE);
}

void *arch_pa_to_va(uint64_t pa)
{
	return fake_mem(pa);
}

uint64_t arch_counter_freq(void)
{
	return 62500000;
}

uint64_t arch_read_mpidr(void)
{
	return 0x80000000ull | fake_cpu_index;
}

uint64_t arch_read_vbar_el1(void)
{
	return fake_stats.vbar_el1;
}

uint64_t arch_read_sctlr_el1(void)
{
	return fake_stats.sctlr_el1;
}

uint64_t arch_vectors(void)
{
	return 0x40200800ull;
}

void arch_pte_store(uint64_t *slot, uint64_t value, bool release)
{
	__atomic_store_n(slot, value,
			 release ? __ATOMIC_RELEASE : __ATOMIC_RELAXED);
}

void arch_tlbi(enum pkvm_tlbi_op op, uint64_t operand)
{
	(void)op;
	(void)operand;
	__atomic_fetch_add(&fake_stats.tlbi, 1, __ATOMIC_RELAXED);
}

void arch_barrier(enum pkvm_barrier_op op)
{
	(void)op;
	__atomic_fetch_add(&fake_stats.barrier, 1, __ATOMIC_RELAXED);
}

void arch_sysreg_write(enum pkvm_sysreg reg, uint64_t value)
{
	if ((unsigned)reg < 16)
		__atomic_store_n(&fake_stats.sysreg[reg], value,
				 __ATOMIC_RELAXED);
}

void arch_console_puts(const char *s)
{
	fputs(s, stderr);
}

void arch_system_off(void)
{
	fake_stats.system_off = true;
}

_Noreturn void arch_cpu_park(void)
{
	fflush(NULL);
	_exit(FAKE_PARK_EXIT);
}

void fake_set_cpu(unsigned cpu)
{
	fake_cpu_index = cpu;
	arch_set_this_cpu(hyp_cpu_data(cpu));
}

void fake_boot(unsigned cpu_count, unsigned pool_pages)
{
	struct hyp_config cfg = {
		.ram_base = PKVM_RAM_BASE,
		.ram_size = PKVM_RAM_SIZE,
		.hyp_start = PKVM_HYP_BASE,
		.hyp_end = PKVM_HYP_LIMIT,
		/* An image of 16 pages of text and 8 of rodata, as a stand-in.
		 */
		.text_end = PKVM_HYP_BASE + 0x10000,
		.rodata_end = PKVM_HYP_BASE + 0x18000,
		.pool_start = 0x40400000ull,
		.pool_end = 0x40400000ull + (2ull + pool_pages) * HYP_PAGE_SIZE,
		.host_entry = PKVM_WORKLOAD_BASE,
		.cpu_count = cpu_count,
	};

	if (cfg.pool_end > PKVM_HYP_LIMIT)
		cfg.pool_end = PKVM_HYP_LIMIT;
	if (!fake_ram) {
		fake_ram = mmap(NULL, PKVM_RAM_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
				0);
		if (fake_ram == MAP_FAILED) {
			perror("fake: mmap RAM");
			abort();
		}
	} else {
		madvise(fake_ram, PKVM_RAM_SIZE, MADV_DONTNEED);
	}
	memset(&fake_stats, 0, sizeof(fake_stats));
	fake_stats.vbar_el1 = PKVM_WORKLOAD_BASE + 0x800;
	/* QEMU's reset value for a Cortex-A72: SPAN set, no DSSBS. */
	fake_stats.sctlr_el1 = 0x00c50838;
	fake_set_cpu(0);
	hyp_boot_primary(&cfg);
	for (unsigned i = 0; i < cpu_count; i++) {
		fake_set_cpu(i);
		hyp_boot_cpu(i, i != 0);
		hyp_boot_host_enter();
	}
	fake_set_cpu(0);
}

uint64_t fake_hvc(uint64_t id, uint64_t a1, uint64_t a2, uint64_t a3,
		  uint64_t *x1)
{
	return fake_hvc_imm(0, id, a1, a2, a3, x1);
}

uint64_t fake_hvc_imm(uint16_t imm, uint64_t id, uint64_t a1, uint64_t a2,
		      uint64_t a3, uint64_t *x1)
{
	struct trap_ctx ctx = { 0 };

	ctx.regs[0] = PKVM_HC_BASE | id;
	ctx.regs[1] = a1;
	ctx.regs[2] = a2;
	ctx.regs[3] = a3;
	ctx.elr = PKVM_WORKLOAD_BASE + 0x104;
	ctx.spsr = 0x3C5;
	ctx.esr = (uint64_t)TRAP_EC_HVC64 << 26 | 1ull << 25 | imm; /* IL */
	trap_host_sync(&ctx);
	if (x1)
		*x1 = ctx.regs[1];
	return ctx.regs[0];
}

bool fake_abort(uint64_t ipa)
{
	/* A data abort, translation fault at level 3. */
	return fake_abort_esr(ipa, ((uint64_t)TRAP_EC_DABT_LOW << 26) |
					   (1ull << 25) | 0x07);
}

bool fake_abort_esr(uint64_t ipa, uint64_t esr)
{
	return fake_abort_from(ipa, esr, 0x3C5);
}

bool fake_abort_from(uint64_t ipa, uint64_t esr, uint64_t spsr)
{
	struct trap_ctx ctx = { 0 };
	uint64_t elr = PKVM_WORKLOAD_BASE + 0x100;

	ctx.elr = elr;
	ctx.spsr = spsr;
	ctx.esr = esr;
	ctx.far = ipa;
	ctx.hpfar = (ipa >> 12) << 4;
	trap_host_sync(&ctx);
	return ctx.elr != elr;
}

uint64_t fake_smc(uint64_t fid)
{
	struct trap_ctx ctx = { 0 };

	ctx.regs[0] = fid;
	ctx.elr = PKVM_WORKLOAD_BASE + 0x100;
	ctx.spsr = 0x3C5;
	ctx.esr = (uint64_t)TRAP_EC_SMC64 << 26;
	trap_host_sync(&ctx);
	return ctx.regs[0];
}
