// SPDX-License-Identifier: MIT
/*
 * One trap, from TRAP_ENTRY to TRAP_EXIT: the pre-state when it takes its
 * first component lock, the changes its own descriptor stores make, the
 * post-state when it lets the last component lock go, and at the exit the
 * comparison with the spec (checker/spec/) and the invariants on every
 * page it touched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "replay.h"

#define TRAP_HOST PKVM_COMP_HOST_S2
#define TRAP_HYP PKVM_COMP_HYP_S1

unsigned trap_ec(const struct ck_event *entry)
{
	return (unsigned)((entry->w[0] >> 26) & 0x3f);
}

static int64_t trap_page_index(const struct ck *ck, uint64_t pfn)
{
	return model_page_index(ck->model, pfn);
}

static const char *trap_side_name(unsigned comp)
{
	return comp == TRAP_HOST ? "host" : "hyp";
}

void trap_free(struct ck_trap *t)
{
	free(t->touch);
	t->touch = NULL;
	t->touch_cap = 0;
}

/*
 * Ready for the next trap. Only what a trap reads before writing it is
 * cleared: a full memset of the struct (over a kilobyte) per trap shows in
 * the profile.
 */
static void trap_reset(struct ck_trap *t)
{
	t->evaluated = t->had_comp_lock = t->snapped = false;
	t->alloc_failed = t->unknown = t->panicked = t->system_off = false;
	memset(&t->expect, 0, offsetof(struct spec_outcome, effect));
	t->abort = SPEC_ABORT_UNKNOWN;
	memset(&t->pre_page, 0, sizeof(t->pre_page));
	t->pre_last = UINT64_MAX;
	memset(&t->focus_pre, 0, sizeof(t->focus_pre));
	memset(&t->focus_post, 0, sizeof(t->focus_post));
	t->focus_last = UINT64_MAX;
	t->read_count = 0;
	t->vbar_known = false;
	t->touch_count = 0;
	t->pend_count = 0;
	t->reported_count = 0;
}

static uint64_t trap_hcall_id(const struct ck_trap *t);

void trap_begin(struct ck *ck, unsigned cpu, const struct ck_event *ev)
{
	struct ck_trap *t = &ck->cpu[cpu].trap;
	unsigned ec = trap_ec(ev);

	trap_reset(t);
	t->active = true;
	if (++ck->trap_serial == 0)
		++ck->trap_serial;
	t->serial = ck->trap_serial;
	/* Its header and words, and only the records it has: a copy of
	 * the whole struct, per trap, showed in the profile. */
	memcpy(&t->entry, ev, offsetof(struct ck_event, recs));
	memcpy(t->entry.recs, ev->recs, ev->nrec * sizeof(ev->recs[0]));
	if (ec == CK_EC_HVC64 && (ev->w[0] & 0xffff) == 0)
		t->type = CK_TRAP_HVC;
	else if (ec == CK_EC_SMC64)
		t->type = CK_TRAP_SMC;
	else if (ec == CK_EC_IABT_LOW || ec == CK_EC_DABT_LOW)
		t->type = CK_TRAP_ABORT;
	else
		t->type = CK_TRAP_OTHER;
	/* HPFAR_EL2.FIPA, bits [39:4], holds IPA[47:12]. */
	t->ipa = (((ev->w[3] >> 4) & ((1ull << 36) - 1)) << 12) |
		 (ev->w[2] & 0xfff);
	if (t->type == CK_TRAP_HVC && trap_hcall_id(t) == PKVM_HC_TRACE_LOAD) {
		memset(&t->reads, 0, sizeof(t->reads));
		t->reads.ctrl_pa = ev->w[5] << 12;
	}
}

static uint64_t trap_hcall_id(const struct ck_trap *t)
{
	uint64_t x0 = t->entry.w[4];

	if ((x0 & ~(uint64_t)PKVM_HC_ID_MASK) != PKVM_HC_BASE)
		return 0;
	return x0 & PKVM_HC_ID_MASK;
}

static void trap_set_unknown(struct ck_trap *t, const char *why)
{
	if (t->unknown)
		return;
	t->unknown = true;
	snprintf(t->unknown_why, sizeof(t->unknown_why), "%s", why);
}

