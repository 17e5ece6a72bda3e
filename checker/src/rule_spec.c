// SPDX-License-Identifier: MIT
/*
 * Each trap against the specification (checker/spec/): hypercalls, host
 * stage-2 aborts, SMCs and every other trap.
 *
 * State belongs to components, each under one lock (profile.h): host
 * stage-2, hyp stage-1, tracing. A trap reads a component's state as it
 * was when the trap took its lock, and changes it when the trap lets the
 * lock go; in between no other CPU can. So the spec is evaluated on the
 * state of one critical section of the trap (the view's section: from
 * taking a component lock holding none to holding none again), and the
 * section's change is what the trap's own descriptor stores did in it.
 *
 * When. The spec's outcome for a section is computed the first time the
 * trap lets one of its component locks go in it: every lock it took is
 * still held then (locks nest), and every host value it read under them
 * (trace_load's) has been read. The state is the section's pre-state:
 * the live model with the section's own changes undone (the view keeps
 * each page's view before the section first changed it). A section that
 * takes no lock (a trap with no lock at all, or changes made after its
 * last section) is evaluated when it ends. The MMIO page of an abort,
 * which the model has no page entry for, is read before the section's
 * first own store.
 *
 * Which section decides. The hyp makes one section per trap; a trap that
 * checks under its locks, lets them go and acts under them again is
 * judged on the section that acted (the first that changed a page's
 * state); one that changed nothing on the last section whose outcome its
 * exit bears out; the changes of any other section are changes the spec
 * does not allow (rule_spec_judge.c).
 *
 * Ghost state (rule_spec.h): whether tracing is loaded, and the pages it
 * pinned. It changes as the spec's outcome of the deciding section says,
 * each piece when the trap lets its component's lock go (the pins with
 * host_s2, which unshare_hyp reads them under); if the trap's exit then
 * contradicts that outcome (a finding), the ghost state follows the exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "profile.h"
#include "rule_spec.h"

/* ESR_EL2 exception classes the spec distinguishes. */
#define TRAP_EC_HVC64 0x16u
#define TRAP_EC_SMC64 0x17u
#define TRAP_EC_IABT_LOW 0x20u
#define TRAP_EC_DABT_LOW 0x24u

/** What the spec's callbacks read: the section's pre-state and the ghost. */
struct spec_eval {
	const struct ck_view *view;
	const struct spec_rule *rule;
	unsigned cpu;
	bool touched; /* the section changed some page */
};

static unsigned trap_ec(const struct ck_event *entry)
{
	return (unsigned)((entry->w[0] >> 26) & 0x3f);
}

static void trap_section_reset(struct spec_section *s);

/*
 * The current section of the trap, or NULL past TRAP_MAX_SECTIONS. It is
 * made ready when first asked for: most traps have one.
 */
static struct spec_section *trap_section(struct spec_trap *t)
{
	if (t->sections >= TRAP_MAX_SECTIONS)
		return NULL;
	if (t->ready <= t->sections) {
		trap_section_reset(&t->section[t->sections]);
		t->ready = t->sections + 1;
	}
	return &t->section[t->sections];
}

/* ---- the pre-state of a section ------------------------------------- */

/* A page side as it was before the trap's current section changed it. */
static unsigned trap_pre_side(const struct ck_touch *x, unsigned comp,
			      unsigned now)
{
	if (!x)
		return now;
	return x->pre_known ? model_state(comp, &x->pre) : SPEC_ST_UNKNOWN;
}

static struct spec_page trap_pre_page(const struct spec_eval *e, uint64_t pfn)
{
	struct spec_page p = view_page(e->view, pfn);

	if (!e->touched)
		return p; /* the section changed nothing (yet) */
	p.host = (uint8_t)trap_pre_side(
		view_touch_find(e->view, e->cpu, TRAP_HOST, pfn), TRAP_HOST,
		p.host);
	p.hyp = (uint8_t)trap_pre_side(
		view_touch_find(e->view, e->cpu, TRAP_HYP, pfn), TRAP_HYP,
		p.hyp);
	return p;
}

/* The event that last changed `pfn` before the trap's current section. */
static uint64_t trap_pre_last(const struct spec_eval *e, uint64_t pfn)
{
	const struct ck_touch *h, *y;

	if (!e->touched)
		return view_last(e->view, pfn);
	h = view_touch_find(e->view, e->cpu, TRAP_HOST, pfn);
	y = view_touch_find(e->view, e->cpu, TRAP_HYP, pfn);

	/* The side the section changed first saw the older event. */
	if (h && (!y || h < y))
		return h->pre_last;
	if (y)
		return y->pre_last;
	return view_last(e->view, pfn);
}

