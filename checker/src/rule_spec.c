// SPDX-License-Identifier: MIT
/*
 * Each trap against the specification (checker/spec/): hypercalls, host
 * stage-2 aborts, SMCs and every other trap.
 *
 * A trap's pre-state is read when it takes its first component lock (its
 * critical section begins): other CPUs may change the state between its
 * entry and then. Its effect is what its own descriptor stores changed
 * (the view's touches), as it stands when it lets its last component lock
 * go. At its exit the spec's outcome for that pre-state is compared with
 * the registers it returned and the effect it had.
 *
 * The spec also talks about state no page table shows (ghost state): the
 * pages tracing pinned and whether tracing is loaded. This rule keeps it,
 * from the outcome of the calls that change it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "rules.h"

#define TRAP_HOST PKVM_COMP_HOST_S2
#define TRAP_HYP PKVM_COMP_HYP_S1
#define TRAP_MAX_READS 128u

/* ESR_EL2 exception classes the spec distinguishes. */
#define TRAP_EC_HVC64 0x16u
#define TRAP_EC_SMC64 0x17u
#define TRAP_EC_IABT_LOW 0x20u
#define TRAP_EC_DABT_LOW 0x24u

enum trap_type {
	TRAP_HVC,   /* hvc #0: a hypercall */
	TRAP_SMC,   /* PSCI */
	TRAP_ABORT, /* host stage-2 abort */
	TRAP_OTHER, /* anything else: no state change */
};

/** One CPU's trap, as the spec judges it. */
struct spec_trap {
	unsigned cpu;
	bool active;
	const struct ck_event *entry; /* the view's, while the trap lasts */
	enum trap_type type;
	uint64_t ipa; /* aborts */
	bool evaluated, alloc_failed, panicked, system_off;
	struct spec_outcome expect;
	struct spec_page pre_page; /* the x1 page when the spec read it */
	uint64_t pre_last;	   /* the event that last changed it */
	enum spec_abort_kind abort;
	uint64_t eff_last[PKVM_DONATE_MAX_PAGES];
	struct model_side eff_post[PKVM_DONATE_MAX_PAGES][MODEL_COMP_COUNT];
	struct model_side focus_post; /* aborts: faulting page, host side */
	struct model_side focus_pre;
	uint64_t focus_last;
	struct spec_host_reads reads;
	uint64_t read_addr[TRAP_MAX_READS];
	unsigned read_count;
	bool vbar_known;
	uint64_t vbar;
};

/** The rule's state: the ghost state, and each CPU's trap. */
struct spec_rule {
	bool trace_loaded;
	struct spec_pin pins[1 + PKVM_RING_MAX_CPUS];
	unsigned pin_count;
	struct spec_trap trap[CK_MAX_CPUS];
};

/** What the spec's callbacks read: the replay's pages and the ghost state. */
struct spec_eval {
	const struct ck_view *view;
	const struct spec_rule *rule;
};

static unsigned trap_ec(const struct ck_event *entry)
{
	return (unsigned)((entry->w[0] >> 26) & 0x3f);
}

static uint64_t trap_hcall_id(const struct spec_trap *t)
{
	uint64_t x0 = t->entry->w[4];

	if ((x0 & ~(uint64_t)PKVM_HC_ID_MASK) != PKVM_HC_BASE)
		return 0;
	return x0 & PKVM_HC_ID_MASK;
}

static bool trap_is_load(const struct spec_trap *t)
{
	return t->type == TRAP_HVC && trap_hcall_id(t) == PKVM_HC_TRACE_LOAD;
}

static const char *trap_side_name(unsigned comp)
{
	return comp == TRAP_HOST ? "host" : "hyp";
}

static int64_t trap_page_index(const struct ck_env *env, uint64_t pfn)
{
	return model_page_index(view_model(env->view), pfn);
}

/* ---- the spec's view of the machine --------------------------------- */

static struct spec_page trap_page_cb(const void *ctx, uint64_t pfn)
{
	return view_page(((const struct spec_eval *)ctx)->view, pfn);
}

static bool trap_pinned_cb(const void *ctx, uint64_t pfn)
{
	const struct spec_rule *r = ((const struct spec_eval *)ctx)->rule;

	for (unsigned i = 0; i < r->pin_count; i++)
		if (pfn >= r->pins[i].first_pfn && pfn <= r->pins[i].last_pfn)
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
	m->trace_loaded = e->rule->trace_loaded;
	m->test_hcalls = b->flags & SPEC_BOOT_F_TEST_HCALLS;
	m->ctx = e;
	m->page = trap_page_cb;
	m->pinned = trap_pinned_cb;
}

