// SPDX-License-Identifier: MIT
/*
 * format/LINUX-6.12.md as pure functions (spec_l612.h): the page state of
 * a descriptor (section 3) and the host hypercalls specified so far
 * (sections 6.1-6.5: share, unshare and the VM lifecycle), in a table laid out
 * like the profile's hypercall table (pkvm/abi_linux612.h).
 */
#include "spec_l612.h"

#include <stddef.h>
#include <string.h>

#include <pkvm/abi_linux612.h>

bool l612_is_table(uint64_t d, int level)
{
	return level < 3 && (d & 3) == 3;
}

bool l612_is_leaf(uint64_t d, int level)
{
	return level == 3 ? (d & 3) == 3 : (d & 3) == 1;
}

/* The software bits of a valid leaf (3.2, 11 reserved): the same bits
 * (56:55) and the same states as our hyp's (spec.h). */
static unsigned l612_sw_state(uint64_t d)
{
	return spec_sw_state(
		(unsigned)((d & L612_PTE_SW_MASK) >> L612_PTE_SW_SHIFT));
}

unsigned l612_host_state(uint64_t d, int level, bool memory)
{
	if (!memory)
		return SPEC_ST_NOPAGE; /* MMIO or NOMAP: never the host's */
	if (l612_is_table(d, level))
		return SPEC_ST_UNKNOWN; /* not a leaf: the walk goes on */
	if (!l612_is_leaf(d, level))
		/* 0: the host's, mapped lazily; an annotation (or LOCKED,
		 * a break in progress): not the host's */
		return d == 0 ? SPEC_ST_OWNED : SPEC_ST_NOPAGE;
	return l612_sw_state(d);
}

unsigned l612_hyp_state(uint64_t d, int level)
{
	if (l612_is_table(d, level))
		return SPEC_ST_UNKNOWN;
	if (!l612_is_leaf(d, level))
		return SPEC_ST_NOPAGE;
	return l612_sw_state(d);
}

/* ---- the host hypercalls (LINUX-6.12.md 6) ---------------------------- */

static bool l612_in_ram(const struct l612_machine *m, uint64_t pfn)
{
	uint64_t first = m->ram_base >> 12;

	return pfn >= first && pfn - first < m->ram_size >> 12;
}

/* Both sides of `pfn`; the host side of a page that is no memory is
 * NOPAGE whatever its entry (3.3). */
static struct spec_page l612_page(const struct l612_machine *m, uint64_t pfn)
{
	struct spec_page p = m->page(m->ctx, pfn);

	if (!l612_in_ram(m, pfn))
		p.host = SPEC_ST_NOPAGE;
	return p;
}

/* Step 1 of 6.1 and 6.2: pa = pfn << 12 (mod 2^64) beyond the host
 * stage-2's input range. */
static bool l612_out_of_range(const struct l612_machine *m, uint64_t pfn)
{
	uint64_t pa = pfn << 12;

	return m->ia_bits < 64 && (pa >> m->ia_bits) != 0;
}

static void l612_result(struct l612_outcome *out, int64_t x1)
{
	out->x1 = x1;
}

static void l612_effect(struct l612_outcome *out, uint64_t pfn, unsigned host,
			unsigned hyp)
{
	out->x1 = 0;
	out->has_effect = true;
	out->effect.pfn = pfn;
	out->effect.after.host = (uint8_t)host;
	out->effect.after.hyp = (uint8_t)hyp;
}

/*
 * What share and unshare do first: the range check, then both sides of
 * the page. False if that already decided `out`.
 */
static bool l612_begin(const struct l612_machine *m, uint64_t *pfn,
		       struct spec_page *p, struct l612_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->specified = true;
	if (l612_out_of_range(m, *pfn)) {
		l612_result(out, -L612_ERANGE);
		return false;
	}
	*pfn = (*pfn << 12) >> 12; /* the page of pa */
	*p = l612_page(m, *pfn);
	return true;
}

void l612_share_hyp(const struct l612_machine *m, uint64_t pfn,
		    struct l612_outcome *out)
{
	struct spec_page p;

	if (!l612_begin(m, &pfn, &p, out))
		return;
	if (p.host == SPEC_ST_UNKNOWN ||
	    (m->el2_debug && p.hyp == SPEC_ST_UNKNOWN)) {
		out->unknown = true;
		return;
	}
	if (p.host != SPEC_ST_OWNED ||
	    (m->el2_debug && p.hyp != SPEC_ST_NOPAGE)) {
		l612_result(out, -L612_EPERM);
		return;
	}
	l612_effect(out, pfn, SPEC_ST_SHARED_OWNED, SPEC_ST_SHARED_BORROWED);
}

