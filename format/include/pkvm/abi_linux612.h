/* SPDX-License-Identifier: MIT */
/*
 * Values that mean something only in traces of the `linux-6.12` system
 * (pKVM in Linux 6.12, recorded by linux/6.12; FORMAT.md 9.1): its host
 * hypercall table and its BOOT `boot_flags`. Our hyp's are in abi.h; a
 * reader picks the table by the header's `system`. Freestanding.
 */
#ifndef PKVM_ABI_LINUX612_H
#define PKVM_ABI_LINUX612_H

/** The header's `system` of these traces. */
#define PKVM_SYSTEM_LINUX612 "linux-6.12"

/**
 * The ABI version of this system's tables (FORMAT.md 9.1): BOOT's
 * `abi_cpus` and the file header's `abi_version` (the recording series'
 * PKVM_TRACE_ABI_VERSION).
 */
#define PKVM_L612_ABI_VERSION 1u

/*
 * Host hypercalls: x0 = PKVM_HC_BASE | id (as ours), ids as Linux 6.12's
 * kvm_asm.h numbers them (__KVM_HOST_SMCCC_FUNC_*), arguments in x1-x5
 * (x4 and x5 in a trap_regs event). Behaviour: LINUX-6.12.md section 6.
 * PKVM_L612_HCALL(NAME, id, nargs, "name")
 */
#define PKVM_L612_HCALL_LIST(X)                                                \
	X(KVM_HYP_INIT, 0, 0, "__kvm_hyp_init")                                \
	X(KVM_GET_MDCR_EL2, 1, 0, "__kvm_get_mdcr_el2")                        \
	X(PKVM_INIT, 2, 5, "__pkvm_init")                                      \
	X(PKVM_CREATE_PRIVATE_MAPPING, 3, 3, "__pkvm_create_private_mapping")  \
	X(PKVM_CPU_SET_VECTOR, 4, 1, "__pkvm_cpu_set_vector")                  \
	X(KVM_ENABLE_SSBS, 5, 0, "__kvm_enable_ssbs")                          \
	X(VGIC_V3_INIT_LRS, 6, 0, "__vgic_v3_init_lrs")                        \
	X(VGIC_V3_GET_GIC_CONFIG, 7, 0, "__vgic_v3_get_gic_config")            \
	X(PKVM_PROT_FINALIZE, 8, 0, "__pkvm_prot_finalize")                    \
	X(PKVM_HOST_SHARE_HYP, 9, 1, "__pkvm_host_share_hyp")                  \
	X(PKVM_HOST_UNSHARE_HYP, 10, 1, "__pkvm_host_unshare_hyp")             \
	X(KVM_ADJUST_PC, 11, 1, "__kvm_adjust_pc")                             \
	X(KVM_VCPU_RUN, 12, 1, "__kvm_vcpu_run")                               \
	X(KVM_FLUSH_VM_CONTEXT, 13, 0, "__kvm_flush_vm_context")               \
	X(KVM_TLB_FLUSH_VMID_IPA, 14, 3, "__kvm_tlb_flush_vmid_ipa")           \
	X(KVM_TLB_FLUSH_VMID_IPA_NSH, 15, 3, "__kvm_tlb_flush_vmid_ipa_nsh")   \
	X(KVM_TLB_FLUSH_VMID, 16, 1, "__kvm_tlb_flush_vmid")                   \
	X(KVM_TLB_FLUSH_VMID_RANGE, 17, 3, "__kvm_tlb_flush_vmid_range")       \
	X(KVM_FLUSH_CPU_CONTEXT, 18, 1, "__kvm_flush_cpu_context")             \
	X(KVM_TIMER_SET_CNTVOFF, 19, 1, "__kvm_timer_set_cntvoff")             \
	X(VGIC_V3_SAVE_VMCR_APRS, 20, 1, "__vgic_v3_save_vmcr_aprs")           \
	X(VGIC_V3_RESTORE_VMCR_APRS, 21, 1, "__vgic_v3_restore_vmcr_aprs")     \
	X(PKVM_VCPU_INIT_TRAPS, 22, 1, "__pkvm_vcpu_init_traps")               \
	X(PKVM_INIT_VM, 23, 3, "__pkvm_init_vm")                               \
	X(PKVM_INIT_VCPU, 24, 3, "__pkvm_init_vcpu")                           \
	X(PKVM_TEARDOWN_VM, 25, 1, "__pkvm_teardown_vm")

enum pkvm_l612_hcall {
#define PKVM_L612_HC_ENUM(name, id, nargs, str) PKVM_L612_HC_##name = id,
	PKVM_L612_HCALL_LIST(PKVM_L612_HC_ENUM)
#undef PKVM_L612_HC_ENUM
		PKVM_L612_HC_COUNT = 26
};

/*
 * BOOT `boot_flags` of linux-6.12 (our hyp's bit 0 is TEST_HCALLS: the
 * bits mean what the system says).
 * PKVM_L612_BOOT_FLAG(NAME, bit, "name")
 */
#define PKVM_L612_BOOT_FLAG_LIST(X)                                            \
	X(HVHE, 0, "hvhe")		  /* else nVHE */                      \
	X(EL2_DEBUG, 1, "nvhe_el2_debug") /* CONFIG_NVHE_EL2_DEBUG */          \
	X(LPA2, 2, "lpa2")		  /* OA bits 51:50 in 9:8 */           \
	X(S2FWB, 3, "s2fwb")		  /* stage-2 FWB MemAttr */

enum pkvm_l612_boot_flag {
#define PKVM_L612_BF_ENUM(name, bit, str) PKVM_L612_BOOT_##name = 1u << bit,
	PKVM_L612_BOOT_FLAG_LIST(PKVM_L612_BF_ENUM)
#undef PKVM_L612_BF_ENUM
};

#endif /* PKVM_ABI_LINUX612_H */