/* ---- a trap's life -------------------------------------------------- */

/*
 * Ready for the next trap. Only what a trap reads before writing it is
 * cleared: a full memset of the struct (over a kilobyte) per trap shows in
 * the profile.
 */
static void trap_reset(struct spec_trap *t)
{
	t->evaluated = false;
	t->alloc_failed = t->panicked = t->system_off = false;
	memset(&t->expect, 0, offsetof(struct spec_outcome, effect));
	t->abort = SPEC_ABORT_UNKNOWN;
	memset(&t->pre_page, 0, sizeof(t->pre_page));
	t->pre_last = UINT64_MAX;
	memset(&t->focus_pre, 0, sizeof(t->focus_pre));
	memset(&t->focus_post, 0, sizeof(t->focus_post));
	t->focus_last = UINT64_MAX;
	t->read_count = 0;
	t->vbar_known = false;
}

static void trap_begin(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct spec_trap *t = &((struct spec_rule *)self)->trap[ev->cpu];
	unsigned ec = trap_ec(ev);

	trap_reset(t);
	t->active = true;
	t->entry = view_trap(env->view, ev->cpu);
	if (ec == TRAP_EC_HVC64 && (ev->w[0] & 0xffff) == 0)
		t->type = TRAP_HVC;
	else if (ec == TRAP_EC_SMC64)
		t->type = TRAP_SMC;
	else if (ec == TRAP_EC_IABT_LOW || ec == TRAP_EC_DABT_LOW)
		t->type = TRAP_ABORT;
	else
		t->type = TRAP_OTHER;
	/* HPFAR_EL2.FIPA, bits [39:4], holds IPA[47:12]. */
	t->ipa = (((ev->w[3] >> 4) & ((1ull << 36) - 1)) << 12) |
		 (ev->w[2] & 0xfff);
	if (trap_is_load(t)) {
		memset(&t->reads, 0, sizeof(t->reads));
		t->reads.ctrl_pa = ev->w[5] << 12;
	}
}

/* The pre-state: the spec's verdict on the state the trap locked. */
static void trap_evaluate(struct spec_rule *r, const struct ck_env *env,
			  struct spec_trap *t)
{
	struct spec_eval e = { env->view, r };
	const struct model *model = view_model(env->view);
	struct spec_machine m;
	int64_t i;

	t->evaluated = true;
	trap_machine(&e, &m);
	if (t->type == TRAP_HVC) {
		if (trap_is_load(t))
			return; /* needs the host reads: judged at the exit */
		spec_hcall(&m, &t->entry->w[4], NULL, &t->expect);
		t->pre_page = view_page(env->view, t->entry->w[5]);
		t->pre_last = view_last(env->view, t->entry->w[5]);
		for (unsigned k = 0; k < t->expect.effect_count; k++)
			t->eff_last[k] =
				view_last(env->view, t->expect.effect[k].pfn);
		if (t->expect.unknown)
			ck_trap_unsure(env->out, t->cpu,
				       "the page states it depends on are "
				       "unknown after lost records");
	} else if (t->type == TRAP_ABORT) {
		t->abort = spec_host_abort(&m, t->ipa, t->entry->w[0]);
		i = trap_page_index(env, t->ipa >> 12);
		if (i >= 0) {
			t->focus_pre = model->side[TRAP_HOST][i];
			t->focus_last = view_last(env->view, t->ipa >> 12);
		} else {
			/* MMIO: not in the page arrays; an -ENOMEM abort
			 * must leave it as it was. */
			model_walk(model, TRAP_HOST, t->ipa & ~0xfffull,
				   &t->focus_pre);
		}
		if (t->abort == SPEC_ABORT_UNKNOWN)
			ck_trap_unsure(env->out, t->cpu,
				       "the faulting page's host state is "
				       "unknown after lost records");
	}
}

static void trap_section_begin(void *self, const struct ck_env *env,
			       const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];

	if (!t->evaluated)
		trap_evaluate(r, env, t);
}