static uint64_t trap_last(const struct ck *ck, uint64_t pfn)
{
	int64_t i = trap_page_index(ck, pfn);

	return i < 0 ? UINT64_MAX : ck->last[i];
}

/* The pre-state: the spec's verdict on the state the trap locked. */
static void trap_evaluate(struct ck *ck, struct ck_trap *t)
{
	struct spec_machine m;
	int64_t i;

	t->evaluated = true;
	ck_spec_machine(ck, &m);
	if (t->type == CK_TRAP_HVC) {
		if (trap_hcall_id(t) == PKVM_HC_TRACE_LOAD)
			return; /* needs the host reads: judged at the exit */
		spec_hcall(&m, &t->entry.w[4], NULL, &t->expect);
		t->pre_page = ck_page(ck, t->entry.w[5]);
		t->pre_last = trap_last(ck, t->entry.w[5]);
		for (unsigned k = 0; k < t->expect.effect_count; k++)
			t->eff_last[k] = trap_last(ck, t->expect.effect[k].pfn);
		if (t->expect.unknown)
			trap_set_unknown(t, "the page states it depends on are "
					    "unknown after lost records");
	} else if (t->type == CK_TRAP_ABORT) {
		t->abort = spec_host_abort(&m, t->ipa, t->entry.w[0]);
		i = trap_page_index(ck, t->ipa >> 12);
		if (i >= 0) {
			t->focus_pre = ck->model->side[TRAP_HOST][i];
			t->focus_last = ck->last[i];
		} else {
			/* MMIO: not in the page arrays; an -ENOMEM abort
			 * must leave it as it was. */
			model_walk(ck->model, TRAP_HOST, t->ipa & ~0xfffull,
				   &t->focus_pre);
		}
		if (t->abort == SPEC_ABORT_UNKNOWN)
			trap_set_unknown(t, "the faulting page's host state is "
					    "unknown after lost records");
	}
}

/* Evaluate the spec now if the trap has not taken a component lock yet. */
void trap_prepare(struct ck *ck, unsigned cpu)
{
	struct ck_trap *t = &ck->cpu[cpu].trap;

	if (!t->evaluated)
		trap_evaluate(ck, t);
}

void trap_on_comp_lock(struct ck *ck, unsigned cpu)
{
	struct ck_trap *t = &ck->cpu[cpu].trap;

	t->had_comp_lock = true;
	if (!t->evaluated)
		trap_evaluate(ck, t);
}

void trap_touch(struct ck *ck, struct ck_trap *t, unsigned comp, uint64_t pfn,
		const struct model_side *old)
{
	int64_t i = trap_page_index(ck, pfn);
	struct ck_touch *e;

	if (ck->touch[comp][i] == t->serial)
		return;
	ck->touch[comp][i] = t->serial;
	if (t->touch_count == t->touch_cap) {
		t->touch_cap = t->touch_cap ? 2 * t->touch_cap : 256;
		t->touch = realloc(t->touch, t->touch_cap * sizeof(*t->touch));
		CK_CHECK(t->touch != NULL);
	}
	e = &t->touch[t->touch_count++];
	e->pfn = pfn;
	e->comp = comp;
	e->pre = *old;
	e->pre_last = ck->last[i];
	e->pre_known = !(ck->unknown[i] & (1u << comp));
}

/* ---- invariants ----------------------------------------------------- */

static bool trap_owns(unsigned st)
{
	return st == SPEC_ST_OWNED || st == SPEC_ST_SHARED_OWNED;
}

