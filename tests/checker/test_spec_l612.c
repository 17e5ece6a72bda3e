// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 specification's pure functions (checker/spec/spec_l612.h)
 * against format/LINUX-6.12.md: the page state of descriptors (section 3),
 * share/unshare (6.1, 6.2) and the VM lifecycle (6.3-6.5), each case
 * written from the document.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "spec_l612.h"

/* A level-3 page leaf and a level-2 block, with software bits `sw`. */
#define PAGE(sw) (0x40280000ull | 0x7c3ull | (uint64_t)(sw) << 55)
#define BLOCK(sw) (0x40200000ull | 0x7c1ull | (uint64_t)(sw) << 55)

Test(spec_l612, host_side_of_a_descriptor)
{
	/* 3.3: invalid zero is the host's, mapped lazily */
	cr_assert_eq(l612_host_state(0, 3, true), SPEC_ST_OWNED);
	cr_assert_eq(l612_host_state(0, 1, true), SPEC_ST_OWNED);
	/* owner hyp (0x4), or a break in progress (0x400): not the host's */
	cr_assert_eq(l612_host_state(0x4, 3, true), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_host_state(0x400, 3, true), SPEC_ST_NOPAGE);
	/* 3.2: the software bits of a valid leaf, page or block */
	cr_assert_eq(l612_host_state(PAGE(0), 3, true), SPEC_ST_OWNED);
	cr_assert_eq(l612_host_state(PAGE(1), 3, true), SPEC_ST_SHARED_OWNED);
	cr_assert_eq(l612_host_state(PAGE(2), 3, true),
		     SPEC_ST_SHARED_BORROWED);
	cr_assert_eq(l612_host_state(PAGE(3), 3, true), SPEC_ST_BAD);
	cr_assert_eq(l612_host_state(BLOCK(0), 2, true), SPEC_ST_OWNED);
	cr_assert_eq(l612_host_state(BLOCK(1), 1, true), SPEC_ST_SHARED_OWNED);
	/* bits 1:0 = 01 at level 3 is no valid page: invalid, non-zero */
	cr_assert_eq(l612_host_state(0x40280001ull, 3, true), SPEC_ST_NOPAGE);
	/* not allowed memory (MMIO, NOMAP): NOPAGE whatever the entry */
	cr_assert_eq(l612_host_state(0, 3, false), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_host_state(PAGE(0), 3, false), SPEC_ST_NOPAGE);
	/* a table descriptor is no page's state */
	cr_assert_eq(l612_host_state(0x40313003ull, 2, true), SPEC_ST_UNKNOWN);
}

Test(spec_l612, hyp_side_of_a_descriptor)
{
	cr_assert_eq(l612_hyp_state(0, 3), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_hyp_state(0x4, 3), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_hyp_state(PAGE(0), 3), SPEC_ST_OWNED);
	cr_assert_eq(l612_hyp_state(PAGE(1), 3), SPEC_ST_SHARED_OWNED);
	cr_assert_eq(l612_hyp_state(PAGE(2), 3), SPEC_ST_SHARED_BORROWED);
	cr_assert_eq(l612_hyp_state(PAGE(3), 3), SPEC_ST_BAD);
	cr_assert_eq(l612_hyp_state(BLOCK(0), 2), SPEC_ST_OWNED);
	cr_assert_eq(l612_hyp_state(0x40303003ull, 2), SPEC_ST_UNKNOWN);
}

/* A machine of 16 MiB of RAM at 0x40000000, 40-bit IPA, one page's two
 * sides set by the test, every other page the host's and unmapped. */
struct lm {
	uint64_t pfn;
	struct spec_page p;
	unsigned pin; /* enum l612_pin */
};

static struct spec_page lm_page(const void *ctx, uint64_t pfn)
{
	const struct lm *l = ctx;
	struct spec_page other = { SPEC_ST_OWNED, SPEC_ST_NOPAGE };

	return pfn == l->pfn ? l->p : other;
}

