// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 VM lifecycle against its specification
 * (checker/spec/spec_l612.h, format/LINUX-6.12.md 6.0, 6.3-6.5, 7.2):
 * __pkvm_init_vm (id 23), __pkvm_init_vcpu (24), __pkvm_teardown_vm (25).
 *
 * Pages. Each call reads and changes the pages of a few ranges (the host
 * structure it pins, the memory it donates or gives back), which the spec
 * names (l612_vm_call_ranges). A page's pre-state is read when the call
 * first takes host_mmu.lock once the page is known (the VM's pages of
 * __pkvm_init_vm once created_vcpus was read), the hyp side again when it
 * takes pkvm_pgd_lock in that section; its post-state each time the call
 * lets the last of the two go. A call takes them several times (the pin,
 * each donation, each giving back): a page another CPU changed between
 * two of its sections makes the call inconclusive, never a finding. At
 * the exit the spec runs on the pre-states and the exit's x1 must be its
 * result; on success every page of its ranges must be in the states the
 * spec gives (a donated page mapped by the hyp at its linear VA), on an
 * error every page must be as the call found it; and a store of the call
 * that changes the state of a page outside its ranges is hcall-effect at
 * once.
 *
 * The VM table (7.2) is ghost state owned by vm_table_lock: the call's
 * view of it (the lowest free slot, the slot its handle names) is read
 * when it takes vm_table_lock, and the change the spec predicts is made
 * when it lets vm_table_lock go, so that another CPU's call finds it
 * there; an exit that contradicts the prediction is a finding and the
 * table follows what the hyp answered. Loaded vCPUs are counted from the
 * marks vcpu_load and vcpu_put (written under vm_table_lock).
 *
 * Host reads: a call that reads the same host address twice (two NONDET
 * host_read of one PA) is host-read-twice: 6.3 and 6.4 read each value
 * once. The spec takes the first read of each call.
 *
 * The VMID (6.5 step 3): a __pkvm_teardown_vm that answers 0 issued a
 * `tlbi vmalls12e1is` while its CPU's last VTTBR_EL2 named the VM's VMID
 * (bits 63:48: slot + 1, 6.3 step 6), before the slot, and so the VMID,
 * went to the next VM; else hcall-effect (the next VM may hit the old
 * one's TLB entries).
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/record.h>

#include "l612_hcalls.h"
#include "rule_spec_l612.h"
#include "rules.h"
#include "spec_l612.h"

#define VM_MAX_PAGES 128u  /* pages of one call followed */
#define VM_RANGE_PAGES 32u /* ... of each range at most */
#define VM_MAX_READS 8u
#define VM_MAX_SLOTS 256u

/** A page of the call's ranges. */
struct vm_page {
	uint64_t pfn;
	struct spec_page pre, last; /* found; as last left by the call */
	uint64_t hyp_out;	    /* the hyp's leaf output when last left */
	bool fresh;		    /* read in the section in progress */
};

/** One CPU's VM call in progress. */
struct vm_call {
	struct l612_call_head h; /* active, id, x1-x3 */
	bool table_seen;	 /* it took vm_table_lock */
	int free_slot;
	struct l612_vm named;
	unsigned read_count;
	uint64_t read_pa[VM_MAX_READS], read_val[VM_MAX_READS];
	unsigned npages;
	struct vm_page page[VM_MAX_PAGES];
	bool interfered; /* another CPU changed a page between sections */
	/* Pages of its ranges past VM_RANGE_PAGES of a range or VM_MAX_PAGES
	 * of the call: not followed, so not judged (said at the exit). */
	bool capped;
	bool applied;	   /* the VM-table change made at vm_table release */
	bool vmid_flushed; /* teardown: vmalls12e1is under the VM's VMID */
	struct l612_outcome at_table; /* the spec then */
	bool other_changed;
};

struct vm_rule {
	struct l612_where where;
	bool el2_debug;
	unsigned ia_bits;
	struct l612_vm_env env;	      /* BOOT_LINUX; per call: the rest */
	struct l612_vm *table;	      /* VM_MAX_SLOTS */
	struct vm_call *call;	      /* CK_MAX_CPUS */
	int loaded_slot[CK_MAX_CPUS]; /* the VM a CPU's vCPU is of, or -1 */
	uint64_t vttbr[CK_MAX_CPUS];  /* the last VTTBR_EL2 written on it */
};

/* `cpu`'s call, or NULL for a CPU out of range. */
static struct vm_call *vm_call_of(struct vm_rule *r, unsigned cpu)
{
	return cpu < CK_MAX_CPUS ? &r->call[cpu] : NULL;
}

static unsigned vm_section(unsigned id)
{
	return id - PKVM_L612_HC_PKVM_INIT_VM + 3; /* 6.3, 6.4, 6.5 */
}

/* ---- the call's view of the machine ---------------------------------- */

static struct spec_page vm_read(const struct vm_rule *r,
				const struct ck_env *env, uint64_t pfn,
				uint64_t *hyp_out)
{
	struct spec_page p;
	uint64_t scratch;

	p.host = (uint8_t)l612_page_side(env, &r->where, PKVM_COMP_HOST_S2,
					 pfn << 12, &scratch);
	p.hyp = (uint8_t)l612_page_side(env, &r->where, PKVM_COMP_HYP_S1,
					pfn << 12, hyp_out);
	return p;
}

/* The spec's inputs for call `c`: env with its reads and table view. */
static struct l612_vm_env vm_env(const struct vm_rule *r,
				 const struct vm_call *c)
{
	struct l612_vm_env e = r->env;

	e.free_slot = c->free_slot;
	e.named = c->named;
	e.read_count = c->read_count;
	e.reads = c->read_val;
	return e;
}

static struct vm_page *vm_find(struct vm_call *c, uint64_t pfn)
{
	for (unsigned i = 0; i < c->npages; i++)
		if (c->page[i].pfn == pfn)
			return &c->page[i];
	return NULL;
}

/* The spec reads each page as the call found it; unknown if not followed. */
static struct spec_page vm_pre_cb(const void *ctx, uint64_t pfn)
{
	struct vm_page *p = vm_find((struct vm_call *)ctx, pfn);
	struct spec_page unknown = { SPEC_ST_UNKNOWN, SPEC_ST_UNKNOWN };

	return p ? p->pre : unknown;
}

static unsigned vm_pin_cb(const void *ctx, uint64_t pfn)
{
	(void)ctx;
	(void)pfn;
	return L612_PIN_MAYBE; /* pins are rule_spec_l612.c's */
}

static void vm_spec(const struct vm_rule *r, struct vm_call *c,
		    struct l612_outcome *o)
{
	struct l612_vm_env e = vm_env(r, c);
	struct l612_machine m = {
		.ram_base = r->where.ram_base,
		.ram_size = r->where.ram_size,
		.ia_bits = r->ia_bits ? r->ia_bits : 64,
		.el2_debug = r->el2_debug,
		.ctx = c,
		.page = vm_pre_cb,
		.pin = vm_pin_cb,
		.vm = &e,
	};

	l612_hcall(&m, c->h.id, c->h.x, o);
}

/* The ranges of the call as known now. */
static unsigned vm_ranges(const struct vm_rule *r, const struct vm_call *c,
			  struct l612_range *rg)
{
	struct l612_vm_env e = vm_env(r, c);

	if (c->h.id == PKVM_L612_HC_PKVM_TEARDOWN_VM && !c->table_seen)
		return 0;
	return l612_vm_call_ranges(&e, c->h.id, c->h.x, rg);
}

static bool vm_in_ranges(const struct vm_rule *r, const struct vm_call *c,
			 uint64_t pfn)
{
	struct l612_range rg[L612_MAX_RANGES];
	unsigned n = vm_ranges(r, c, rg);

	for (unsigned i = 0; i < n; i++)
		if (pfn - rg[i].pfn < rg[i].pages)
			return true;
	return false;
}

/* host_mmu.lock taken: follow the pages now known, check the others. */
static void vm_section_begin(struct vm_rule *r, const struct ck_env *env,
			     struct vm_call *c)
{
	struct l612_range rg[L612_MAX_RANGES];
	unsigned n = vm_ranges(r, c, rg);
	uint64_t out;

	for (unsigned i = 0; i < c->npages; i++) {
		struct vm_page *p = &c->page[i];
		struct spec_page now = vm_read(r, env, p->pfn, &out);

		p->fresh = false;
		if (now.host != p->last.host || now.hyp != p->last.hyp)
			c->interfered = true;
	}
	for (unsigned i = 0; i < n; i++) {
		if (rg[i].pages > VM_RANGE_PAGES)
			c->capped = true;
		for (uint64_t k = 0; k < rg[i].pages && k < VM_RANGE_PAGES;
		     k++) {
			struct vm_page *p;

			if (vm_find(c, rg[i].pfn + k))
				continue;
			if (c->npages == VM_MAX_PAGES) {
				c->capped = true;
				continue;
			}
			p = &c->page[c->npages++];
			p->pfn = rg[i].pfn + k;
			p->pre = vm_read(r, env, p->pfn, &p->hyp_out);
			p->last = p->pre;
			p->fresh = true;
		}
	}
}

/* pkvm_pgd_lock taken: the hyp side of the pages this section found. */
static void vm_hyp_locked(struct vm_rule *r, const struct ck_env *env,
			  struct vm_call *c)
{
	for (unsigned i = 0; i < c->npages; i++) {
		struct vm_page *p = &c->page[i];
		uint64_t out;

		if (!p->fresh)
			continue;
		p->pre.hyp = vm_read(r, env, p->pfn, &out).hyp;
		p->last.hyp = p->pre.hyp;
	}
}

/* The last of the two let go: what the call left. */
static void vm_section_end(struct vm_rule *r, const struct ck_env *env,
			   struct vm_call *c)
{
	for (unsigned i = 0; i < c->npages; i++) {
		struct vm_page *p = &c->page[i];

		p->last = vm_read(r, env, p->pfn, &p->hyp_out);
		p->fresh = false;
	}
}

/* ---- the VM table (7.2) ---------------------------------------------- */

static int vm_free_slot(const struct vm_rule *r)
{
	for (unsigned i = 0; i < r->env.table_size && i < VM_MAX_SLOTS; i++)
		if (!r->table[i].used)
			return (int)i;
	return -1;
}

static void vm_table_locked(struct vm_rule *r, struct vm_call *c)
{
	int slot = l612_vm_slot(&r->env, c->h.x[0]);

	if (c->table_seen)
		return; /* (each call takes it once) */
	c->table_seen = true;
	c->free_slot = vm_free_slot(r);
	memset(&c->named, 0, sizeof(c->named));
	if (c->h.id != PKVM_L612_HC_PKVM_INIT_VM && slot >= 0 &&
	    slot < (int)VM_MAX_SLOTS)
		c->named = r->table[slot];
}

/* Make (`undo` false) or undo the change of a successful call `o`. */
static void vm_table_change(struct vm_rule *r, struct vm_call *c,
			    const struct l612_outcome *o, bool undo)
{
	struct l612_vm *vm;

	if (o->slot < 0 || o->slot >= (int)VM_MAX_SLOTS)
		return;
	vm = &r->table[o->slot];
	if (c->h.id == PKVM_L612_HC_PKVM_TEARDOWN_VM) {
		if (undo)
			*vm = c->named;
		else
			memset(vm, 0, sizeof(*vm));
	} else if (c->h.id == PKVM_L612_HC_PKVM_INIT_VM) {
		memset(vm, 0, sizeof(*vm));
		if (undo)
			return;
		vm->used = true;
		vm->created_vcpus = (uint32_t)c->read_val[0];
		vm->vm_pfn = o->range[0].pfn;
		vm->vm_pages = o->range[0].pages;
		vm->pgd_pfn = o->range[1].pfn;
		vm->pgd_pages = o->range[1].pages;
	} else if (undo) {
		if (vm->nr_vcpus)
			vm->nr_vcpus--;
	} else {
		if (vm->nr_vcpus < L612_VM_MAX_VCPUS)
			vm->vcpu_pfn[vm->nr_vcpus] = o->range[0].pfn;
		else
			vm->vcpus_lost = true;
		vm->nr_vcpus++;
	}
}

/*
 * What the hyp answered when the spec said otherwise: the table follows
 * the hyp, so that one wrong answer is one finding.
 */
static void vm_table_follow(struct vm_rule *r, struct vm_call *c,
			    const struct l612_outcome *o, int64_t x1)
{
	struct l612_outcome as_done = *o;
	bool ok = c->h.id == PKVM_L612_HC_PKVM_INIT_VM ? x1 > 0 : x1 == 0;
	struct l612_range rg[L612_MAX_RANGES];
	unsigned n;

	if (c->applied && !ok) {
		vm_table_change(r, c, &c->at_table, true);
		return;
	}
	if (c->applied || !ok || !c->table_seen)
		return;
	/* a success the spec refused: as the hyp must have done it */
	as_done.slot = c->h.id == PKVM_L612_HC_PKVM_INIT_VM
			       ? l612_vm_slot(&r->env, (uint64_t)x1)
			       : l612_vm_slot(&r->env, c->h.x[0]);
	n = vm_ranges(r, c, rg);
	if (c->h.id == PKVM_L612_HC_PKVM_INIT_VM && n == 3) {
		as_done.range[0] = rg[2];
		as_done.range[1] = rg[1];
	} else if (c->h.id == PKVM_L612_HC_PKVM_INIT_VCPU && n) {
		as_done.range[0] = rg[0];
	}
	if (c->h.id != PKVM_L612_HC_PKVM_INIT_VM || n == 3)
		vm_table_change(r, c, &as_done, false);
}

/* ---- hooks ------------------------------------------------------------ */

static void vm_boot(void *self, const struct ck_env *env,
		    const struct ck_event *ev)
{
	struct vm_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);

	r->where.ram_base = b->ram_base;
	r->where.ram_size = b->ram_size;
	r->where.hyp_off = ev->w[12];
	r->env.hyp_off = ev->w[12];
	r->el2_debug = b->flags & PKVM_L612_BOOT_EL2_DEBUG;
}