/** The first page invariant `pfn` breaks now, or NULL; `msg` says how. */
const char *trap_invariant(const struct ck *ck, uint64_t pfn, char *msg,
			   size_t len)
{
	int64_t i = trap_page_index(ck, pfn);
	const struct model_side *h = &ck->model->side[TRAP_HOST][i];
	const struct model_side *y = &ck->model->side[TRAP_HYP][i];
	struct spec_page p = ck_page(ck, pfn), q;
	unsigned long long pa = (unsigned long long)(pfn << 12);

	if (p.host == SPEC_ST_UNKNOWN || p.hyp == SPEC_ST_UNKNOWN)
		return NULL;
	if (p.host == SPEC_ST_BAD || p.hyp == SPEC_ST_BAD) {
		snprintf(msg, len,
			 "page 0x%llx: a valid descriptor carries the "
			 "reserved page state 0b11",
			 pa);
		return "invalid-state-bits";
	}
	if (h->flags & MODEL_SIDE_VALID) {
		q = ck_page(ck, h->out_pfn);
		if (trap_page_index(ck, h->out_pfn) >= 0 && trap_owns(q.hyp)) {
			snprintf(msg, len,
				 "host stage-2 maps 0x%llx to page "
				 "0x%llx, which the hyp %s",
				 pa, (unsigned long long)h->out_pfn << 12,
				 spec_state_name(q.hyp));
			return "host-maps-foreign-page";
		}
	}
	if (y->flags & MODEL_SIDE_VALID) {
		q = ck_page(ck, y->out_pfn);
		if (trap_page_index(ck, y->out_pfn) >= 0 &&
		    q.host == SPEC_ST_OWNED) {
			snprintf(msg, len,
				 "hyp stage-1 maps 0x%llx to page "
				 "0x%llx, which the host owns and has "
				 "not shared",
				 pa, (unsigned long long)y->out_pfn << 12);
			return "hyp-maps-foreign-page";
		}
	}
	/*
	 * "One owner" needs no check of its own: page states are read from
	 * the tables, so a hyp-side owner is mapped in hyp stage-1, and a
	 * host-side owner is either mapped in host stage-2 (the first check
	 * above) or unmapped with no annotation, i.e. host OWNED (the second).
	 */
	if ((p.host == SPEC_ST_SHARED_OWNED) !=
		    (p.hyp == SPEC_ST_SHARED_BORROWED) ||
	    (p.hyp == SPEC_ST_SHARED_OWNED) !=
		    (p.host == SPEC_ST_SHARED_BORROWED)) {
		snprintf(msg, len,
			 "page 0x%llx: host side %s with hyp side %s; "
			 "SHARED_OWNED on one side must pair with "
			 "SHARED_BORROWED on the other",
			 pa, spec_state_name(p.host), spec_state_name(p.hyp));
		return "invariant-share-pairing";
	}
	return NULL;
}

static void trap_pend(struct ck *ck, struct ck_trap *t, uint64_t pfn,
		      uint64_t explain)
{
	struct ck_pending *p;
	char msg[320];
	const char *check = trap_invariant(ck, pfn, msg, sizeof(msg));

	if (!check)
		return;
	if (t->pend_count == CK_MAX_PENDING) {
		ck_inconclusive(ck,
				"more than %u broken invariants in one trap",
				CK_MAX_PENDING);
		return;
	}
	p = &t->pend[t->pend_count++];
	p->check = check;
	p->pfn = pfn;
	p->explain = explain;
	p->has_explain = explain != UINT64_MAX;
	memcpy(p->text, msg, sizeof(p->text));
}

/* The post-state: taken when the trap lets its last component lock go. */
void trap_snapshot(struct ck *ck, unsigned cpu)
{
	struct ck_trap *t = &ck->cpu[cpu].trap;

	if (t->snapped)
		return;
	if (!t->evaluated)
		trap_evaluate(ck, t);
	t->snapped = true;
	for (size_t k = 0; k < t->touch_count; k++) {
		struct ck_touch *e = &t->touch[k];
		int64_t i = trap_page_index(ck, e->pfn);

		e->post = ck->model->side[e->comp][i];
		if (!e->pre_known)
			trap_set_unknown(t, "a page it changed was unknown "
					    "after lost records");
		/* One invariant check per page, even if both sides changed. */
		if (e->comp == TRAP_HYP && ck->touch[TRAP_HOST][i] == t->serial)
			continue;
		trap_pend(ck, t, e->pfn, e->pre_last);
	}
	for (unsigned k = 0; k < t->expect.effect_count; k++) {
		int64_t i = trap_page_index(ck, t->expect.effect[k].pfn);

		CK_CHECK(i >= 0);
		for (unsigned c = 1; c < MODEL_COMP_COUNT; c++)
			t->eff_post[k][c] = ck->model->side[c][i];
	}
	if (t->type == CK_TRAP_ABORT)
		model_walk(ck->model, TRAP_HOST, t->ipa & ~0xfffull,
			   &t->focus_post);
}

/* ---- effects -------------------------------------------------------- */