/* The post-state: taken when the trap lets its last component lock go. */
static void trap_section_end(void *self, const struct ck_env *env,
			     const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];
	const struct model *model = view_model(env->view);

	if (!t->evaluated)
		trap_evaluate(r, env, t);
	if (view_touched_unknown(env->view, ev->cpu))
		ck_trap_unsure(env->out, t->cpu,
			       "a page it changed was unknown after lost "
			       "records");
	for (unsigned k = 0; k < t->expect.effect_count; k++) {
		int64_t i = trap_page_index(env, t->expect.effect[k].pfn);

		CK_CHECK(i >= 0);
		for (unsigned c = 1; c < MODEL_COMP_COUNT; c++)
			t->eff_post[k][c] = model->side[c][i];
	}
	if (t->type == TRAP_ABORT)
		model_walk(model, TRAP_HOST, t->ipa & ~0xfffull,
			   &t->focus_post);
}

/* ---- effects -------------------------------------------------------- */

static void trap_report(const struct ck_env *env, struct spec_trap *t,
			const struct ck_event *ev, const char *check,
			uint64_t pfn, uint64_t explain, const char *text)
{
	ck_trap_reported(env->out, t->cpu, pfn);
	ck_finding(env->out, check, ev, pfn << 12, explain != UINT64_MAX,
		   explain, "%s", text);
}

static bool trap_in_effect(const struct spec_outcome *e, uint64_t pfn)
{
	for (unsigned i = 0; e && i < e->effect_count; i++)
		if (e->effect[i].pfn == pfn)
			return true;
	return false;
}

/* A valid RAM mapping must be identity, normal memory, writable. */
static bool trap_mapping_ok(const struct model *m, unsigned comp, uint64_t pfn,
			    const struct model_side *s)
{
	return s->out_pfn == pfn && (s->flags & MODEL_SIDE_WRITABLE) &&
	       model_side_normal(m, comp, s);
}

static void trap_describe(const struct model *m, unsigned comp,
			  const struct model_side *s, char *buf, size_t len)
{
	if (!(s->flags & MODEL_SIDE_VALID)) {
		snprintf(buf, len, "%s (unmapped%s)",
			 spec_state_name(model_state(comp, s)),
			 comp == TRAP_HOST && s->owner ? ", owner hyp" : "");
		return;
	}
	snprintf(buf, len, "%s (mapped to 0x%llx, %s, %s)",
		 spec_state_name(model_state(comp, s)),
		 (unsigned long long)s->out_pfn << 12,
		 model_side_normal(m, comp, s) ? "normal" : "device",
		 s->flags & MODEL_SIDE_WRITABLE ? "RW" : "RO");
}

/* The finding for a change of a page the spec does not name, or NULL. */
static const char *trap_other_check(const struct model *m,
				    const struct ck_touch *x,
				    const char *change)
{
	unsigned pre = model_state(x->comp, &x->pre);
	unsigned post = model_state(x->comp, &x->post);

	if (pre != post)
		return change;
	if (memcmp(&x->pre, &x->post, sizeof(x->pre)) == 0 ||
	    !(x->post.flags & MODEL_SIDE_VALID))
		return NULL;
	if (x->comp == TRAP_HYP)
		return "unexpected-mapping";
	if (!trap_mapping_ok(m, x->comp, x->pfn, &x->post))
		return "bad-mapping";
	return NULL;
}

/*
 * Changes to pages the spec does not name: only state-preserving ones are
 * allowed (the host's lazy identity mappings, block splits). `change` names
 * the finding for a state change (hcall-effect, enomem-with-effect, ...).
 */
static void trap_check_others(const struct ck_env *env, struct spec_trap *t,
			      const struct ck_event *ev,
			      const struct spec_outcome *e, bool skip_focus,
			      const char *change)
{
	const struct model *m = view_model(env->view);
	char text[600], a[120], b[120];
	const struct ck_touch *touch;
	size_t count;

	touch = view_touches(env->view, t->cpu, &count);
	for (size_t k = 0; k < count; k++) {
		const struct ck_touch *x = &touch[k];
		const char *check;

		if (trap_in_effect(e, x->pfn) ||
		    ck_trap_was_reported(env->out, t->cpu, x->pfn) ||
		    (skip_focus && x->comp == TRAP_HOST &&
		     x->pfn == t->ipa >> 12))
			continue;
		check = trap_other_check(m, x, change);
		if (!check)
			continue;
		trap_describe(m, x->comp, &x->pre, a, sizeof(a));
		trap_describe(m, x->comp, &x->post, b, sizeof(b));
		snprintf(text, sizeof(text),
			 "page 0x%llx, %s side: the spec allows no change of "
			 "its state or %s mapping here; before %s, after %s",
			 (unsigned long long)x->pfn << 12,
			 trap_side_name(x->comp),
			 x->comp == TRAP_HOST ? "a host mapping other than a "
						"lazy identity one"
					      : "a hyp",
			 a, b);
		trap_report(env, t, ev, check, x->pfn, x->pre_last, text);
	}
}

