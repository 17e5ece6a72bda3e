/* SPDX-License-Identifier: MIT */
/*
 * Entry, per-CPU stacks, EL1 vectors and the few instructions that must be
 * exactly one instruction (the probing loads and stores the abort handler
 * steps over).
 *
 * The hyp enters _start on every CPU at EL1h, MMU off, DAIF masked, with
 * x0 = CPU index and x1 = CPU count. Booted directly by QEMU without EL2
 * (standalone test mode) only CPU0 runs and x0/x1 are not meaningful, so
 * they are forced to 0 and 1 and wl_main is told there is no hyp.
 */
#define WL_MAX_CPUS 8
#define WL_STACK_SHIFT 14
#define FRAME_SIZE 272

	.section .text.boot, "ax"
	.global _start
_start:
	msr	daifset, #0xf
	/* ID_AA64PFR0_EL1.EL2 == 0: no EL2, so no hyp below us. */
	mrs	x9, id_aa64pfr0_el1
	ubfx	x9, x9, #8, #4
	mov	x21, #0
	cbnz	x9, 1f
	mov	x0, #0
	mov	x1, #1
	mov	x21, #1
1:	mov	x19, x0
	mov	x20, x1
	/* A CPU index we have no stack for parks; CPU0 reports the count. */
	cmp	x19, #WL_MAX_CPUS
	b.hs	wl_park
	cbnz	x19, 3f

	/* CPU0 clears .bss (stacks included) before anyone uses it. */
	adrp	x9, __bss_start
	add	x9, x9, :lo12:__bss_start
	adrp	x10, __bss_end
	add	x10, x10, :lo12:__bss_end
2:	cmp	x9, x10
	b.hs	4f
	str	xzr, [x9], #8
	b	2b
4:	adrp	x9, wl_boot_ready
	add	x9, x9, :lo12:wl_boot_ready
	mov	w10, #1
	stlr	w10, [x9]
	sev
	b	5f

	/* Secondaries wait for CPU0 to clear .bss; the flag is in .data. */
3:	adrp	x9, wl_boot_ready
	add	x9, x9, :lo12:wl_boot_ready
6:	ldar	w10, [x9]
	cbnz	w10, 5f
	wfe
	b	6b

5:	adrp	x9, wl_stacks
	add	x9, x9, :lo12:wl_stacks
	add	x10, x19, #1
	lsl	x10, x10, #WL_STACK_SHIFT
	add	sp, x9, x10
	msr	tpidr_el1, x19
	adrp	x9, wl_vectors
	add	x9, x9, :lo12:wl_vectors
	msr	vbar_el1, x9
	isb
	mov	x0, x19
	mov	x1, x20
	mov	x2, x21
	bl	wl_main
	.global wl_park
wl_park:
	wfe
	b	wl_park

/*
 * Vectors: every entry saves x0/x1, passes its index (0..15) in x1 and
 * joins the common path, which saves the rest and calls
 * wl_exception(frame, index). The handler may move frame->elr.
 */
	.macro	vec idx
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp, #0]
	mov	x1, #\idx
	b	wl_vec_common
	.endm

	.text
	.balign	0x800
	.global	wl_vectors
wl_vectors:
	vec	0
	vec	1
	vec	2
	vec	3
	vec	4
	vec	5
	vec	6
	vec	7
	vec	8
	vec	9
	vec	10
	vec	11
	vec	12
	vec	13
	vec	14
	vec	15

wl_vec_common:
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
	mrs	x2, elr_el1
	mrs	x3, spsr_el1
	str	x30, [sp, #240]
	stp	x2, x3, [sp, #248]
	mov	x0, sp
	bl	wl_exception
	ldp	x2, x3, [sp, #248]
	msr	elr_el1, x2
	msr	spsr_el1, x3
	ldr	x30, [sp, #240]
	ldp	x28, x29, [sp, #224]
	ldp	x26, x27, [sp, #208]
	ldp	x24, x25, [sp, #192]
	ldp	x22, x23, [sp, #176]
	ldp	x20, x21, [sp, #160]
	ldp	x18, x19, [sp, #144]
	ldp	x16, x17, [sp, #128]
	ldp	x14, x15, [sp, #112]
	ldp	x12, x13, [sp, #96]
	ldp	x10, x11, [sp, #80]
	ldp	x8, x9, [sp, #64]
	ldp	x6, x7, [sp, #48]
	ldp	x4, x5, [sp, #32]
	ldp	x2, x3, [sp, #16]
	ldp	x0, x1, [sp, #0]
	add	sp, sp, #FRAME_SIZE
	eret

/*
 * uint64_t wl_probe_read(uint64_t pa): one ldr. If it aborts, the handler
 * resumes after it and the result is 0 (x0 was cleared first).
 */
	.global	wl_probe_read
wl_probe_read:
	mov	x1, x0
	mov	x0, #0
	ldr	x0, [x1]
	ret

/* void wl_probe_write(uint64_t pa, uint64_t value): one str. */
	.global	wl_probe_write
wl_probe_write:
	str	x1, [x0]
	ret

/*
 * bool-ish wl_probe_exec(uint64_t pa): branch to pa. There is no code
 * there the workload could run: the fetch must abort, and the handler
 * resumes at the return address (x30), right after the blr.
 */
	.global	wl_probe_exec
wl_probe_exec:
	stp	x29, x30, [sp, #-16]!
	blr	x0
	ldp	x29, x30, [sp], #16
	ret

/* uint64_t wl_smc(uint64_t fid): PSCI through the SMC conduit. */
	.global	wl_smc
wl_smc:
	smc	#0
	ret

/*
 * uint64_t wl_hvc_timed(x0, x1, x2, x3, struct wl_hvc_out *out): one
 * hypercall. Returns x0; stores the returned x1 and the counter ticks the
 * `hvc` took (the whole trap, as the host sees it; tools/bench-hyp) in *out.
 * x4 is kept on the stack because the callee may clobber x4..x17.
 */
	.global	wl_hvc_timed
wl_hvc_timed:
	isb
	mrs	x5, cntvct_el0
	stp	x4, x5, [sp, #-16]!
	hvc	#0
	isb
	mrs	x6, cntvct_el0
	ldp	x4, x5, [sp], #16
	sub	x6, x6, x5
	stp	x1, x6, [x4]
	ret

	.data
	.balign	8
	.global	wl_boot_ready
wl_boot_ready:
	.word	0

	.section .bss.stacks, "aw", %nobits
	.balign	16
	.global	wl_stacks
wl_stacks:
	.space	WL_MAX_CPUS << WL_STACK_SHIFT
