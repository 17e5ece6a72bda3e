/* SPDX-License-Identifier: MIT */
/*
 * The AArch64 arch: system registers, TLB maintenance and barriers, the
 * PL011 console, PSCI over SMC, and the boot flow around the portable core.
 */
#include <hyp/arch.h>
#include <hyp/boot.h>
#include <hyp/hyp.h>
#include <hyp/trap.h>

#define ARCH_STACK_SIZE (1u << 14) /* must match entry.S */
#define PSCI_CPU_ON 0xC4000003ull
#define PSCI_SYSTEM_OFF 0x84000008ull
#define PL011_DR 0x00
#define PL011_FR 0x18
#define PL011_FR_TXFF (1u << 5)

__attribute__((aligned(16))) uint8_t hyp_stacks[8][ARCH_STACK_SIZE];
extern char __pool_start[], __text_end[], __rodata_end[];
extern char hyp_vectors[];
extern void hyp_secondary_entry(void);
_Noreturn void arch_enter_host(uint64_t entry, uint64_t cpu, uint64_t count);

/* Secondaries wait on this (store-release by CPU 0) before anything. */
static uint32_t arch_tables_ready;

#define MSR(reg, v) __asm__ volatile("msr " #reg ", %0" : : "r"(v) : "memory")
#define MRS(reg)                                                               \
	__extension__({                                                        \
		uint64_t v_;                                                   \
		__asm__ volatile("mrs %0, " #reg : "=r"(v_));                  \
		v_;                                                            \
	})

void *arch_pa_to_va(uint64_t pa)
{
	return (void *)(__UINTPTR_TYPE__)pa;
}

uint64_t arch_counter_freq(void)
{
	return MRS(cntfrq_el0);
}

uint64_t arch_read_mpidr(void)
{
	return MRS(mpidr_el1);
}

uint64_t arch_read_vbar_el1(void)
{
	return MRS(vbar_el1);
}

uint64_t arch_read_sctlr_el1(void)
{
	return MRS(sctlr_el1);
}

uint64_t arch_vectors(void)
{
	return (uint64_t)(__UINTPTR_TYPE__)hyp_vectors;
}

void arch_pte_store(uint64_t *slot, uint64_t value, bool release)
{
	if (release)
		__asm__ volatile("stlr %0, [%1]"
				 :
				 : "r"(value), "r"(slot)
				 : "memory");
	else
		*(volatile uint64_t *)slot = value;
}

void arch_tlbi(enum pkvm_tlbi_op op, uint64_t operand)
{
	switch (op) {
	case PKVM_TLBI_VMALLS12E1IS:
		__asm__ volatile("tlbi vmalls12e1is" ::: "memory");
		break;
	case PKVM_TLBI_IPAS2E1IS:
		__asm__ volatile("tlbi ipas2e1is, %0"
				 :
				 : "r"(operand)
				 : "memory");
		break;
	case PKVM_TLBI_VMALLE1IS:
		__asm__ volatile("tlbi vmalle1is" ::: "memory");
		break;
	case PKVM_TLBI_ALLE2IS:
		__asm__ volatile("tlbi alle2is" ::: "memory");
		break;
	case PKVM_TLBI_VAE2IS:
		__asm__ volatile("tlbi vae2is, %0" : : "r"(operand) : "memory");
		break;
	case PKVM_TLBI_ALLE1IS:
		__asm__ volatile("tlbi alle1is" ::: "memory");
		break;
	case PKVM_TLBI_VMALLS12E1:
		__asm__ volatile("tlbi vmalls12e1" ::: "memory");
		break;
	case PKVM_TLBI_ALLE2:
		__asm__ volatile("tlbi alle2" ::: "memory");
		break;
	}
}

void arch_barrier(enum pkvm_barrier_op op)
{
	switch (op) {
	case PKVM_BARRIER_DSB_ISH:
		__asm__ volatile("dsb ish" ::: "memory");
		break;
	case PKVM_BARRIER_DSB_ISHST:
		__asm__ volatile("dsb ishst" ::: "memory");
		break;
	case PKVM_BARRIER_DSB_SY:
		__asm__ volatile("dsb sy" ::: "memory");
		break;
	case PKVM_BARRIER_ISB:
		__asm__ volatile("isb" ::: "memory");
		break;
	case PKVM_BARRIER_DMB_ISH:
		__asm__ volatile("dmb ish" ::: "memory");
		break;
	case PKVM_BARRIER_DSB_NSH:
		__asm__ volatile("dsb nsh" ::: "memory");
		break;
	}
}

void arch_sysreg_write(enum pkvm_sysreg reg, uint64_t v)
{
	switch (reg) {
	case PKVM_SYSREG_VTTBR_EL2:
		MSR(vttbr_el2, v);
		break;
	case PKVM_SYSREG_VTCR_EL2:
		MSR(vtcr_el2, v);
		break;
	case PKVM_SYSREG_HCR_EL2:
		MSR(hcr_el2, v);
		break;
	case PKVM_SYSREG_TTBR0_EL2:
		MSR(ttbr0_el2, v);
		break;
	case PKVM_SYSREG_TCR_EL2:
		MSR(tcr_el2, v);
		break;
	case PKVM_SYSREG_MAIR_EL2:
		MSR(mair_el2, v);
		break;
	case PKVM_SYSREG_SCTLR_EL2:
		/* The MMU enable: tables and TLBI complete first. */
		__asm__ volatile("dsb sy\n isb" ::: "memory");
		MSR(sctlr_el2, v);
		__asm__ volatile("isb" ::: "memory");
		break;
	case PKVM_SYSREG_VBAR_EL2:
		MSR(vbar_el2, v);
		break;
	case PKVM_SYSREG_ESR_EL1:
		MSR(esr_el1, v);
		break;
	case PKVM_SYSREG_FAR_EL1:
		MSR(far_el1, v);
		break;
	case PKVM_SYSREG_ELR_EL1:
		MSR(elr_el1, v);
		break;
	case PKVM_SYSREG_SPSR_EL1:
		MSR(spsr_el1, v);
		break;
	}
}

static void arch_uart_putc(char c)
{
	volatile uint32_t *uart = (volatile uint32_t *)PKVM_UART_BASE;

	while (uart[PL011_FR / 4] & PL011_FR_TXFF)
		;
	uart[PL011_DR / 4] = (uint32_t)(unsigned char)c;
}

void arch_console_puts(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			arch_uart_putc('\r');
		arch_uart_putc(*s);
	}
}