static struct spec_page trap_page_cb(const void *ctx, uint64_t pfn)
{
	return trap_pre_page(ctx, pfn);
}

static bool trap_pinned_cb(const void *ctx, uint64_t pfn)
{
	const struct spec_ghost *g =
		&((const struct spec_eval *)ctx)->rule->ghost;

	for (unsigned i = 0; i < g->pin_count; i++)
		if (pfn >= g->pins[i].first_pfn && pfn <= g->pins[i].last_pfn)
			return true;
	return false;
}

/* The abstract machine the spec functions read; `e` outlives their call. */
static void trap_machine(const struct spec_eval *e, struct spec_machine *m)
{
	const struct ck_boot *b = view_boot(e->view);

	memset(m, 0, sizeof(*m));
	m->ram_base = b->ram_base;
	m->ram_size = b->ram_size;
	m->hyp_start = b->hyp_start;
	m->hyp_end = b->hyp_end;
	m->cpu_count = b->cpu_count;
	m->trace_loaded = e->rule->ghost.trace_loaded;
	m->trace_unknown = e->rule->ghost.trace_unknown;
	m->test_hcalls = b->flags & SPEC_BOOT_F_TEST_HCALLS;
	m->ctx = e;
	m->page = trap_page_cb;
	m->pinned = trap_pinned_cb;
}

/* A hypercall's outcome on the section's pre-state. */
static void trap_evaluate_hvc(const struct spec_eval *e,
			      const struct spec_machine *m,
			      const struct ck_env *env, struct spec_trap *t,
			      struct spec_section *s)
{
	uint64_t x1 = t->entry->w[5];

	spec_hcall(m, &t->entry->w[4], trap_is_load(t) ? &t->reads : NULL,
		   &s->expect);
	s->pre_page = trap_pre_page(e, x1);
	s->pre_last = trap_pre_last(e, x1);
	for (unsigned k = 0; k < s->expect.effect_count; k++)
		s->eff_last[k] = trap_pre_last(e, s->expect.effect[k].pfn);
	if (s->expect.unknown)
		ck_trap_unsure(
			env->out, t->cpu,
			trap_is_load(t)
				? "the page states trace_load depends on "
				  "are unknown after lost records"
				: "the page states it depends on are "
				  "unknown after lost records");
}

/* An abort's outcome on the section's pre-state. */
static void trap_evaluate_abort(const struct spec_eval *e,
				const struct spec_machine *m,
				const struct ck_env *env, struct spec_trap *t,
				struct spec_section *s)
{
	const struct model *model = view_model(env->view);
	uint64_t pfn = t->ipa >> 12;
	int64_t i = model_page_index(model, pfn);

	s->abort = spec_host_abort(m, t->ipa, t->entry->w[0]);
	if (i >= 0) {
		const struct ck_touch *x =
			view_touch_find(env->view, t->cpu, TRAP_HOST, pfn);

		s->focus_pre = x ? x->pre : model->side[TRAP_HOST][i];
		s->focus_last = trap_pre_last(e, pfn);
	} else if (s->focus_mmio_known) {
		/* MMIO (trap_store): an -ENOMEM abort must leave it as it
		 * was. */
		s->focus_pre = s->focus_mmio;
	} else {
		/* No own store yet: it is as the section found it. */
		model_walk(model, TRAP_HOST, t->ipa & ~0xfffull, &s->focus_pre);
	}
	if (s->abort == SPEC_ABORT_UNKNOWN)
		ck_trap_unsure(env->out, t->cpu,
			       "the faulting page's host state is unknown "
			       "after lost records");
}

/* The spec's outcome on the state the section locked. */
static void trap_evaluate(struct spec_rule *r, const struct ck_env *env,
			  struct spec_trap *t, struct spec_section *s)
{
	struct spec_eval e = { env->view, r, t->cpu, false };
	struct spec_machine m;
	size_t count;

	view_section_touches(env->view, t->cpu, &count);
	e.touched = count != 0;
	s->evaluated = true;
	trap_machine(&e, &m);
	if (t->type == TRAP_HVC)
		trap_evaluate_hvc(&e, &m, env, t, s);
	else if (t->type == TRAP_ABORT)
		trap_evaluate_abort(&e, &m, env, t, s);
}

