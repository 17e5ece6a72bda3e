// SPDX-License-Identifier: MIT
/*
 * The replay: events read from each CPU's stream (read.c), in an order
 * that respects each lock's tickets (linearise.c), keep the machine model up
 * to date, and hand traps to trap.c. Findings are about the
 * implementation (its trace); anything that means the checker itself is
 * wrong goes through CK_CHECK (exit 70).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "linearise.h"

_Noreturn void ck_internal_error(const char *file, int line, const char *what)
{
	fprintf(stderr, "pkvm-check: internal error at %s:%d: %s\n", file, line,
		what);
	exit(CK_EXIT_INTERNAL);
}

/* ---- findings and inconclusive checks ------------------------------- */

void ck_finding(struct ck *ck, const char *check, const struct ck_event *ev,
		uint64_t addr, bool has_explain, uint64_t explain,
		const char *fmt, ...)
{
	const struct ck_event *hist[64];
	struct ck_finding f;
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	unsigned n = c->replayed;
	va_list ap;

	if (ck->stop)
		return;
	memset(&f, 0, sizeof(f));
	f.check = check;
	va_start(ap, fmt);
	vsnprintf(f.text, sizeof(f.text), fmt, ap);
	va_end(ap);
	f.addr = addr;
	f.event = ev;
	f.trap = c->trap.active ? &c->trap.entry : NULL;
	f.has_explain = has_explain;
	f.explain_index = explain;
	if (n > 64)
		n = 64;
	for (unsigned i = 0; i < n; i++)
		hist[i] = &c->ring[(c->head + c->ring_size - n + i) %
				   c->ring_size];
	f.history = hist;
	f.history_count = n;
	ck->sum->findings++;
	if (ck->sink && ck->sink->finding)
		ck->sink->finding(ck->sink->ctx, &f);
	if (ck->opt->max_findings && ck->sum->findings >= ck->opt->max_findings)
		ck->stop = ck->sum->stopped = true;
}

void ck_inconclusive(struct ck *ck, const char *fmt, ...)
{
	va_list ap;

	if (ck->sum->inconclusive++ == 0) {
		va_start(ap, fmt);
		vsnprintf(ck->sum->first_inconclusive,
			  sizeof(ck->sum->first_inconclusive), fmt, ap);
		va_end(ap);
	}
}

/* ---- the spec's view of the model ----------------------------------- */

struct spec_page ck_page(const struct ck *ck, uint64_t pfn)
{
	struct spec_page p = { SPEC_ST_NOPAGE, SPEC_ST_NOPAGE };
	int64_t i = ck->model ? model_page_index(ck->model, pfn) : -1;

	if (i < 0)
		return p;
	p.host = (uint8_t)model_state(PKVM_COMP_HOST_S2,
				      &ck->model->side[PKVM_COMP_HOST_S2][i]);
	p.hyp = (uint8_t)model_state(PKVM_COMP_HYP_S1,
				     &ck->model->side[PKVM_COMP_HYP_S1][i]);
	if (ck->unknown[i] & (1u << PKVM_COMP_HOST_S2))
		p.host = SPEC_ST_UNKNOWN;
	if (ck->unknown[i] & (1u << PKVM_COMP_HYP_S1))
		p.hyp = SPEC_ST_UNKNOWN;
	return p;
}

static struct spec_page ck_page_cb(const void *ctx, uint64_t pfn)
{
	return ck_page(ctx, pfn);
}

static bool ck_pinned_cb(const void *ctx, uint64_t pfn)
{
	const struct ck *ck = ctx;

	for (unsigned i = 0; i < ck->pin_count; i++)
		if (pfn >= ck->pins[i].first_pfn && pfn <= ck->pins[i].last_pfn)
			return true;
	return false;
}