static void vm_boot_linux(void *self, const struct ck_env *env,
			  const struct ck_event *ev)
{
	struct vm_rule *r = self;

	(void)env;
	r->env.known = true;
	r->env.kva_mask = ev->w[0];
	r->env.kva_tag = ev->w[1];
	r->env.kvm_size = ev->w[5] & 0xffffffffull;
	r->env.vcpu_size = ev->w[5] >> 32;
	r->env.hyp_vm_size = ev->w[6] & 0xffffffffull;
	r->env.hyp_vcpu_size = ev->w[6] >> 32;
	/* (w[7], guest_pgd_size, is not used: the host's VTCR_EL2 as written
	 * says (vm_sysreg), not the hyp. Series d39c57f3378f and older took
	 * it from kvm_init_params' VTCR, 1 page where 6.12 donates 16 with
	 * LPA2.) */
	r->env.table_size = (unsigned)(ev->w[8] & 0xffffffffull);
	r->env.first_handle = ev->w[8] >> 32;
	if (r->env.table_size > VM_MAX_SLOTS)
		r->env.known = false; /* a table larger than 6.12's */
}

static void vm_sysreg(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct vm_rule *r = self;
	unsigned t0sz = (unsigned)(ev->w[1] & 0x3f);

	(void)env;
	if (ev->w[0] == PKVM_SYSREG_VTTBR_EL2 && ev->cpu < CK_MAX_CPUS)
		r->vttbr[ev->cpu] = ev->w[1];
	if (ev->w[0] != PKVM_SYSREG_VTCR_EL2 || r->ia_bits || t0sz < 12 ||
	    t0sz > 48)
		return;
	/* The host's (__pkvm_prot_finalize) comes first. A guest's pgd is
	 * kvm_pgtable_stage2_pgd_size(host VTCR) (LINUX-6.12.md 6.3): the
	 * pages concatenated at its start level (SL0, or SL2 for -1). */
	r->ia_bits = 64 - t0sz;
	{
		static const int sl0_level[4] = { 2, 1, 0, 3 };
		int level = (ev->w[1] >> 33) & 1
				    ? -1
				    : sl0_level[(ev->w[1] >> 6) & 3];
		unsigned shift = (unsigned)(12 + 9 * (3 - level)) + 9;

		r->env.pgd_size =
			(r->ia_bits > shift ? 1ull << (r->ia_bits - shift)
					    : 1ull)
			<< 12;
	}
}

