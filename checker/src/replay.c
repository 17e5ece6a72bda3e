// SPDX-License-Identifier: MIT
/*
 * The replay: events read from each CPU's stream (read.c), in an order
 * that respects each lock's tickets (linearise.c), keep the machine model,
 * the locks and each CPU's trap up to date, and go to the rules (rules.h)
 * by kind. Findings are about the implementation (its trace) and go
 * through the findings desk; anything that means the checker itself is
 * wrong goes through CK_CHECK (exit 70).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "read.h"

/* ---- loss ----------------------------------------------------------- */

/*
 * The state of lock `id`'s component may have changed in records we do not
 * have. Its page tables, if it has any: every page's side of them becomes
 * unknown (until a store rewrites it), and the traps in progress cannot be
 * judged. Its other state: the rules that keep it say (comp_unknown).
 */
void replay_unknown_lock(struct ck *ck, unsigned id, const char *why)
{
	unsigned tables = view_lock_comp(&ck->view, id);

	if (!ck->view.model || (!tables && !(ck->spec_locks >> id & 1)))
		return;
	if (tables) {
		for (uint64_t i = 0; i < ck->view.model->ram_pages; i++)
			ck->view.unknown[i] |= (uint8_t)(1u << tables);
		for (unsigned i = 0; i < ck->ncpu; i++)
			ck_trap_unsure(ck->out, i, "%s", why);
	}
	rules_comp_unknown(ck->rules, &ck->env, id);
}

/*
 * Records of `cpu` are missing. Lock tickets bound what they could have
 * done: a component can only have changed if that CPU held its lock at
 * the gap, or took it in the gap, which shows later as a ticket gap or a
 * release without acquire (linearise.c, replay_release). Only those
 * components become unknown.
 */
void replay_loss(struct ck *ck, unsigned cpu)
{
	struct ck_view_cpu *c = &ck->view.cpu[cpu];

	ck->view.any_loss = true;
	ck->boot_alone = false; /* its HOST_ENTER may be among them */
	c->lost = true;
	c->entry_maybe_lost = true;
	rules_loss(ck->rules, &ck->env, cpu);
	ck_inconclusive(ck->out,
			"records of cpu%u were lost: the events in that "
			"window are not checked",
			cpu);
	ck_trap_unsure(ck->out, cpu,
		       "records of cpu%u were lost during the trap", cpu);
	for (unsigned id = 1; id < CK_LOCK_COUNT; id++)
		if (c->held & (1u << id))
			replay_unknown_lock(ck, id,
					    "a component was changed in lost "
					    "records");
}

/* ---- the traps ------------------------------------------------------ */

/* A new serial marks the pages a trap's next section changes. */
static void replay_new_serial(struct ck *ck, struct ck_trapctx *t)
{
	if (++ck->trap_serial == 0)
		++ck->trap_serial;
	t->serial = ck->trap_serial;
}

static void replay_trap_begin(struct ck *ck, unsigned cpu,
			      const struct ck_event *ev)
{
	struct ck_trapctx *t = &ck->view.cpu[cpu].trap;

	t->active = true;
	t->in_section = t->touched_unknown = false;
	t->section = 0;
	t->touch_count = t->section_first = 0;
	t->section_stores = 0;
	replay_new_serial(ck, t);
	/* Its header and words, and only the records it has: a copy of
	 * the whole struct, per trap, showed in the profile. */
	memcpy(&t->entry, ev, offsetof(struct ck_event, recs));
	memcpy(t->entry.recs, ev->recs, ev->nrec * sizeof(ev->recs[0]));
	findings_trap_begin(ck->out, cpu);
}

/* The trap ends without its exit: the rules say what they can. */
static void replay_trap_abandon(struct ck *ck, unsigned cpu, const char *why)
{
	rules_trap_abandon(ck->rules, &ck->env, cpu, why);
	ck->view.cpu[cpu].trap.active = false;
}

/*
 * A page side changed in the trap's current section: keep its view before
 * the section's first change of it (and what last changed it before).
 */
static void replay_touch(struct ck *ck, struct ck_trapctx *t, unsigned comp,
			 int64_t i, uint64_t pfn, const struct model_side *old)
{
	struct ck_touch *e;

	if (ck->view.touch[comp][i] == t->serial)
		return;
	ck->view.touch[comp][i] = t->serial;
	ck->view.touch_at[comp][i] = (uint32_t)t->touch_count;
	if (t->touch_count == t->touch_cap) {
		t->touch_cap = t->touch_cap ? 2 * t->touch_cap : 256;
		t->touch = realloc(t->touch, t->touch_cap * sizeof(*t->touch));
		CK_CHECK(t->touch != NULL);
	}
	e = &t->touch[t->touch_count++];
	e->pfn = pfn;
	e->comp = comp;
	e->section = t->section;
	e->pre = *old;
	e->pre_last = ck->view.last[i];
	e->pre_known = !(ck->view.unknown[i] & (1u << comp));
}

