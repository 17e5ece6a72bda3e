// SPDX-License-Identifier: MIT
/* linux-6.12's host hypercall table (l612_hcalls.h). */
#include <pkvm/trace.h>

#include "l612_hcalls.h"

/* LINUX-6.12.md 6: what x1 holds, and the calls that own nothing (6.6,
 * 6.7). Ids not listed (0, 8-10, 23-25) are other rules' and may own. */
static const struct {
	unsigned char x1; /* enum l612_x1 */
	bool no_effect;
} l612_rows[PKVM_L612_HC_COUNT] = {
	[PKVM_L612_HC_KVM_GET_MDCR_EL2] = { L612_X1_LOOSE, true },
	[PKVM_L612_HC_PKVM_INIT] = { L612_X1_INIT, false },
	[PKVM_L612_HC_PKVM_CREATE_PRIVATE_MAPPING] = { L612_X1_LOOSE, false },
	[PKVM_L612_HC_PKVM_CPU_SET_VECTOR] = { L612_X1_VECTOR, true },
	[PKVM_L612_HC_KVM_ENABLE_SSBS] = { L612_X1_SAME, true },
	[PKVM_L612_HC_VGIC_V3_INIT_LRS] = { L612_X1_SAME, true },
	[PKVM_L612_HC_VGIC_V3_GET_GIC_CONFIG] = { L612_X1_LOOSE, true },
	[PKVM_L612_HC_KVM_ADJUST_PC] = { L612_X1_SAME, true },
	[PKVM_L612_HC_KVM_VCPU_RUN] = { L612_X1_VCPU_RUN, true },
	[PKVM_L612_HC_KVM_FLUSH_VM_CONTEXT] = { L612_X1_SAME, true },
	[PKVM_L612_HC_KVM_TLB_FLUSH_VMID_IPA] = { L612_X1_SAME, true },
	[PKVM_L612_HC_KVM_TLB_FLUSH_VMID_IPA_NSH] = { L612_X1_SAME, true },
	[PKVM_L612_HC_KVM_TLB_FLUSH_VMID] = { L612_X1_SAME, true },
	[PKVM_L612_HC_KVM_TLB_FLUSH_VMID_RANGE] = { L612_X1_SAME, true },
	[PKVM_L612_HC_KVM_FLUSH_CPU_CONTEXT] = { L612_X1_SAME, true },
	[PKVM_L612_HC_KVM_TIMER_SET_CNTVOFF] = { L612_X1_SAME, true },
	[PKVM_L612_HC_VGIC_V3_SAVE_VMCR_APRS] = { L612_X1_SAME, true },
	[PKVM_L612_HC_VGIC_V3_RESTORE_VMCR_APRS] = { L612_X1_SAME, true },
	[PKVM_L612_HC_PKVM_VCPU_INIT_TRAPS] = { L612_X1_SAME, true },
};

const char *l612_hcall_name(unsigned id)
{
	return trace_sys_hcall_name(TRACE_SYS_LINUX612, id);
}

unsigned l612_hcall_nargs(unsigned id)
{
	switch (id) {
#define L612_NARGS(sym, num, n, str)                                           \
	case num:                                                              \
		return n;
		PKVM_L612_HCALL_LIST(L612_NARGS)
#undef L612_NARGS
	default:
		return 0;
	}
}

enum l612_x1 l612_hcall_x1(unsigned id)
{
	return id < PKVM_L612_HC_COUNT ? (enum l612_x1)l612_rows[id].x1
				       : L612_X1_ELSEWHERE;
}

bool l612_hcall_no_effect(unsigned id)
{
	return id < PKVM_L612_HC_COUNT && l612_rows[id].no_effect;
}
