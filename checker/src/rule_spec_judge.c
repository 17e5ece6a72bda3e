// SPDX-License-Identifier: MIT
/*
 * The spec rule at a trap's exit (rule_spec.c says how a trap's sections
 * and their outcomes come about): the registers the trap returned and the
 * changes its sections made, against the spec's outcome for the section
 * whose state decided it. Changes of pages the outcome does not name are
 * allowed only where they keep the page's state (the host's lazy identity
 * mappings, block splits), and only in that section.
 */
#include <stdio.h>
#include <string.h>

#include <pkvm/abi.h>

#include "rule_spec.h"

static const char *trap_side_name(unsigned comp)
{
	return comp == TRAP_HOST ? "host" : "hyp";
}

static int64_t trap_page_index(const struct ck_env *env, uint64_t pfn)
{
	return model_page_index(view_model(env->view), pfn);
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
			      unsigned section, const struct ck_event *ev,
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

		if (x->section != section || trap_in_effect(e, x->pfn) ||
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
			      const struct spec_section *s,
			      const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	const struct spec_outcome *e = &s->expect;
	char text[600], got[120], call[120];

	for (unsigned k = 0; k < e->effect_count; k++) {
		uint64_t pfn = e->effect[k].pfn;

		for (unsigned c = 1; c < MODEL_COMP_COUNT; c++) {
			const struct model_side *side = &s->eff_post[k][c];
			unsigned want = c == TRAP_HOST ? e->effect[k].after.host
						       : e->effect[k].after.hyp;
			const char *check =
				trap_effect_check(m, c, pfn, side, want);

			if (!check)
				continue;
			trap_describe(m, c, side, got, sizeof(got));
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
			trap_report(env, t, ev, check, pfn, s->eff_last[k],
				    text);
			break;
		}
	}
}

/* ---- hypercalls ----------------------------------------------------- */

static void trap_pre_text(const struct ck_env *env, const struct spec_trap *t,
			  const struct spec_section *s, char *buf, size_t len)
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
		 spec_state_name(s->pre_page.host),
		 spec_state_name(s->pre_page.hyp));
}

/* x1 is not the spec's: the finding, unless -ENOMEM is allowed here. */
static void trap_hvc_x1(const struct ck_env *env, struct spec_trap *t,
			const struct spec_section *s, const struct ck_event *ev,
			const char *call, const char *pre)
{
	const struct spec_outcome *e = &s->expect;
	unsigned k = (unsigned)(s - t->section);
	int64_t ret = (int64_t)ev->w[1];

	if (ret == -PKVM_ENOMEM && e->x1 == 0 && e->may_enomem &&
	    t->alloc_failed) {
		trap_check_others(env, t, k, ev, NULL, false,
				  "enomem-with-effect");
		return;
	}
	ck_finding(env->out, "hcall-return", ev, t->entry->w[5] << 12,
		   s->pre_last != UINT64_MAX, s->pre_last,
		   "%s must return x1=%lld (%s); it returned x1=%lld (%s); "
		   "%s%s",
		   call, (long long)e->x1, ck_errno_name(e->x1), (long long)ret,
		   ck_errno_name(ret), pre,
		   ret == -PKVM_ENOMEM ? "; -ENOMEM is only allowed after the "
					 "pool ran out in this trap"
				       : "");
	if (ret != 0)
		trap_check_others(env, t, k, ev, NULL, false, "hcall-effect");
}

static void trap_hvc_end(const struct ck_env *env, struct spec_trap *t,
			 const struct spec_section *s,
			 const struct ck_event *ev)
{
	const struct spec_outcome *e = &s->expect;
	unsigned k = (unsigned)(s - t->section);
	int64_t ret = (int64_t)ev->w[1];
	char call[120], pre[160];

	/* Text only costs when there is something to say: not per trap. */
	if (e->panics || ev->w[0] != e->x0 || (e->check_x1 && ret != e->x1)) {
		trap_call_text(t, call, sizeof(call));
		trap_pre_text(env, t, s, pre, sizeof(pre));
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
		trap_check_others(env, t, k, ev, NULL, false, "hcall-effect");
		return;
	}
	if (e->check_x1 && ret != e->x1) {
		trap_hvc_x1(env, t, s, ev, call, pre);
		return;
	}
	trap_check_others(env, t, k, ev, ret == 0 ? e : NULL, false,
			  "hcall-effect");
	if (e->check_x1 && ret == 0)
		trap_check_effect(env, t, s, ev);
}