/* A teardown's VMID invalidation (6.5 step 3). */
static void vm_maintenance(void *self, const struct ck_env *env,
			   const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);
	int slot;

	(void)env;
	if (!c || !c->h.active || c->h.id != PKVM_L612_HC_PKVM_TEARDOWN_VM ||
	    ev->kind != PKVM_EV_TLBI ||
	    (ev->w[0] & 0xffff) != PKVM_TLBI_VMALLS12E1IS)
		return;
	slot = l612_vm_slot(&r->env, c->h.x[0]);
	if (slot >= 0 &&
	    ((r->vttbr[ev->cpu] >> 48) & 0xffff) == (uint64_t)slot + 1)
		c->vmid_flushed = true;
}

static void vm_entry(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);

	(void)env;
	if (c &&
	    l612_call_begin(&c->h, sizeof(*c), ev->w, PKVM_L612_HC_PKVM_INIT_VM,
			    PKVM_L612_HC_PKVM_TEARDOWN_VM))
		c->free_slot = -1;
}

static void vm_acquire(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);
	unsigned id = (unsigned)ev->w[0];
	unsigned comp = view_lock_comp(env->view, id);

	if (!c || !c->h.active)
		return;
	if (view_lock_class(env->view, id) == PKVM_LOCK_ROLE_VM_TABLE)
		vm_table_locked(r, c);
	else if (comp == PKVM_COMP_HOST_S2)
		vm_section_begin(r, env, c);
	else if (comp == PKVM_COMP_HYP_S1)
		vm_hyp_locked(r, env, c);
}

