/* SPDX-License-Identifier: MIT */
/*
 * The one interface between the replay and the rules.
 *
 * A rule is a file with one `const struct ck_rule` and a line in the
 * table of rules.c. The replay calls a rule's hooks as it replays: each
 * hook sees the event, the replay through view.h (read-only) and reports
 * through findings.h. A rule keeps its own state in what its `create`
 * returns; it never reaches into the replay's structures, and the replay
 * knows no rule by name.
 *
 * Hooks run in the order of the table, each list built once (rules.c), so
 * an event costs only the calls of the rules that asked for it.
 */
#ifndef PKVM_CHECKER_RULES_H
#define PKVM_CHECKER_RULES_H

#include <pkvm/trace.h>

#include "checker.h"
#include "findings.h"
#include "view.h"

#define CK_MAX_RULES 32u

struct ck_rules;

/** Our hyp's lock `id` as abi.h names it ("host_s2"), for findings. */
static inline const char *ck_lock_name(unsigned id)
{
	const char *name = trace_lock_name(id);

	return name ? name : "an unknown lock";
}

/** What every hook is given besides its rule's state and the event. */
struct ck_env {
	const struct ck_view *view;   /* the replay, read-only */
	struct ck_findings *out;      /* where verdicts go */
	const struct ck_rules *rules; /* other rules' state (rules_self) */
};

/** A hook on one event; `self` is what the rule's `create` returned. */
typedef void (*ck_hook)(void *self, const struct ck_env *env,
			const struct ck_event *ev);

/*
 * The hooks on events, in the order of a trap's life. Each may be NULL.
 *
 *   boot          the BOOT record, once the model exists
 *   trap_entry    a TRAP_ENTRY (the view has the trap already)
 *   section_begin the trap takes a component lock holding none (its
 *                 critical section begins; ev: the acquisition)
 *   section_end   the trap lets the last component lock go, or exits
 *                 inside a section (ev: the release or the exit); the
 *                 view's touches of that section have their `post`
 *   trap_exit     a TRAP_EXIT (the view still has the trap)
 *   store_before  a PTE_WRITE, before the model applies it
 *   store_after   a PTE_WRITE, after (view_store_write says what it did)
 *   lock_acquire  a LOCK_ACQUIRE, once taken
 *   lock_release  a LOCK_RELEASE, before it is let go
 *   maintenance   a TLBI or BARRIER
 *   sysreg        a SYSREG_WRITE
 *   nondet        a NONDET other than a host read
 *   host_read     a NONDET of PKVM_NONDET_HOST_READ: the host memory a
 *                 trap read. A list of its own: a third of all events are
 *                 these, and most rules that want NONDETs want the others.
 *   mark          a MARK
 *   panic         a PANIC
 *   boot_linux    a BOOT_LINUX (linux-6.12: conversions and sizes)
 *   region        a REGION (linux-6.12: RAM regions, image sections, ...)
 *   guest_trap    a guest's TRAP_ENTRY or TRAP_EXIT (source 1-3), which
 *                 nests in a host trap and is not one itself
 */
#define CK_EVENT_HOOKS(X)                                                      \
	X(boot)                                                                \
	X(trap_entry)                                                          \
	X(section_begin)                                                       \
	X(section_end)                                                         \
	X(trap_exit)                                                           \
	X(store_before)                                                        \
	X(store_after)                                                         \
	X(lock_acquire)                                                        \
	X(lock_release)                                                        \
	X(maintenance)                                                         \
	X(sysreg)                                                              \
	X(nondet)                                                              \
	X(host_read)                                                           \
	X(mark)                                                                \
	X(panic)                                                               \
	X(boot_linux)                                                          \
	X(region)                                                              \
	X(guest_trap)