static unsigned lm_pin(const void *ctx, uint64_t pfn)
{
	const struct lm *l = ctx;

	return pfn == l->pfn ? l->pin : L612_PIN_NO;
}

static struct l612_machine lm_machine(struct lm *l, unsigned host, unsigned hyp)
{
	struct l612_machine m = {
		.ram_base = 0x40000000ull,
		.ram_size = 16ull << 20,
		.ia_bits = 40,
		.el2_debug = true,
		.ctx = l,
		.page = lm_page,
		.pin = lm_pin,
	};

	l->pfn = 0x40280;
	l->p.host = (uint8_t)host;
	l->p.hyp = (uint8_t)hyp;
	l->pin = L612_PIN_NO;
	return m;
}

Test(spec_l612, share_hyp)
{
	struct lm l;
	struct l612_machine m = lm_machine(&l, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
	struct l612_outcome o;
	uint64_t x[3] = { 0x40280, 0, 0 };

	/* 6.1.4: OWNED => SHARED_OWNED, NOPAGE => SHARED_BORROWED, 0 */
	l612_hcall(&m, 9, x, &o);
	cr_assert(o.specified && o.x1 == 0 && o.has_effect);
	cr_assert_eq(o.effect.pfn, 0x40280);
	cr_assert_eq(o.effect.after.host, SPEC_ST_SHARED_OWNED);
	cr_assert_eq(o.effect.after.hyp, SPEC_ST_SHARED_BORROWED);
	/* 6.1.2: the host does not own it (the hyp's, shared, borrowed) */
	l.p.host = SPEC_ST_NOPAGE;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	l.p.host = SPEC_ST_SHARED_OWNED;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	/* ... MMIO: the page after RAM is never the host's */
	l612_share_hyp(&m, 0x41000, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	/* 6.1.3 (debug): the hyp maps it already */
	l.p.host = SPEC_ST_OWNED;
	l.p.hyp = SPEC_ST_OWNED;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	m.el2_debug = false;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == 0 && o.has_effect);
	/* 6.1.1: beyond the 40-bit input range, also by wrapping */
	l612_share_hyp(&m, 1ull << 28, &o);
	cr_assert_eq(o.x1, -L612_ERANGE);
	/* pa is pfn << 12 mod 2^64: no range check of its own */
	l612_share_hyp(&m, (1ull << 52) | 0x40280, &o);
	cr_assert_eq(o.x1, 0);
	/* unknown state: no verdict */
	l.p.host = SPEC_ST_UNKNOWN;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.unknown);
}

Test(spec_l612, unshare_hyp)
{
	struct lm l;
	struct l612_machine m =
		lm_machine(&l, SPEC_ST_SHARED_OWNED, SPEC_ST_SHARED_BORROWED);
	struct l612_outcome o;
	uint64_t x[3] = { 0x40280, 0, 0 };

	/* 6.2.5: back to the host, unmapped from the hyp, 0 */
	l612_hcall(&m, 10, x, &o);
	cr_assert(o.specified && o.x1 == 0 && o.has_effect && !o.may_ebusy);
	cr_assert_eq(o.effect.after.host, SPEC_ST_OWNED);
	cr_assert_eq(o.effect.after.hyp, SPEC_ST_NOPAGE);
	/* 6.2.3: pinned */
	l.pin = L612_PIN_YES;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EBUSY && !o.has_effect);
	/* a pin maybe: 0 with the effect, or -EBUSY with none */
	l.pin = L612_PIN_MAYBE;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == 0 && o.has_effect && o.may_ebusy);
	/* 6.2.2: not shared by the host (before the pin check) */
	l.p.host = SPEC_ST_OWNED;
	l.pin = L612_PIN_YES;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	l.pin = L612_PIN_NO;
	/* 6.2.4 (debug): the hyp does not borrow it */
	l.p.host = SPEC_ST_SHARED_OWNED;
	l.p.hyp = SPEC_ST_NOPAGE;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	/* 6.2.1 */
	l612_unshare_hyp(&m, 1ull << 28, &o);
	cr_assert_eq(o.x1, -L612_ERANGE);
}

