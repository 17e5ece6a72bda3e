// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 profile's host hypercalls against their specification
 * (checker/spec/spec_l612.h, format/LINUX-6.12.md 6): here
 * __pkvm_host_share_hyp (id 9) and __pkvm_host_unshare_hyp (id 10); the
 * VM lifecycle (ids 23-25) is rule_spec_l612_vm.c's.
 *
 * State. Each page's two sides are read from the machine model's tables
 * as LINUX-6.12.md 3 encodes them: the host side from the host stage-2
 * entry at its PA, the hyp side from the hyp stage-1 entry at its linear
 * VA (PA + BOOT's hyp_va_offset). A call reads them when it takes the host
 * stage-2 lock (the hyp side when it takes pkvm_pgd_lock: both are held
 * for the whole check-then-do, LINUX-6.12.md 4) and its effect is read
 * when it lets the last of them go; a call that takes neither is read at
 * its entry and its exit. The exit's x1 then decides which outcome was
 * taken: the spec's result with exactly its effect, or (for an unshare
 * while a pin may be held) -EBUSY with no change. An effect includes the
 * leaves' permissions (3.4): the host's identity map RWX, after a share
 * and an unshare, and the hyp's PAGE_HYP (RW, XN) after a share.
 *
 * Pins (LINUX-6.12.md 7.1) are not recorded: they are derived from the
 * calls that take them, with BOOT_LINUX's kern_hyp_va and sizes:
 * __pkvm_init_vm pins the host's struct kvm (x1) until the teardown of
 * the handle it returns, __pkvm_init_vcpu a struct kvm_vcpu (x2) until
 * the teardown of x1. While such a call is in flight its pin may or may
 * not be held, and __kvm_adjust_pc and __kvm_vcpu_run may hold a
 * transient one on a struct kvm the trace does not name: then an unshare
 * may answer -EBUSY. A page pinned for sure must be refused with -EBUSY.
 *
 * Nothing else changes: every descriptor store of such a call that changes
 * the state of another page (a leaf or an invalid entry replaced by one of
 * another state; breaks, `LOCKED`, and table descriptors, whose pages the
 * stores under them decide, are left to the architecture rules) is a
 * finding.
 *
 * The other ids' results are rule_l612_ret.c's.
 */
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/record.h>

#include "l612_hcalls.h"
#include "profile.h"
#include "rule_spec_l612.h"
#include "rules.h"
#include "spec_l612.h"

/** One CPU's call in progress. */
struct l612_call {
	struct l612_call_head h; /* active, id, x1-x3 */
	uint64_t pa;		 /* the page the call names */
	bool sectioned;		 /* it took a component lock */
	struct spec_page pre;	 /* both sides when it took the locks */
	struct spec_page post;	 /* ... when it let the last one go */
	uint64_t post_host_out;	 /* the output of a valid leaf, or ~0 */
	uint64_t post_hyp_out;
	uint64_t post_host_leaf; /* the valid leaves themselves, or 0 */
	uint64_t post_hyp_leaf;
	unsigned pin;	    /* enum l612_pin of the page when it locked */
	bool other_changed; /* a finding about another page was made */
};

/*
 * A pin the hyp holds (LINUX-6.12.md 7.1), derived from the calls that
 * take and drop them: __pkvm_init_vm (the host's struct kvm) and
 * __pkvm_init_vcpu (each struct kvm_vcpu) until __pkvm_teardown_vm of
 * their handle. `cpu` + 1 while the call that takes or drops it is in
 * flight (the pin may or may not be held), else 0.
 */
struct l612_held {
	uint64_t handle;
	uint64_t first_pfn, last_pfn;
	unsigned busy;
};

#define L612_MAX_PINS 1024u

/* A VM call in flight on a CPU: ids 11, 12 (transient pins), 23-25. */
struct l612_vmcall {
	unsigned id; /* 0: none */
	uint64_t x[3];
};