void l612_unshare_hyp(const struct l612_machine *m, uint64_t pfn,
		      struct l612_outcome *out)
{
	struct spec_page p;

	if (!l612_begin(m, &pfn, &p, out))
		return;
	if (p.host == SPEC_ST_UNKNOWN) {
		out->unknown = true;
		return;
	}
	if (p.host != SPEC_ST_SHARED_OWNED) {
		l612_result(out, -L612_EPERM);
		return;
	}
	switch (m->pin(m->ctx, pfn)) {
	case L612_PIN_YES:
		l612_result(out, -L612_EBUSY);
		return;
	case L612_PIN_MAYBE:
		/* the pin check (step 3) may refuse it; the checks after it
		 * decide otherwise */
		out->may_ebusy = true;
		break;
	default:
		break;
	}
	if (m->el2_debug && p.hyp == SPEC_ST_UNKNOWN) {
		out->unknown = true;
		return;
	}
	if (m->el2_debug && p.hyp != SPEC_ST_SHARED_BORROWED) {
		l612_result(out, -L612_EPERM);
		return;
	}
	l612_effect(out, pfn, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
}

/* ---- the VM lifecycle (LINUX-6.12.md 6.0, 6.3-6.5) ------------------- */

enum l612_check { L612_OK, L612_FAIL, L612_UNSURE, L612_RANGE };

uint64_t l612_kptr_pfn(const struct l612_vm_env *e, uint64_t kptr)
{
	uint64_t va = (kptr & e->kva_mask) | e->kva_tag; /* kern_hyp_va */

	return (va - e->hyp_off) >> 12; /* hyp_virt_to_pfn */
}

/* The hyp VA of a kernel pointer is page aligned (map_donated_memory). */
static bool l612_kptr_aligned(const struct l612_vm_env *e, uint64_t kptr)
{
	return (((kptr & e->kva_mask) | e->kva_tag) & 0xfff) == 0;
}

static uint64_t l612_pages(uint64_t bytes)
{
	return (bytes + 0xfff) >> 12;
}

int l612_vm_slot(const struct l612_vm_env *e, uint64_t handle)
{
	/* pkvm_handle_t is an unsigned int: idx = handle - HANDLE_OFFSET */
	uint32_t idx = (uint32_t)handle - (uint32_t)e->first_handle;

	return idx < e->table_size ? (int)idx : -1;
}

/* 6.3 step 3: the VM's pages for nr_vcpus vCPUs (pkvm_get_hyp_vm_size). */
static uint64_t l612_vm_pages(const struct l612_vm_env *e, uint32_t nr)
{
	return l612_pages(e->hyp_vm_size + 8ull * nr);
}

static bool l612_in(const struct l612_range *r, unsigned n, uint64_t pfn)
{
	for (unsigned i = 0; i < n; i++)
		if (pfn - r[i].pfn < r[i].pages)
			return true;
	return false;
}

/*
 * Every page of [pfn, pfn + n) in the state a donation (6.0, host-to-hyp)
 * or a pin (7.1: `shared`) requires, the pages of `done` (donated earlier
 * in the call) no longer the host's. A page known to fail decides, even
 * when others are unknown.
 */
static enum l612_check l612_pages_ok(const struct l612_machine *m, uint64_t pfn,
				     uint64_t n, bool shared,
				     const struct l612_range *done,
				     unsigned ndone)
{
	enum l612_check st = L612_OK;

	/* The walk refuses a range beyond the host stage-2's input range
	 * before it looks at any page (-ERANGE). */
	if (n &&
	    (l612_out_of_range(m, pfn) || l612_out_of_range(m, pfn + n - 1)))
		return L612_RANGE;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t p = pfn + i;
		struct spec_page s;

		if (l612_in(done, ndone, p))
			return L612_FAIL;
		s = l612_page(m, p);
		if (s.host == SPEC_ST_UNKNOWN || s.hyp == SPEC_ST_UNKNOWN) {
			st = L612_UNSURE;
			continue;
		}
		if (shared ? s.host != SPEC_ST_SHARED_OWNED ||
				     s.hyp != SPEC_ST_SHARED_BORROWED
			   : s.host != SPEC_ST_OWNED ||
				     (m->el2_debug && s.hyp != SPEC_ST_NOPAGE))
			return L612_FAIL;
	}
	return st;
}

/* The pages of host structure [kptr, kptr + size) (a pin's range). */
static struct l612_range l612_kptr_range(const struct l612_vm_env *e,
					 uint64_t kptr, uint64_t size)
{
	struct l612_range r = { .pfn = l612_kptr_pfn(e, kptr) };
	uint64_t last = l612_kptr_pfn(e, kptr + (size ? size - 1 : 0));

	r.pages = last - r.pfn + 1;
	return r;
}

