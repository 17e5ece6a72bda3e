/* SPDX-License-Identifier: MIT */
/*
 * What an architecture must provide to the portable core. The build picks
 * hyp/arch/aarch64/ (the real machine) or hyp/arch/fake/ (native, for unit
 * tests and trace generators) by include path; the inline parts live in
 * <arch/pte.h> (descriptor encoding) and <arch/spinlock.h>.
 *
 * These functions do the operation only: recording it in the trace is the
 * core's job (hyp/src/), so both arches produce the same records.
 */
#ifndef HYP_ARCH_H
#define HYP_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include <arch/cpu.h>
#include <pkvm/abi.h>

/** Hyp virtual address of physical address `pa` (identity on aarch64). */
void *arch_pa_to_va(uint64_t pa);

/*
 * Inline in <arch/cpu.h>: arch_this_cpu() and arch_set_this_cpu() (the
 * calling CPU's per-CPU pointer), arch_counter() (the counter behind record
 * timestamps), plus the EL2 configuration values ARCH_VTCR_EL2,
 * ARCH_TCR_EL2, ARCH_HCR_EL2 ...
 */

/**
 * From the core: the per-CPU pointer of CPU `cpu` (0-based), which the arch
 * installs with arch_set_this_cpu() before anything else runs on that CPU.
 */
void *hyp_cpu_data(unsigned cpu);

/** Frequency of arch_counter() in Hz (CNTFRQ_EL0). */
uint64_t arch_counter_freq(void);

/** MPIDR of the calling CPU. */
uint64_t arch_read_mpidr(void);

/** Store a descriptor; `release` makes it a store-release (STLR). */
void arch_pte_store(uint64_t *slot, uint64_t value, bool release);

/** Issue a TLB invalidation (`operand` as the instruction takes it). */
void arch_tlbi(enum pkvm_tlbi_op op, uint64_t operand);

/** Issue a barrier. */
void arch_barrier(enum pkvm_barrier_op op);

/** Write an EL2 configuration or EL1 fault register. */
void arch_sysreg_write(enum pkvm_sysreg reg, uint64_t value);

/** Read the host's VBAR_EL1 (for abort injection). */
uint64_t arch_read_vbar_el1(void);

/** Read the host's SCTLR_EL1 (for abort injection: SPAN and DSSBS). */
uint64_t arch_read_sctlr_el1(void);

/** Address of the EL2 exception vectors (for VBAR_EL2). */
uint64_t arch_vectors(void);

/** Write a string on the console (PL011 on the real machine). */
void arch_console_puts(const char *s);

/** Power the machine off (PSCI SYSTEM_OFF); does not return on hardware. */
void arch_system_off(void);

/** Stop the calling CPU for good (panic). */
_Noreturn void arch_cpu_park(void);

#endif /* HYP_ARCH_H */