void ck_spec_machine(const struct ck *ck, struct spec_machine *m)
{
	memset(m, 0, sizeof(*m));
	m->ram_base = ck->ram_base;
	m->ram_size = ck->ram_size;
	m->hyp_start = ck->hyp_start;
	m->hyp_end = ck->hyp_end;
	m->cpu_count = ck->boot_cpus;
	m->trace_loaded = ck->trace_loaded;
	m->test_hcalls = ck->boot_flags & SPEC_BOOT_F_TEST_HCALLS;
	m->ctx = ck;
	m->page = ck_page_cb;
	m->pinned = ck_pinned_cb;
}

/* ---- loss ----------------------------------------------------------- */

/*
 * A component's state may have changed in records we do not have: every
 * page's side of it becomes unknown (until a store rewrites it), and the
 * traps in progress cannot be judged.
 */
void replay_unknown_comp(struct ck *ck, unsigned comp, const char *why)
{
	if (!ck->model)
		return;
	for (uint64_t i = 0; i < ck->model->ram_pages; i++)
		ck->unknown[i] |= (uint8_t)(1u << comp);
	for (unsigned i = 0; i < ck->ncpu; i++) {
		struct ck_trap *t = &ck->cpu[i].trap;

		if (t->active && !t->unknown) {
			t->unknown = true;
			snprintf(t->unknown_why, sizeof(t->unknown_why), "%s",
				 why);
		}
	}
}

/*
 * Records of `cpu` are missing. Lock tickets bound what they could have
 * done: a component can only have changed if that CPU held its lock at
 * the gap, or took it in the gap, which shows later as a ticket gap or a
 * release without acquire (ck_deadlock, ck_release). Only those
 * components become unknown.
 */
void replay_loss(struct ck *ck, unsigned cpu)
{
	struct ck_cpu *c = &ck->cpu[cpu];

	ck->any_loss = true;
	c->lost = true;
	c->entry_maybe_lost = true;
	tlb_loss(ck, cpu);
	ck_inconclusive(ck,
			"records of cpu%u were lost: the events in that "
			"window are not checked",
			cpu);
	if (c->trap.active && !c->trap.unknown) {
		c->trap.unknown = true;
		snprintf(c->trap.unknown_why, sizeof(c->trap.unknown_why),
			 "records of cpu%u were lost during the trap", cpu);
	}
	for (unsigned comp = 1; comp < MODEL_COMP_COUNT; comp++)
		if (c->held & (1u << comp))
			replay_unknown_comp(ck, comp,
					    "a component was changed in lost "
					    "records");
}

/* ---- model glue ----------------------------------------------------- */

static void ck_on_change(void *ctx, unsigned comp, uint64_t pfn,
			 const struct model_side *old)
{
	struct ck *ck = ctx;
	int64_t i = model_page_index(ck->model, pfn);
	struct ck_cpu *c = &ck->cpu[ck->cur_cpu];

	CK_CHECK(i >= 0 && comp < MODEL_COMP_COUNT);
	if (c->trap.active && !c->trap.snapped)
		trap_touch(ck, &c->trap, comp, pfn, old);
	else if (!c->trap.active && ck->boot_checked &&
		 ck->outside_count <
			 sizeof(ck->outside) / sizeof(ck->outside[0]))
		ck->outside[ck->outside_count++] = pfn;
	ck->unknown[i] &= (uint8_t) ~(1u << comp);
	ck->last[i] = c->trap.active ? c->trap.entry.index : ck->index;
}

static bool ck_alloc_seen(const struct ck_cpu *c, uint64_t pa)
{
	for (size_t i = 0; i < c->alloc_count; i++)
		if (c->allocs[i] == pa)
			return true;
	return false;
}

