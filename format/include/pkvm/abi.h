/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor's ABI as recorded in traces (FORMAT.md "Hypercall ABI"):
 * hypercall ids, return codes, and the small enumerations that payload words
 * carry (lock ids, system registers, TLBI and barrier ops, nondeterminism
 * and mark kinds), plus the AArch64 descriptor conventions the checker
 * decodes. Freestanding.
 *
 * The table is versioned by PKVM_ABI_VERSION, stored in the BOOT record and
 * in the file header: change any value here and bump it. Values are only
 * added, never changed or reused. An added value an older checker ignores
 * (MARK text_end, rodata_end and page_zeroed) may be written before the
 * bump; the bump comes with the checker profile that requires it.
 *
 * ABI 1: the values below. ABI 2: the same values, and the promises of
 * the marks and the lock rules (FORMAT.md section 9): MARK text_end and
 * rodata_end after BOOT, a MARK page_zeroed for every root and pool page
 * before it is linked, locks only in PKVM_LOCK_ORDER_LIST's order and
 * PKVM_LOCK_NEEDS_LIST's company (boot included), and a DSB (ISB for the
 * hyp stage-1) after making entries valid, before their lock goes. A
 * checker judges those on ABI 2 traces only. ABI 3: the same values, and
 * an abort injected as upstream's host_inject_abort does (HYPERCALLS.md
 * "Stage-2 abort" rules 1 and 3): into a host at EL1 (EL1t, EL1h) its
 * ESR_EL1 carries the same-EL class (0x21 instruction, 0x25 data abort)
 * where the trap's ESR_EL2 had the lower-EL one (0x20, 0x24), from EL0
 * the class stays; the host resumes in the PSTATE exception entry builds
 * from its own and SCTLR_EL1, whose read is recorded (NONDET HOST_SYSREG
 * PKVM_NONDET_REG_SCTLR_EL1). A checker judges ABI 1 and 2 traces with
 * the lower-EL class and only M and DAIF of that PSTATE.
 */
#ifndef PKVM_ABI_H
#define PKVM_ABI_H

#include <stdint.h>

/* 2: the marks and lock rules promised; 3: aborts injected as upstream. */
#define PKVM_ABI_VERSION 3u

/*
 * Our hyp's BOOT `boot_flags` (FORMAT.md section 9.1; other systems have
 * tables of their own). Bit 0: the image has the test-only hypercalls
 * (HYPERCALLS.md "test_panic"). Bit 1: the records carry sites (record.h
 * PKVM_SITE_SHIFT): a hyp writes it only if it fills them in, and only on
 * an image whose text starts on a PKVM_SITE_SPAN boundary and fits in it.
 */
#define PKVM_BOOT_F_TEST_HCALLS (1ull << 0)
#define PKVM_BOOT_F_SITES (1ull << 1)

/*
 * Host hypercalls: `hvc #0` with x0 = PKVM_HC_BASE | id, arguments in x1..x3.
 * On return x0 is the SMCCC status (PKVM_SMCCC_SUCCESS when the id was
 * handled, PKVM_SMCCC_NOT_SUPPORTED when it is unknown) and x1 is the result:
 * 0 or a negative PKVM_E* code.
 *
 * PKVM_HCALL(NAME, id, nargs, "name")
 */
#define PKVM_HC_BASE 0xC6000000u
#define PKVM_HC_ID_MASK 0xFFFFu
#define PKVM_HCALL_LIST(X)                                                     \
	X(SHARE_HYP, 1, 1, "share_hyp")                                        \
	X(UNSHARE_HYP, 2, 1, "unshare_hyp")                                    \
	X(HOST_DONATE_HYP, 3, 2, "host_donate_hyp")                            \
	X(HYP_DONATE_HOST, 4, 2, "hyp_donate_host")                            \
	X(TRACE_LOAD, 5, 1, "trace_load")                                      \
	X(TEST_PANIC, 6, 0, "test_panic")