static void trap_report(struct ck *ck, struct ck_trap *t,
			const struct ck_event *ev, const char *check,
			uint64_t pfn, uint64_t explain, const char *text)
{
	if (t->reported_count < CK_MAX_REPORTED)
		t->reported[t->reported_count++] = pfn;
	ck_finding(ck, check, ev, pfn << 12, explain != UINT64_MAX, explain,
		   "%s", text);
}

static bool trap_was_reported(const struct ck_trap *t, uint64_t pfn)
{
	for (unsigned i = 0; i < t->reported_count; i++)
		if (t->reported[i] == pfn)
			return true;
	return false;
}

static bool trap_in_effect(const struct spec_outcome *e, uint64_t pfn)
{
	for (unsigned i = 0; e && i < e->effect_count; i++)
		if (e->effect[i].pfn == pfn)
			return true;
	return false;
}

/* A valid RAM mapping must be identity, normal memory, writable. */
static bool trap_mapping_ok(const struct ck *ck, unsigned comp, uint64_t pfn,
			    const struct model_side *s)
{
	return s->out_pfn == pfn && (s->flags & MODEL_SIDE_WRITABLE) &&
	       model_side_normal(ck->model, comp, s);
}

static void trap_describe(const struct ck *ck, unsigned comp,
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
		 model_side_normal(ck->model, comp, s) ? "normal" : "device",
		 s->flags & MODEL_SIDE_WRITABLE ? "RW" : "RO");
}

/*
 * Changes to pages the spec does not name: only state-preserving ones are
 * allowed (the host's lazy identity mappings, block splits). `change` names
 * the finding for a state change (hcall-effect, enomem-with-effect, ...).
 */
static void trap_check_others(struct ck *ck, struct ck_trap *t,
			      const struct ck_event *ev,
			      const struct spec_outcome *e, bool skip_focus,
			      const char *change)
{
	char text[600], a[120], b[120];

	for (size_t k = 0; k < t->touch_count; k++) {
		const struct ck_touch *x = &t->touch[k];
		unsigned pre = model_state(x->comp, &x->pre);
		unsigned post = model_state(x->comp, &x->post);
		const char *check = NULL;

		if (trap_in_effect(e, x->pfn) || trap_was_reported(t, x->pfn) ||
		    (skip_focus && x->comp == TRAP_HOST &&
		     x->pfn == t->ipa >> 12))
			continue;
		if (pre != post)
			check = change;
		else if (memcmp(&x->pre, &x->post, sizeof(x->pre)) == 0 ||
			 !(x->post.flags & MODEL_SIDE_VALID))
			continue;
		else if (x->comp == TRAP_HYP)
			check = "unexpected-mapping";
		else if (!trap_mapping_ok(ck, x->comp, x->pfn, &x->post))
			check = "bad-mapping";
		if (!check)
			continue;
		trap_describe(ck, x->comp, &x->pre, a, sizeof(a));
		trap_describe(ck, x->comp, &x->post, b, sizeof(b));
		snprintf(text, sizeof(text),
			 "page 0x%llx, %s side: the spec allows no change of "
			 "its state or %s mapping here; before %s, after %s",
			 (unsigned long long)x->pfn << 12,
			 trap_side_name(x->comp),
			 x->comp == TRAP_HOST ? "a host mapping other than a "
						"lazy identity one"
					      : "a hyp",
			 a, b);
		trap_report(ck, t, ev, check, x->pfn, x->pre_last, text);
	}
}

static void trap_call_text(const struct ck_trap *t, char *buf, size_t len);

static bool trap_needs_mapping(unsigned comp, unsigned st)
{
	if (comp == TRAP_HOST)
		return st == SPEC_ST_SHARED_OWNED ||
		       st == SPEC_ST_SHARED_BORROWED;
	return st != SPEC_ST_NOPAGE;
}