/* A table descriptor installed a new page: it must come from the pool. */
static void ck_check_install(struct ck *ck, const struct ck_event *ev,
			     const struct model_write *w)
{
	uint64_t pa = w->child_pa;
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	bool in_pool = pa >= ck->pool_start && pa < ck->pool_end;
	uint64_t pi = (pa - ck->pool_start) >> 12;

	if (w->conflict) {
		ck_finding(ck, "table-reuse", ev, pa, false, 0,
			   "table descriptor points at page 0x%llx, which is "
			   "already a table elsewhere in the page tables; a "
			   "table page belongs to exactly one tree",
			   (unsigned long long)pa);
		return;
	}
	if (!w->installed_new)
		return;
	if (!in_pool || !ck_alloc_seen(c, pa) || (ck->pool[pi] & 2)) {
		if (ck->any_loss) {
			ck_inconclusive(ck,
					"table page 0x%llx: its allocation "
					"may have been lost",
					(unsigned long long)pa);
			return;
		}
		ck_finding(ck, "table-not-from-pool", ev, pa, false, 0,
			   "a new table page must be one handed out by the "
			   "pool [0x%llx, 0x%llx) in the same trap and never "
			   "used before; page 0x%llx %s",
			   (unsigned long long)ck->pool_start,
			   (unsigned long long)ck->pool_end,
			   (unsigned long long)pa,
			   !in_pool ? "is outside the pool"
			   : (ck->pool[pi] & 2)
				   ? "was already installed as a table"
				   : "was not handed out (NONDET alloc_page) "
				     "in this trap");
	}
	if (in_pool)
		ck->pool[pi] |= 2;
}

/*
 * After boot, every descriptor store belongs to a trap, whose effect the
 * spec judges. A store outside any trap has no spec to answer to, so the
 * page invariants are its judge: checked on each page it changed, at once.
 */
static void ck_check_outside(struct ck *ck, const struct ck_event *ev)
{
	char msg[320];

	if (ck->outside_count && ck->cpu[ev->cpu].entry_maybe_lost) {
		/* Likely inside a trap whose entry was lost: not judged. */
		ck_inconclusive(ck,
				"cpu%u stores a descriptor outside any known "
				"trap after its lost records (the trap's "
				"entry may be among them)",
				ev->cpu);
		ck->outside_count = 0;
		return;
	}
	for (unsigned k = 0; k < ck->outside_count; k++) {
		uint64_t pfn = ck->outside[k];
		const char *check = trap_invariant(ck, pfn, msg, sizeof(msg));

		if (check)
			ck_finding(ck, check, ev, pfn << 12, false, 0,
				   "%s (after a descriptor store outside any "
				   "trap)",
				   msg);
	}
	ck->outside_count = 0;
}

static void ck_pte_write(struct ck *ck, const struct ck_event *ev)
{
	struct model_write w;
	uint64_t pa = ev->w[0];
	unsigned lock;

	ck->outside_count = 0;
	tlb_pte_write(ck, ev); /* needs the old descriptor */
	bbm_pte_write(ck, ev); /* ... and tlb.c's open breaks */
	CK_CHECK(model_pte_write(ck->model, pa, ev->w[1], &w) == 0);
	ck_check_outside(ck, ev);
	if (w.table < 0) {
		if (ck->any_loss) {
			ck_inconclusive(ck,
					"descriptor store to 0x%llx "
					"after lost records",
					(unsigned long long)pa);
			return;
		}
		{
			ck_finding(
				ck, "pte-write-not-table", ev, pa, false, 0,
				"descriptor store to 0x%llx, which is not in "
				"any page-table page of host stage-2 or hyp "
				"stage-1",
				(unsigned long long)pa);
			return;
		}
	}
	lock = w.comp; /* component ids equal their lock ids */
	if (ck->lock[lock].holder != (int)ev->cpu) {
		if (ck->cpu[ev->cpu].lost)
			ck_inconclusive(ck,
					"descriptor store by cpu%u after "
					"its lost records",
					ev->cpu);
		else
			ck_finding(ck, "pte-write-without-lock", ev, pa, false,
				   0,
				   "descriptor store to a %s table (0x%llx) by "
				   "cpu%u, which does not hold the %s lock%s",
				   w.comp == PKVM_COMP_HOST_S2 ? "host stage-2"
							       : "hyp stage-1",
				   (unsigned long long)pa, ev->cpu,
				   w.comp == PKVM_COMP_HOST_S2 ? "host_s2"
							       : "hyp_s1",
				   ck->lock[lock].holder >= 0
					   ? " (another CPU holds it)"
					   : "");
	}
	ck_check_install(ck, ev, &w);
}