enum pkvm_hcall {
#define PKVM_HC_ENUM(name, id, nargs, str) PKVM_HC_##name = id,
	PKVM_HCALL_LIST(PKVM_HC_ENUM)
#undef PKVM_HC_ENUM
};

#define PKVM_SMCCC_SUCCESS 0ull
#define PKVM_SMCCC_NOT_SUPPORTED 0xFFFFFFFFFFFFFFFFull /* -1 */

/* Results in x1, as negative values (Linux errno numbers, as pKVM uses). */
#define PKVM_ERROR_LIST(X)                                                     \
	X(EPERM, 1, "EPERM")                                                   \
	X(ENOENT, 2, "ENOENT")                                                 \
	X(ENOMEM, 12, "ENOMEM")                                                \
	X(EFAULT, 14, "EFAULT")                                                \
	X(EBUSY, 16, "EBUSY")                                                  \
	X(EINVAL, 22, "EINVAL")                                                \
	X(ERANGE, 34, "ERANGE")

enum pkvm_error {
#define PKVM_ERR_ENUM(name, val, str) PKVM_##name = val,
	PKVM_ERROR_LIST(PKVM_ERR_ENUM)
#undef PKVM_ERR_ENUM
};

/* Most pages one HOST_DONATE_HYP / HYP_DONATE_HOST call may move. */
#define PKVM_DONATE_MAX_PAGES 16u

/*
 * Locks (LOCK_ACQUIRE/LOCK_RELEASE `lock`). Lock order, outermost first:
 * TRACE -> HOST_S2 -> HYP_S1 -> POOL (PKVM_LOCK_ORDER_LIST below). TRACE
 * protects the tracing setup only.
 * PKVM_LOCK(NAME, id, "name")
 */
#define PKVM_LOCK_LIST(X)                                                      \
	X(HOST_S2, 1, "host_s2")                                               \
	X(HYP_S1, 2, "hyp_s1")                                                 \
	X(POOL, 3, "pool")                                                     \
	X(TRACE, 4, "trace")

enum pkvm_lock_id {
#define PKVM_LOCK_ENUM(name, id, str) PKVM_LOCK_##name = id,
	PKVM_LOCK_LIST(PKVM_LOCK_ENUM)
#undef PKVM_LOCK_ENUM
};

/*
 * Lock ids from PKVM_LOCK_ADDR_MIN up are addresses (a hypervisor with
 * locks in memory it is given, linux-6.12): bits 0-47 the PA of the lock
 * word, bits 48-63 the generation of the lock's last initialisation (0 for
 * a lock never initialised at run time), so each life of a lock in reused
 * memory is a lock of its own. Tickets of any lock are 32-bit counts
 * compared modulo 2^32.
 */
#define PKVM_LOCK_ADDR_MIN 0x10000ull
#define PKVM_LOCK_PA_MASK 0x0000FFFFFFFFFFFFull
#define PKVM_LOCK_GEN_SHIFT 48
static inline int pkvm_lock_is_addr(uint64_t id)
{
	return id >= PKVM_LOCK_ADDR_MIN;
}

/*
 * LOCK_INFO `role` (4.1): bits 0-15 the role, bits 16-31 its argument
 * (POOL: the enum pkvm_component the pool feeds; VM: the VM's handle).
 * PKVM_LOCK_ROLE(NAME, value, "name")
 */
#define PKVM_LOCK_ROLE_LIST(X)                                                 \
	X(HOST_S2, 1, "host_s2")                                               \
	X(HYP_S1, 2, "hyp_s1")                                                 \
	X(VM_TABLE, 3, "vm_table")                                             \
	X(VM, 4, "vm")                                                         \
	X(POOL, 5, "pool")                                                     \
	X(FFA, 6, "ffa")

