/* SPDX-License-Identifier: MIT */
/*
 * The linux-6.12 profile's specification (format/LINUX-6.12.md) as pure
 * functions, the counterpart of spec.h for pKVM in Linux 6.12.
 *
 * Two layers. The page state of a descriptor (LINUX-6.12.md 3: the host
 * stage-2's owner annotations and the software bits of both tables), read
 * from raw descriptor values; and the host hypercalls this checker
 * specifies so far, one function per id of the profile's hypercall table
 * (LINUX-6.12.md 6), over an abstract machine that gives each page's two
 * sides. Neither looks at a trace.
 */
#ifndef PKVM_CHECKER_SPEC_L612_H
#define PKVM_CHECKER_SPEC_L612_H

#include <stdbool.h>
#include <stdint.h>

#include "spec.h"

/* LINUX-6.12.md 3.2-3.3: the bits the page state is encoded in. */
#define L612_PTE_SW_SHIFT 55 /* KVM_PGTABLE_PROT_SW0 (bit 55), SW1 (56) */
#define L612_PTE_SW_MASK (3ull << L612_PTE_SW_SHIFT)
#define L612_PTE_OWNER_SHIFT 2 /* KVM_INVALID_PTE_OWNER_MASK, bits 9:2 */
#define L612_PTE_OWNER_MASK (0xffull << L612_PTE_OWNER_SHIFT)
#define L612_PTE_LOCKED 0x400ull /* KVM_INVALID_PTE_LOCKED */
#define L612_OWNER_HYP 1u	 /* enum pkvm_component_id */

/** Errno values of LINUX-6.12.md 1. */
#define L612_EPERM 1
#define L612_ENOENT 2
#define L612_ENOMEM 12
#define L612_EBUSY 16
#define L612_EINVAL 22
#define L612_ERANGE 34

/** True if `d` at `level` (0-3; -1 for an LPA2 root) is a valid leaf. */
bool l612_is_leaf(uint64_t d, int level);
/** True if `d` at `level` is a table descriptor. */
bool l612_is_table(uint64_t d, int level);

/**
 * The host side of a page (LINUX-6.12.md 3.3) whose host stage-2 leaf or
 * invalid entry is `d` at `level`; `memory`: the page is allowed memory
 * (RAM, not NOMAP). SPEC_ST_BAD for state bits 11.
 */
unsigned l612_host_state(uint64_t d, int level, bool memory);
/** The hyp side of a RAM page whose linear-map entry is `d` at `level`. */
unsigned l612_hyp_state(uint64_t d, int level);

/* vCPUs per VM whose donated pages this checker follows (6.4, 6.5) */
#define L612_VM_MAX_VCPUS 32u

/** One slot of the VM table (LINUX-6.12.md 7.2): ghost state. */
struct l612_vm {
	bool used;
	bool vcpus_lost; /* more vCPUs than vcpu_pfn holds */
	unsigned created_vcpus, nr_vcpus;
	unsigned loaded; /* vCPUs of it loaded (mark vcpu_load/vcpu_put) */
	uint64_t vm_pfn, vm_pages, pgd_pfn, pgd_pages;
	uint64_t vcpu_pfn[L612_VM_MAX_VCPUS]; /* each vcpu_pages long */
};

/*
 * What the VM calls (6.3-6.5) read besides the pages: BOOT_LINUX's
 * conversion and sizes, the VM table as the call found it under
 * vm_table_lock, and the values it read from host memory.
 */
struct l612_vm_env {
	bool known;			     /* BOOT_LINUX was read */
	uint64_t kva_mask, kva_tag, hyp_off; /* kern_hyp_va, then __hyp_pa */
	uint64_t kvm_size, vcpu_size;	     /* struct kvm, struct kvm_vcpu */
	uint64_t hyp_vm_size, hyp_vcpu_size; /* struct pkvm_hyp_vm, _vcpu */
	uint64_t pgd_size;		     /* a guest stage-2 root */
	unsigned table_size;		     /* KVM_MAX_PVMS */
	uint64_t first_handle;		     /* HANDLE_OFFSET */
	/* The VM table under vm_table_lock: the lowest free slot (-1: none;
	 * 6.3) and the slot the call's handle names (6.4, 6.5). */
	int free_slot;
	struct l612_vm named;
	/* NONDET host_read values of the call, in order (6.3 step 2: the
	 * host's created_vcpus; 6.4 step 5: the host vCPU's vcpu_idx). */
	unsigned read_count;
	const uint64_t *reads;
};