/* ---- locks ---------------------------------------------------------- */

void ck_inconsistent(struct ck *ck, const struct ck_event *ev, const char *what)
{
	ck_finding(ck, "inconsistent-trace", ev, 0, false, 0, "%s", what);
	ck->stop = ck->sum->stopped = true;
}

static void ck_acquire(struct ck *ck, const struct ck_event *ev)
{
	unsigned id = (unsigned)ev->w[0];
	struct ck_lock *l;
	char msg[200];

	if (id == 0 || id >= CK_LOCK_COUNT) {
		ck_inconsistent(ck, ev,
				"lock_acquire of an unknown "
				"lock id");
		return;
	}
	l = &ck->lock[id];
	if (!ck->cpu[ev->cpu].lost && !ck->any_loss &&
	    (l->holder >= 0 || ev->w[1] != l->next_ticket)) {
		snprintf(msg, sizeof(msg),
			 "cpu%u acquires lock %u with ticket %llu, but %s",
			 ev->cpu, id, (unsigned long long)ev->w[1],
			 l->holder >= 0 ? "the lock is held"
					: "that ticket was already taken");
		{
			ck_inconsistent(ck, ev, msg);
			return;
		}
	}
	if ((l->holder >= 0 || ev->w[1] != l->next_ticket) && ck_comp_lock(id))
		replay_unknown_comp(ck, id,
				    "lock tickets were taken in lost "
				    "records");
	if (l->holder >= 0 && l->holder != (int)ev->cpu)
		ck->cpu[l->holder].held &= ~(1u << id);
	l->holder = ev->cpu;
	l->ticket = ev->w[1];
	l->next_ticket = ev->w[1] + 1;
	ck_sched_lock(ck, id);
	ck->cpu[ev->cpu].held |= 1u << id;
	if (ck_comp_lock(id) && ck->cpu[ev->cpu].trap.active)
		trap_on_comp_lock(ck, ev->cpu);
}

static void ck_release(struct ck *ck, const struct ck_event *ev)
{
	unsigned id = (unsigned)ev->w[0];
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	struct ck_lock *l;
	char msg[200];

	if (id == 0 || id >= CK_LOCK_COUNT) {
		ck_inconsistent(ck, ev,
				"lock_release of an unknown "
				"lock id");
		return;
	}
	l = &ck->lock[id];
	if ((l->holder != (int)ev->cpu || l->ticket != ev->w[1]) && !c->lost) {
		snprintf(msg, sizeof(msg),
			 "cpu%u releases lock %u ticket %llu, which it does "
			 "not hold",
			 ev->cpu, id, (unsigned long long)ev->w[1]);
		{
			ck_inconsistent(ck, ev, msg);
			return;
		}
	}
	tlb_release(ck, ev); /* unmaps under this lock: TLB maintenance done? */
	if (l->holder != (int)ev->cpu && ck_comp_lock(id))
		replay_unknown_comp(ck, id, "a lock was taken in lost records");
	if (l->holder == (int)ev->cpu) {
		l->holder = -1;
		ck_sched_lock(ck, id);
	}
	c->held &= ~(1u << id);
	if (ck_comp_lock(id) && c->trap.active && c->trap.had_comp_lock &&
	    !(c->held & ((1u << PKVM_LOCK_HOST_S2) | (1u << PKVM_LOCK_HYP_S1))))
		trap_snapshot(ck, ev->cpu);
}

/* ---- boot ----------------------------------------------------------- */