enum pkvm_lock_role {
#define PKVM_LOCK_ROLE_ENUM(name, id, str) PKVM_LOCK_ROLE_##name = id,
	PKVM_LOCK_ROLE_LIST(PKVM_LOCK_ROLE_ENUM)
#undef PKVM_LOCK_ROLE_ENUM
};
#define PKVM_LOCK_ROLE_MASK 0xFFFFu
#define PKVM_LOCK_ROLE_ARG_SHIFT 16

/*
 * The lock discipline, written once as data (HYPERCALLS.md "Locks and
 * components"): the hyp checks itself against it in its test builds
 * (hyp/include/hyp/lock.h), its tests read it, and a checker can judge a
 * trace by it.
 *
 * PKVM_LOCK_ORDER_LIST: outermost first. A CPU that holds a lock may take
 * only a lock that comes later in this list.
 * PKVM_LOCK_NEEDS_LIST(X) X(NAME, OUTER): NAME is taken only while OUTER
 * is held. The hyp stage-1 is written only under hyp_s1, so it is written
 * only with host_s2 held too: whoever holds host_s2 sees both trees as
 * they are (a checker's page invariants read them together).
 */
#define PKVM_LOCK_ORDER_LIST(X) X(TRACE) X(HOST_S2) X(HYP_S1) X(POOL)
#define PKVM_LOCK_NEEDS_LIST(X) X(HYP_S1, HOST_S2)

/** A lock id that is in no list (unknown ids sort after every lock). */
#define PKVM_LOCK_RANK_NONE 0xFFu

/** Position of lock `id` in PKVM_LOCK_ORDER_LIST, 0 outermost. */
static inline unsigned pkvm_lock_rank(unsigned id)
{
	static const unsigned char order[] = {
#define PKVM_LOCK_ORDER_ID(name) PKVM_LOCK_##name,
		PKVM_LOCK_ORDER_LIST(PKVM_LOCK_ORDER_ID)
#undef PKVM_LOCK_ORDER_ID
	};

	for (unsigned i = 0; i < sizeof(order); i++)
		if (order[i] == id)
			return i;
	return PKVM_LOCK_RANK_NONE;
}