struct l612_rule {
	/* BOOT_LINUX: kernel pointer -> hyp VA, and the sizes pinned */
	bool conv;
	uint64_t kva_mask, kva_tag, kvm_size, vcpu_size;
	struct l612_held pin[L612_MAX_PINS];
	unsigned pin_count;
	bool pins_lost; /* more pins than the table holds */
	struct l612_vmcall vm[CK_MAX_CPUS];
	uint64_t hyp_off;
	uint64_t ram_base, ram_size;
	bool el2_debug;
	unsigned ia_bits; /* from the first VTCR_EL2 (0: not yet) */
	struct l612_call call[CK_MAX_CPUS];
};

/* ---- reading the state ------------------------------------------------ */

static bool l612_memory(const struct l612_rule *r, uint64_t pa)
{
	return pa >= r->ram_base && pa - r->ram_base < r->ram_size;
}

/* l612_page_side, and in `leaf` (unless NULL) that valid leaf, or 0. */
static unsigned l612_page_leaf(const struct ck_env *env,
			       const struct l612_where *w, unsigned comp,
			       uint64_t pa, uint64_t *out, uint64_t *leaf)
{
	const struct model *m = view_model(env->view);
	uint64_t d = 0, va = comp == PKVM_COMP_HOST_S2 ? pa : pa + w->hyp_off;
	int level = 3;
	unsigned st;

	*out = ~0ull;
	if (m && !model_leaf(m, comp, va, &d, &level))
		d = 0; /* no table reaches it: nothing mapped, no annotation */
	if (comp == PKVM_COMP_HOST_S2)
		st = l612_host_state(d, level,
				     pa >= w->ram_base &&
					     pa - w->ram_base < w->ram_size);
	else
		st = l612_hyp_state(d, level);
	if (leaf)
		*leaf = 0;
	if (l612_is_leaf(d, level)) {
		uint64_t size = model_entry_size(level);

		*out = (d & 0x0000fffffffff000ull & ~(size - 1)) +
		       (va & (size - 1) & ~0xfffull);
		if (leaf)
			*leaf = d;
	}
	return st;
}

/** See rule_spec_l612.h. */
unsigned l612_page_side(const struct ck_env *env, const struct l612_where *w,
			unsigned comp, uint64_t pa, uint64_t *out)
{
	return l612_page_leaf(env, w, comp, pa, out, NULL);
}

/* One side of page `pa` (l612_page_leaf with the rule's layout). */
static unsigned l612_side(const struct l612_rule *r, const struct ck_env *env,
			  unsigned comp, uint64_t pa, uint64_t *out,
			  uint64_t *leaf)
{
	struct l612_where w = { r->ram_base, r->ram_size, r->hyp_off };

	return l612_page_leaf(env, &w, comp, pa, out, leaf);
}

/* Both sides of page `pa`: their states, the outputs of their valid leaves
 * (or ~0) and, unless `host_leaf` and `hyp_leaf` are NULL, those leaves
 * (or 0). */
static struct spec_page l612_read(const struct l612_rule *r,
				  const struct ck_env *env, uint64_t pa,
				  uint64_t *host_out, uint64_t *hyp_out,
				  uint64_t *host_leaf, uint64_t *hyp_leaf)
{
	struct spec_page p;

	p.host = (uint8_t)l612_side(r, env, PKVM_COMP_HOST_S2, pa, host_out,
				    host_leaf);
	p.hyp = (uint8_t)l612_side(r, env, PKVM_COMP_HYP_S1, pa, hyp_out,
				   hyp_leaf);
	return p;
}

/* The call's post-state: both sides, their output addresses and leaves. */
static void l612_read_post(const struct l612_rule *r, const struct ck_env *env,
			   struct l612_call *c)
{
	c->post = l612_read(r, env, c->pa, &c->post_host_out, &c->post_hyp_out,
			    &c->post_host_leaf, &c->post_hyp_leaf);
}

/* ---- the call's life -------------------------------------------------- */