/* ---- ghost state ---------------------------------------------------- */

/* A trace_load whose section's outcome is success. */
static bool trap_loads(const struct spec_trap *t, const struct spec_section *s)
{
	return t->is_load && s->expect.check_x1 && s->expect.x1 == 0;
}

/*
 * The trap lets lock `id` go in a section whose outcome changes ghost
 * state: the pieces that belong to that lock's component change now.
 */
static void trap_commit(struct spec_rule *r, const struct spec_trap *t,
			const struct spec_section *s, unsigned id)
{
	struct spec_ghost *g = &r->ghost;

	if (!trap_loads(t, s))
		return;
	if (!r->committed[t->cpu]) {
		r->before[t->cpu] = *g;
		r->committed[t->cpu] = true;
	}
	if (id == profile_lock_of(PROFILE_TRACE_PINS)) {
		g->pin_count = s->expect.pin_count;
		memcpy(g->pins, s->expect.pin, sizeof(g->pins));
	}
	if (id == profile_lock_of(PROFILE_TRACE_LOADED))
		g->trace_loaded = true;
}

/*
 * trace_load returned `ret` against the deciding section `s`'s outcome:
 * if they differ (a finding), the ghost state follows what the hyp did.
 */
static void trap_load_done(struct spec_rule *r, const struct spec_trap *t,
			   const struct spec_section *s, int64_t ret)
{
	if (ret == 0 && !trap_loads(t, s))
		r->ghost.trace_loaded = true;
	if (ret != 0 && r->committed[t->cpu])
		r->ghost = r->before[t->cpu];
}

/* Lost records may have loaded tracing (once loaded, nothing changes). */
static void trap_comp_unknown(void *self, const struct ck_env *env, unsigned id)
{
	struct spec_ghost *g = &((struct spec_rule *)self)->ghost;

	(void)env;
	if ((id == profile_lock_of(PROFILE_TRACE_PINS) ||
	     id == profile_lock_of(PROFILE_TRACE_LOADED)) &&
	    !g->trace_loaded)
		g->trace_unknown = true;
}

/* ---- a trap's life -------------------------------------------------- */

static void trap_section_reset(struct spec_section *s)
{
	s->evaluated = s->focus_mmio_known = false;
	memset(&s->expect, 0, offsetof(struct spec_outcome, effect));
	s->abort = SPEC_ABORT_UNKNOWN;
	memset(&s->pre_page, 0, sizeof(s->pre_page));
	s->pre_last = UINT64_MAX;
	memset(&s->focus_pre, 0, sizeof(s->focus_pre));
	memset(&s->focus_post, 0, sizeof(s->focus_post));
	s->focus_last = UINT64_MAX;
}

/* What kind of trap the entry says it is. */
static enum trap_type trap_type_of(const struct ck_event *ev)
{
	unsigned ec = trap_ec(ev);

	if (ec == TRAP_EC_HVC64 && (ev->w[0] & 0xffff) == 0)
		return TRAP_HVC;
	if (ec == TRAP_EC_SMC64)
		return TRAP_SMC;
	if (ec == TRAP_EC_IABT_LOW || ec == TRAP_EC_DABT_LOW)
		return TRAP_ABORT;
	return TRAP_OTHER;
}

/*
 * An abort's faulting page when it is MMIO, which the model keeps no page
 * entry (and so the view no touch) for: its pre-state is what it was
 * before the section's first own store, taken as that store comes.
 */
static void trap_store(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct spec_trap *t = &((struct spec_rule *)self)->trap[ev->cpu];
	const struct model *m = view_model(env->view);
	struct spec_section *s;

	if (t->type != TRAP_ABORT || !t->active ||
	    model_page_index(m, t->ipa >> 12) >= 0)
		return;
	s = trap_section(t);
	if (!s || s->focus_mmio_known)
		return;
	model_walk(m, TRAP_HOST, t->ipa & ~0xfffull, &s->focus_mmio);
	s->focus_mmio_known = true;
}

/*
 * Ready for the trap. Only what a trap reads before writing it is
 * cleared: a full memset of the struct (kilobytes) per trap shows in the
 * profile.
 */