/*
 * The trap's critical section ends (`ev`: its last component lock let go,
 * or its exit): what the section changed gets its view after, and the
 * rules judge the section. The trap's later changes belong to its next
 * section.
 */
static void replay_section_end(struct ck *ck, unsigned cpu,
			       const struct ck_event *ev)
{
	struct ck_trapctx *t = &ck->view.cpu[cpu].trap;

	t->in_section = false;
	for (size_t k = t->section_first; k < t->touch_count; k++) {
		struct ck_touch *e = &t->touch[k];
		int64_t i = model_page_index(ck->view.model, e->pfn);

		e->post = ck->view.model->side[e->comp][i];
		t->touched_unknown |= !e->pre_known;
	}
	rules_call(&ck->rules->section_end, &ck->env, ev);
	t->section++;
	t->section_first = t->touch_count;
	t->section_stores = 0;
	t->touched_unknown = false;
	replay_new_serial(ck, t);
}

/*
 * A compact exit written where the format does not allow it (expand.h,
 * `invalid`): an HCALL_EXIT_UNLOCK2 whose trap's entry, read with no loss
 * since, took no locks. It claims releases of locks nobody took, so the
 * trace contradicts itself and nothing after it can be trusted.
 */
static void replay_exit_invalid(struct ck *ck, const struct ck_event *ev)
{
	const struct ck_trapctx *t = &ck->view.cpu[ev->cpu].trap;
	const char *entry = "trap_entry";
	char msg[300];

	/* The trap's entry is one of the two forms that take no locks. */
	if (t->active && t->entry.recs[0].kind == PKVM_EV_HCALL_ENTRY)
		entry = "hcall_entry";
	snprintf(msg, sizeof(msg),
		 "cpu%u: hcall_exit_unlock2 closes a trap whose entry (%s) "
		 "took no locks; it stands for releasing the two locks an "
		 "hcall_entry_lock2 took, and may only close such a trap",
		 ev->cpu, entry);
	ck_inconsistent(ck->out, ev, msg);
}

static void replay_trap_entry(struct ck *ck, const struct ck_event *ev)
{
	struct ck_view_cpu *c = &ck->view.cpu[ev->cpu];

	if (c->trap.active)
		replay_trap_abandon(ck, ev->cpu, "a trap entry without exit");
	c->entry_maybe_lost = false;
	if (ev->cpu == 0)
		ck->boot_alone = false; /* (a HOST_ENTER never recorded) */
	replay_trap_begin(ck, ev->cpu, ev);
	rules_call(&ck->rules->trap_entry, &ck->env, ev);
}

static void replay_trap_exit(struct ck *ck, const struct ck_event *ev)
{
	struct ck_view_cpu *c = &ck->view.cpu[ev->cpu];

	if (ev->invalid) {
		replay_exit_invalid(ck, ev);
		return;
	}
	if (!c->trap.active) {
		ck_inconclusive(ck->out, "cpu%u: trap exit without entry",
				ev->cpu);
		return;
	}
	if (ev->incomplete)
		ck_trap_unsure(ck->out, ev->cpu,
			       "its %s follows lost records: x2, x3 and elr at "
			       "entry are unknown",
			       ev->recs[0].kind == PKVM_EV_HCALL_EXIT_UNLOCK2
				       ? "hcall_exit_unlock2"
				       : "hcall_exit");
	/* A section still open ends with the exit, and so do stores made
	 * after the last one (or by a trap that took no lock). */
	if (c->trap.in_section || c->trap.section_stores ||
	    c->trap.section == 0)
		replay_section_end(ck, ev->cpu, ev);
	rules_call(&ck->rules->trap_exit, &ck->env, ev);
	c->trap.active = false;
	if (ck->hold_hcall &&
	    profile_is_hcall(c->trap.entry.w, ck->view.profile->boot_hcall))
		ck_sched_unhold(ck);
}

/* ---- descriptor stores ---------------------------------------------- */