static void l612_boot(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct l612_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);

	r->ram_base = b->ram_base;
	r->ram_size = b->ram_size;
	r->hyp_off = ev->w[12];
	r->el2_debug = b->flags & PKVM_L612_BOOT_EL2_DEBUG;
}

static void l612_boot_linux(void *self, const struct ck_env *env,
			    const struct ck_event *ev)
{
	struct l612_rule *r = self;

	(void)env;
	r->conv = true;
	r->kva_mask = ev->w[0];
	r->kva_tag = ev->w[1];
	r->kvm_size = ev->w[5] & 0xffffffffull;
	r->vcpu_size = ev->w[5] >> 32;
}

/* ---- pins (LINUX-6.12.md 7.1) ----------------------------------------- */

/* The pin a call on `cpu` takes on [kptr, kptr + size) of host memory. */
static void l612_pin_add(struct l612_rule *r, unsigned cpu, uint64_t kptr,
			 uint64_t size, uint64_t handle)
{
	/* kern_hyp_va, then the linear map's PA */
	uint64_t va = (kptr & r->kva_mask) | r->kva_tag;
	uint64_t pa = va - r->hyp_off;
	struct l612_held *p;

	if (r->pin_count == L612_MAX_PINS) {
		r->pins_lost = true;
		return;
	}
	p = &r->pin[r->pin_count++];
	p->handle = handle;
	p->first_pfn = pa >> 12;
	p->last_pfn = (pa + (size ? size : 1) - 1) >> 12;
	p->busy = cpu + 1;
}

static void l612_pin_drop(struct l612_rule *r, unsigned i)
{
	r->pin[i] = r->pin[--r->pin_count];
}

/* A VM call's entry: the pins it may take or drop are in flight. */
static void l612_vm_entry(struct l612_rule *r, unsigned cpu, unsigned id,
			  const uint64_t x[3])
{
	struct l612_vmcall *v = &r->vm[cpu];

	v->id = id;
	memcpy(v->x, x, sizeof(v->x));
	if (!r->conv)
		return;
	if (id == PKVM_L612_HC_PKVM_INIT_VM)
		l612_pin_add(r, cpu, x[0], r->kvm_size, ~0ull);
	else if (id == PKVM_L612_HC_PKVM_INIT_VCPU)
		l612_pin_add(r, cpu, x[1], r->vcpu_size, x[0]);
	else if (id == PKVM_L612_HC_PKVM_TEARDOWN_VM)
		for (unsigned i = 0; i < r->pin_count; i++)
			if (r->pin[i].handle == x[0])
				r->pin[i].busy = cpu + 1;
}

/* Its exit (or its end without one: `ok` false, x1 unknown). */
static void l612_vm_exit(struct l612_rule *r, unsigned cpu, bool ok, int64_t x1)
{
	struct l612_vmcall *v = &r->vm[cpu];

	for (unsigned i = r->pin_count; i-- > 0;) {
		struct l612_held *p = &r->pin[i];

		if (p->busy != cpu + 1)
			continue;
		if (!ok)
			continue; /* stays in doubt */
		if (v->id == PKVM_L612_HC_PKVM_TEARDOWN_VM && x1 == 0)
			l612_pin_drop(r, i); /* every pin of the VM dropped */
		else if (v->id == PKVM_L612_HC_PKVM_INIT_VM && x1 > 0) {
			p->handle = (uint64_t)x1; /* the VM's handle */
			p->busy = 0;
		} else if (v->id == PKVM_L612_HC_PKVM_INIT_VCPU && x1 == 0)
			p->busy = 0;
		else if (v->id == PKVM_L612_HC_PKVM_TEARDOWN_VM)
			p->busy = 0; /* refused: kept */
		else
			l612_pin_drop(r, i); /* a failed init drops its pin */
	}
	v->id = 0;
}