/* The pages the spec names must end in the states it gives. */
static void trap_check_effect(struct ck *ck, struct ck_trap *t,
			      const struct ck_event *ev)
{
	const struct spec_outcome *e = &t->expect;
	char text[600], got[120], call[120];

	for (unsigned k = 0; k < e->effect_count; k++) {
		uint64_t pfn = e->effect[k].pfn;

		for (unsigned c = 1; c < MODEL_COMP_COUNT; c++) {
			const struct model_side *s = &t->eff_post[k][c];
			unsigned want = c == TRAP_HOST ? e->effect[k].after.host
						       : e->effect[k].after.hyp;
			unsigned st = model_state(c, s);
			bool valid = s->flags & MODEL_SIDE_VALID;
			const char *check = NULL;

			if (st != want && trap_needs_mapping(c, want) && !valid)
				check = "missing-mapping";
			else if (st != want && want == SPEC_ST_NOPAGE && valid)
				check = "unexpected-mapping";
			else if (st != want)
				check = "hcall-effect";
			else if (valid && !trap_mapping_ok(ck, c, pfn, s))
				check = "bad-mapping";
			if (!check)
				continue;
			trap_describe(ck, c, s, got, sizeof(got));
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
			trap_report(ck, t, ev, check, pfn, t->eff_last[k],
				    text);
			break;
		}
	}
}

/* ---- per trap type -------------------------------------------------- */

static void trap_call_text(const struct ck_trap *t, char *buf, size_t len)
{
	const uint64_t *x = &t->entry.w[4];

	snprintf(buf, len, "%s(0x%llx, 0x%llx, 0x%llx)",
		 ck_hcall_name(trap_hcall_id(t)), (unsigned long long)x[1],
		 (unsigned long long)x[2], (unsigned long long)x[3]);
}