static void trap_begin(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];

	t->active = true;
	t->entry = view_trap(env->view, ev->cpu);
	t->type = trap_type_of(ev);
	t->alloc_failed = t->panicked = t->panic_expected = false;
	t->system_off = false;
	t->read_count = 0;
	t->sections = t->ready = 0;
	r->committed[ev->cpu] = false;
	/* HPFAR_EL2.FIPA, bits [39:4], holds IPA[47:12]. */
	t->ipa = (((ev->w[3] >> 4) & ((1ull << 36) - 1)) << 12) |
		 (ev->w[2] & 0xfff);
	t->is_load = trap_is_load(t);
	/* The page a hypercall names (x1), or an abort's faulting page, is
	 * read when the first section ends (trap_evaluate): start loading
	 * it now. */
	if (t->type == TRAP_HVC)
		view_prefetch_page(env->view, ev->w[5]);
	else if (t->type == TRAP_ABORT)
		view_prefetch_page(env->view, t->ipa >> 12);
	if (t->is_load) {
		memset(&t->reads, 0, sizeof(t->reads));
		t->reads.ctrl_pa = ev->w[5] << 12;
	}
}

/*
 * The trap lets a component lock go inside its section: the section's
 * outcome (the first time), and the ghost state of that component.
 */
static void trap_release(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];
	unsigned id = (unsigned)ev->w[0];
	struct spec_section *s;

	if (!(r->spec_locks >> id & 1) || !t->active ||
	    !view_in_section(env->view, ev->cpu))
		return;
	s = trap_section(t);
	if (!s)
		return;
	if (!s->evaluated)
		trap_evaluate(r, env, t, s);
	trap_commit(r, t, s, id);
}

/* Did section `k` change a page's state (an abort: the faulting page)? */
static bool trap_section_effect(const struct ck_env *env,
				const struct spec_trap *t, unsigned k)
{
	const struct spec_section *s = &t->section[k];
	const struct ck_touch *touch;
	size_t count;

	if (t->type == TRAP_ABORT &&
	    memcmp(&s->focus_pre, &s->focus_post, sizeof(s->focus_pre)) != 0)
		return true;
	touch = view_touches(env->view, t->cpu, &count);
	for (size_t i = 0; i < count; i++)
		if (touch[i].section == k &&
		    model_state(touch[i].comp, &touch[i].pre) !=
			    model_state(touch[i].comp, &touch[i].post))
			return true;
	return false;
}

/* The section ends: what it left of the pages its outcome names. */
static void trap_section_end(void *self, const struct ck_env *env,
			     const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];
	struct spec_section *s = trap_section(t);
	const struct model *model = view_model(env->view);

	if (!s) {
		ck_trap_unsure(env->out, t->cpu,
			       "more than %u critical sections in one trap",
			       TRAP_MAX_SECTIONS);
		return;
	}
	if (!s->evaluated)
		trap_evaluate(r, env, t, s);
	if (view_touched_unknown(env->view, ev->cpu))
		ck_trap_unsure(env->out, t->cpu,
			       "a page it changed was unknown after lost "
			       "records");
	for (unsigned k = 0; k < s->expect.effect_count; k++) {
		int64_t i = model_page_index(model, s->expect.effect[k].pfn);

		CK_CHECK(i >= 0);
		for (unsigned c = 1; c < MODEL_COMP_COUNT; c++)
			s->eff_post[k][c] = model->side[c][i];
	}
	if (t->type == TRAP_ABORT)
		model_walk(model, TRAP_HOST, t->ipa & ~0xfffull,
			   &s->focus_post);
	t->sections++;
}

/*
 * The section whose state decided the trap: the first that changed
 * anything; if none did, the last whose outcome the exit bears out; else
 * the last.
 */
static unsigned trap_deciding(const struct ck_env *env,
			      const struct spec_trap *t,
			      const struct ck_event *ev)
{
	unsigned n = t->sections;

	if (n == 1)
		return 0;
	for (unsigned k = 0; k < n; k++)
		if (trap_section_effect(env, t, k))
			return k;
	for (unsigned k = n; k-- > 0;)
		if (judge_agrees(t, &t->section[k], ev))
			return k;
	return n - 1;
}

static void trap_end(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];
	unsigned d;

	if (ck_trap_is_unsure(env->out, t->cpu)) {
		ck_inconclusive(env->out, "cpu%u trap at event #%llu: %s",
				t->cpu, (unsigned long long)t->entry->index,
				ck_trap_why(env->out, t->cpu));
	} else {
		CK_CHECK(t->sections > 0);
		ck_trap_checked(env->out);
		d = trap_deciding(env, t, ev);
		judge_trap(env, t, d, ev);
		if (trap_is_load(t))
			trap_load_done(r, t, &t->section[d], (int64_t)ev->w[1]);
	}
	t->active = false;
}