/* ---- aborts --------------------------------------------------------- */

static void trap_abort_map(const struct ck_env *env, struct spec_trap *t,
			   const struct spec_section *sec,
			   const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	uint64_t pfn = t->ipa >> 12;
	bool ram = sec->abort == SPEC_ABORT_MAP_RAM;
	const struct model_side *s = &sec->focus_post;
	bool valid = s->flags & MODEL_SIDE_VALID;
	bool normal = model_side_normal(m, TRAP_HOST, s);
	char got[120];

	if (ev->w[4] != 0)
		ck_finding(env->out, "abort-injection", ev, t->ipa,
			   sec->focus_last != UINT64_MAX, sec->focus_last,
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
			   sec->focus_last != UINT64_MAX, sec->focus_last,
			   "after a stage-2 abort at IPA 0x%llx the host page "
			   "must be mapped (identity, %s); it is %s",
			   (unsigned long long)t->ipa,
			   ram ? "normal, RW" : "device", got);
	else if (s->out_pfn != pfn || normal != ram ||
		 (ram && !(s->flags & MODEL_SIDE_WRITABLE)) ||
		 (ram && model_state(TRAP_HOST, s) !=
				 model_state(TRAP_HOST, &sec->focus_pre)))
		ck_finding(env->out, "bad-mapping", ev, t->ipa, false, 0,
			   "after a stage-2 abort at IPA 0x%llx the host page "
			   "must be mapped identity as %s with its state "
			   "unchanged (%s); it is %s",
			   (unsigned long long)t->ipa,
			   ram ? "normal RW memory" : "device memory",
			   spec_state_name(
				   model_state(TRAP_HOST, &sec->focus_pre)),
			   got);
}

/*
 * An abort the spec says is injected must be: the exit says so. What the
 * host is left with (the EL1 registers written, the vector and mode it
 * resumes in) is rule_inject.c's, judged on the records.
 */
static void trap_abort_inject(const struct ck_env *env, struct spec_trap *t,
			      const struct spec_section *s,
			      const struct ck_event *ev)
{
	if (ev->w[4] == 0)
		ck_finding(
			env->out, "abort-injection", ev, t->ipa,
			s->focus_last != UINT64_MAX, s->focus_last,
			"a stage-2 abort at IPA 0x%llx (host side %s) must "
			"be injected into the host (esr 0x%llx, far "
			"0x%llx); the exit injects nothing (inject_esr 0, "
			"elr 0x%llx)",
			(unsigned long long)t->ipa,
			spec_state_name(model_state(TRAP_HOST, &s->focus_pre)),
			(unsigned long long)t->entry->w[0],
			(unsigned long long)t->entry->w[2],
			(unsigned long long)ev->w[6]);
	trap_check_others(env, t, (unsigned)(s - t->section), ev, NULL, false,
			  "trap-effect");
}

/*
 * An abort the spec would map, injected after the pool ran out in this trap
 * (HYPERCALLS.md "Stage-2 abort"): the injection must be right and the
 * faulting page (MMIO included) unchanged.
 */
static void trap_abort_enomem(const struct ck_env *env, struct spec_trap *t,
			      const struct spec_section *s,
			      const struct ck_event *ev)
{
	const struct model *m = view_model(env->view);
	char a[120], b[120];

	trap_abort_inject(env, t, s, ev);
	if (memcmp(&s->focus_pre, &s->focus_post, sizeof(s->focus_pre)) == 0 ||
	    ck_trap_was_reported(env->out, t->cpu, t->ipa >> 12))
		return;
	trap_describe(m, TRAP_HOST, &s->focus_pre, a, sizeof(a));
	trap_describe(m, TRAP_HOST, &s->focus_post, b, sizeof(b));
	ck_finding(env->out, "trap-effect", ev, t->ipa,
		   s->focus_last != UINT64_MAX, s->focus_last,
		   "the pool ran out in the stage-2 abort at IPA 0x%llx: the "
		   "hyp may then inject it, but only with no change; the "
		   "faulting page went from %s to %s",
		   (unsigned long long)t->ipa, a, b);
}