static void vm_release(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);
	unsigned id = (unsigned)ev->w[0];
	unsigned comp = view_lock_comp(env->view, id);
	unsigned other = comp == PKVM_COMP_HOST_S2 ? PKVM_COMP_HYP_S1
						   : PKVM_COMP_HOST_S2;

	if (!c || !c->h.active)
		return;
	if (view_lock_class(env->view, id) == PKVM_LOCK_ROLE_VM_TABLE) {
		/* the table as the spec says the call leaves it */
		if (c->applied)
			return;
		vm_spec(r, c, &c->at_table);
		if (!c->at_table.unknown && !c->at_table.panic &&
		    c->at_table.slot >= 0) {
			vm_table_change(r, c, &c->at_table, false);
			c->applied = true;
		}
		return;
	}
	if ((comp == PKVM_COMP_HOST_S2 || comp == PKVM_COMP_HYP_S1) &&
	    !view_cpu_holds_comp(env->view, ev->cpu, other))
		vm_section_end(r, env, c);
}

/* Keep host read `ev` of the hypercall on `c`. */
static inline void vm_read_keep(struct vm_call *c, const struct ck_event *ev)
{
	if (c->read_count < VM_MAX_READS) {
		c->read_pa[c->read_count] = ev->w[2];
		c->read_val[c->read_count] = ev->w[1];
	}
	c->read_count++;
}