static void replay_on_change(void *ctx, unsigned comp, uint64_t pfn,
			     const struct model_side *old)
{
	struct ck *ck = ctx;
	int64_t i = model_page_index(ck->view.model, pfn);
	struct ck_view_cpu *c = &ck->view.cpu[ck->cur_cpu];

	CK_CHECK(i >= 0 && comp < MODEL_COMP_COUNT);
	if (c->trap.active)
		replay_touch(ck, &c->trap, comp, i, pfn, old);
	if (ck->view.store_page_count < CK_MAX_STORE_PAGES)
		ck->view.store_pages[ck->view.store_page_count++] = pfn;
	ck->view.unknown[i] &= (uint8_t) ~(1u << comp);
	ck->view.last[i] =
		c->trap.active ? c->trap.entry.index : ck->view.index;
}

static void replay_store(struct ck *ck, const struct ck_event *ev)
{
	struct ck_trapctx *t = &ck->view.cpu[ev->cpu].trap;

	if (t->active)
		t->section_stores++;
	ck->view.store_page_count = 0;
	rules_call(&ck->rules->store_before, &ck->env, ev);
	CK_CHECK(model_pte_write(ck->view.model, ev->w[0], ev->w[1],
				 ev->index + 1, &ck->view.store) == 0);
	rules_call(&ck->rules->store_after, &ck->env, ev);
}

/* ---- locks ---------------------------------------------------------- */

static void replay_acquire(struct ck *ck, const struct ck_event *ev)
{
	unsigned id = (unsigned)ev->w[0];
	struct ck_view_cpu *c = &ck->view.cpu[ev->cpu];
	struct ck_lock *l;
	char msg[200];

	if (id == 0 || id >= CK_LOCK_COUNT) {
		ck_inconsistent(ck->out, ev,
				"lock_acquire of an unknown lock id");
		return;
	}
	l = &ck->view.lock[id];
	if (!c->lost && !ck->view.any_loss &&
	    (l->holder >= 0 || ev->w[1] != l->next_ticket)) {
		snprintf(msg, sizeof(msg),
			 "cpu%u acquires lock %llx with ticket %llu, but %s",
			 ev->cpu, (unsigned long long)l->raw,
			 (unsigned long long)ev->w[1],
			 l->holder >= 0 ? "the lock is held"
					: "that ticket was already taken");
		ck_inconsistent(ck->out, ev, msg);
		return;
	}
	if (l->holder >= 0 || ev->w[1] != l->next_ticket)
		replay_unknown_lock(ck, id,
				    "lock tickets were taken in lost records");
	if (l->holder >= 0 && l->holder != (int)ev->cpu)
		ck->view.cpu[l->holder].held &= ~(1u << id);
	l->holder = ev->cpu;
	l->ticket = ev->w[1];
	l->next_ticket = ev->w[1] + 1;
	ck_sched_lock(ck, id);
	c->held |= 1u << id;
	rules_call(&ck->rules->lock_acquire, &ck->env, ev);
	if ((ck->spec_locks >> id & 1) && c->trap.active &&
	    !c->trap.in_section) {
		c->trap.in_section = true;
		rules_call(&ck->rules->section_begin, &ck->env, ev);
	}
}

static void replay_release(struct ck *ck, const struct ck_event *ev)
{
	unsigned id = (unsigned)ev->w[0];
	struct ck_view_cpu *c = &ck->view.cpu[ev->cpu];
	struct ck_lock *l;
	char msg[200];

	if (id == 0 || id >= CK_LOCK_COUNT) {
		ck_inconsistent(ck->out, ev,
				"lock_release of an unknown lock id");
		return;
	}
	l = &ck->view.lock[id];
	if ((l->holder != (int)ev->cpu || l->ticket != ev->w[1]) && !c->lost) {
		snprintf(msg, sizeof(msg),
			 "cpu%u releases lock %llx ticket %llu, which it does "
			 "not hold",
			 ev->cpu, (unsigned long long)l->raw,
			 (unsigned long long)ev->w[1]);
		ck_inconsistent(ck->out, ev, msg);
		return;
	}
	rules_call(&ck->rules->lock_release, &ck->env, ev);
	if (l->holder != (int)ev->cpu)
		replay_unknown_lock(ck, id, "a lock was taken in lost records");
	if (l->holder == (int)ev->cpu) {
		l->holder = -1;
		ck_sched_lock(ck, id);
	}
	c->held &= ~(1u << id);
	if ((ck->spec_locks >> id & 1) && c->trap.active &&
	    c->trap.in_section && !(c->held & ck->spec_locks))
		replay_section_end(ck, ev->cpu, ev);
}