static void trap_abort_end(const struct ck_env *env, struct spec_trap *t,
			   const struct spec_section *s,
			   const struct ck_event *ev)
{
	if (s->abort == SPEC_ABORT_INJECT) {
		trap_abort_inject(env, t, s, ev);
		return;
	}
	if (ev->w[4] != 0 && t->alloc_failed) {
		trap_abort_enomem(env, t, s, ev);
		return;
	}
	trap_abort_map(env, t, s, ev);
	trap_check_others(env, t, (unsigned)(s - t->section), ev, NULL, true,
			  "trap-effect");
}

/* ---- every trap ----------------------------------------------------- */

static void trap_smc_end(const struct ck_env *env, struct spec_trap *t,
			 unsigned k, const struct ck_event *ev)
{
	if (!spec_smc_is_system_off(t->entry->w[4]) &&
	    ev->w[0] != PKVM_SMCCC_NOT_SUPPORTED)
		ck_finding(env->out, "smc-return", ev, 0, false, 0,
			   "SMC function 0x%llx is not handled: x0 must be -1 "
			   "(NOT_SUPPORTED); it is 0x%llx",
			   (unsigned long long)t->entry->w[4],
			   (unsigned long long)ev->w[0]);
	trap_check_others(env, t, k, ev, NULL, false, "trap-effect");
}

bool judge_agrees(const struct spec_trap *t, const struct spec_section *s,
		  const struct ck_event *ev)
{
	const struct spec_outcome *e = &s->expect;

	switch (t->type) {
	case TRAP_HVC:
		/* A call the spec says succeeds with an effect needs one. */
		return !e->panics && ev->w[0] == e->x0 &&
		       (!e->check_x1 || ((int64_t)ev->w[1] == e->x1 &&
					 (e->x1 != 0 || e->effect_count == 0)));
	case TRAP_ABORT:
		return (s->abort == SPEC_ABORT_INJECT) == (ev->w[4] != 0);
	default:
		return true; /* no outcome depends on the state */
	}
}

/* ---- the registers a trap returns ---------------------------------- */

/*
 * What the spec determines of a trap's return besides its results (x0 and
 * x1 of a hypercall, x0 of an SMC) and an injection's registers
 * (trap_abort_inject): which of x0..x3 the trap leaves as the host had
 * them, where the host resumes, that nothing is injected.
 */
struct trap_return {
	const char *check; /* the finding's name */
	const char *rule;  /* the rule, for its text */
	unsigned kept;	   /* bit per xN left as it was */
	bool elr_set;	   /* the host resumes at the entry's elr + `skip` */
	uint64_t skip;
	bool no_inject; /* nothing is injected */
};

static const struct trap_return trap_returns[] = {
	/* x3 too where the entry recorded it (trap_judge_return). */
	[TRAP_HVC] = { "hcall-return",
		       "a hypercall returns its results in x0 and x1 only, at "
		       "the instruction after the hvc, injecting nothing",
		       0x4u, true, 0, true },
	/* A trapped SMC's elr is the SMC: the hyp moves it on. */
	[TRAP_SMC] = { "smc-return",
		       "an SMC the hyp does not handle returns past the SMC "
		       "(elr + 4), injecting nothing",
		       0, true, 4, true },
	/* Where it resumes, and the injection: trap_abort_*. */
	[TRAP_ABORT] = { "abort-return",
			 "a stage-2 abort leaves x0-x3 as the host had them",
			 0xfu, false, 0, false },
	/* HYPERCALLS.md "Anything else": no state change, x0 = -1 if it was
	 * a call (an hvc with another immediate). */
	[TRAP_OTHER] = { "trap-return",
			 "a trap the hyp does not handle changes nothing the "
			 "host sees but x0 = -1 for a call: it resumes where "
			 "it was, injecting nothing",
			 0xfu, true, 0, true },
};

/* Append "what=0x.. (how 0x..)" to `buf` at `*n`. */
static void trap_note_reg(char *buf, size_t len, size_t *n, const char *what,
			  uint64_t got, const char *how, uint64_t want)
{
	if (*n < len)
		*n += (size_t)snprintf(
			buf + *n, len - *n, "%s%s=0x%llx (%s 0x%llx)",
			*n ? ", " : "", what, (unsigned long long)got, how,
			(unsigned long long)want);
}