static struct l612_range l612_donated(uint64_t pfn, uint64_t pages)
{
	struct l612_range r = { pfn, pages, { SPEC_ST_NOPAGE, SPEC_ST_OWNED } };

	return r;
}

static void l612_vm_begin(struct l612_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->specified = true;
	out->slot = -1;
}

/* Sets `out` for a check's verdict: true if the call is decided. */
static bool l612_refused(enum l612_check c, int64_t err,
			 struct l612_outcome *out)
{
	if (c == L612_OK)
		return false;
	if (c == L612_UNSURE)
		out->unknown = true;
	else /* a pin answers -ERANGE; a donation's failure is -ENOMEM */
		out->x1 = c == L612_RANGE && err == -L612_EPERM ? -L612_ERANGE
								: err;
	return true;
}

void l612_init_vm(const struct l612_machine *m, const uint64_t x[3],
		  struct l612_outcome *out)
{
	const struct l612_vm_env *e = m->vm;
	struct l612_range kvm, r[2];
	uint32_t nr;

	l612_vm_begin(out);
	if (!e || !e->known) {
		out->unknown = true;
		return;
	}
	/* 1. pin struct kvm: its pages shared with the hyp */
	kvm = l612_kptr_range(e, x[0], e->kvm_size);
	if (l612_refused(l612_pages_ok(m, kvm.pfn, kvm.pages, true, NULL, 0),
			 -L612_EPERM, out))
		return;
	/* 2. created_vcpus, read once */
	if (e->read_count < 1) {
		out->unknown = true;
		return;
	}
	nr = (uint32_t)e->reads[0];
	if (nr < 1) {
		out->x1 = -L612_EINVAL;
		return;
	}
	/* 3. the VM's pages donated; 4. the pgd's (every failure -ENOMEM) */
	r[0] = l612_donated(l612_kptr_pfn(e, x[1]), l612_vm_pages(e, nr));
	r[1] = l612_donated(l612_kptr_pfn(e, x[2]), l612_pages(e->pgd_size));
	for (unsigned i = 0; i < 2; i++) {
		if (!l612_kptr_aligned(e, x[1 + i])) {
			out->x1 = -L612_ENOMEM;
			return;
		}
		if (l612_refused(
			    l612_pages_ok(m, r[i].pfn, r[i].pages, false, r, i),
			    -L612_ENOMEM, out))
			return;
	}
	/* 5. a free slot under vm_table_lock, the lowest */
	if (e->free_slot < 0) {
		out->x1 = -L612_ENOMEM;
		return;
	}
	/* 6. host OWNED => NOPAGE, hyp NOPAGE => OWNED; the handle */
	out->slot = e->free_slot;
	out->x1 = (int64_t)(e->first_handle + (uint64_t)e->free_slot);
	out->range_count = 2;
	memcpy(out->range, r, sizeof(r));
}

void l612_init_vcpu(const struct l612_machine *m, const uint64_t x[3],
		    struct l612_outcome *out)
{
	const struct l612_vm_env *e = m->vm;
	struct l612_range r, vcpu;

	l612_vm_begin(out);
	if (!e || !e->known) {
		out->unknown = true;
		return;
	}
	/* 1. the hyp vCPU's pages donated */
	r = l612_donated(l612_kptr_pfn(e, x[2]), l612_pages(e->hyp_vcpu_size));
	if (!l612_kptr_aligned(e, x[2])) {
		out->x1 = -L612_ENOMEM;
		return;
	}
	if (l612_refused(l612_pages_ok(m, r.pfn, r.pages, false, NULL, 0),
			 -L612_ENOMEM, out))
		return;
	/* 2. under vm_table_lock: the VM; 3. room for one more vCPU */
	if (l612_vm_slot(e, x[0]) < 0 || !e->named.used) {
		out->x1 = -L612_ENOENT;
		return;
	}
	if (e->named.nr_vcpus >= e->named.created_vcpus) {
		out->x1 = -L612_EINVAL;
		return;
	}
	/* 4. pin the host vCPU: shared, or -EBUSY */
	vcpu = l612_kptr_range(e, x[1], e->vcpu_size);
	if (l612_refused(l612_pages_ok(m, vcpu.pfn, vcpu.pages, true, &r, 1),
			 -L612_EBUSY, out))
		return;
	/* 5. its vcpu_idx, read once, is the VM's vCPU count */
	if (e->read_count < 1) {
		out->unknown = true;
		return;
	}
	if ((uint32_t)e->reads[0] != e->named.nr_vcpus) {
		out->x1 = -L612_EINVAL;
		return;
	}
	/* 6. the donation stays; the VM has one vCPU more */
	out->slot = l612_vm_slot(e, x[0]);
	out->x1 = 0;
	out->range_count = 1;
	out->range[0] = r;
}