/* ---- boot ----------------------------------------------------------- */

static int replay_boot(struct ck *ck, const struct ck_event *ev)
{
	struct ck_boot *b = &ck->view.boot;
	uint64_t pages;

	b->cpu_count = (unsigned)(ev->w[0] >> 32);
	b->ram_base = ev->w[2];
	b->ram_size = ev->w[3];
	b->hyp_start = ev->w[4];
	b->hyp_end = ev->w[5];
	b->pool_start = ev->w[6];
	b->pool_end = ev->w[7];
	b->flags = ev->w[13];
	ck->boot_tcr = ev->w[11];
	if (verdict_boot(ck, ev, ck->cur_pos) < 0)
		return -1;
	pages = b->ram_size >> 12;
	ck->view.model = model_create(b->ram_base, b->ram_size);
	ck->view.unknown = calloc(pages, 1);
	ck->view.last = malloc(pages * sizeof(uint64_t));
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++) {
		ck->view.touch[c] = calloc(pages, sizeof(uint32_t));
		ck->view.touch_at[c] = calloc(pages, sizeof(uint32_t));
		CK_CHECK(ck->view.touch[c] && ck->view.touch_at[c]);
	}
	CK_CHECK(ck->view.model && ck->view.unknown && ck->view.last);
	memset(ck->view.last, 0xff, pages * sizeof(uint64_t));
	ck->view.model->on_change = replay_on_change;
	ck->view.model->cb_ctx = ck;
	ck->view.model->keep_orphans =
		ck->view.profile->roots == PROFILE_ROOTS_SYSREG;
	if (ck->view.profile->roots == PROFILE_ROOTS_BOOT &&
	    (model_set_root(ck->view.model, PKVM_COMP_HOST_S2, ev->w[8]) ||
	     model_set_root(ck->view.model, PKVM_COMP_HYP_S1, ev->w[9]))) {
		ck_corrupt_at(ck, ck->cur_pos,
			      "the BOOT record gives bad page-table roots");
		return -1;
	}
	ck->boot_seen = true;
	ck->boot_alone = ck->view.profile->boot_cpu_alone;
	rules_call(&ck->rules->boot, &ck->env, ev);
	return 0;
}

/*
 * PROFILE_ROOTS_SYSREG (LINUX-6.12.md 2): the hyp stage-1 root is the
 * first TTBR0_EL2 written, at the level BOOT's TCR_EL2 gives (T0SZ, and
 * DS for 52 bits); the host stage-2 root the first VTTBR_EL2 with VMID 0,
 * at the level and concatenation of the VTCR_EL2 written before it (T0SZ,
 * SL0, SL2). Their tables were written before (model keep_orphans).
 */
static int replay_levels(unsigned ia_bits)
{
	unsigned levels = (ia_bits - 12 + 8) / 9;

	return 4 - (int)levels;
}

static void replay_sysreg_root(struct ck *ck, const struct ck_event *ev)
{
	struct model *m = ck->view.model;
	uint64_t v = ev->w[1], base = v & 0x0000fffffffff000ull;
	int rc = 0;

	if (ev->w[0] == PKVM_SYSREG_VTCR_EL2) {
		ck->vtcr = v;
	} else if (ev->w[0] == PKVM_SYSREG_TTBR0_EL2 &&
		   m->root[PKVM_COMP_HYP_S1] < 0) {
		unsigned t0sz = (unsigned)(ck->boot_tcr & 0x3f);

		if (t0sz < 12 || t0sz > 48)
			rc = -1;
		else
			rc = model_adopt_root(m, PKVM_COMP_HYP_S1, base,
					      replay_levels(64 - t0sz), 1);
	} else if (ev->w[0] == PKVM_SYSREG_VTTBR_EL2 && (v >> 48) == 0 &&
		   m->root[PKVM_COMP_HOST_S2] < 0) {
		unsigned t0sz = (unsigned)(ck->vtcr & 0x3f);
		unsigned sl0 = (unsigned)(ck->vtcr >> 6) & 3;
		static const int sl0_level[4] = { 2, 1, 0, 3 };
		int level = (ck->vtcr >> 33) & 1 ? -1 : sl0_level[sl0];
		unsigned ia = 64 - t0sz, shift;

		if (!ck->vtcr || t0sz < 12 || t0sz > 48)
			rc = -1;
		else {
			shift = (unsigned)(12 + 9 * (3 - level)) + 9;
			rc = model_adopt_root(m, PKVM_COMP_HOST_S2, base, level,
					      ia > shift ? 1u << (ia - shift)
							 : 1u);
		}
	}
	if (rc)
		ck_corrupt_at(ck, ck->cur_pos,
			      "the page-table root this SYSREG_WRITE announces "
			      "(0x%llx) cannot be installed (bad level or "
			      "concatenation, or the page is a table already)",
			      (unsigned long long)v);
}

