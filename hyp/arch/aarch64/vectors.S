/* SPDX-License-Identifier: MIT */
/*
 * EL2 exception vectors. Exceptions from the host (lower EL, AArch64) save
 * the frame of struct trap_ctx (x0..x30, ELR_EL2, SPSR_EL2, then room for
 * ESR/FAR/HPFAR filled in by C) and call the C handlers; anything taken from
 * EL2 itself, or from AArch32, is a hyp bug: panic.
 */
#define FRAME 288 /* 36 words: sizeof(struct trap_ctx) */

.macro ventry target
	.balign 0x80
	b	\target
.endm

	.section .text.vectors, "ax"
	.balign 0x800
	.global hyp_vectors
hyp_vectors:
	ventry	el2_bad		/* current EL, SP0 */
	ventry	el2_bad
	ventry	el2_bad
	ventry	el2_bad
	ventry	el2_bad		/* current EL, SPx */
	ventry	el2_bad
	ventry	el2_bad
	ventry	el2_bad
	ventry	lower_sync	/* lower EL, AArch64 */
	ventry	lower_async
	ventry	lower_async
	ventry	lower_async
	ventry	el2_bad		/* lower EL, AArch32 */
	ventry	el2_bad
	ventry	el2_bad
	ventry	el2_bad

.macro save_frame
	sub	sp, sp, #FRAME
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	mrs	x0, elr_el2
	stp	x30, x0, [sp, #240]
	mrs	x0, spsr_el2
	str	x0, [sp, #256]
.endm

lower_sync:
	save_frame
	mov	x0, sp
	bl	arch_trap_lower_sync
	b	restore_frame

lower_async:
	save_frame
	mov	x0, sp
	bl	arch_trap_lower_async
	b	restore_frame

restore_frame:
	ldr	x0, [sp, #248]
	msr	elr_el2, x0
	ldr	x0, [sp, #256]
	msr	spsr_el2, x0
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x19, [sp, #144]
	ldp	x20, x21, [sp, #160]
	ldp	x22, x23, [sp, #176]
	ldp	x24, x25, [sp, #192]
	ldp	x26, x27, [sp, #208]
	ldp	x28, x29, [sp, #224]
	ldr	x30, [sp, #240]
	add	sp, sp, #FRAME
	eret

el2_bad:
	mrs	x0, elr_el2
	bl	arch_trap_el2
	b	arch_cpu_park