Test(spec_l612, the_table_specifies_share_unshare_and_the_vm_lifecycle)
{
	struct lm l;
	struct l612_machine m = lm_machine(&l, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
	struct l612_outcome o;
	uint64_t x[3] = { 0 };

	for (unsigned id = 0; id < 30; id++) {
		bool want = id == 9 || id == 10 || (id >= 23 && id <= 25);

		l612_hcall(&m, id, x, &o);
		cr_assert_eq(o.specified, want, "id %u", id);
		cr_assert_eq(l612_hcall_specified(id), want);
	}
}

/*
 * The VM calls' machine (LINUX-6.12.md 6.3-6.5): kernel pointers are hyp
 * VAs (kern_hyp_va the identity), hyp VA = PA + VM_OFF; struct kvm and
 * struct kvm_vcpu 0x800 bytes, pkvm_hyp_vm 0x10e0 (2 pages for one vCPU,
 * 3 for 513), pkvm_hyp_vcpu 0x1970 (2 pages), a pgd of 2 pages, 255
 * slots from handle 0x1000. Every page is the host's and unmapped but
 * the structures the host shares (VM_KVM's and VM_VCPU's pages) and the
 * ones a test sets.
 */
#define VM_OFF 0x7f0000000000ull
#define VM_KVM 0x40280100ull
#define VM_VCPU 0x40281100ull
#define VM_MEM 0x40290000ull /* the VM's pages */
#define VM_PGD 0x402a0000ull
#define VM_VCPUP 0x402b0000ull

struct vmm {
	uint64_t odd_pfn; /* a page in state `odd` */
	struct spec_page odd;
	struct l612_vm_env env;
	uint64_t reads[2];
};

static struct spec_page vmm_page(const void *ctx, uint64_t pfn)
{
	const struct vmm *v = ctx;
	struct spec_page owned = { SPEC_ST_OWNED, SPEC_ST_NOPAGE };
	struct spec_page shared = { SPEC_ST_SHARED_OWNED,
				    SPEC_ST_SHARED_BORROWED };

	if (pfn == v->odd_pfn)
		return v->odd;
	if (pfn == VM_KVM >> 12 || pfn == VM_VCPU >> 12)
		return shared;
	return owned;
}

static struct l612_machine vmm_machine(struct vmm *v)
{
	struct l612_machine m = {
		.ram_base = 0x40000000ull,
		.ram_size = 16ull << 20,
		.ia_bits = 40,
		.el2_debug = true,
		.ctx = v,
		.page = vmm_page,
		.pin = lm_pin,
		.vm = &v->env,
	};

	memset(v, 0, sizeof(*v));
	v->odd_pfn = ~0ull;
	v->env.known = true;
	v->env.kva_mask = ~0ull;
	v->env.hyp_off = VM_OFF;
	v->env.kvm_size = v->env.vcpu_size = 0x800;
	v->env.hyp_vm_size = 0x10e0;
	v->env.hyp_vcpu_size = 0x1970;
	v->env.pgd_size = 0x2000;
	v->env.table_size = 255;
	v->env.first_handle = 0x1000;
	v->env.free_slot = 0;
	v->reads[0] = 1;
	v->env.reads = v->reads;
	v->env.read_count = 1;
	return m;
}

static void vmm_odd(struct vmm *v, uint64_t pa, unsigned host, unsigned hyp)
{
	v->odd_pfn = pa >> 12;
	v->odd.host = (uint8_t)host;
	v->odd.hyp = (uint8_t)hyp;
}

Test(spec_l612, init_vm)
{
	struct vmm v;
	struct l612_machine m = vmm_machine(&v);
	struct l612_outcome o;
	uint64_t x[3] = { VM_KVM + VM_OFF, VM_MEM + VM_OFF, VM_PGD + VM_OFF };

	/* 6.3.6: the lowest free slot's handle; the VM's 2 pages and the
	 * pgd's 2 donated: host NOPAGE, hyp OWNED */
	l612_hcall(&m, 23, x, &o);
	cr_assert(o.specified && !o.unknown && !o.panic);
	cr_assert_eq(o.x1, 0x1000);
	cr_assert_eq(o.slot, 0);
	cr_assert_eq(o.range_count, 2);
	cr_assert(o.range[0].pfn == VM_MEM >> 12 && o.range[0].pages == 2);
	cr_assert(o.range[1].pfn == VM_PGD >> 12 && o.range[1].pages == 2);
	cr_assert(o.range[0].after.host == SPEC_ST_NOPAGE &&
		  o.range[0].after.hyp == SPEC_ST_OWNED);
	v.env.free_slot = 7;
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, 0x1007);
	/* 513 vCPUs: 0x10e0 + 8 * 513 bytes, 3 pages */
	v.reads[0] = 513;
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.range[0].pages, 3);
	v.reads[0] = 1;
	/* 6.3.5: no free slot */
	v.env.free_slot = -1;
	l612_init_vm(&m, x, &o);
	cr_assert(o.x1 == -L612_ENOMEM && !o.range_count);
	v.env.free_slot = 0;
	/* 6.3.2: no vCPU; the read is needed */
	v.reads[0] = 0;
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_EINVAL);
	v.env.read_count = 0;
	l612_init_vm(&m, x, &o);
	cr_assert(o.unknown);
	v.env.read_count = 1;
	v.reads[0] = 1;
	/* 6.3.1: struct kvm not shared */
	x[0] = 0x40300100ull + VM_OFF;
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_EPERM);
	/* ... beyond the host stage-2's input range: -ERANGE */
	x[0] = (1ull << 40) + VM_OFF;
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ERANGE);
	x[0] = VM_KVM + VM_OFF;
	/* 6.3.3: the VM's memory unaligned, the hyp's, shared: -ENOMEM */
	x[1] += 8;
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
	x[1] -= 8;
	vmm_odd(&v, VM_MEM + 0x1000, SPEC_ST_NOPAGE, SPEC_ST_OWNED);
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
	vmm_odd(&v, VM_MEM, SPEC_ST_SHARED_OWNED, SPEC_ST_SHARED_BORROWED);
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
	/* ... (debug) the hyp maps it already */
	vmm_odd(&v, VM_MEM, SPEC_ST_OWNED, SPEC_ST_OWNED);
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
	/* 6.3.4: the pgd the hyp's, or overlapping the VM's pages */
	vmm_odd(&v, VM_PGD + 0x1000, SPEC_ST_NOPAGE, SPEC_ST_OWNED);
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
	v.odd_pfn = ~0ull;
	x[2] = VM_MEM + 0x1000 + VM_OFF;
	l612_init_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
	/* a page state unknown: no verdict */
	x[2] = VM_PGD + VM_OFF;
	vmm_odd(&v, VM_PGD, SPEC_ST_UNKNOWN, SPEC_ST_UNKNOWN);
	l612_init_vm(&m, x, &o);
	cr_assert(o.unknown);
	/* no BOOT_LINUX: no sizes, no verdict */
	v.odd_pfn = ~0ull;
	v.env.known = false;
	l612_init_vm(&m, x, &o);
	cr_assert(o.unknown);
}