/*
 * Host read `ev` reads again what read `i` of the hypercall did. Apart,
 * and called last, so that vm_host_read, once per host read, need save
 * no registers for it.
 */
static __attribute__((noinline)) void vm_read_twice(const struct ck_env *env,
						    const struct ck_event *ev,
						    struct vm_call *c,
						    unsigned i)
{
	ck_finding(env->out, "host-read-twice", ev, ev->w[2], false, 0,
		   "%s read host memory at 0x%llx twice "
		   "(0x%llx, then 0x%llx); LINUX-6.12.md 6.%u "
		   "reads each host value once",
		   l612_hcall_name(c->h.id), (unsigned long long)ev->w[2],
		   (unsigned long long)c->read_val[i],
		   (unsigned long long)ev->w[1], vm_section(c->h.id));
	vm_read_keep(c, ev);
}

static void vm_host_read(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);

	if (!c || !c->h.active || c->h.id == PKVM_L612_HC_PKVM_TEARDOWN_VM)
		return;
	for (unsigned i = 0; i < c->read_count && i < VM_MAX_READS; i++)
		if (c->read_pa[i] == ev->w[2]) {
			vm_read_twice(env, ev, c, i);
			return;
		}
	vm_read_keep(c, ev);
}

static void vm_mark(void *self, const struct ck_env *env,
		    const struct ck_event *ev)
{
	struct vm_rule *r = self;
	int *slot = &r->loaded_slot[ev->cpu];

	(void)env;
	if (ev->w[0] == PKVM_MARK_VCPU_LOAD) {
		*slot = l612_vm_slot(&r->env, ev->w[1] & 0xffffffffull);
		if (*slot >= 0 && *slot < (int)VM_MAX_SLOTS)
			r->table[*slot].loaded++;
		else
			*slot = -1;
	} else if (ev->w[0] == PKVM_MARK_VCPU_PUT && *slot >= 0) {
		if (r->table[*slot].loaded)
			r->table[*slot].loaded--;
		*slot = -1;
	}
}