/** The abstract machine a linux-6.12 spec function reads. */
struct l612_machine {
	uint64_t ram_base, ram_size; /* allowed memory */
	unsigned ia_bits;	     /* host stage-2 input range (VTCR_EL2) */
	bool el2_debug;		     /* CONFIG_NVHE_EL2_DEBUG: the hyp checks */
	const void *ctx;
	struct spec_page (*page)(const void *ctx, uint64_t pfn);
	/* Whether the hyp holds a pin on the page (LINUX-6.12.md 7.1):
	 * L612_PIN_*. MAYBE: a call that takes or drops one is in flight,
	 * or the pins are not known; an unshare that passes every other
	 * check may then answer -EBUSY. */
	unsigned (*pin)(const void *ctx, uint64_t pfn);
	const struct l612_vm_env *vm; /* ids 23-25 only */
};

enum l612_pin { L612_PIN_NO, L612_PIN_YES, L612_PIN_MAYBE };

/** Consecutive pages and the states a call leaves them in. */
struct l612_range {
	uint64_t pfn, pages;
	struct spec_page after;
};

#define L612_MAX_RANGES (L612_VM_MAX_VCPUS + 2u)

/** What the spec allows for one host hypercall. */
struct l612_outcome {
	bool specified; /* false: this id has no spec function yet */
	int64_t x1;	/* the result */
	bool may_ebusy; /* -EBUSY, no change, is allowed too (a pin maybe) */
	bool unknown;	/* a state it depends on is unknown */
	/* On success: the page whose states change, and to what. */
	bool has_effect;
	struct spec_effect effect;
	/* Ids 23-25. `panic`: the only outcome is a hyp panic (6.5 case 2).
	 * On success, the pages whose states change, and to what (the net
	 * effect), and the VM-table slot the call fills or changes. */
	bool panic;
	unsigned range_count;
	struct l612_range range[L612_MAX_RANGES];
	int slot;
};

/* One function per specified id (LINUX-6.12.md 6.1, 6.2). */
void l612_share_hyp(const struct l612_machine *m, uint64_t pfn,
		    struct l612_outcome *out);
void l612_unshare_hyp(const struct l612_machine *m, uint64_t pfn,
		      struct l612_outcome *out);

/* 6.3-6.5 */
void l612_init_vm(const struct l612_machine *m, const uint64_t x[3],
		  struct l612_outcome *out);
void l612_init_vcpu(const struct l612_machine *m, const uint64_t x[3],
		    struct l612_outcome *out);
void l612_teardown_vm(const struct l612_machine *m, const uint64_t x[3],
		      struct l612_outcome *out);

/** The pfn of the page a host kernel pointer names (kern_hyp_va, __hyp_pa). */
uint64_t l612_kptr_pfn(const struct l612_vm_env *e, uint64_t kptr);
/** The VM-table slot a handle names (get_vm_by_handle), or -1. */
int l612_vm_slot(const struct l612_vm_env *e, uint64_t handle);
/**
 * The pages whose state VM call `id` (23-25) reads or changes, as ranges
 * (`after` unset): what a checker must know of them before the call. The
 * VM pages of 23 are known once the host's created_vcpus was read, the
 * pages of 25 once the call found its VM. Returns the count.
 */
unsigned l612_vm_call_ranges(const struct l612_vm_env *e, unsigned id,
			     const uint64_t x[3], struct l612_range *r);

/**
 * A dispatched host hypercall `id` with arguments x1-x3: its function in
 * the profile's hypercall table, or `specified` false.
 */
void l612_hcall(const struct l612_machine *m, unsigned id, const uint64_t x[3],
		struct l612_outcome *out);
/** Whether id has a function in the table (what the checker judges). */
bool l612_hcall_specified(unsigned id);

#endif /* PKVM_CHECKER_SPEC_L612_H */