/* 7.1 for the spec: YES, NO, or MAYBE while a call may change it. */
static unsigned l612_pin_of(const struct l612_rule *r, unsigned self_cpu,
			    uint64_t pfn)
{
	unsigned st = L612_PIN_NO;

	if (!r->conv || r->pins_lost)
		return L612_PIN_MAYBE;
	for (unsigned i = 0; i < r->pin_count; i++) {
		const struct l612_held *p = &r->pin[i];

		if (pfn < p->first_pfn || pfn > p->last_pfn)
			continue;
		if (!p->busy)
			return L612_PIN_YES;
		st = L612_PIN_MAYBE;
	}
	/* __kvm_adjust_pc and __kvm_vcpu_run may pin a struct kvm for the
	 * length of their trap (pkvm_vcpu_get_kvm): which one, the trace
	 * does not say. */
	for (unsigned c = 0; c < CK_MAX_CPUS; c++)
		if (c != self_cpu &&
		    (r->vm[c].id == PKVM_L612_HC_KVM_ADJUST_PC ||
		     r->vm[c].id == PKVM_L612_HC_KVM_VCPU_RUN))
			st = L612_PIN_MAYBE;
	return st;
}

static void l612_sysreg(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612_rule *r = self;
	unsigned t0sz = (unsigned)(ev->w[1] & 0x3f);

	(void)env;
	/* The host's VTCR_EL2 (__pkvm_prot_finalize) comes first; guests'
	 * come later and say nothing of the host stage-2's range. */
	if (ev->w[0] == PKVM_SYSREG_VTCR_EL2 && !r->ia_bits && t0sz &&
	    t0sz < 64)
		r->ia_bits = 64 - t0sz;
}

static void l612_entry(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct l612_rule *r = self;
	struct l612_call *c = &r->call[ev->cpu];
	int id =
		profile_hcall_id(ev->w); /* the replay passes host traps only */
	uint64_t scratch;

	r->vm[ev->cpu].id = 0;
	if (id == PKVM_L612_HC_KVM_ADJUST_PC ||
	    id == PKVM_L612_HC_KVM_VCPU_RUN ||
	    id == PKVM_L612_HC_PKVM_INIT_VM ||
	    id == PKVM_L612_HC_PKVM_INIT_VCPU ||
	    id == PKVM_L612_HC_PKVM_TEARDOWN_VM)
		l612_vm_entry(r, ev->cpu, (unsigned)id, &ev->w[5]);
	/* 9 and 10 (23-25: rule_spec_l612_vm.c) */
	if (!l612_call_begin(&c->h, sizeof(*c), ev->w,
			     PKVM_L612_HC_PKVM_HOST_SHARE_HYP,
			     PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP))
		return;
	c->pa = c->h.x[0] << 12;
	c->pre = l612_read(r, env, c->pa, &scratch, &scratch, NULL, NULL);
	c->pin = l612_pin_of(r, ev->cpu, c->pa >> 12);
}

static void l612_acquire(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct l612_rule *r = self;
	struct l612_call *c = &r->call[ev->cpu];
	unsigned comp = view_lock_comp(env->view, (unsigned)ev->w[0]);
	uint64_t scratch;

	if (!c->h.active)
		return;
	/* Each side as the call found it when it locked that side. */
	if (comp == PKVM_COMP_HOST_S2 && !c->sectioned) {
		c->sectioned = true;
		c->pre = l612_read(r, env, c->pa, &scratch, &scratch, NULL,
				   NULL);
		c->pin = l612_pin_of(r, ev->cpu, c->pa >> 12);
	} else if (comp == PKVM_COMP_HYP_S1) {
		c->pre.hyp = (uint8_t)l612_side(r, env, PKVM_COMP_HYP_S1, c->pa,
						&scratch, NULL);
	}
}

static void l612_release(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct l612_rule *r = self;
	struct l612_call *c = &r->call[ev->cpu];
	unsigned comp = view_lock_comp(env->view, (unsigned)ev->w[0]);
	unsigned other = comp == PKVM_COMP_HOST_S2 ? PKVM_COMP_HYP_S1
						   : PKVM_COMP_HOST_S2;

	if (!c->h.active || !comp || comp == PKVM_COMP_GUEST_S2 ||
	    view_cpu_holds_comp(env->view, ev->cpu, other))
		return;
	/* The last of the two is let go: the effect is what the tables say. */
	l612_read_post(r, env, c);
}