static void trap_call_text(const struct spec_trap *t, char *buf, size_t len)
{
	const uint64_t *x = &t->entry->w[4];

	snprintf(buf, len, "%s(0x%llx, 0x%llx, 0x%llx)",
		 ck_hcall_name(trap_hcall_id(t)), (unsigned long long)x[1],
		 (unsigned long long)x[2], (unsigned long long)x[3]);
}

static bool trap_needs_mapping(unsigned comp, unsigned st)
{
	if (comp == TRAP_HOST)
		return st == SPEC_ST_SHARED_OWNED ||
		       st == SPEC_ST_SHARED_BORROWED;
	return st != SPEC_ST_NOPAGE;
}

/* The finding for one side of a page the spec names, or NULL. */
static const char *trap_effect_check(const struct model *m, unsigned comp,
				     uint64_t pfn, const struct model_side *s,
				     unsigned want)
{
	unsigned st = model_state(comp, s);
	bool valid = s->flags & MODEL_SIDE_VALID;

	if (st != want && trap_needs_mapping(comp, want) && !valid)
		return "missing-mapping";
	if (st != want && want == SPEC_ST_NOPAGE && valid)
		return "unexpected-mapping";
	if (st != want)
		return "hcall-effect";
	if (valid && !trap_mapping_ok(m, comp, pfn, s))
		return "bad-mapping";
	return NULL;
}

/* The pages the spec names must end in the states it gives. */
static void trap_check_effect(const struct ck_env *env, struct spec_trap *t,
			      const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	const struct spec_outcome *e = &t->expect;
	char text[600], got[120], call[120];

	for (unsigned k = 0; k < e->effect_count; k++) {
		uint64_t pfn = e->effect[k].pfn;

		for (unsigned c = 1; c < MODEL_COMP_COUNT; c++) {
			const struct model_side *s = &t->eff_post[k][c];
			unsigned want = c == TRAP_HOST ? e->effect[k].after.host
						       : e->effect[k].after.hyp;
			const char *check =
				trap_effect_check(m, c, pfn, s, want);

			if (!check)
				continue;
			trap_describe(m, c, s, got, sizeof(got));
			trap_call_text(t, call, sizeof(call));
			snprintf(
				text, sizeof(text),
				"%s: page 0x%llx must end %s on the %s side%s; "
				"it is %s",
				call, (unsigned long long)pfn << 12,
				spec_state_name(want), trap_side_name(c),
				trap_needs_mapping(c, want)
					? " (mapped identity, normal, RW)"
					: "",
				got);
			trap_report(env, t, ev, check, pfn, t->eff_last[k],
				    text);
			break;
		}
	}
}

/* ---- hypercalls ----------------------------------------------------- */

static void trap_pre_text(const struct ck_env *env, const struct spec_trap *t,
			  char *buf, size_t len)
{
	uint64_t pfn = t->entry->w[5];

	if (trap_page_index(env, pfn) < 0) {
		snprintf(buf, len, "pfn 0x%llx is not RAM",
			 (unsigned long long)pfn);
		return;
	}
	/* The spec read these states when the trap took its locks. */
	snprintf(buf, len, "page 0x%llx was host %s, hyp %s",
		 (unsigned long long)pfn << 12,
		 spec_state_name(t->pre_page.host),
		 spec_state_name(t->pre_page.hyp));
}

/* trace_load returned `ret`: tracing is on, and its pages pinned. */
static void trap_load_done(struct spec_rule *r, const struct spec_trap *t,
			   int64_t ret)
{
	if (ret != 0)
		return;
	r->trace_loaded = true;
	if (t->expect.x1 == 0 && t->expect.check_x1) {
		r->pin_count = t->expect.pin_count;
		memcpy(r->pins, t->expect.pin, sizeof(r->pins));
	}
}