/* ---- one event ------------------------------------------------------ */

static void replay_mark(struct ck *ck, const struct ck_event *ev)
{
	if (ev->w[0] == PKVM_MARK_HOST_ENTER) {
		ck->view.cpu[ev->cpu].entered_host = true;
		ck->view.boot_done = true;
		if (ev->cpu == 0)
			ck->boot_alone = false;
	}
	rules_call(&ck->rules->mark, &ck->env, ev);
}

static void replay_event(struct ck *ck, const struct ck_event *ev)
{
	const struct ck_rules *r = ck->rules;

	switch (ev->kind) {
	case PKVM_EV_BOOT:
		if (ck->boot_seen)
			ck_inconsistent(ck->out, ev, "a second BOOT record");
		else
			replay_boot(ck, ev);
		return;
	case PKVM_EV_TRAP_ENTRY:
	case PKVM_EV_TRAP_EXIT:
		/* A guest's trap (FORMAT.md 3, source 1-3) nests in the host's
		 * vCPU-run hypercall on its CPU: it is not a host trap. */
		if ((ev->kbits >> PKVM_REC_F_KIND_SHIFT) !=
		    PKVM_REC_SOURCE_HOST) {
			rules_call(&r->guest_trap, &ck->env, ev);
			return;
		}
		if (ev->kind == PKVM_EV_TRAP_ENTRY)
			replay_trap_entry(ck, ev);
		else
			replay_trap_exit(ck, ev);
		return;
	case PKVM_EV_PTE_WRITE:
		replay_store(ck, ev);
		return;
	case PKVM_EV_LOCK_ACQUIRE:
		replay_acquire(ck, ev);
		return;
	case PKVM_EV_LOCK_RELEASE:
		replay_release(ck, ev);
		return;
	case PKVM_EV_SYSREG_WRITE:
		if (ev->w[0] == PKVM_SYSREG_MAIR_EL2) {
			ck->view.model->mair = ev->w[1];
			ck->view.model->mair_known = true;
		}
		if (ck->view.profile->roots == PROFILE_ROOTS_SYSREG)
			replay_sysreg_root(ck, ev);
		rules_call(&r->sysreg, &ck->env, ev);
		return;
	case PKVM_EV_LOCK_INFO:
		lockmap_info(ck, ev);
		return;
	case PKVM_EV_NONDET:
		if (ev->w[0] == PKVM_NONDET_HOST_READ) {
			rules_call(&r->host_read, &ck->env, ev);
			return;
		}
		if (ev->w[0] == PKVM_NONDET_ALLOC_PAGE && ev->w[1] &&
		    ck->view.profile->alloc_zeroed)
			model_page_zeroed(ck->view.model, ev->w[1]);
		rules_call(&r->nondet, &ck->env, ev);
		return;
	case PKVM_EV_LOST:
		ck->sum->lost += ev->w[0];
		replay_loss(ck, ev->cpu);
		return;
	case PKVM_EV_PANIC:
		rules_call(&r->panic, &ck->env, ev);
		return;
	case PKVM_EV_BOOT_LINUX:
		rules_call(&r->boot_linux, &ck->env, ev);
		return;
	case PKVM_EV_REGION:
		rules_call(&r->region, &ck->env, ev);
		return;
	case PKVM_EV_MARK:
		replay_mark(ck, ev);
		return;
	case PKVM_EV_TLBI:
	case PKVM_EV_BARRIER:
		rules_call(&r->maintenance, &ck->env, ev);
		return;
	default:
		return;
	}
}

/* ---- the run -------------------------------------------------------- */

static void replay_finish(struct ck *ck)
{
	for (unsigned i = 0; i < ck->ncpu; i++)
		if (ck->view.cpu[i].trap.active && !ck->stop)
			replay_trap_abandon(ck, i,
					    "the trace ends inside the trap");
	rules_end(ck->rules, &ck->env);
}