static uint64_t arch_smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3)
{
	register uint64_t x0 __asm__("x0") = fid;
	register uint64_t x1 __asm__("x1") = a1;
	register uint64_t x2 __asm__("x2") = a2;
	register uint64_t x3 __asm__("x3") = a3;

	__asm__ volatile("smc #0"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
			 :
			 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
			   "x12", "x13", "x14", "x15", "x16", "x17", "memory");
	return x0;
}

void arch_system_off(void)
{
	arch_smc(PSCI_SYSTEM_OFF, 0, 0, 0);
}

_Noreturn void arch_cpu_park(void)
{
	for (;;)
		__asm__ volatile("msr daifset, #0xf\n wfi" ::: "memory");
}

/* EL2 registers that are set once and not part of the recorded state. */
static void arch_cpu_init_misc(void)
{
	MSR(cnthctl_el2, 3ull); /* host may use both counters and timers */
	MSR(cntvoff_el2, 0ull);
	MSR(cptr_el2, 0x33FFull); /* no FP/SIMD trapping (RES1 bits only) */
	MSR(mdcr_el2, 0ull);
	MSR(vpidr_el2, MRS(midr_el1));
	MSR(vmpidr_el2, MRS(mpidr_el1));
	MSR(sctlr_el1, 0x30D00800ull); /* RES1 bits, MMU off */
}

/* Bring up every CPU QEMU has (CPU_ON fails for the ones it has not). */
static unsigned arch_probe_cpus(void)
{
	unsigned count = 1;

	for (uint64_t aff0 = 1; aff0 < 8; aff0++) {
		uint64_t ret = arch_smc(
			PSCI_CPU_ON, aff0,
			(uint64_t)(__UINTPTR_TYPE__)hyp_secondary_entry, count);
		if (ret == 0)
			count++;
	}
	return count;
}

_Noreturn static void arch_enter(unsigned cpu, bool secondary)
{
	arch_cpu_init_misc();
	hyp_boot_cpu(cpu, secondary);
	hyp_boot_host_enter();
	arch_enter_host(hyp_cfg.host_entry, cpu, hyp_cfg.cpu_count);
}

_Noreturn void arch_main_primary(void)
{
	struct hyp_config cfg = {
		.ram_base = PKVM_RAM_BASE,
		.ram_size = PKVM_RAM_SIZE,
		.hyp_start = PKVM_HYP_BASE,
		.hyp_end = PKVM_HYP_LIMIT,
		.text_end = (uint64_t)(__UINTPTR_TYPE__)__text_end,
		.rodata_end = (uint64_t)(__UINTPTR_TYPE__)__rodata_end,
		.pool_start = (uint64_t)(__UINTPTR_TYPE__)__pool_start,
		.pool_end = PKVM_HYP_LIMIT,
		.host_entry = PKVM_WORKLOAD_BASE,
	};

	arch_set_this_cpu(hyp_cpu_data(0));
	arch_console_puts("hyp: boot\n");
	cfg.cpu_count = arch_probe_cpus();
	hyp_boot_primary(&cfg);
	hyp_puts("hyp: cpus=");
	hyp_put_dec(cfg.cpu_count);
	hyp_puts(" pool=");
	hyp_put_hex(cfg.pool_start);
	hyp_puts("\n");
	__atomic_store_n(&arch_tables_ready, 1, __ATOMIC_RELEASE);
	arch_enter(0, false);
}

_Noreturn void arch_main_secondary(uint64_t cpu)
{
	arch_set_this_cpu(hyp_cpu_data((unsigned)cpu));
	while (!__atomic_load_n(&arch_tables_ready, __ATOMIC_ACQUIRE))
		__asm__ volatile("yield");
	arch_enter((unsigned)cpu, true);
}

extern uint32_t hyp_panicking;

void arch_trap_lower_sync(struct trap_ctx *ctx)
{
	if (__atomic_load_n(&hyp_panicking, __ATOMIC_RELAXED))
		arch_cpu_park();
	ctx->esr = MRS(esr_el2);
	ctx->far = MRS(far_el2);
	ctx->hpfar = MRS(hpfar_el2);
	trap_host_sync(ctx);
}

void arch_trap_lower_async(struct trap_ctx *ctx)
{
	ctx->esr = MRS(esr_el2);
	ctx->far = 0;
	ctx->hpfar = 0;
	trap_host_async(ctx);
}

_Noreturn void arch_trap_el2(uint64_t elr)
{
	hyp_panic(PKVM_PANIC_EXCEPTION, elr, "exception at EL2");
}