/* A store of the call that changes a page outside its ranges. */
static void vm_store(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);
	const struct model *m = view_model(env->view);
	const struct model_table *t;
	uint64_t old, nw = ev->w[1], in, size, first;
	unsigned slot, before, after;
	int ti;

	if (!c || !c->h.active || c->other_changed || !m)
		return;
	ti = model_table_find(m, ev->w[0] & ~0xfffull);
	if (ti < 0 || !model_table_attached(m, ti))
		return;
	t = m->tables[ti];
	slot = (unsigned)((ev->w[0] & 0xfff) >> 3);
	old = t->desc[slot];
	if (old == nw || old == L612_PTE_LOCKED || nw == L612_PTE_LOCKED ||
	    l612_is_table(old, t->level) || l612_is_table(nw, t->level))
		return;
	size = model_entry_size(t->level);
	in = t->base + (uint64_t)slot * size;
	first = t->comp == PKVM_COMP_HOST_S2 ? in : in - r->where.hyp_off;
	if (first < r->where.ram_base ||
	    first - r->where.ram_base >= r->where.ram_size ||
	    (t->comp != PKVM_COMP_HOST_S2 && t->comp != PKVM_COMP_HYP_S1))
		return; /* MMIO, the private range, a guest: no page's state */
	if (t->comp == PKVM_COMP_HOST_S2) {
		before = l612_host_state(old, t->level, true);
		after = l612_host_state(nw, t->level, true);
	} else {
		before = l612_hyp_state(old, t->level);
		after = l612_hyp_state(nw, t->level);
	}
	if (before == after ||
	    (size == 0x1000 && vm_in_ranges(r, c, first >> 12)))
		return;
	c->other_changed = true;
	ck_finding(env->out, "hcall-effect", ev, first, false, 0,
		   "%s changed the %s side of 0x%llx (%llu KiB) from %s to "
		   "%s: not a page it pins, donates or gives back "
		   "(LINUX-6.12.md 6.%u)",
		   l612_hcall_name(c->h.id),
		   t->comp == PKVM_COMP_HOST_S2 ? "host" : "hyp",
		   (unsigned long long)first, (unsigned long long)(size >> 10),
		   spec_state_name(before), spec_state_name(after),
		   vm_section(c->h.id));
}

/* ---- the verdict at the exit ----------------------------------------- */

/* The first page of `o`'s ranges not as the spec leaves it, or NULL. */
static const struct vm_page *vm_effect_wrong(struct vm_call *c,
					     const struct l612_outcome *o,
					     struct spec_page *want,
					     const char **check)
{
	for (unsigned i = 0; i < o->range_count; i++)
		for (uint64_t k = 0; k < o->range[i].pages; k++) {
			const struct vm_page *p =
				vm_find(c, o->range[i].pfn + k);
			const struct spec_page *a = &o->range[i].after;

			if (!p)
				continue;
			*want = *a;
			*check = "hcall-effect";
			if (p->last.host != a->host || p->last.hyp != a->hyp)
				return p;
			*check = "bad-mapping";
			if (a->hyp == SPEC_ST_OWNED &&
			    p->hyp_out != p->pfn << 12)
				return p;
		}
	return NULL;
}