/** A rule: its name, its state's life and its hooks. */
struct ck_rule {
	const char *name;
	/* The one system (trace header `system`, profile.h) whose traces
	 * the rule judges, or NULL: any whose profile runs it. A rule for
	 * another system is not created, so its hooks cost nothing. */
	const char *system;
	/* Its state for a replay of `cpu_count` CPUs (NULL: none). */
	void *(*create)(const struct ck_env *env, unsigned cpu_count);
	void (*destroy)(void *self);
#define CK_RULE_HOOK_FIELD(name) ck_hook name;
	CK_EVENT_HOOKS(CK_RULE_HOOK_FIELD)
#undef CK_RULE_HOOK_FIELD
	/* `cpu`'s trap ends without its exit (`why`): the trace ends, or a
	 * new entry comes first. */
	void (*trap_abandon)(void *self, const struct ck_env *env, unsigned cpu,
			     const char *why);
	/* Records of `cpu` were lost (a LOST record or a sequence gap). */
	void (*loss)(void *self, const struct ck_env *env, unsigned cpu);
	/* Lock `id`'s component may have changed in lost records. */
	void (*comp_unknown)(void *self, const struct ck_env *env, unsigned id);
	/* The replay is over (every stream ended, or it stopped). */
	void (*end)(void *self, const struct ck_env *env);
};

/** The state of another rule (for a rule that builds on it), or NULL. */
void *rules_self(const struct ck_rules *rules, const struct ck_rule *rule);

/* ---- for the replay ------------------------------------------------- */

/**
 * One list of hooks on events: the rules that asked, in table order, then
 * an entry with no function (the loop needs no count).
 */
struct ck_hook_at {
	ck_hook fn;
	void *self;
};

struct ck_hook_list {
	struct ck_hook_at at[CK_MAX_RULES + 1];
};

/** Every rule's state and, per hook, the rules that asked for it. */
struct ck_rules {
	unsigned count;
	const struct ck_rule *rule[CK_MAX_RULES];
	void *self[CK_MAX_RULES];
#define CK_RULES_LIST_FIELD(name) struct ck_hook_list name;
	CK_EVENT_HOOKS(CK_RULES_LIST_FIELD)
#undef CK_RULES_LIST_FIELD
};

/** Create every rule of the table (rules.c) for `cpu_count` CPUs. */
struct ck_rules *rules_create(const struct ck_env *env, unsigned cpu_count);
void rules_destroy(struct ck_rules *rules);

/*
 * Call the hooks of `list` on `ev`, in order. The first RULES_CALL_SITES
 * are unrolled: a loop has one call site, which jumps to another rule at
 * each turn and so is mispredicted nearly every time, while an unrolled
 * position of an inlined copy (one per hook in replay.c) always calls the
 * same rule, which the CPU learns. Unrolled, the compiler would no
 * longer inline it by itself.
 */
#define RULES_CALL_SITES 8

static inline __attribute__((always_inline)) void
rules_call(const struct ck_hook_list *list, const struct ck_env *env,
	   const struct ck_event *ev)
{
	const struct ck_hook_at *h = list->at;

#define RULES_CALL_AT(k)                                                       \
	if (!h[k].fn)                                                          \
		return;                                                        \
	h[k].fn(h[k].self, env, ev);
	RULES_CALL_AT(0)
	RULES_CALL_AT(1)
	RULES_CALL_AT(2)
	RULES_CALL_AT(3)
	RULES_CALL_AT(4)
	RULES_CALL_AT(5)
	RULES_CALL_AT(6)
	RULES_CALL_AT(7)
#undef RULES_CALL_AT
	for (h += RULES_CALL_SITES; h->fn; h++)
		h->fn(h->self, env, ev);
}

void rules_trap_abandon(const struct ck_rules *rules, const struct ck_env *env,
			unsigned cpu, const char *why);
void rules_loss(const struct ck_rules *rules, const struct ck_env *env,
		unsigned cpu);
void rules_comp_unknown(const struct ck_rules *rules, const struct ck_env *env,
			unsigned id);
void rules_end(const struct ck_rules *rules, const struct ck_env *env);

#endif /* PKVM_CHECKER_RULES_H */
