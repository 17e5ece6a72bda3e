/* SPDX-License-Identifier: MIT */
/*
 * What a rule may see of the replay: the machine model, who holds which
 * lock, each CPU's trap and what it changed, and what is unknown after
 * lost records. Read-only, through these functions, most of them inline
 * since rules read them for every event; the rest of the replay's state
 * (reading, scheduling: replay.h) is private to it.
 */
#ifndef PKVM_CHECKER_VIEW_H
#define PKVM_CHECKER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../spec/spec.h"
#include "checker.h"
#include "model.h"
#include "profile.h"

#include <pkvm/abi.h>

/*
 * The replay's locks are slots 1..CK_LOCK_COUNT - 1. Our hyp's lock ids
 * (abi.h PKVM_LOCK_LIST, 1-4) are their own slots; a profile that names
 * locks by address binds each to a slot while it is held or waited for
 * (lockmap.c), and the component locks keep theirs.
 */
#define CK_LOCK_COUNT 32u
/* RAM pages one store may change that the view lists. */
#define CK_MAX_STORE_PAGES 512u

/** What the BOOT record says of the machine. */
struct ck_boot {
	uint64_t ram_base, ram_size;
	uint64_t hyp_start, hyp_end;
	uint64_t pool_start, pool_end;
	uint64_t flags; /* boot_flags (SPEC_BOOT_F_*) */
	unsigned cpu_count;
};

/**
 * A page side one trap changed in a critical section (view_touches): its
 * view before the trap's first change there, and after the section.
 */
struct ck_touch {
	uint64_t pfn;
	unsigned comp;	   /* enum pkvm_component */
	unsigned section;  /* which of the trap's sections changed it */
	uint64_t pre_last; /* index of the event that last changed it before */
	bool pre_known;	   /* its state before was known (no loss) */
	struct model_side pre, post; /* post: once its section has ended */
};

/** A lock: who holds it, with which ticket, and the next ticket. */
struct ck_lock {
	int holder; /* CPU, or -1 */
	uint64_t ticket, next_ticket;
	uint64_t raw; /* the id the trace names it by (0: slot unused) */
	uint8_t comp; /* the component whose tables it protects, or 0 */
	uint8_t cls;  /* its class for the lock order (profile.h), or 0 */
	bool pinned;  /* a component's lock: keeps its slot */
};

/**
 * One CPU's trap in progress, from TRAP_ENTRY to TRAP_EXIT: its entry and
 * what it changed, by critical section. A section begins when the trap
 * takes the lock of a component the spec reads (profile.h) holding none,
 * and ends when it holds none again; changes made outside any section
 * belong to the next one (or, after the last, to one that ends with the
 * exit).
 */
struct ck_trapctx {
	bool active;
	bool in_section;	 /* holds a component lock */
	bool touched_unknown;	 /* the section changed a page unknown before */
	unsigned section;	 /* the current section, 0, 1, ... */
	size_t section_first;	 /* its first entry in `touch` */
	unsigned section_stores; /* descriptor stores it made (any page) */
	uint32_t serial; /* marks the pages it touched (ck_view.touch) */
	struct ck_event entry;
	struct ck_touch *touch;
	size_t touch_count, touch_cap;
};

/** What the view shows of one CPU. */
struct ck_view_cpu {
	unsigned held; /* bit per lock id */
	bool lost;     /* records of this CPU were lost (sticky) */
	/* Lost records since its last trap entry: a store outside any known
	 * trap may belong to a trap whose entry was lost. */
	bool entry_maybe_lost;
	bool entered_host;
	struct ck_trapctx trap;
};

/**
 * The replay's state as the rules see it. The replay keeps it (it is the
 * first member of the replay's private state) and rules read it, through
 * the functions below only: const, and never written but by the replay.
 */
struct ck_view {
	struct ck_boot boot;
	struct model *model; /* from the BOOT record on */
	uint8_t *unknown;    /* per RAM page: bit per component (loss) */
	uint64_t *last;	     /* per RAM page: event that last changed it */
	/* Per component and RAM page: the serial of the trap that last
	 * changed it, and where in that trap's touch list. */
	uint32_t *touch[MODEL_COMP_COUNT];
	uint32_t *touch_at[MODEL_COMP_COUNT];
	uint64_t index; /* of the event being replayed */
	bool boot_done; /* the host has been entered */
	bool any_loss;
	struct ck_lock lock[CK_LOCK_COUNT];
	/* The slot of each component's lock, 0 while it is not known. */
	uint8_t comp_lock[MODEL_COMP_COUNT];
	const struct ck_profile *profile; /* of the trace's system */
	struct ck_view_cpu cpu[CK_MAX_CPUS];
	/* The store being replayed: what it did, and the RAM pages it
	 * changed (the first CK_MAX_STORE_PAGES). */
	struct model_write store;
	uint64_t store_pages[CK_MAX_STORE_PAGES];
	unsigned store_page_count;
};