static void replay_free(struct ck *ck)
{
	rules_destroy(ck->rules);
	findings_destroy(ck->out);
	lockmap_free(ck);
	for (unsigned i = 0; i < ck->ncpu; i++) {
		free(ck->cpu[i].ring);
		free(ck->view.cpu[i].trap.touch);
	}
	model_destroy(ck->view.model);
	free(ck->view.unknown);
	free(ck->view.last);
	for (unsigned c = 0; c < MODEL_COMP_COUNT; c++) {
		free(ck->view.touch[c]);
		free(ck->view.touch_at[c]);
	}
}

static int replay_init(struct ck *ck, struct ck_source *src,
		       const struct ck_options *opt, const struct ck_sink *sink)
{
	ck->out = findings_create((const struct ck_view *)ck, opt, sink,
				  ck->sum, &ck->stop);
	ck->env.view = (const struct ck_view *)ck;
	ck->env.out = ck->out;
	if (verdict_header(ck) < 0)
		return -1;
	ck->ncpu = src->cpu_count;
	ck->spec_locks = profile_runs(ck->view.profile, "spec")
				 ? profile_spec_locks()
				 : 0;
	lockmap_init(ck);
	ck->hold_hcall = ck->view.profile->after_boot_hcall;
	ck->rules = rules_create(&ck->env, ck->ncpu);
	ck->env.rules = ck->rules;
	/* CPU 0's lookahead, read first below, is its BOOT: whether the
	 * records carry sites is known before any other record is read. */
	trace_sites_init(&ck->sites, trace_system_of(src->system),
			 src->version_major);
	for (const char *const *c = ck->view.profile->not_judged; c && *c; c++)
		ck_not_judged(ck->out, *c, ck->view.profile->not_judged_why);
	for (unsigned i = 0; i < ck->ncpu; i++) {
		struct ck_cpu *c = &ck->cpu[i];

		/* The history, the lookahead, and room for a compact
		 * record's part 0 while its part 1 is read (context 0). */
		c->ring_size = opt->context + 1 > 2 ? opt->context + 1 : 2;
		c->ring = calloc(c->ring_size, sizeof(struct ck_event));
		CK_CHECK(c->ring != NULL);
		c->next = c->ring;
		read_refill(ck, i);
	}
	return 0;
}

/* Replay every event, in an order lock tickets allow, until the end. */
static void replay_loop(struct ck *ck)
{
	const struct ck_options *o = ck->opt;

	while (!ck->stop) {
		int cpu = sched_pick(ck);
		struct ck_event *ev;

		if (cpu < 0)
			break;
		ev = ck_next(&ck->cpu[cpu]);
		ck->cur_pos = ck->sched_pos[cpu];
		if (!ck->boot_seen && ev->kind != PKVM_EV_BOOT) {
			ck_corrupt_at(ck, ck->cur_pos,
				      "the trace does not start with a BOOT "
				      "record on cpu0");
			break;
		}
		ev->index = ck->view.index;
		ck->cur_cpu = cpu;
		replay_event(ck, ev);
		if (o->capture && ev->index == o->capture_index) {
			ck->sum->captured = *ev;
			ck->sum->has_captured = true;
			ck->stop = true;
		}
		ck->view.index++;
		read_advance(ck, (unsigned)cpu);
	}
	ck->sum->events = ck->view.index;
}

int ck_run(struct ck_source *src, const struct ck_options *opt,
	   const struct ck_sink *sink, struct ck_summary *sum)
{
	struct ck_options o = *opt;
	struct ck *ck = calloc(1, sizeof(*ck));
	int rc;

	CK_CHECK(ck != NULL);
	if (o.context > 64)
		o.context = 64;
	memset(sum, 0, sizeof(*sum));
	ck->src = src;
	ck->opt = &o;
	ck->sum = sum;
	ck->sched_last = -1;
	if (replay_init(ck, src, &o, sink) == 0)
		replay_loop(ck);
	/* The rest of the source is read and checked even after a stop,
	 * so no verdict rests on part of a file the reader would refuse. */
	if (!o.capture && !ck->corrupt)
		verdict_end(ck);
	/* (Cut before its first whole frame, it is merely truncated.) */
	if (!ck->boot_seen && !ck->corrupt && !ck->end.truncated)
		ck_corrupt_at(ck, src->data_offset,
			      "the trace holds no BOOT record");
	if (!ck->corrupt && ck->rules)
		replay_finish(ck);
	/* A profile that judges part of what its system promises: nothing
	 * conforms to a specification that was not checked. */
	if (!ck->corrupt && ck->rules)
		sum->unjudged = ck->view.profile->unjudged_reason;
	rc = verdict_code(ck);
	replay_free(ck);
	free(ck);
	return rc;
}
