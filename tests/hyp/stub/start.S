/* SPDX-License-Identifier: MIT */
/*
 * Test host for hyp.elf: entered at EL1h on every CPU with x0 = CPU index,
 * x1 = CPU count. Sets a stack and VBAR_EL1, then runs stub_main in C.
 */
	.section .text.entry, "ax"
	.global _start
_start:
	ldr	x2, =stub_stacks
	add	x3, x0, #1
	lsl	x3, x3, #13
	add	sp, x2, x3
	ldr	x2, =stub_vectors
	msr	vbar_el1, x2
	isb
	bl	stub_main
1:	wfe
	b	1b

/* Abort vector: current EL with SPx, synchronous (VBAR_EL1 + 0x200). */
	.balign 0x800
stub_vectors:
	.balign 0x200
	b	.
	.balign 0x200
	stp	x0, x1, [sp, #-16]!
	mrs	x0, esr_el1
	ldr	x1, =stub_abort_esr
	str	x0, [x1]
	mrs	x0, far_el1
	ldr	x1, =stub_abort_far
	str	x0, [x1]
	ldr	x1, =stub_aborts
	ldr	x0, [x1]
	add	x0, x0, #1
	str	x0, [x1]
	mrs	x0, elr_el1
	add	x0, x0, #4
	msr	elr_el1, x0
	ldp	x0, x1, [sp], #16
	eret
	.balign 0x800