static void trap_abandon(void *self, const struct ck_env *env, unsigned cpu,
			 const char *why)
{
	struct spec_trap *t = &((struct spec_rule *)self)->trap[cpu];

	if ((t->panicked && t->panic_expected) ||
	    (t->system_off && t->type == TRAP_SMC)) {
		ck_trap_checked(env->out);
	} else {
		ck_inconclusive(env->out, "cpu%u trap at event #%llu: %s", cpu,
				(unsigned long long)t->entry->index, why);
	}
	t->active = false;
}

/* ---- what else a trap does ------------------------------------------ */

/* A host value read by the hyp: once only; trace_load keeps the bytes. */
static void trap_host_read(const struct ck_env *env, struct spec_trap *t,
			   const struct ck_event *ev)
{
	uint64_t addr = ev->w[2], v = ev->w[1];
	uint64_t off = addr - t->reads.ctrl_pa;

	for (unsigned i = 0; i < t->read_count; i++)
		if (t->read_addr[i] == addr) {
			ck_finding(env->out, "host-read-twice", ev, addr, false,
				   0,
				   "the hyp read host memory 0x%llx "
				   "twice in one trap; host-supplied "
				   "values must be read once",
				   (unsigned long long)addr);
			return;
		}
	if (t->read_count < TRAP_MAX_READS)
		t->read_addr[t->read_count++] = addr;
	if (!trap_is_load(t) || addr < t->reads.ctrl_pa ||
	    off >= sizeof(t->reads.bytes))
		return;
	for (unsigned b = 0; b < 8 && off + b < sizeof(t->reads.bytes); b++) {
		uint8_t byte = (uint8_t)(v >> (8 * b));

		/*
		 * A 32-bit field read zero-extends: its upper half says
		 * nothing about the next field unless it is non-zero.
		 */
		if (b >= 4 && (off & 7) == 0 && (v >> 32) == 0 &&
		    t->reads.known[off + b])
			continue;
		t->reads.bytes[off + b] = byte;
		t->reads.known[off + b] = 1;
	}
}

static void trap_nondet(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct spec_trap *t = &((struct spec_rule *)self)->trap[ev->cpu];

	switch (ev->w[0]) {
	case PKVM_NONDET_ALLOC_PAGE:
		if (ev->w[1] == 0)
			t->alloc_failed = true; /* the pool ran out */
		return;
	case PKVM_NONDET_HOST_READ:
		if (t->active)
			trap_host_read(env, t, ev);
		return;
	default:
		return;
	}
}

static void trap_mark(void *self, const struct ck_env *env,
		      const struct ck_event *ev)
{
	struct spec_trap *t = &((struct spec_rule *)self)->trap[ev->cpu];

	(void)env;
	if (ev->w[0] == PKVM_MARK_SYSTEM_OFF && t->active)
		t->system_off = true;
}

/* Only a test image's test_panic may panic (HYPERCALLS.md). */
static void trap_panic(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];
	struct spec_section *s = t->active ? trap_section(t) : NULL;

	if (s && !s->evaluated)
		trap_evaluate(r, env, t, s);
	if (s && t->type == TRAP_HVC && s->expect.panics) {
		t->panicked = t->panic_expected = true;
		return;
	}
	ck_finding(env->out, "hyp-panic", ev, ev->w[1], false, 0,
		   "the hyp panicked (code %llu at 0x%llx); it must never "
		   "panic on host input (only test_panic may)",
		   (unsigned long long)ev->w[0], (unsigned long long)ev->w[1]);
}

static void *trap_create(const struct ck_env *env, unsigned cpu_count)
{
	struct spec_rule *r = calloc(1, sizeof(*r));

	(void)env;
	CK_CHECK(r != NULL);
	r->spec_locks = profile_spec_locks();
	for (unsigned i = 0; i < cpu_count && i < CK_MAX_CPUS; i++)
		r->trap[i].cpu = i;
	return r;
}

const struct ck_rule rule_spec = {
	.name = "spec",
	.create = trap_create,
	.destroy = free,
	.trap_entry = trap_begin,
	.store_before = trap_store,
	.lock_release = trap_release,
	.section_end = trap_section_end,
	.trap_exit = trap_end,
	.trap_abandon = trap_abandon,
	.nondet = trap_nondet,
	.host_read = trap_nondet,
	.mark = trap_mark,
	.panic = trap_panic,
	.comp_unknown = trap_comp_unknown,
};