static void trap_pre_text(const struct ck *ck, const struct ck_trap *t,
			  char *buf, size_t len)
{
	uint64_t pfn = t->entry.w[5];

	if (trap_page_index(ck, pfn) < 0) {
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

static void trap_load_done(struct ck *ck, const struct ck_trap *t, int64_t ret)
{
	if (ret != 0)
		return;
	ck->trace_loaded = true;
	if (t->expect.x1 == 0 && t->expect.check_x1) {
		ck->pin_count = t->expect.pin_count;
		memcpy(ck->pins, t->expect.pin, sizeof(ck->pins));
	}
}

static void trap_hvc_end(struct ck *ck, struct ck_trap *t,
			 const struct ck_event *ev)
{
	const struct spec_outcome *e = &t->expect;
	int64_t ret = (int64_t)ev->w[1];
	char call[120], pre[160];

	/* Text only costs when there is something to say: not per trap. */
	if (e->panics || ev->w[0] != e->x0 || (e->check_x1 && ret != e->x1)) {
		trap_call_text(t, call, sizeof(call));
		trap_pre_text(ck, t, pre, sizeof(pre));
	}
	if (e->panics) {
		ck_finding(ck, "hcall-return", ev, 0, false, 0,
			   "%s must panic the hyp and never return; it "
			   "returned x0=0x%llx x1=0x%llx",
			   call, (unsigned long long)ev->w[0],
			   (unsigned long long)ev->w[1]);
		return;
	}
	if (ev->w[0] != e->x0) {
		ck_finding(ck, "hcall-return", ev, 0, false, 0,
			   "%s must return x0=%lld (%s); it returned x0=%lld",
			   call, (long long)e->x0,
			   e->x0 ? "unknown id: NOT_SUPPORTED" : "known id",
			   (long long)ev->w[0]);
		trap_check_others(ck, t, ev, NULL, false, "hcall-effect");
		return;
	}
	if (!e->check_x1 || ret == e->x1) {
		trap_check_others(ck, t, ev, ret == 0 ? e : NULL, false,
				  "hcall-effect");
		if (e->check_x1 && ret == 0)
			trap_check_effect(ck, t, ev);
		if (trap_hcall_id(t) == PKVM_HC_TRACE_LOAD)
			trap_load_done(ck, t, ret);
		return;
	}
	if (ret == -PKVM_ENOMEM && e->x1 == 0 && e->may_enomem &&
	    t->alloc_failed) {
		trap_check_others(ck, t, ev, NULL, false, "enomem-with-effect");
		return;
	}
	ck_finding(ck, "hcall-return", ev, t->entry.w[5] << 12,
		   t->pre_last != UINT64_MAX, t->pre_last,
		   "%s must return x1=%lld (%s); it returned x1=%lld (%s); "
		   "%s%s",
		   call, (long long)e->x1, ck_errno_name(e->x1), (long long)ret,
		   ck_errno_name(ret), pre,
		   ret == -PKVM_ENOMEM ? "; -ENOMEM is only allowed after the "
					 "pool ran out in this trap"
				       : "");
	if (trap_hcall_id(t) == PKVM_HC_TRACE_LOAD)
		trap_load_done(ck, t, ret);
	if (ret != 0)
		trap_check_others(ck, t, ev, NULL, false, "hcall-effect");
}

static void trap_abort_map(struct ck *ck, struct ck_trap *t,
			   const struct ck_event *ev)
{
	uint64_t pfn = t->ipa >> 12;
	bool ram = t->abort == SPEC_ABORT_MAP_RAM;
	const struct model_side *s = &t->focus_post;
	bool valid = s->flags & MODEL_SIDE_VALID;
	bool normal = model_side_normal(ck->model, TRAP_HOST, s);
	char got[120];

	if (ev->w[4] != 0)
		ck_finding(ck, "abort-injection", ev, t->ipa,
			   t->focus_last != UINT64_MAX, t->focus_last,
			   "a stage-2 abort at IPA 0x%llx, which the host may "
			   "access (%s), must be resolved by mapping it; the "
			   "hyp injected an abort (esr 0x%llx)",
			   (unsigned long long)t->ipa,
			   ram ? "its memory" : "MMIO",
			   (unsigned long long)ev->w[4]);
	else if (ev->w[6] != t->entry.w[1])
		ck_finding(ck, "abort-return", ev, t->ipa, false, 0,
			   "after mapping IPA 0x%llx the host must resume at "
			   "the faulting instruction 0x%llx; elr is 0x%llx",
			   (unsigned long long)t->ipa,
			   (unsigned long long)t->entry.w[1],
			   (unsigned long long)ev->w[6]);
	trap_describe(ck, TRAP_HOST, s, got, sizeof(got));
	if (!valid)
		ck_finding(ck, "missing-mapping", ev, t->ipa,
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
			ck, "bad-mapping", ev, t->ipa, false, 0,
			"after a stage-2 abort at IPA 0x%llx the host page "
			"must be mapped identity as %s with its state "
			"unchanged (%s); it is %s",
			(unsigned long long)t->ipa,
			ram ? "normal RW memory" : "device memory",
			spec_state_name(model_state(TRAP_HOST, &t->focus_pre)),
			got);
}

static void trap_abort_inject(struct ck *ck, struct ck_trap *t,
			      const struct ck_event *ev)
{
	const uint64_t *in = t->entry.w, *out = ev->w;
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
			ck, "abort-injection", ev, t->ipa,
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
	trap_check_others(ck, t, ev, NULL, false, "trap-effect");
}

/*
 * An abort the spec would map, injected after the pool ran out in this trap
 * (HYPERCALLS.md "Stage-2 abort"): the injection must be right and the
 * faulting page (MMIO included) unchanged.
 */
static void trap_abort_enomem(struct ck *ck, struct ck_trap *t,
			      const struct ck_event *ev)
{
	char a[120], b[120];

	trap_abort_inject(ck, t, ev);
	if (memcmp(&t->focus_pre, &t->focus_post, sizeof(t->focus_pre)) == 0 ||
	    trap_was_reported(t, t->ipa >> 12))
		return;
	trap_describe(ck, TRAP_HOST, &t->focus_pre, a, sizeof(a));
	trap_describe(ck, TRAP_HOST, &t->focus_post, b, sizeof(b));
	ck_finding(ck, "trap-effect", ev, t->ipa, t->focus_last != UINT64_MAX,
		   t->focus_last,
		   "the pool ran out in the stage-2 abort at IPA 0x%llx: the "
		   "hyp may then inject it, but only with no change; the "
		   "faulting page went from %s to %s",
		   (unsigned long long)t->ipa, a, b);
}

static void trap_check(struct ck *ck, struct ck_trap *t,
		       const struct ck_event *ev)
{
	switch (t->type) {
	case CK_TRAP_HVC: {
		trap_hvc_end(ck, t, ev);
		return;
	}
	case CK_TRAP_ABORT:
		if (t->abort == SPEC_ABORT_INJECT) {
			trap_abort_inject(ck, t, ev);
			return;
		}
		if (ev->w[4] != 0 && t->alloc_failed) {
			trap_abort_enomem(ck, t, ev);
			return;
		}
		trap_abort_map(ck, t, ev);
		{
			trap_check_others(ck, t, ev, NULL, true, "trap-effect");
			return;
		}
	case CK_TRAP_SMC:
		if (!spec_smc_is_system_off(t->entry.w[4]) &&
		    ev->w[0] != PKVM_SMCCC_NOT_SUPPORTED)
			ck_finding(ck, "smc-return", ev, 0, false, 0,
				   "SMC function 0x%llx is not handled: x0 "
				   "must be -1 (NOT_SUPPORTED); it is 0x%llx",
				   (unsigned long long)t->entry.w[4],
				   (unsigned long long)ev->w[0]);
		{
			trap_check_others(ck, t, ev, NULL, false,
					  "trap-effect");
			return;
		}
	default: {
		trap_check_others(ck, t, ev, NULL, false, "trap-effect");
		return;
	}
	}
}

static void trap_flush_pending(struct ck *ck, struct ck_trap *t,
			       const struct ck_event *ev)
{
	for (unsigned i = 0; i < t->pend_count; i++) {
		const struct ck_pending *p = &t->pend[i];

		if (trap_was_reported(t, p->pfn))
			continue;
		ck_finding(ck, p->check, ev, p->pfn << 12, p->has_explain,
			   p->explain, "%s", p->text);
	}
}

/* trace_load is judged at the exit: its verdict needs the host reads. */
static void trap_evaluate_load(struct ck *ck, struct ck_trap *t)
{
	struct spec_machine m;

	ck_spec_machine(ck, &m);
	spec_hcall(&m, &t->entry.w[4], &t->reads, &t->expect);
	t->pre_page = ck_page(ck, t->entry.w[5]);
	t->pre_last = trap_last(ck, t->entry.w[5]);
	if (t->expect.unknown)
		trap_set_unknown(t, "the page states trace_load depends on "
				    "are unknown after lost records");
}

void trap_end(struct ck *ck, unsigned cpu, const struct ck_event *ev)
{
	struct ck_trap *t = &ck->cpu[cpu].trap;

	if (!t->evaluated)
		trap_evaluate(ck, t);
	if (!t->snapped)
		trap_snapshot(ck, cpu);
	if (t->type == CK_TRAP_HVC && trap_hcall_id(t) == PKVM_HC_TRACE_LOAD)
		trap_evaluate_load(ck, t);
	if (t->unknown) {
		ck_inconclusive(ck, "cpu%u trap at event #%llu: %s", cpu,
				(unsigned long long)t->entry.index,
				t->unknown_why);
	} else {
		ck->sum->traps_checked++;
		trap_check(ck, t, ev);
		trap_flush_pending(ck, t, ev);
	}
	t->active = false;
}

void trap_abandon(struct ck *ck, unsigned cpu, const char *why)
{
	struct ck_trap *t = &ck->cpu[cpu].trap;
	const struct ck_event *ev = &t->entry;

	if ((t->panicked && t->expect.panics) ||
	    (t->system_off && t->type == CK_TRAP_SMC)) {
		ck->sum->traps_checked++;
	} else {
		ck_inconclusive(ck, "cpu%u trap at event #%llu: %s", cpu,
				(unsigned long long)ev->index, why);
	}
	if (t->snapped && !t->unknown)
		trap_flush_pending(ck, t, ev);
	t->active = false;
}

/* A host value read by the hyp: once only; trace_load keeps the bytes. */
void trap_host_read(struct ck *ck, unsigned cpu, const struct ck_event *ev)
{
	struct ck_trap *t = &ck->cpu[cpu].trap;
	uint64_t addr = ev->w[2], v = ev->w[1];
	uint64_t off = addr - t->reads.ctrl_pa;

	for (unsigned i = 0; i < t->read_count; i++)
		if (t->read_addr[i] == addr) {
			ck_finding(ck, "host-read-twice", ev, addr, false, 0,
				   "the hyp read host memory 0x%llx "
				   "twice in one trap; host-supplied "
				   "values must be read once",
				   (unsigned long long)addr);
			return;
		}
	if (t->read_count < CK_MAX_READS)
		t->read_addr[t->read_count++] = addr;
	if (t->type != CK_TRAP_HVC || trap_hcall_id(t) != PKVM_HC_TRACE_LOAD ||
	    addr < t->reads.ctrl_pa || off >= sizeof(t->reads.bytes))
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