/** The lock that must be held to take lock `id`, or 0 for none. */
static inline unsigned pkvm_lock_needs(unsigned id)
{
#define PKVM_LOCK_NEEDS_CASE(name, outer)                                      \
	if (id == PKVM_LOCK_##name)                                            \
		return PKVM_LOCK_##outer;
	PKVM_LOCK_NEEDS_LIST(PKVM_LOCK_NEEDS_CASE)
#undef PKVM_LOCK_NEEDS_CASE
	return 0;
}

/**
 * Whether a CPU holding the locks in `held` (bit n = lock id n) may take
 * lock `id` under the discipline above.
 */
static inline int pkvm_lock_may_take(uint32_t held, unsigned id)
{
	unsigned rank = pkvm_lock_rank(id), needs = pkvm_lock_needs(id);

	if (needs && !(held & (1u << needs)))
		return 0;
	for (unsigned l = 0; l < 32; l++)
		if ((held & (1u << l)) && pkvm_lock_rank(l) >= rank)
			return 0;
	return 1;
}

/* Page-table components (NONDET ALLOC_PAGE `aux`), each under one lock. */
enum pkvm_component {
	PKVM_COMP_NONE = 0,
	PKVM_COMP_HOST_S2 = 1,	/* protected by PKVM_LOCK_HOST_S2 */
	PKVM_COMP_HYP_S1 = 2,	/* protected by PKVM_LOCK_HYP_S1 */
	PKVM_COMP_GUEST_S2 = 3, /* a guest's stage-2 (linux-6.12: its VM's
				   lock) */
};

/* SYSREG_WRITE `reg`. */
#define PKVM_SYSREG_LIST(X)                                                    \
	X(VTTBR_EL2, 1, "vttbr_el2")                                           \
	X(VTCR_EL2, 2, "vtcr_el2")                                             \
	X(HCR_EL2, 3, "hcr_el2")                                               \
	X(TTBR0_EL2, 4, "ttbr0_el2")                                           \
	X(TCR_EL2, 5, "tcr_el2")                                               \
	X(MAIR_EL2, 6, "mair_el2")                                             \
	X(SCTLR_EL2, 7, "sctlr_el2")                                           \
	X(VBAR_EL2, 8, "vbar_el2")                                             \
	X(ESR_EL1, 9, "esr_el1")                                               \
	X(FAR_EL1, 10, "far_el1")                                              \
	X(ELR_EL1, 11, "elr_el1")                                              \
	X(SPSR_EL1, 12, "spsr_el1")

enum pkvm_sysreg {
#define PKVM_SYSREG_ENUM(name, id, str) PKVM_SYSREG_##name = id,
	PKVM_SYSREG_LIST(PKVM_SYSREG_ENUM)
#undef PKVM_SYSREG_ENUM
};

/*
 * TLBI `op`: bits 0-15 the operation, bits 16-31 the VMID (stage-2 ops).
 * `operand` is the register operand as issued (e.g. IPA >> 12 for IPAS2E1IS).
 */
#define PKVM_TLBI_LIST(X)                                                      \
	X(VMALLS12E1IS, 1, "vmalls12e1is")                                     \
	X(IPAS2E1IS, 2, "ipas2e1is")                                           \
	X(VMALLE1IS, 3, "vmalle1is")                                           \
	X(ALLE2IS, 4, "alle2is")                                               \
	X(VAE2IS, 5, "vae2is")                                                 \
	X(ALLE1IS, 6, "alle1is")                                               \
	X(VMALLS12E1, 7, "vmalls12e1")                                         \
	X(ALLE2, 8, "alle2")

enum pkvm_tlbi_op {
#define PKVM_TLBI_ENUM(name, id, str) PKVM_TLBI_##name = id,
	PKVM_TLBI_LIST(PKVM_TLBI_ENUM)
#undef PKVM_TLBI_ENUM
};

/*
 * 4.1: the operations a production hypervisor (linux-6.12) issues beyond
 * those above, 0x100 up (our hyp issues none of them: a list of its own so
 * that its switches over enum pkvm_tlbi_op stay whole). OTHER: an
 * operation no list names. The VMID in bits 16-31 as above, for stage-2
 * and EL1 operations.
 */
#define PKVM_TLBI_EXT_LIST(X)                                                  \
	X(VALE2IS, 0x101, "vale2is")                                           \
	X(IPAS2E1, 0x102, "ipas2e1")                                           \
	X(VMALLE1, 0x103, "vmalle1")                                           \
	X(ALLE1, 0x104, "alle1")                                               \
	X(IPAS2LE1IS, 0x105, "ipas2le1is")                                     \
	X(RIPAS2E1IS, 0x106, "ripas2e1is")                                     \
	X(RIPAS2LE1IS, 0x107, "ripas2le1is")                                   \
	X(VAE2, 0x108, "vae2")                                                 \
	X(VALE2, 0x109, "vale2")                                               \
	X(RVAE2IS, 0x10a, "rvae2is")                                           \
	X(RVALE2IS, 0x10b, "rvale2is")                                         \
	X(VAE1IS, 0x110, "vae1is")                                             \
	X(VALE1IS, 0x111, "vale1is")                                           \
	X(VAAE1IS, 0x112, "vaae1is")                                           \
	X(VAALE1IS, 0x113, "vaale1is")                                         \
	X(ASIDE1IS, 0x114, "aside1is")                                         \
	X(RVAE1IS, 0x115, "rvae1is")                                           \
	X(RVALE1IS, 0x116, "rvale1is")                                         \
	X(RVAAE1IS, 0x117, "rvaae1is")                                         \
	X(RVAALE1IS, 0x118, "rvaale1is")                                       \
	X(OTHER, 0x1ff, "other")

enum pkvm_tlbi_op_ext {
#define PKVM_TLBI_EXT_ENUM(name, id, str) PKVM_TLBI_##name = id,
	PKVM_TLBI_EXT_LIST(PKVM_TLBI_EXT_ENUM)
#undef PKVM_TLBI_EXT_ENUM
};

/* BARRIER `op`. */
#define PKVM_BARRIER_LIST(X)                                                   \
	X(DSB_ISH, 1, "dsb ish")                                               \
	X(DSB_ISHST, 2, "dsb ishst")                                           \
	X(DSB_SY, 3, "dsb sy")                                                 \
	X(ISB, 4, "isb")                                                       \
	X(DMB_ISH, 5, "dmb ish")                                               \
	X(DSB_NSH, 6, "dsb nsh")

enum pkvm_barrier_op {
#define PKVM_BARRIER_ENUM(name, id, str) PKVM_BARRIER_##name = id,
	PKVM_BARRIER_LIST(PKVM_BARRIER_ENUM)
#undef PKVM_BARRIER_ENUM
};

/* 4.1: the barriers of linux-6.12 beyond those above (as PKVM_TLBI_EXT). */
#define PKVM_BARRIER_EXT_LIST(X)                                               \
	X(DSB_LD, 0x101, "dsb ld")                                             \
	X(DSB_ST, 0x102, "dsb st")                                             \
	X(DSB_ISHLD, 0x103, "dsb ishld")                                       \
	X(DSB_NSHST, 0x104, "dsb nshst")                                       \
	X(DSB_NSHLD, 0x105, "dsb nshld")                                       \
	X(DSB_OSH, 0x106, "dsb osh")                                           \
	X(DSB_OSHST, 0x107, "dsb oshst")                                       \
	X(DSB_OSHLD, 0x108, "dsb oshld")                                       \
	X(DMB_SY, 0x111, "dmb sy")                                             \
	X(DMB_LD, 0x112, "dmb ld")                                             \
	X(DMB_ST, 0x113, "dmb st")                                             \
	X(DMB_ISHLD, 0x114, "dmb ishld")                                       \
	X(DMB_ISHST, 0x115, "dmb ishst")                                       \
	X(DMB_NSH, 0x116, "dmb nsh")                                           \
	X(DMB_NSHLD, 0x117, "dmb nshld")                                       \
	X(DMB_NSHST, 0x118, "dmb nshst")                                       \
	X(DMB_OSH, 0x119, "dmb osh")                                           \
	X(DMB_OSHLD, 0x11a, "dmb oshld")                                       \
	X(DMB_OSHST, 0x11b, "dmb oshst")                                       \
	X(OTHER, 0x1ff, "other")

enum pkvm_barrier_op_ext {
#define PKVM_BARRIER_EXT_ENUM(name, id, str) PKVM_BARRIER_##name = id,
	PKVM_BARRIER_EXT_LIST(PKVM_BARRIER_EXT_ENUM)
#undef PKVM_BARRIER_EXT_ENUM
};

/*
 * NONDET `what`; `value`, `addr` and `aux` by kind:
 *   ALLOC_PAGE    value = PA of the page the pool handed out (0: pool empty),
 *                 aux = enum pkvm_component it is for
 *   HOST_READ     value = the 64-bit value read, addr = the PA it was read
 *                 from (host-controlled memory: read once, recorded once)
 *   HOST_SYSREG   value = a host EL1 register read by the hyp, addr = the
 *                 PKVM_SYSREG_* id (e.g. VBAR_EL1 as PKVM_NONDET_REG_VBAR_EL1)
 *   FREE_PAGE     value = PA of a page-table page given back to its pool
 *                 (no longer in any tree), aux = enum pkvm_component
 */
#define PKVM_NONDET_LIST(X)                                                    \
	X(ALLOC_PAGE, 1, "alloc_page")                                         \
	X(HOST_READ, 2, "host_read")                                           \
	X(HOST_SYSREG, 3, "host_sysreg")                                       \
	X(FREE_PAGE, 4, "free_page")

enum pkvm_nondet {
#define PKVM_NONDET_ENUM(name, id, str) PKVM_NONDET_##name = id,
	PKVM_NONDET_LIST(PKVM_NONDET_ENUM)
#undef PKVM_NONDET_ENUM
};
/* HOST_SYSREG `addr` values: host EL1 registers that are not in SYSREG. */
#define PKVM_NONDET_REG_VBAR_EL1 0x100u
#define PKVM_NONDET_REG_SCTLR_EL1 0x101u

/*
 * MARK `what`: milestones, and facts the checker needs that no other
 * record states (FORMAT.md section 3):
 *   TEXT_END, RODATA_END  the hyp image's layout, for the attributes its
 *                 stage-1 must give each page (HYPERCALLS.md "Mapping
 *                 attributes"): text is [hyp_start, text_end), rodata
 *                 [text_end, rodata_end), both page aligned. Written once
 *                 each, on CPU 0, right after BOOT, in this order, before
 *                 any descriptor store.
 *   PAGE_ZEROED   the hyp has just written zeros over the whole page at
 *                 `arg` (its PA): each table root at boot, after BOOT and
 *                 before the root's first store; each page the pool hands
 *                 out, on the same CPU after its NONDET alloc_page and
 *                 before the table descriptor that links it. A table linked
 *                 without one is a page of unknown contents.
 *   VCPU_LOAD     a vCPU is loaded on this CPU: arg = the VM's handle |
 *                 the vCPU's index << 32 (linux-6.12: pkvm_load_hyp_vcpu)
 *   VCPU_PUT      the vCPU loaded on this CPU is put back (arg = 0)
 * Values are only ever added, never changed or reused.
 */
#define PKVM_MARK_LIST(X)                                                      \
	X(CPU_UP, 1, "cpu_up")		   /* arg = MPIDR */                   \
	X(HOST_ENTER, 2, "host_enter")	   /* arg = host entry point */        \
	X(TRACE_ON, 3, "trace_on")	   /* arg = control block PA */        \
	X(EARLY_COPIED, 4, "early_copied") /* arg = records copied */          \
	X(SYSTEM_OFF, 5, "system_off")	   /* arg = 0 */                       \
	X(CPU_OFF, 6, "cpu_off")	   /* arg = 0 */                       \
	X(TEXT_END, 7, "text_end")	   /* arg = end of the hyp's text */   \
	X(RODATA_END, 8, "rodata_end")	   /* arg = end of its rodata */       \
	X(PAGE_ZEROED, 9, "page_zeroed")   /* arg = PA of the zeroed page */   \
	X(VCPU_LOAD, 10, "vcpu_load")	   /* arg = handle | index << 32 */    \
	X(VCPU_PUT, 11, "vcpu_put")	   /* arg = 0 */

enum pkvm_mark {
#define PKVM_MARK_ENUM(name, id, str) PKVM_MARK_##name = id,
	PKVM_MARK_LIST(PKVM_MARK_ENUM)
#undef PKVM_MARK_ENUM
};

/* PANIC `code`. */
#define PKVM_PANIC_CHECK 1u	/* CHECK() failed: addr = return address */
#define PKVM_PANIC_EXCEPTION 2u /* unexpected exception at EL2: addr = ELR */
#define PKVM_PANIC_TEST 3u	/* TEST_PANIC hypercall */
#define PKVM_PANIC_BUG 4u	/* brk #0x800 at EL2 (BUG, WARN): addr = ELR */

/*
 * REGION `what` (4.1): memory ranges a hypervisor's boot state names, one
 * record each, after BOOT. `aux` by kind: RAM bit 0 = not mapped by the
 * host's linear map (MEMBLOCK_NOMAP); HYP_PERCPU, HYP_STACK, HOST_SVE the
 * CPU; otherwise 0.
 * PKVM_REGION(NAME, value, "name")
 */
#define PKVM_REGION_LIST(X)                                                    \
	X(RAM, 1, "ram")                                                       \
	X(HYP_TEXT, 2, "hyp_text")                                             \
	X(HYP_RODATA, 3, "hyp_rodata")                                         \
	X(HYP_BSS, 4, "hyp_bss")                                               \
	X(HYP_PERCPU, 5, "hyp_percpu")                                         \
	X(HYP_STACK, 6, "hyp_stack")                                           \
	X(VMEMMAP, 7, "vmemmap")                                               \
	X(VM_TABLE, 8, "vm_table")                                             \
	X(HYP_S1_POOL, 9, "hyp_s1_pool")                                       \
	X(HOST_S2_POOL, 10, "host_s2_pool")                                    \
	X(FFA, 11, "ffa")                                                      \
	X(TRACE_RINGS, 12, "trace_rings")                                      \
	X(IDMAP, 13, "idmap")                                                  \
	X(HOST_SVE, 14, "host_sve")                                            \
	X(VGIC_GLOBAL_STATE, 15, "vgic_global_state")

enum pkvm_region {
#define PKVM_REGION_ENUM(name, id, str) PKVM_REGION_##name = id,
	PKVM_REGION_LIST(PKVM_REGION_ENUM)
#undef PKVM_REGION_ENUM
};

/*
 * AArch64 descriptor conventions of the real hypervisor (the checker
 * decodes exactly these). 4 KiB granule; 32-bit input address space for
 * both host stage-2 and hyp stage-1; walks start at level 1; levels 1 and
 * 2 may hold blocks.
 *
 * Page state, in the software bits of a valid descriptor (as pKVM):
 *   OWNED 0, SHARED_OWNED bit 55, SHARED_BORROWED bit 56.
 * Owner annotation, in an invalid host stage-2 descriptor (bit 0 clear),
 * bits [9:2]: 0 = host (no annotation), 1 = hyp.
 */
#define PKVM_PTE_STATE_SHIFT 55
#define PKVM_PTE_STATE_MASK (3ull << 55)
#define PKVM_PAGE_OWNED 0ull
#define PKVM_PAGE_SHARED_OWNED (1ull << 55)
#define PKVM_PAGE_SHARED_BORROWED (2ull << 55)
#define PKVM_PTE_OWNER_SHIFT 2
#define PKVM_PTE_OWNER_MASK (0xFFull << 2)
#define PKVM_OWNER_HOST 0u
#define PKVM_OWNER_HYP 1u

/*
 * The machine's memory map (QEMU `virt`, always run with `-m 256M`).
 * The hyp owns a range inside [PKVM_HYP_BASE, PKVM_HYP_LIMIT) and reports the
 * exact one in the BOOT record; the workload is linked at PKVM_WORKLOAD_BASE
 * and entered there at EL1h on every CPU with x0 = CPU index, x1 = CPU count.
 */
#define PKVM_RAM_BASE 0x40000000ull
#define PKVM_RAM_SIZE 0x10000000ull
#define PKVM_HYP_BASE 0x40200000ull
#define PKVM_HYP_LIMIT 0x40800000ull
#define PKVM_WORKLOAD_BASE 0x41000000ull
#define PKVM_UART_BASE 0x09000000ull

/*
 * The run's parameters, placed by the recorder (QEMU generic loader) at
 * PKVM_PARAMS_PA before the machine starts; the workload reads them.
 */
#define PKVM_PARAMS_PA 0x40fff000ull
#define PKVM_PARAMS_MAGIC 0x534d524150564b50ull /* "PKVPARMS" */
struct pkvm_params {
	uint64_t magic;	     /* PKVM_PARAMS_MAGIC, or the workload's defaults */
	uint64_t seed;	     /* stress seed */
	uint64_t ops;	     /* operations per CPU */
	uint64_t scenario;   /* 0 = stress, else a scenario number */
	uint64_t mode;	     /* enum pkvm_ring_mode */
	uint64_t ring_pages; /* pages per CPU ring */
	uint64_t reserved[2];
};

#endif /* PKVM_ABI_H */