/* ---- the machine ---------------------------------------------------- */

static inline const struct ck_boot *view_boot(const struct ck_view *v)
{
	return &v->boot;
}

/** The model of the page tables (valid from the BOOT record on). */
static inline const struct model *view_model(const struct ck_view *v)
{
	return v->model;
}

/** Index of the event being replayed. */
static inline uint64_t view_index(const struct ck_view *v)
{
	return v->index;
}

/** The host has been entered: the boot is over. */
static inline bool view_boot_done(const struct ck_view *v)
{
	return v->boot_done;
}

/**
 * Start loading what view_page, view_last and view_touch_find read of
 * RAM page `pfn` into the cache: a rule that knows at a trap's entry which
 * page it will read at the trap's first release hides the misses of those
 * per-page arrays (megabytes, read at random) behind the events between.
 * Reads nothing and changes nothing.
 */
static inline void view_prefetch_page(const struct ck_view *v, uint64_t pfn)
{
	int64_t i = v->model ? model_page_index(v->model, pfn) : -1;

	if (i < 0)
		return;
	for (unsigned c = 1; c < MODEL_COMP_COUNT; c++) {
		__builtin_prefetch(&v->model->side[c][i]);
		__builtin_prefetch(&v->touch[c][i]);
	}
	__builtin_prefetch(&v->unknown[i]);
	__builtin_prefetch(&v->last[i]);
}

/** Both sides of a page as the tables say now (SPEC_ST_UNKNOWN: lost). */
static inline struct spec_page view_page(const struct ck_view *v, uint64_t pfn)
{
	struct spec_page p = { SPEC_ST_NOPAGE, SPEC_ST_NOPAGE };
	int64_t i = v->model ? model_page_index(v->model, pfn) : -1;

	if (i < 0)
		return p;
	p.host = (uint8_t)model_state(PKVM_COMP_HOST_S2,
				      &v->model->side[PKVM_COMP_HOST_S2][i]);
	p.hyp = (uint8_t)model_state(PKVM_COMP_HYP_S1,
				     &v->model->side[PKVM_COMP_HYP_S1][i]);
	if (v->unknown[i] & (1u << PKVM_COMP_HOST_S2))
		p.host = SPEC_ST_UNKNOWN;
	if (v->unknown[i] & (1u << PKVM_COMP_HYP_S1))
		p.hyp = SPEC_ST_UNKNOWN;
	return p;
}

/** The event that last changed a RAM page, or UINT64_MAX. */
static inline uint64_t view_last(const struct ck_view *v, uint64_t pfn)
{
	int64_t i = model_page_index(v->model, pfn);

	return i < 0 ? UINT64_MAX : v->last[i];
}

/** `comp`'s side of RAM page `pfn` may differ from the model (loss). */
static inline bool view_unknown(const struct ck_view *v, unsigned comp,
				uint64_t pfn)
{
	int64_t i = model_page_index(v->model, pfn);

	return i >= 0 && (v->unknown[i] & (1u << comp));
}

/**
 * Could the model's descriptors for [base, base + size) of `comp` be
 * wrong? Only after lost records made some of its pages unknown; a range
 * outside RAM has no per-page record, so any loss makes it unsure.
 */
bool view_range_unsure(const struct ck_view *v, unsigned comp, uint64_t base,
		       uint64_t size);

/** What the descriptor store being replayed did (for store_after hooks). */
static inline const struct model_write *
view_store_write(const struct ck_view *v)
{
	return &v->store;
}

/**
 * The RAM pages the descriptor store being replayed changed (the first
 * CK_MAX_STORE_PAGES), for the rules that look at them after the model
 * applied it.
 */
static inline const uint64_t *view_store_pages(const struct ck_view *v,
					       unsigned *count)
{
	*count = v->store_page_count;
	return v->store_pages;
}

/* ---- locks and loss ------------------------------------------------- */

/** The CPU holding lock `id`, or -1. */
static inline int view_lock_holder(const struct ck_view *v, unsigned id)
{
	return id < CK_LOCK_COUNT ? v->lock[id].holder : -1;
}

/** `cpu` holds lock `id`. */
static inline bool view_cpu_holds(const struct ck_view *v, unsigned cpu,
				  unsigned id)
{
	return (v->cpu[cpu].held >> id) & 1u;
}

/** The locks `cpu` holds: bit per lock id. */
static inline unsigned view_cpu_held(const struct ck_view *v, unsigned cpu)
{
	return v->cpu[cpu].held;
}