/* A store of the call that changes another page's state. */
static void l612_store(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct l612_rule *r = self;
	struct l612_call *c = &r->call[ev->cpu];
	const struct model *m = view_model(env->view);
	const struct model_table *t;
	uint64_t old, nw = ev->w[1], in, size, first, pa;
	unsigned slot, before, after;
	int ti;

	if (!c->h.active || c->other_changed || !m)
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
	first = t->comp == PKVM_COMP_HOST_S2 ? in : in - r->hyp_off;
	if (t->comp == PKVM_COMP_HOST_S2) {
		before = l612_host_state(old, t->level, l612_memory(r, first));
		after = l612_host_state(nw, t->level, l612_memory(r, first));
	} else if (t->comp == PKVM_COMP_HYP_S1 && l612_memory(r, first)) {
		before = l612_hyp_state(old, t->level);
		after = l612_hyp_state(nw, t->level);
	} else {
		return; /* the private range, a guest: not a page's state */
	}
	if (before == after || (size == 0x1000 && first == c->pa))
		return;
	pa = first == c->pa ? first + 0x1000 : first;
	c->other_changed = true;
	ck_finding(env->out, "hcall-effect", ev, pa, false, 0,
		   "%s of page 0x%llx changed the %s side of 0x%llx (%llu "
		   "KiB) from %s to %s; it changes no other page "
		   "(LINUX-6.12.md 6.%u)",
		   c->h.id == PKVM_L612_HC_PKVM_HOST_SHARE_HYP
			   ? "__pkvm_host_share_hyp"
			   : "__pkvm_host_unshare_hyp",
		   (unsigned long long)c->pa,
		   t->comp == PKVM_COMP_HOST_S2 ? "host" : "hyp",
		   (unsigned long long)first, (unsigned long long)(size >> 10),
		   spec_state_name(before), spec_state_name(after),
		   c->h.id == PKVM_L612_HC_PKVM_HOST_SHARE_HYP ? 1u : 2u);
}

/* ---- the verdict at the exit ------------------------------------------ */

static unsigned l612_section(unsigned id)
{
	return id == PKVM_L612_HC_PKVM_HOST_SHARE_HYP ? 1u : 2u;
}

/* The spec reads only the page the call names: as the call found it. */
static struct spec_page l612_pre_cb(const void *ctx, uint64_t pfn)
{
	(void)pfn;
	return ((const struct l612_call *)ctx)->pre;
}

/* ... and its pin as the call found it. */
static unsigned l612_pin_cb(const void *ctx, uint64_t pfn)
{
	(void)pfn;
	return ((const struct l612_call *)ctx)->pin;
}

/*
 * 3.4's permissions of the leaves a share leaves (6.1.4) or an unshare
 * keeps (6.2.5): the host's identity map RWX (S2AP bits 7:6 = 11, XN bits
 * 54:53 = 0); the hyp's PAGE_HYP, writable (AP[2], bit 7, clear: RW with
 * nVHE's encoding and hVHE's alike) and XN (bit 54). NULL if they are,
 * else which leaf is not.
 */
static const char *l612_perms_wrong(const struct l612_call *c)
{
	uint64_t h = c->post_host_leaf, y = c->post_hyp_leaf;

	if (h && (((h >> 6) & 3) != 3 || ((h >> 53) & 3) != 0))
		return "the host stage-2 leaf (RWX wanted, "
		       "LINUX-6.12.md 3.4)";
	if (c->h.id == PKVM_L612_HC_PKVM_HOST_SHARE_HYP && y &&
	    (((y >> 7) & 1) || !((y >> 54) & 1)))
		return "the hyp stage-1 leaf (PAGE_HYP: RW and "
		       "XN wanted, LINUX-6.12.md 3.4)";
	return NULL;
}