/* On an error: the first page the call left otherwise than it found it. */
static const struct vm_page *vm_changed(const struct vm_call *c)
{
	for (unsigned i = 0; i < c->npages; i++)
		if (c->page[i].last.host != c->page[i].pre.host ||
		    c->page[i].last.hyp != c->page[i].pre.hyp)
			return &c->page[i];
	return NULL;
}

static void vm_judge(struct vm_rule *r, const struct ck_env *env,
		     struct vm_call *c, const struct ck_event *ev)
{
	struct l612_outcome o;
	int64_t x1 = (int64_t)ev->w[1];
	const struct vm_page *p;
	struct spec_page want;
	const char *check;

	vm_spec(r, c, &o);
	if (o.unknown || c->interfered || !r->env.pgd_size) {
		ck_inconclusive(
			env->out, "cpu%u %s at event #%llu: %s", ev->cpu,
			l612_hcall_name(c->h.id), (unsigned long long)ev->index,
			c->interfered ? "another CPU changed its pages "
					"between its critical sections"
				      : "a page, a host read or BOOT_LINUX "
					"it depends on is unknown");
		if (!c->applied) /* the table follows the hyp's answer */
			vm_table_follow(r, c, &o, ev->w[0] ? -1 : x1);
		return;
	}
	ck_trap_checked(env->out);
	if (c->capped)
		ck_inconclusive(env->out,
				"cpu%u %s at event #%llu: pages of its ranges "
				"past the first %u of a range or %u of the "
				"call are not followed, so not judged",
				ev->cpu, l612_hcall_name(c->h.id),
				(unsigned long long)ev->index, VM_RANGE_PAGES,
				VM_MAX_PAGES);
	if (ev->w[0] != 0 || o.panic || x1 != o.x1) {
		ck_finding(env->out, "hcall-return", ev, 0, false, 0,
			   "%s(0x%llx, 0x%llx, 0x%llx) returned x0=%lld "
			   "x1=%lld; LINUX-6.12.md 6.%u says %s%lld",
			   l612_hcall_name(c->h.id),
			   (unsigned long long)c->h.x[0],
			   (unsigned long long)c->h.x[1],
			   (unsigned long long)c->h.x[2], (long long)ev->w[0],
			   (long long)x1, vm_section(c->h.id),
			   o.panic ? "a hyp panic (a vCPU of the VM is "
				     "loaded), never a return; not "
				   : "x0=0 x1=",
			   (long long)o.x1);
		vm_table_follow(r, c, &o, x1);
		return;
	}
	if (c->h.id == PKVM_L612_HC_PKVM_TEARDOWN_VM && x1 == 0 &&
	    !c->vmid_flushed)
		ck_finding(env->out, "hcall-effect", ev, 0, false, 0,
			   "__pkvm_teardown_vm(0x%llx) returned 0 without a "
			   "tlbi vmalls12e1is under the VM's VMID (VTTBR_EL2 "
			   "bits 63:48 = its slot + 1): LINUX-6.12.md 6.5 step "
			   "3 invalidates it before the VMID is freed",
			   (unsigned long long)c->h.x[0]);
	if (o.range_count) {
		p = vm_effect_wrong(c, &o, &want, &check);
		if (p)
			ck_finding(env->out, check, ev, p->pfn << 12, false, 0,
				   "%s returned %lld but page 0x%llx is "
				   "host %s, hyp %s%s; LINUX-6.12.md 6.%u "
				   "leaves it host %s, hyp %s%s",
				   l612_hcall_name(c->h.id), (long long)x1,
				   (unsigned long long)p->pfn << 12,
				   spec_state_name(p->last.host),
				   spec_state_name(p->last.hyp),
				   *check == 'b' ? " (mapped elsewhere)" : "",
				   vm_section(c->h.id),
				   spec_state_name(want.host),
				   spec_state_name(want.hyp),
				   *check == 'b' ? " at its linear VA" : "");
		return;
	}
	p = vm_changed(c);
	if (p)
		ck_finding(env->out, "hcall-effect", ev, p->pfn << 12, false, 0,
			   "%s returned %lld but changed page 0x%llx (host "
			   "%s -> %s, hyp %s -> %s): an error changes "
			   "nothing overall (LINUX-6.12.md 6.%u)",
			   l612_hcall_name(c->h.id), (long long)x1,
			   (unsigned long long)p->pfn << 12,
			   spec_state_name(p->pre.host),
			   spec_state_name(p->last.host),
			   spec_state_name(p->pre.hyp),
			   spec_state_name(p->last.hyp), vm_section(c->h.id));
}