/* Report what of the exit differs from the return `r` the spec wants. */
static void trap_report_return(const struct ck_env *env,
			       const struct spec_trap *t,
			       const struct trap_return *r, unsigned kept,
			       bool x0_call, const struct ck_event *ev)
{
	static const char *const xname[4] = { "x0", "x1", "x2", "x3" };
	const uint64_t *in = t->entry->w, *out = ev->w;
	char got[400];
	size_t n = 0;

	for (unsigned x = 0; x < 4; x++)
		if ((kept >> x & 1) && out[x] != in[4 + x])
			trap_note_reg(got, sizeof(got), &n, xname[x], out[x],
				      "at entry", in[4 + x]);
	if (x0_call && out[0] != PKVM_SMCCC_NOT_SUPPORTED)
		trap_note_reg(got, sizeof(got), &n, "x0", out[0], "must be",
			      PKVM_SMCCC_NOT_SUPPORTED);
	if (r->elr_set && out[6] != in[1] + r->skip)
		trap_note_reg(got, sizeof(got), &n, "elr", out[6], "must be",
			      in[1] + r->skip);
	if (r->no_inject && (out[4] || out[5]))
		trap_note_reg(got, sizeof(got), &n, "inject_esr", out[4],
			      "must be", 0);
	ck_finding(env->out, r->check, ev, t->type == TRAP_ABORT ? t->ipa : 0,
		   false, 0, "%s; the exit has %s", r->rule, got);
}

/*
 * The registers of the exit against the return the spec determines. A
 * compact exit (HCALL_EXIT, HCALL_EXIT_UNLOCK2) stands for x2, x3 and elr
 * as at entry and nothing injected (FORMAT.md 3.1): its values are judged
 * like any TRAP_EXIT's, so whether the hyp wrote it compact decides
 * nothing about what is checked.
 */
static void trap_judge_return(const struct ck_env *env,
			      const struct spec_trap *t,
			      const struct spec_section *s,
			      const struct ck_event *ev)
{
	const struct trap_return *r = &trap_returns[t->type];
	const uint64_t *in = t->entry->w, *out = ev->w;
	unsigned kept = r->kept, diff = 0;
	bool x0_call = false;

	if (t->type == TRAP_HVC && s->expect.panics)
		return; /* must not return at all (trap_hvc_end) */
	if (t->type == TRAP_SMC && spec_smc_is_system_off(in[4]))
		return;
	/* x3 is in the entry only if it was a TRAP_ENTRY (FORMAT.md 3.1). */
	if (t->type == TRAP_HVC && t->entry->recs[0].kind == PKVM_EV_TRAP_ENTRY)
		kept |= 0x8u;
	if (t->type == TRAP_OTHER && ((in[0] >> 26) & 0x3f) == 0x16u) {
		kept &= ~1u; /* an hvc: x0 = -1 */
		x0_call = true;
	}
	for (unsigned x = 0; x < 4; x++)
		diff |= (kept >> x & 1) && out[x] != in[4 + x];
	if (diff || (x0_call && out[0] != PKVM_SMCCC_NOT_SUPPORTED) ||
	    (r->elr_set && out[6] != in[1] + r->skip) ||
	    (r->no_inject && (out[4] || out[5])))
		trap_report_return(env, t, r, kept, x0_call, ev);
}

void judge_trap(const struct ck_env *env, struct spec_trap *t, unsigned d,
		const struct ck_event *ev)
{
	const struct spec_section *s = &t->section[d];

	switch (t->type) {
	case TRAP_HVC:
		trap_hvc_end(env, t, s, ev);
		break;
	case TRAP_ABORT:
		trap_abort_end(env, t, s, ev);
		break;
	case TRAP_SMC:
		trap_smc_end(env, t, d, ev);
		break;
	default:
		trap_check_others(env, t, d, ev, NULL, false, "trap-effect");
		break;
	}
	trap_judge_return(env, t, s, ev);
	/* The other sections' changes are no call's effect. */
	for (unsigned k = 0; k < t->sections; k++)
		if (k != d)
			trap_check_others(env, t, k, ev, NULL, false,
					  t->type == TRAP_HVC ? "hcall-effect"
							      : "trap-effect");
}