/* The outcome's effect against the post-state, or NULL if it is there. */
static const char *l612_effect_wrong(const struct l612_call *c,
				     const struct l612_outcome *o,
				     const char **check)
{
	*check = "hcall-effect";
	if (c->post.host != o->effect.after.host)
		return "the host side";
	if (c->post.hyp != o->effect.after.hyp)
		return "the hyp side";
	*check = "bad-mapping";
	/* 6.1.4: identity-mapped for the host, at its linear VA for the
	 * hyp; 6.2.5: the host keeps its identity mapping, if any. */
	if (c->post_host_out != ~0ull && c->post_host_out != c->pa)
		return "the host stage-2 leaf's output address";
	if (c->post_hyp_out != ~0ull && c->post_hyp_out != c->pa)
		return "the hyp stage-1 leaf's output address";
	if (c->h.id == PKVM_L612_HC_PKVM_HOST_SHARE_HYP &&
	    (c->post_host_out == ~0ull || c->post_hyp_out == ~0ull)) {
		*check = "missing-mapping";
		return "a mapping";
	}
	return l612_perms_wrong(c);
}

static void l612_judge(struct l612_rule *r, const struct ck_env *env,
		       struct l612_call *c, const struct ck_event *ev)
{
	struct l612_machine m = {
		.ram_base = r->ram_base,
		.ram_size = r->ram_size,
		.ia_bits = r->ia_bits ? r->ia_bits : 64,
		.el2_debug = r->el2_debug,
		.ctx = c,
		.page = l612_pre_cb,
		.pin = l612_pin_cb,
	};
	struct l612_outcome o;
	int64_t x1 = (int64_t)ev->w[1];
	bool changed = c->post.host != c->pre.host || c->post.hyp != c->pre.hyp;
	const char *what, *check;

	l612_hcall(&m, c->h.id, c->h.x, &o);
	if (o.unknown) {
		ck_inconclusive(env->out,
				"cpu%u %s at event #%llu: the page's state is "
				"unknown",
				ev->cpu, l612_hcall_name(c->h.id),
				(unsigned long long)ev->index);
		return;
	}
	ck_trap_checked(env->out);
	if (ev->w[0] != 0 ||
	    (x1 != o.x1 && !(o.may_ebusy && x1 == -L612_EBUSY))) {
		ck_finding(env->out, "hcall-return", ev, c->pa, false, 0,
			   "%s(0x%llx) returned x0=%lld x1=%lld; LINUX-6.12.md "
			   "6.%u says x0=0 x1=%lld%s (host %s, hyp %s)",
			   l612_hcall_name(c->h.id),
			   (unsigned long long)c->h.x[0], (long long)ev->w[0],
			   (long long)x1, l612_section(c->h.id),
			   (long long)o.x1,
			   o.may_ebusy ? " or -EBUSY (a pin may be held)" : "",
			   spec_state_name(c->pre.host),
			   spec_state_name(c->pre.hyp));
		return;
	}
	if (x1 == 0 && o.has_effect) {
		what = l612_effect_wrong(c, &o, &check);
		if (what)
			ck_finding(
				env->out, check, ev, c->pa, false, 0,
				"%s(0x%llx) returned 0 but %s of page 0x%llx "
				"is not as LINUX-6.12.md 6.%u says: host "
				"%s -> %s, hyp %s -> %s expected, found "
				"host %s, hyp %s",
				l612_hcall_name(c->h.id),
				(unsigned long long)c->h.x[0], what,
				(unsigned long long)c->pa,
				l612_section(c->h.id),
				spec_state_name(c->pre.host),
				spec_state_name(o.effect.after.host),
				spec_state_name(c->pre.hyp),
				spec_state_name(o.effect.after.hyp),
				spec_state_name(c->post.host),
				spec_state_name(c->post.hyp));
		return;
	}
	if (changed)
		ck_finding(env->out, "hcall-effect", ev, c->pa, false, 0,
			   "%s(0x%llx) returned %lld but changed page 0x%llx "
			   "(host %s -> %s, hyp %s -> %s): an error return "
			   "changes nothing (LINUX-6.12.md 6)",
			   l612_hcall_name(c->h.id),
			   (unsigned long long)c->h.x[0], (long long)x1,
			   (unsigned long long)c->pa,
			   spec_state_name(c->pre.host),
			   spec_state_name(c->post.host),
			   spec_state_name(c->pre.hyp),
			   spec_state_name(c->post.hyp));
}