static int ck_boot(struct ck *ck, const struct ck_event *ev)
{
	ck->boot_cpus = (unsigned)(ev->w[0] >> 32);
	ck->ram_base = ev->w[2];
	ck->ram_size = ev->w[3];
	ck->hyp_start = ev->w[4];
	ck->hyp_end = ev->w[5];
	ck->pool_start = ev->w[6];
	ck->pool_end = ev->w[7];
	ck->boot_flags = ev->w[13];
	if (verdict_boot(ck, ev, ck->cur_pos) < 0)
		return -1;
	ck->model = model_create(ck->ram_base, ck->ram_size);
	ck->unknown = calloc(ck->ram_size >> 12, 1);
	ck->last = malloc((ck->ram_size >> 12) * sizeof(uint64_t));
	ck->pool_pages = (ck->pool_end - ck->pool_start) >> 12;
	ck->pool = calloc(ck->pool_pages ? ck->pool_pages : 1, 1);
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++)
		ck->touch[c] = calloc(ck->ram_size >> 12, sizeof(uint32_t));
	CK_CHECK(ck->model && ck->unknown && ck->last && ck->pool &&
		 ck->touch[1] && ck->touch[2]);
	memset(ck->last, 0xff, (ck->ram_size >> 12) * sizeof(uint64_t));
	ck->model->on_change = ck_on_change;
	ck->model->cb_ctx = ck;
	if (model_set_root(ck->model, PKVM_COMP_HOST_S2, ev->w[8]) ||
	    model_set_root(ck->model, PKVM_COMP_HYP_S1, ev->w[9])) {
		ck_corrupt_at(ck, ck->cur_pos,
			      "the BOOT record gives bad page-table roots");
		return -1;
	}
	ck->boot_seen = true;
	return 0;
}

/* HYPERCALLS.md "Boot state", checked when the host first runs. */
static void ck_boot_state(struct ck *ck, const struct ck_event *ev)
{
	uint64_t bad = 0, first = 0, pages = ck->model->ram_pages;
	char what[200] = "";

	ck->boot_checked = true;
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t pa = ck->ram_base + (i << 12);
		bool hyp = pa >= ck->hyp_start && pa < ck->hyp_end;
		const struct model_side *hs = &ck->model->side[1][i];
		const struct model_side *ys = &ck->model->side[2][i];
		struct spec_page p = ck_page(ck, pa >> 12);
		bool ok;

		if (p.host == SPEC_ST_UNKNOWN || p.hyp == SPEC_ST_UNKNOWN) {
			ck_inconclusive(ck, "boot state: records lost");
			return;
		}
		if (hyp)
			ok = p.host == SPEC_ST_NOPAGE &&
			     hs->owner == PKVM_OWNER_HYP &&
			     p.hyp == SPEC_ST_OWNED && ys->out_pfn == pa >> 12;
		else
			ok = p.host == SPEC_ST_OWNED &&
			     !(hs->flags & MODEL_SIDE_VALID) &&
			     p.hyp == SPEC_ST_NOPAGE;
		if (ok)
			continue;
		if (bad++ == 0) {
			first = pa;
			snprintf(
				what, sizeof(what),
				"page 0x%llx (%s): host side %s%s, hyp side %s",
				(unsigned long long)pa,
				hyp ? "hyp range" : "host memory",
				spec_state_name(p.host),
				hs->flags & MODEL_SIDE_VALID ? " mapped" : "",
				spec_state_name(p.hyp));
		}
	}
	if (bad)
		ck_finding(ck, "boot-state", ev, first, false, 0,
			   "when the host is first entered, [hyp_start, "
			   "hyp_end) must be host NOPAGE (owner hyp) and hyp "
			   "OWNED mapped, every other RAM page host OWNED "
			   "unmapped and hyp NOPAGE; %llu page(s) differ, "
			   "first %s",
			   (unsigned long long)bad, what);
}

/* ---- one event ------------------------------------------------------ */