static void vm_exit(void *self, const struct ck_env *env,
		    const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);

	if (!c || !c->h.active)
		return;
	c->h.active = false;
	if (view_any_loss(env->view) || ck_trap_is_unsure(env->out, ev->cpu)) {
		ck_inconclusive(env->out,
				"cpu%u %s at event #%llu: records were lost",
				ev->cpu, l612_hcall_name(c->h.id),
				(unsigned long long)ev->index);
		return;
	}
	vm_judge(r, env, c, ev);
}

static void vm_panic(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, ev->cpu);
	struct l612_outcome o;

	if (!c || !c->h.active)
		return;
	vm_spec(r, c, &o);
	if (!o.panic)
		return; /* the trap is abandoned: inconclusive */
	c->h.active = false;
	ck_inconclusive(env->out,
			"cpu%u %s(0x%llx) at event #%llu: host-caused-panic: "
			"a vCPU of the VM is loaded, and 6.12 panics "
			"(LINUX-6.12.md 6.5 case 2)",
			ev->cpu, l612_hcall_name(c->h.id),
			(unsigned long long)c->h.x[0],
			(unsigned long long)ev->index);
}

static void vm_abandon(void *self, const struct ck_env *env, unsigned cpu,
		       const char *why)
{
	struct vm_rule *r = self;
	struct vm_call *c = vm_call_of(r, cpu);

	if (c)
		l612_call_abandon(&c->h, env, cpu, why);
}

static void *vm_create(const struct ck_env *env, unsigned cpu_count)
{
	struct vm_rule *r = calloc(1, sizeof(*r));

	/* Created for a linux-6.12 trace only (.system below). */
	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	for (unsigned i = 0; i < CK_MAX_CPUS; i++)
		r->loaded_slot[i] = -1;
	r->table = calloc(VM_MAX_SLOTS, sizeof(*r->table));
	r->call = calloc(CK_MAX_CPUS, sizeof(*r->call));
	CK_CHECK(r->table != NULL && r->call != NULL);
	return r;
}

static void vm_destroy(void *self)
{
	struct vm_rule *r = self;

	if (!r)
		return;
	free(r->table);
	free(r->call);
	free(r);
}

const struct ck_rule rule_spec_l612_vm = {
	.name = "spec-l612-vm",
	.system = PKVM_SYSTEM_LINUX612,
	.create = vm_create,
	.destroy = vm_destroy,
	.boot = vm_boot,
	.trap_entry = vm_entry,
	.trap_exit = vm_exit,
	.trap_abandon = vm_abandon,
	.store_before = vm_store,
	.lock_acquire = vm_acquire,
	.lock_release = vm_release,
	.sysreg = vm_sysreg,
	.maintenance = vm_maintenance,
	.host_read = vm_host_read,
	.mark = vm_mark,
	.panic = vm_panic,
	.boot_linux = vm_boot_linux,
};

/** See rule_spec_l612.h. */
int l612_vm_lookup(const struct ck_env *env, uint64_t handle,
		   unsigned *nr_vcpus, unsigned *loaded)
{
	const struct vm_rule *r = rules_self(env->rules, &rule_spec_l612_vm);
	int slot;

	if (!r || !r->env.known)
		return -1;
	slot = l612_vm_slot(&r->env, handle);
	if (slot < 0 || slot >= (int)VM_MAX_SLOTS || !r->table[slot].used)
		return 0;
	*nr_vcpus = r->table[slot].nr_vcpus;
	*loaded = r->table[slot].loaded;
	return 1;
}