Test(spec_l612, init_vcpu)
{
	struct vmm v;
	struct l612_machine m = vmm_machine(&v);
	struct l612_outcome o;
	uint64_t x[3] = { 0x1000, VM_VCPU + VM_OFF, VM_VCPUP + VM_OFF };

	v.env.named.used = true;
	v.env.named.created_vcpus = 2;
	v.env.named.nr_vcpus = 1;
	v.reads[0] = 1; /* vcpu_idx */
	/* 6.4.6: the vCPU's 2 pages donated */
	l612_hcall(&m, 24, x, &o);
	cr_assert(o.specified && !o.unknown);
	cr_assert_eq(o.x1, 0);
	cr_assert_eq(o.range_count, 1);
	cr_assert(o.range[0].pfn == VM_VCPUP >> 12 && o.range[0].pages == 2);
	/* 6.4.5: the host vCPU's index is not the count */
	v.reads[0] = 0;
	l612_init_vcpu(&m, x, &o);
	cr_assert(o.x1 == -L612_EINVAL && !o.range_count);
	v.reads[0] = 1;
	/* 6.4.3: created_vcpus reached */
	v.env.named.nr_vcpus = 2;
	l612_init_vcpu(&m, x, &o);
	cr_assert_eq(o.x1, -L612_EINVAL);
	v.env.named.nr_vcpus = 1;
	/* 6.4.4: the host vCPU not shared: -EBUSY, not -EPERM */
	x[1] = 0x40300100ull + VM_OFF;
	l612_init_vcpu(&m, x, &o);
	cr_assert_eq(o.x1, -L612_EBUSY);
	x[1] = VM_VCPU + VM_OFF;
	/* 6.4.2: no VM with the handle; handles beyond the table, and the
	 * unsigned int of pkvm_handle_t */
	v.env.named.used = false;
	l612_init_vcpu(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOENT);
	cr_assert_eq(l612_vm_slot(&v.env, 0x1000), 0);
	cr_assert_eq(l612_vm_slot(&v.env, 0x10fe), 254);
	cr_assert_eq(l612_vm_slot(&v.env, 0x10ff), -1);
	cr_assert_eq(l612_vm_slot(&v.env, 0xfff), -1);
	cr_assert_eq(l612_vm_slot(&v.env, 0x100001003ull), 3);
	/* 6.4.1: the donation first: -ENOMEM even without a VM, and for a
	 * range the walk refuses (-ERANGE inside) */
	x[2] = (1ull << 40) + VM_OFF;
	l612_init_vcpu(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
	x[2] = VM_VCPUP + VM_OFF;
	vmm_odd(&v, VM_VCPUP + 0x1000, SPEC_ST_NOPAGE, SPEC_ST_OWNED);
	l612_init_vcpu(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOMEM);
}

Test(spec_l612, teardown_vm)
{
	struct vmm v;
	struct l612_machine m = vmm_machine(&v);
	struct l612_outcome o;
	uint64_t x[3] = { 0x1003, 0, 0 };

	v.env.named.used = true;
	v.env.named.created_vcpus = 2;
	v.env.named.nr_vcpus = 1;
	v.env.named.vm_pfn = VM_MEM >> 12;
	v.env.named.vm_pages = 2;
	v.env.named.pgd_pfn = VM_PGD >> 12;
	v.env.named.pgd_pages = 2;
	v.env.named.vcpu_pfn[0] = VM_VCPUP >> 12;
	/* 6.5.3: every page its init calls donated goes back */
	l612_hcall(&m, 25, x, &o);
	cr_assert(o.specified && !o.unknown && !o.panic);
	cr_assert_eq(o.x1, 0);
	cr_assert_eq(o.slot, 3);
	cr_assert_eq(o.range_count, 3);
	cr_assert(o.range[2].pfn == VM_VCPUP >> 12 && o.range[2].pages == 2);
	for (unsigned i = 0; i < 3; i++)
		cr_assert(o.range[i].after.host == SPEC_ST_OWNED &&
			  o.range[i].after.hyp == SPEC_ST_NOPAGE);
	/* 6.5.2: a vCPU loaded: a panic is the only outcome */
	v.env.named.loaded = 1;
	l612_teardown_vm(&m, x, &o);
	cr_assert(o.panic && !o.range_count);
	/* 6.5.1: no VM */
	v.env.named.used = false;
	l612_teardown_vm(&m, x, &o);
	cr_assert(o.x1 == -L612_ENOENT && !o.panic);
	x[0] = 0x2000;
	l612_teardown_vm(&m, x, &o);
	cr_assert_eq(o.x1, -L612_ENOENT);
}