/* x1 is not the spec's: the finding, unless -ENOMEM is allowed here. */
static void trap_hvc_x1(struct spec_rule *r, const struct ck_env *env,
			struct spec_trap *t, const struct ck_event *ev,
			const char *call, const char *pre)
{
	const struct spec_outcome *e = &t->expect;
	int64_t ret = (int64_t)ev->w[1];

	if (ret == -PKVM_ENOMEM && e->x1 == 0 && e->may_enomem &&
	    t->alloc_failed) {
		trap_check_others(env, t, ev, NULL, false,
				  "enomem-with-effect");
		return;
	}
	ck_finding(env->out, "hcall-return", ev, t->entry->w[5] << 12,
		   t->pre_last != UINT64_MAX, t->pre_last,
		   "%s must return x1=%lld (%s); it returned x1=%lld (%s); "
		   "%s%s",
		   call, (long long)e->x1, ck_errno_name(e->x1), (long long)ret,
		   ck_errno_name(ret), pre,
		   ret == -PKVM_ENOMEM ? "; -ENOMEM is only allowed after the "
					 "pool ran out in this trap"
				       : "");
	if (trap_is_load(t))
		trap_load_done(r, t, ret);
	if (ret != 0)
		trap_check_others(env, t, ev, NULL, false, "hcall-effect");
}

static void trap_hvc_end(struct spec_rule *r, const struct ck_env *env,
			 struct spec_trap *t, const struct ck_event *ev)
{
	const struct spec_outcome *e = &t->expect;
	int64_t ret = (int64_t)ev->w[1];
	char call[120], pre[160];

	/* Text only costs when there is something to say: not per trap. */
	if (e->panics || ev->w[0] != e->x0 || (e->check_x1 && ret != e->x1)) {
		trap_call_text(t, call, sizeof(call));
		trap_pre_text(env, t, pre, sizeof(pre));
	}
	if (e->panics) {
		ck_finding(env->out, "hcall-return", ev, 0, false, 0,
			   "%s must panic the hyp and never return; it "
			   "returned x0=0x%llx x1=0x%llx",
			   call, (unsigned long long)ev->w[0],
			   (unsigned long long)ev->w[1]);
		return;
	}
	if (ev->w[0] != e->x0) {
		ck_finding(env->out, "hcall-return", ev, 0, false, 0,
			   "%s must return x0=%lld (%s); it returned x0=%lld",
			   call, (long long)e->x0,
			   e->x0 ? "unknown id: NOT_SUPPORTED" : "known id",
			   (long long)ev->w[0]);
		trap_check_others(env, t, ev, NULL, false, "hcall-effect");
		return;
	}
	if (e->check_x1 && ret != e->x1) {
		trap_hvc_x1(r, env, t, ev, call, pre);
		return;
	}
	trap_check_others(env, t, ev, ret == 0 ? e : NULL, false,
			  "hcall-effect");
	if (e->check_x1 && ret == 0)
		trap_check_effect(env, t, ev);
	if (trap_is_load(t))
		trap_load_done(r, t, ret);
}

/* ---- aborts --------------------------------------------------------- */