/** The component whose tables lock slot `id` protects, or 0. */
static inline unsigned view_lock_comp(const struct ck_view *v, unsigned id)
{
	return id < CK_LOCK_COUNT ? v->lock[id].comp : 0;
}

/** The lock-order class of lock slot `id` (profile.h), or 0. */
static inline unsigned view_lock_class(const struct ck_view *v, unsigned id)
{
	return id < CK_LOCK_COUNT ? v->lock[id].cls : 0;
}

/** The id the trace names lock slot `id` by. */
static inline uint64_t view_lock_raw(const struct ck_view *v, unsigned id)
{
	return id < CK_LOCK_COUNT ? v->lock[id].raw : 0;
}

/** The CPU holding the lock of component `comp`, or -1. */
static inline int view_comp_holder(const struct ck_view *v, unsigned comp)
{
	unsigned id = comp < MODEL_COMP_COUNT ? v->comp_lock[comp] : 0;

	return id ? v->lock[id].holder : -1;
}

/** `cpu` holds the lock of component `comp`. */
static inline bool view_cpu_holds_comp(const struct ck_view *v, unsigned cpu,
				       unsigned comp)
{
	unsigned id = comp < MODEL_COMP_COUNT ? v->comp_lock[comp] : 0;

	return id && ((v->cpu[cpu].held >> id) & 1u);
}

/** The profile of the trace's system (profile.h). */
static inline const struct ck_profile *view_profile(const struct ck_view *v)
{
	return v->profile;
}

/** Records of some CPU were lost. */
static inline bool view_any_loss(const struct ck_view *v)
{
	return v->any_loss;
}

/** Records of `cpu` were lost (ever). */
static inline bool view_cpu_lost(const struct ck_view *v, unsigned cpu)
{
	return v->cpu[cpu].lost;
}

/** Records of `cpu` were lost since its last trap entry. */
static inline bool view_entry_maybe_lost(const struct ck_view *v, unsigned cpu)
{
	return v->cpu[cpu].entry_maybe_lost;
}

/* ---- each CPU's trap ------------------------------------------------ */

/** The entry of `cpu`'s trap in progress, or NULL outside a trap. */
static inline const struct ck_event *view_trap(const struct ck_view *v,
					       unsigned cpu)
{
	const struct ck_trapctx *t = &v->cpu[cpu].trap;

	return t->active ? &t->entry : NULL;
}

/**
 * What the trap changed, section by section, in the order of their first
 * changes, each with its view before and (once its section ended) after.
 */
static inline const struct ck_touch *view_touches(const struct ck_view *v,
						  unsigned cpu, size_t *count)
{
	const struct ck_trapctx *t = &v->cpu[cpu].trap;

	*count = t->active ? t->touch_count : 0;
	return t->touch;
}

/** The trap's current section (0, 1, ...). */
static inline unsigned view_section(const struct ck_view *v, unsigned cpu)
{
	return v->cpu[cpu].trap.section;
}

/** The trap holds a component lock: it is inside its current section. */
static inline bool view_in_section(const struct ck_view *v, unsigned cpu)
{
	return v->cpu[cpu].trap.in_section;
}

/** What the trap's current section changed (see view_touches). */
static inline const struct ck_touch *
view_section_touches(const struct ck_view *v, unsigned cpu, size_t *count)
{
	const struct ck_trapctx *t = &v->cpu[cpu].trap;

	*count = t->active ? t->touch_count - t->section_first : 0;
	return *count ? t->touch + t->section_first : t->touch;
}

/** A page the current section changed had lost records before it. */
static inline bool view_touched_unknown(const struct ck_view *v, unsigned cpu)
{
	return v->cpu[cpu].trap.touched_unknown;
}

/** The change the current section made to `comp`'s side of `pfn`, or NULL. */
static inline const struct ck_touch *view_touch_find(const struct ck_view *v,
						     unsigned cpu,
						     unsigned comp,
						     uint64_t pfn)
{
	const struct ck_trapctx *t = &v->cpu[cpu].trap;
	int64_t i = model_page_index(v->model, pfn);

	if (!t->active || i < 0 || comp == 0 || comp >= MODEL_COMP_COUNT ||
	    v->touch[comp][i] != t->serial)
		return NULL;
	return &t->touch[v->touch_at[comp][i]];
}

/* ---- for reports ---------------------------------------------------- */

/**
 * The events `cpu` replayed before the one being replayed, oldest first,
 * at most `max` (and ck_options.context): pointers into `out`.
 */
unsigned view_history(const struct ck_view *v, unsigned cpu,
		      const struct ck_event **out, unsigned max);

#endif /* PKVM_CHECKER_VIEW_H */