static void ck_nondet(struct ck *ck, const struct ck_event *ev)
{
	struct ck_cpu *c = &ck->cpu[ev->cpu];
	uint64_t pa = ev->w[1];

	switch (ev->w[0]) {
	case PKVM_NONDET_ALLOC_PAGE:
		if (pa == 0) {
			c->trap.alloc_failed = true;
			return;
		}
		if (pa < ck->pool_start || pa >= ck->pool_end || (pa & 0xfff) ||
		    (ck->pool[(pa - ck->pool_start) >> 12] & 1)) {
			ck_finding(
				ck, "pool-alloc", ev, pa, false, 0,
				"the pool must hand out each page of [0x%llx, "
				"0x%llx) once; it handed out 0x%llx",
				(unsigned long long)ck->pool_start,
				(unsigned long long)ck->pool_end,
				(unsigned long long)pa);
		} else {
			ck->pool[(pa - ck->pool_start) >> 12] |= 1;
		}
		if (c->alloc_count == c->alloc_cap) {
			c->alloc_cap = c->alloc_cap ? 2 * c->alloc_cap : 64;
			c->allocs = realloc(c->allocs,
					    c->alloc_cap * sizeof(uint64_t));
			CK_CHECK(c->allocs != NULL);
		}
		c->allocs[c->alloc_count++] = pa;
		return;
	case PKVM_NONDET_HOST_READ:
		if (c->trap.active)
			trap_host_read(ck, ev->cpu, ev);
		return;
	case PKVM_NONDET_HOST_SYSREG:
		if (c->trap.active && ev->w[2] == PKVM_NONDET_REG_VBAR_EL1) {
			c->trap.vbar_known = true;
			c->trap.vbar = ev->w[1];
		}
		return;
	default:
		return;
	}
}

static void ck_mark(struct ck *ck, const struct ck_event *ev)
{
	struct ck_cpu *c = &ck->cpu[ev->cpu];

	if (ev->w[0] == PKVM_MARK_HOST_ENTER) {
		c->entered_host = true;
		if (!ck->boot_checked)
			ck_boot_state(ck, ev);
	} else if (ev->w[0] == PKVM_MARK_SYSTEM_OFF && c->trap.active) {
		c->trap.system_off = true;
	}
}

static void ck_panic(struct ck *ck, const struct ck_event *ev)
{
	struct ck_trap *t = &ck->cpu[ev->cpu].trap;

	if (t->active)
		trap_prepare(ck, ev->cpu);
	if (t->active && t->type == CK_TRAP_HVC && t->expect.panics) {
		t->panicked = true;
		return;
	}
	ck_finding(ck, "hyp-panic", ev, ev->w[1], false, 0,
		   "the hyp panicked (code %llu at 0x%llx); it must never "
		   "panic on host input (only test_panic may)",
		   (unsigned long long)ev->w[0], (unsigned long long)ev->w[1]);
}

/*
 * A compact exit written where the format does not allow it (expand.h,
 * `invalid`): an HCALL_EXIT_UNLOCK2 whose trap's entry, read with no loss
 * since, took no locks. It claims releases of locks nobody took, so the
 * trace contradicts itself and nothing after it can be trusted.
 */
static void ck_exit_invalid(struct ck *ck, const struct ck_event *ev)
{
	const struct ck_trap *t = &ck->cpu[ev->cpu].trap;
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
	ck_inconsistent(ck, ev, msg);
}