void l612_teardown_vm(const struct l612_machine *m, const uint64_t x[3],
		      struct l612_outcome *out)
{
	const struct l612_vm_env *e = m->vm;
	const struct l612_vm *vm = e ? &e->named : NULL;
	struct l612_range r[L612_MAX_RANGES];
	unsigned n;

	l612_vm_begin(out);
	if (!e || !e->known) {
		out->unknown = true;
		return;
	}
	/* 1. no VM with that handle */
	if (l612_vm_slot(e, x[0]) < 0 || !vm->used) {
		out->x1 = -L612_ENOENT;
		return;
	}
	/* 2. a vCPU of it loaded: -EBUSY inside WARN_ON, a hyp panic */
	if (vm->loaded) {
		out->panic = true;
		return;
	}
	if (vm->vcpus_lost) {
		out->unknown = true;
		return;
	}
	/* 3. every page its init calls donated: hyp OWNED => NOPAGE, host
	 * NOPAGE => OWNED (not mapped); the slot freed */
	n = l612_vm_call_ranges(e, PKVM_L612_HC_PKVM_TEARDOWN_VM, x, r);
	for (unsigned i = 0; i < n; i++) {
		r[i].after.host = SPEC_ST_OWNED;
		r[i].after.hyp = SPEC_ST_NOPAGE;
	}
	out->slot = l612_vm_slot(e, x[0]);
	out->x1 = 0;
	out->range_count = n;
	memcpy(out->range, r, n * sizeof(r[0]));
}

unsigned l612_vm_call_ranges(const struct l612_vm_env *e, unsigned id,
			     const uint64_t x[3], struct l612_range *r)
{
	const struct l612_vm *vm = &e->named;
	unsigned n = 0;

	if (!e->known)
		return 0;
	switch (id) {
	case PKVM_L612_HC_PKVM_INIT_VM:
		r[n++] = l612_kptr_range(e, x[0], e->kvm_size);
		r[n++] = l612_donated(l612_kptr_pfn(e, x[2]),
				      l612_pages(e->pgd_size));
		if (e->read_count)
			r[n++] = l612_donated(
				l612_kptr_pfn(e, x[1]),
				l612_vm_pages(e, (uint32_t)e->reads[0]));
		break;
	case PKVM_L612_HC_PKVM_INIT_VCPU:
		r[n++] = l612_donated(l612_kptr_pfn(e, x[2]),
				      l612_pages(e->hyp_vcpu_size));
		r[n++] = l612_kptr_range(e, x[1], e->vcpu_size);
		break;
	case PKVM_L612_HC_PKVM_TEARDOWN_VM:
		if (!vm->used)
			break;
		r[n++] = l612_donated(vm->vm_pfn, vm->vm_pages);
		r[n++] = l612_donated(vm->pgd_pfn, vm->pgd_pages);
		for (unsigned i = 0; i < vm->nr_vcpus && i < L612_VM_MAX_VCPUS;
		     i++)
			r[n++] = l612_donated(vm->vcpu_pfn[i],
					      l612_pages(e->hyp_vcpu_size));
		break;
	default:
		break;
	}
	return n;
}

/* ---- the hypercall table -------------------------------------------- */

typedef void (*l612_hcall_fn)(const struct l612_machine *m, const uint64_t x[3],
			      struct l612_outcome *out);

static void l612_hc_share_hyp(const struct l612_machine *m, const uint64_t x[3],
			      struct l612_outcome *out)
{
	l612_share_hyp(m, x[0], out);
}

static void l612_hc_unshare_hyp(const struct l612_machine *m,
				const uint64_t x[3], struct l612_outcome *out)
{
	l612_unshare_hyp(m, x[0], out);
}

/* Indexed by id (LINUX-6.12.md 6); NULL: not specified in this checker. */
static const l612_hcall_fn l612_hcalls[PKVM_L612_HC_COUNT] = {
	[PKVM_L612_HC_PKVM_HOST_SHARE_HYP] = l612_hc_share_hyp,
	[PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP] = l612_hc_unshare_hyp,
	[PKVM_L612_HC_PKVM_INIT_VM] = l612_init_vm,
	[PKVM_L612_HC_PKVM_INIT_VCPU] = l612_init_vcpu,
	[PKVM_L612_HC_PKVM_TEARDOWN_VM] = l612_teardown_vm,
};

bool l612_hcall_specified(unsigned id)
{
	return id < PKVM_L612_HC_COUNT && l612_hcalls[id];
}

void l612_hcall(const struct l612_machine *m, unsigned id, const uint64_t x[3],
		struct l612_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (l612_hcall_specified(id))
		l612_hcalls[id](m, x, out);
}
