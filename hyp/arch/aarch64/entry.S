/* SPDX-License-Identifier: MIT */
/*
 * Entry points at EL2 with the MMU off: _start (CPU 0, from QEMU's loader)
 * and hyp_secondary_entry (PSCI CPU_ON, x0 = our CPU index), and the first
 * ERET to the host.
 */
#define STACK_SHIFT 14 /* 16 KiB per CPU: must match arch.c */

	.section .text.entry, "ax"
	.global _start
_start:
	msr	daifset, #0xf
	ldr	x1, =hyp_stacks
	add	sp, x1, #(1 << STACK_SHIFT)
	/* Zero .bss (our stack is in it but not used yet). */
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	str	xzr, [x1], #8
	b	1b
2:	bl	arch_main_primary
	b	arch_cpu_park

	.global hyp_secondary_entry
hyp_secondary_entry:
	msr	daifset, #0xf
	ldr	x1, =hyp_stacks
	add	x2, x0, #1
	lsl	x2, x2, #STACK_SHIFT
	add	sp, x1, x2
	bl	arch_main_secondary
	b	arch_cpu_park

/* arch_enter_host(entry, cpu_index, cpu_count): ERET to EL1h, DAIF masked. */
	.global arch_enter_host
arch_enter_host:
	msr	elr_el2, x0
	mov	x3, #0x3c5
	msr	spsr_el2, x3
	mov	x0, x1
	mov	x1, x2
	mov	x2, xzr
	mov	x3, xzr
	mov	x29, xzr
	mov	x30, xzr
	eret