static void l612_exit(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct l612_rule *r = self;
	struct l612_call *c = &r->call[ev->cpu];

	if (r->vm[ev->cpu].id)
		l612_vm_exit(r, ev->cpu, true,
			     ev->w[0] == 0 ? (int64_t)ev->w[1] : -1);
	if (!c->h.active)
		return;
	c->h.active = false;
	if (!c->sectioned) /* no lock taken: what it left at its exit */
		l612_read_post(r, env, c);
	if (view_any_loss(env->view) || ck_trap_is_unsure(env->out, ev->cpu)) {
		ck_inconclusive(env->out,
				"cpu%u %s at event #%llu: records were lost",
				ev->cpu, l612_hcall_name(c->h.id),
				(unsigned long long)ev->index);
		return;
	}
	l612_judge(r, env, c, ev);
}

static void l612_abandon(void *self, const struct ck_env *env, unsigned cpu,
			 const char *why)
{
	struct l612_rule *r = self;

	if (r->vm[cpu].id)
		l612_vm_exit(r, cpu, false, 0);
	l612_call_abandon(&r->call[cpu].h, env, cpu, why);
}

static void *l612_create(const struct ck_env *env, unsigned cpu_count)
{
	struct l612_rule *r = calloc(1, sizeof(*r));

	/* Created for a linux-6.12 trace only (.system below). */
	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	/* The other ids: id 2's result is rule_l612_ret.c's, its effect
	 * rule_l612_boot.c's (5.1, 5.3); 1-7 and 11-22 refused or not,
	 * and 0 and >= 26, change nothing: rule_l612_noeffect.c; 23-25
	 * rule_spec_l612_vm.c; 8 rule_l612_final.c. */
	return r;
}

const struct ck_rule rule_spec_l612 = {
	.name = "spec-l612",
	.system = PKVM_SYSTEM_LINUX612,
	.create = l612_create,
	.destroy = free,
	.boot = l612_boot,
	.trap_entry = l612_entry,
	.trap_exit = l612_exit,
	.trap_abandon = l612_abandon,
	.store_before = l612_store,
	.lock_acquire = l612_acquire,
	.lock_release = l612_release,
	.sysreg = l612_sysreg,
	.boot_linux = l612_boot_linux,
};

/** See rule_spec_l612.h. */
bool l612_call_begin(struct l612_call_head *h, size_t size, const uint64_t *w,
		     unsigned first, unsigned last)
{
	int id = profile_hcall_id(w);

	h->active = false;
	if (id < 0 || (unsigned)id < first || (unsigned)id > last)
		return false;
	memset(h, 0, size);
	h->active = true;
	h->id = (unsigned)id;
	memcpy(h->x, &w[5], sizeof(h->x));
	return true;
}

/** See rule_spec_l612.h. */
void l612_call_abandon(struct l612_call_head *h, const struct ck_env *env,
		       unsigned cpu, const char *why)
{
	if (!h->active)
		return;
	h->active = false;
	ck_inconclusive(env->out, "cpu%u %s: %s", cpu, l612_hcall_name(h->id),
			why);
}

/** See rule_spec_l612.h. */
bool l612_pin_held(const struct ck_rules *rules, uint64_t pfn)
{
	const struct l612_rule *r = rules_self(rules, &rule_spec_l612);

	return r && l612_pin_of(r, CK_MAX_CPUS, pfn) == L612_PIN_YES;
}