static void trap_abort_map(const struct ck_env *env, struct spec_trap *t,
			   const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	uint64_t pfn = t->ipa >> 12;
	bool ram = t->abort == SPEC_ABORT_MAP_RAM;
	const struct model_side *s = &t->focus_post;
	bool valid = s->flags & MODEL_SIDE_VALID;
	bool normal = model_side_normal(m, TRAP_HOST, s);
	char got[120];

	if (ev->w[4] != 0)
		ck_finding(env->out, "abort-injection", ev, t->ipa,
			   t->focus_last != UINT64_MAX, t->focus_last,
			   "a stage-2 abort at IPA 0x%llx, which the host may "
			   "access (%s), must be resolved by mapping it; the "
			   "hyp injected an abort (esr 0x%llx)",
			   (unsigned long long)t->ipa,
			   ram ? "its memory" : "MMIO",
			   (unsigned long long)ev->w[4]);
	else if (ev->w[6] != t->entry->w[1])
		ck_finding(env->out, "abort-return", ev, t->ipa, false, 0,
			   "after mapping IPA 0x%llx the host must resume at "
			   "the faulting instruction 0x%llx; elr is 0x%llx",
			   (unsigned long long)t->ipa,
			   (unsigned long long)t->entry->w[1],
			   (unsigned long long)ev->w[6]);
	trap_describe(m, TRAP_HOST, s, got, sizeof(got));
	if (!valid)
		ck_finding(env->out, "missing-mapping", ev, t->ipa,
			   t->focus_last != UINT64_MAX, t->focus_last,
			   "after a stage-2 abort at IPA 0x%llx the host page "
			   "must be mapped (identity, %s); it is %s",
			   (unsigned long long)t->ipa,
			   ram ? "normal, RW" : "device", got);
	else if (s->out_pfn != pfn || normal != ram ||
		 (ram && !(s->flags & MODEL_SIDE_WRITABLE)) ||
		 (ram && model_state(TRAP_HOST, s) !=
				 model_state(TRAP_HOST, &t->focus_pre)))
		ck_finding(
			env->out, "bad-mapping", ev, t->ipa, false, 0,
			"after a stage-2 abort at IPA 0x%llx the host page "
			"must be mapped identity as %s with its state "
			"unchanged (%s); it is %s",
			(unsigned long long)t->ipa,
			ram ? "normal RW memory" : "device memory",
			spec_state_name(model_state(TRAP_HOST, &t->focus_pre)),
			got);
}

static void trap_abort_inject(const struct ck_env *env, struct spec_trap *t,
			      const struct ck_event *ev)
{
	const uint64_t *in = t->entry->w, *out = ev->w;
	bool elr_ok = !t->vbar_known ||
		      out[6] == t->vbar + SPEC_VBAR_SYNC_CURRENT_SPX;
	char spsr[24] = "unchanged";

	if (out[4] != in[0] || out[5] != in[2] || !elr_ok ||
	    (out[7] & 0x3cf) != SPEC_INJECT_SPSR) {
		/*
		 * An HCALL_EXIT(_UNLOCK2) does not record the SPSR (it is
		 * unchanged) and says nothing was injected: inject_esr alone
		 * decides then. (The text only when there is something to
		 * say: not per abort.)
		 */
		if (ev->recs[0].kind != PKVM_EV_HCALL_EXIT &&
		    ev->recs[0].kind != PKVM_EV_HCALL_EXIT_UNLOCK2)
			snprintf(spsr, sizeof(spsr), "0x%llx",
				 (unsigned long long)out[7]);
		ck_finding(
			env->out, "abort-injection", ev, t->ipa,
			t->focus_last != UINT64_MAX, t->focus_last,
			"a stage-2 abort at IPA 0x%llx (host side %s) must "
			"be injected into the host: inject_esr=0x%llx "
			"inject_far=0x%llx elr=%s0x%llx spsr=EL1h with DAIF "
			"masked; the exit has inject_esr=0x%llx "
			"inject_far=0x%llx elr=0x%llx spsr=%s",
			(unsigned long long)t->ipa,
			spec_state_name(model_state(TRAP_HOST, &t->focus_pre)),
			(unsigned long long)in[0], (unsigned long long)in[2],
			t->vbar_known ? "VBAR_EL1+0x200=" : "(VBAR unknown) ",
			(unsigned long long)(t->vbar_known ? t->vbar + 0x200
							   : out[6]),
			(unsigned long long)out[4], (unsigned long long)out[5],
			(unsigned long long)out[6], spsr);
	}
	trap_check_others(env, t, ev, NULL, false, "trap-effect");
}

/*
 * An abort the spec would map, injected after the pool ran out in this trap
 * (HYPERCALLS.md "Stage-2 abort"): the injection must be right and the
 * faulting page (MMIO included) unchanged.
 */
static void trap_abort_enomem(const struct ck_env *env, struct spec_trap *t,
			      const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	char a[120], b[120];

	trap_abort_inject(env, t, ev);
	if (memcmp(&t->focus_pre, &t->focus_post, sizeof(t->focus_pre)) == 0 ||
	    ck_trap_was_reported(env->out, t->cpu, t->ipa >> 12))
		return;
	trap_describe(m, TRAP_HOST, &t->focus_pre, a, sizeof(a));
	trap_describe(m, TRAP_HOST, &t->focus_post, b, sizeof(b));
	ck_finding(env->out, "trap-effect", ev, t->ipa,
		   t->focus_last != UINT64_MAX, t->focus_last,
		   "the pool ran out in the stage-2 abort at IPA 0x%llx: the "
		   "hyp may then inject it, but only with no change; the "
		   "faulting page went from %s to %s",
		   (unsigned long long)t->ipa, a, b);
}