static void ck_event(struct ck *ck, const struct ck_event *ev)
{
	struct ck_cpu *c = &ck->cpu[ev->cpu];

	switch (ev->kind) {
	case PKVM_EV_BOOT:
		if (ck->boot_seen) {
			ck_inconsistent(ck, ev, "a second BOOT record");
			return;
		}
		ck_boot(ck, ev);
		return;
	case PKVM_EV_TRAP_ENTRY:
		if (c->trap.active)
			trap_abandon(ck, ev->cpu, "a trap entry without exit");
		c->alloc_count = 0;
		c->entry_maybe_lost = false;
		{
			trap_begin(ck, ev->cpu, ev);
			return;
		}
	case PKVM_EV_TRAP_EXIT:
		if (ev->invalid) {
			ck_exit_invalid(ck, ev);
			return;
		}
		if (!c->trap.active) {
			ck_inconclusive(ck,
					"cpu%u: trap exit without "
					"entry",
					ev->cpu);
			return;
		}
		if (ev->incomplete && !c->trap.unknown) {
			/* Not seen so far: the loss marks the trap unknown. */
			c->trap.unknown = true;
			snprintf(c->trap.unknown_why,
				 sizeof(c->trap.unknown_why),
				 "its %s follows lost records: x2, x3 and elr "
				 "at entry are unknown",
				 ev->recs[0].kind == PKVM_EV_HCALL_EXIT_UNLOCK2
					 ? "hcall_exit_unlock2"
					 : "hcall_exit");
		}
		tlb_trap_exit(ck, ev);
		trap_end(ck, ev->cpu, ev);
		return;
	case PKVM_EV_PTE_WRITE: {
		ck_pte_write(ck, ev);
		return;
	}
	case PKVM_EV_LOCK_ACQUIRE: {
		ck_acquire(ck, ev);
		return;
	}
	case PKVM_EV_LOCK_RELEASE: {
		ck_release(ck, ev);
		return;
	}
	case PKVM_EV_SYSREG_WRITE:
		if (ev->w[0] == PKVM_SYSREG_MAIR_EL2) {
			ck->model->mair = ev->w[1];
			ck->model->mair_known = true;
		}
		return;
	case PKVM_EV_NONDET: {
		ck_nondet(ck, ev);
		return;
	}
	case PKVM_EV_LOST:
		ck->sum->lost += ev->w[0];
		{
			replay_loss(ck, ev->cpu);
			return;
		}
	case PKVM_EV_PANIC: {
		ck_panic(ck, ev);
		return;
	}
	case PKVM_EV_MARK: {
		ck_mark(ck, ev);
		return;
	}
	case PKVM_EV_TLBI:
	case PKVM_EV_BARRIER:
		tlb_maintenance(ck, ev);
		return;
	default:
		return;
	}
}

/* ---- the run -------------------------------------------------------- */

static void ck_finish(struct ck *ck)
{
	for (unsigned i = 0; i < ck->ncpu; i++)
		if (ck->cpu[i].trap.active && !ck->stop)
			trap_abandon(ck, i, "the trace ends inside the trap");
}

static void ck_free(struct ck *ck)
{
	for (unsigned i = 0; i < ck->ncpu; i++) {
		free(ck->cpu[i].allocs);
		free(ck->cpu[i].ring);
		trap_free(&ck->cpu[i].trap);
	}
	model_destroy(ck->model);
	free(ck->unknown);
	free(ck->last);
	free(ck->pool);
	for (unsigned c = 0; c < MODEL_COMP_COUNT; c++)
		free(ck->touch[c]);
}

static int ck_init(struct ck *ck, struct ck_source *src,
		   const struct ck_options *opt)
{
	if (verdict_header(ck) < 0)
		return -1;
	ck->ncpu = src->cpu_count;
	for (unsigned i = 0; i < CK_LOCK_COUNT; i++)
		ck->lock[i].holder = -1;
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
	ck->sink = sink;
	ck->sum = sum;
	ck->sched_last = -1;
	ck_init(ck, src, &o);
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
		ev->index = ck->index;
		ck->cur_cpu = cpu;
		ck_event(ck, ev);
		if (o.capture && ev->index == o.capture_index) {
			sum->captured = *ev;
			sum->has_captured = true;
			ck->stop = true;
		}
		ck->index++;
		sum->events++;
		read_advance(ck, (unsigned)cpu);
	}
	/* The rest of the source is read and checked even after a stop,
	 * so no verdict rests on part of a file the reader would refuse. */
	if (!o.capture && !ck->corrupt)
		verdict_end(ck);
	/* (Cut before its first whole frame, it is merely truncated.) */
	if (!ck->boot_seen && !ck->corrupt && !ck->end.truncated)
		ck_corrupt_at(ck, src->data_offset,
			      "the trace holds no BOOT record");
	if (!ck->corrupt)
		ck_finish(ck);
	rc = verdict_code(ck);
	ck_free(ck);
	free(ck);
	return rc;
}