static void trap_abort_end(const struct ck_env *env, struct spec_trap *t,
			   const struct ck_event *ev)
{
	if (t->abort == SPEC_ABORT_INJECT) {
		trap_abort_inject(env, t, ev);
		return;
	}
	if (ev->w[4] != 0 && t->alloc_failed) {
		trap_abort_enomem(env, t, ev);
		return;
	}
	trap_abort_map(env, t, ev);
	trap_check_others(env, t, ev, NULL, true, "trap-effect");
}

/* ---- the end of a trap ---------------------------------------------- */

static void trap_check(struct spec_rule *r, const struct ck_env *env,
		       struct spec_trap *t, const struct ck_event *ev)
{
	switch (t->type) {
	case TRAP_HVC:
		trap_hvc_end(r, env, t, ev);
		return;
	case TRAP_ABORT:
		trap_abort_end(env, t, ev);
		return;
	case TRAP_SMC:
		if (!spec_smc_is_system_off(t->entry->w[4]) &&
		    ev->w[0] != PKVM_SMCCC_NOT_SUPPORTED)
			ck_finding(env->out, "smc-return", ev, 0, false, 0,
				   "SMC function 0x%llx is not handled: x0 "
				   "must be -1 (NOT_SUPPORTED); it is 0x%llx",
				   (unsigned long long)t->entry->w[4],
				   (unsigned long long)ev->w[0]);
		trap_check_others(env, t, ev, NULL, false, "trap-effect");
		return;
	default:
		trap_check_others(env, t, ev, NULL, false, "trap-effect");
		return;
	}
}

/* trace_load is judged at the exit: its verdict needs the host reads. */
static void trap_evaluate_load(struct spec_rule *r, const struct ck_env *env,
			       struct spec_trap *t)
{
	struct spec_eval e = { env->view, r };
	struct spec_machine m;

	trap_machine(&e, &m);
	spec_hcall(&m, &t->entry->w[4], &t->reads, &t->expect);
	t->pre_page = view_page(env->view, t->entry->w[5]);
	t->pre_last = view_last(env->view, t->entry->w[5]);
	if (t->expect.unknown)
		ck_trap_unsure(env->out, t->cpu,
			       "the page states trace_load depends on are "
			       "unknown after lost records");
}

static void trap_end(void *self, const struct ck_env *env,
		     const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];

	if (trap_is_load(t))
		trap_evaluate_load(r, env, t);
	if (ck_trap_is_unsure(env->out, t->cpu)) {
		ck_inconclusive(env->out, "cpu%u trap at event #%llu: %s",
				t->cpu, (unsigned long long)t->entry->index,
				ck_trap_why(env->out, t->cpu));
	} else {
		ck_trap_checked(env->out);
		trap_check(r, env, t, ev);
	}
	t->active = false;
}

static void trap_abandon(void *self, const struct ck_env *env, unsigned cpu,
			 const char *why)
{
	struct spec_trap *t = &((struct spec_rule *)self)->trap[cpu];

	if ((t->panicked && t->expect.panics) ||
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
	case PKVM_NONDET_HOST_SYSREG:
		if (t->active && ev->w[2] == PKVM_NONDET_REG_VBAR_EL1) {
			t->vbar_known = true;
			t->vbar = ev->w[1];
		}
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

static void trap_panic(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct spec_rule *r = self;
	struct spec_trap *t = &r->trap[ev->cpu];

	if (t->active && !t->evaluated)
		trap_evaluate(r, env, t);
	if (t->active && t->type == TRAP_HVC && t->expect.panics) {
		t->panicked = true;
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
	for (unsigned i = 0; i < cpu_count && i < CK_MAX_CPUS; i++)
		r->trap[i].cpu = i;
	return r;
}

const struct ck_rule rule_spec = {
	.name = "spec",
	.create = trap_create,
	.destroy = free,
	.trap_entry = trap_begin,
	.section_begin = trap_section_begin,
	.section_end = trap_section_end,
	.trap_exit = trap_end,
	.trap_abandon = trap_abandon,
	.nondet = trap_nondet,
	.mark = trap_mark,
	.panic = trap_panic,
};
