/* SPDX-License-Identifier: MIT */
/*
 * The replay's state: shared by reading (read.c), linearisation (linearise.c),
 * the replay itself (replay.c), the verdict (verdict.c) and the per-trap
 * checks (trap.c). Private to checker/src.
 */
#ifndef PKVM_CHECKER_REPLAY_H
#define PKVM_CHECKER_REPLAY_H

#include <stdarg.h>

#include <pkvm/expand.h>

#include "../spec/spec.h"
#include "bbm.h"
#include "checker.h"
#include "model.h"
#include "tlb.h"

#define CK_LOCK_COUNT 5u /* ids 1..4 */
#define CK_MAX_PENDING 32u
#define CK_MAX_READS 128u
#define CK_MAX_REPORTED 32u

/* ESR_EL2 exception classes the spec distinguishes. */
#define CK_EC_HVC64 0x16u
#define CK_EC_SMC64 0x17u
#define CK_EC_IABT_LOW 0x20u
#define CK_EC_DABT_LOW 0x24u

enum ck_sched {
	CK_SCHED_NONE,	  /* the CPU's stream has ended */
	CK_SCHED_READY,	  /* its next event can always run */
	CK_SCHED_ACQUIRE, /* its next event waits for a lock ticket */
};

enum ck_trap_type {
	CK_TRAP_HVC,   /* hvc #0: a hypercall */
	CK_TRAP_SMC,   /* PSCI */
	CK_TRAP_ABORT, /* host stage-2 abort */
	CK_TRAP_OTHER, /* anything else: no state change */
};

/** A page side one trap changed: its view before and after. */
struct ck_touch {
	uint64_t pfn;
	unsigned comp;
	uint64_t pre_last; /* index of the event that last changed it before */
	bool pre_known;
	struct model_side pre, post;
};

/** An invariant broken after a trap, reported when the trap ends. */
struct ck_pending {
	const char *check;
	uint64_t pfn;
	uint64_t explain;
	bool has_explain;
	char text[320];
};

/** One CPU's trap in progress, from TRAP_ENTRY to TRAP_EXIT. */
struct ck_trap {
	bool active;
	uint32_t serial;
	struct ck_event entry;
	enum ck_trap_type type;
	uint64_t ipa; /* aborts */
	bool evaluated, had_comp_lock, snapped;
	bool alloc_failed, unknown, panicked, system_off;
	char unknown_why[160];
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
	uint64_t read_addr[CK_MAX_READS];
	unsigned read_count;
	bool vbar_known;
	uint64_t vbar;
	struct ck_touch *touch;
	size_t touch_count, touch_cap;
	struct ck_pending pend[CK_MAX_PENDING];
	unsigned pend_count;
	uint64_t reported[CK_MAX_REPORTED]; /* pfns with an effect finding */
	unsigned reported_count;
};

struct ck_cpu {
	/*
	 * The CPU's events, read in place into a ring: its lookahead (the
	 * next event to replay) at ring[head], and just behind it the last
	 * `replayed` events (at most ck_options.context), which reports
	 * show. Keeping the history costs no copy per event.
	 */
	struct ck_event *ring;
	unsigned ring_size, head, replayed;
	struct ck_event *next; /* &ring[head] */
	/* Records the source handed out (ck_source.next) not read yet, and
	 * the source position they lie at. */
	const struct pkvm_record *run;
	unsigned run_left;
	uint64_t run_pos;
	bool has_next, done;
	/* The canonical events of the last record read (ck_fetch), the
	 * next one to hand out, and what expanding HCALL_EXIT needs. */
	struct trace_words parts[TRACE_EXPAND_MAX];
	unsigned part_count, part_next;
	struct trace_expand_cpu expand;
	bool seq_started;
	uint32_t expect_seq;
	uint64_t first_lost; /* the count of a LOST record read first */
	bool lost;	     /* records of this CPU were lost (sticky) */
	/* Lost records since its last trap entry: a store outside any known
	 * trap may belong to a trap whose entry was lost. */
	bool entry_maybe_lost;
	bool entered_host;
	unsigned held; /* bit per lock id */
	struct ck_trap trap;
	struct tlb_cpu tlb; /* unmaps waiting for TLB maintenance (tlb.c) */
	uint64_t *allocs;   /* pages handed out in the current trap/boot */
	size_t alloc_count, alloc_cap;
};

struct ck_lock {
	int holder; /* CPU, or -1 */
	uint64_t ticket, next_ticket;
};

struct ck {
	struct ck_source *src;
	const struct ck_options *opt;
	const struct ck_sink *sink;
	struct ck_summary *sum;
	unsigned ncpu;
	struct ck_cpu cpu[CK_MAX_CPUS];
	struct ck_lock lock[CK_LOCK_COUNT];
	bool boot_seen, boot_checked;
	uint64_t ram_base, ram_size, hyp_start, hyp_end;
	uint64_t pool_start, pool_end;
	uint64_t boot_flags; /* BOOT's (SPEC_BOOT_F_*) */
	unsigned boot_cpus;
	struct model *model;
	uint8_t *unknown; /* per RAM page: bit per component */
	uint64_t *last;	  /* per RAM page: event that last changed it */
	uint32_t *touch[MODEL_COMP_COUNT];
	uint8_t *pool; /* per pool page: 1 handed out, 2 installed */
	uint64_t pool_pages;
	uint32_t trap_serial;
	bool any_loss;
	bool trace_loaded;
	/* RAM pages a descriptor store outside any trap changed (after boot),
	 * collected while the model applies one store: at most a block's. */
	uint64_t outside[512];
	unsigned outside_count;
	struct spec_pin pins[1 + PKVM_RING_MAX_CPUS];
	unsigned pin_count;
	/* Source position of the record read last, whichever CPU's. */
	uint64_t read_pos;
	/* Scheduling summary of each CPU's lookahead (ck_pick's hot data). */
	uint64_t sched_ts[CK_MAX_CPUS];
	uint64_t sched_pos[CK_MAX_CPUS];    /* source position of that event */
	uint64_t sched_ticket[CK_MAX_CPUS]; /* CK_SCHED_ACQUIRE: its ticket */
	uint8_t sched_lock[CK_MAX_CPUS];    /* ... of this lock */
	uint8_t sched_state[CK_MAX_CPUS];   /* CK_SCHED_* */
	/* Bit per CPU whose lookahead may run now (READY, or an ACQUIRE
	 * whose ticket is next), and per lock the CPUs waiting for it: a
	 * waiting CPU can only become ready when that lock changes. */
	unsigned sched_ready;
	unsigned sched_waiting[CK_LOCK_COUNT];
	/* ck_pick's last full choice (-1: none to go by), the CPUs that
	 * were ready besides it then, and the best of those (-1: none). */
	int sched_last, sched_second;
	unsigned sched_others;
	uint64_t index;	  /* index of the event being replayed */
	int cur_cpu;	  /* CPU whose event is being replayed */
	uint64_t cur_pos; /* ... and its source position */
	bool stop, corrupt;
	struct ck_end end; /* how the source ended (verdict.c) */
};

/* The lookahead of a CPU: the next event it replays. */
static inline struct ck_event *ck_next(const struct ck_cpu *c)
{
	return c->next;
}

/* A lock that protects a component of page tables (its id is the
 * component's). */
static inline bool ck_comp_lock(unsigned id)
{
	return id == PKVM_LOCK_HOST_S2 || id == PKVM_LOCK_HYP_S1;
}

/* replay.c */
void ck_finding(struct ck *ck, const char *check, const struct ck_event *ev,
		uint64_t addr, bool has_explain, uint64_t explain,
		const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void ck_inconclusive(struct ck *ck, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ck_inconsistent(struct ck *ck, const struct ck_event *ev,
		     const char *what);
struct spec_page ck_page(const struct ck *ck, uint64_t pfn);
void ck_spec_machine(const struct ck *ck, struct spec_machine *m);
void replay_loss(struct ck *ck, unsigned cpu);
void replay_unknown_comp(struct ck *ck, unsigned comp, const char *why);

/* read.c */
void read_refill(struct ck *ck, unsigned cpu);
void read_advance(struct ck *ck, unsigned cpu);

/* verdict.c */
void ck_corrupt_at(struct ck *ck, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ck_corrupt_source(struct ck *ck);
int verdict_header(struct ck *ck);
int verdict_boot(struct ck *ck, const struct ck_event *ev, uint64_t offset);
void verdict_end(struct ck *ck);
int verdict_code(const struct ck *ck);

/* trap.c */
void trap_begin(struct ck *ck, unsigned cpu, const struct ck_event *ev);
void trap_on_comp_lock(struct ck *ck, unsigned cpu);
void trap_prepare(struct ck *ck, unsigned cpu);
void trap_snapshot(struct ck *ck, unsigned cpu);
void trap_end(struct ck *ck, unsigned cpu, const struct ck_event *ev);
void trap_abandon(struct ck *ck, unsigned cpu, const char *why);
void trap_touch(struct ck *ck, struct ck_trap *t, unsigned comp, uint64_t pfn,
		const struct model_side *old);
void trap_host_read(struct ck *ck, unsigned cpu, const struct ck_event *ev);
void trap_free(struct ck_trap *t);
const char *trap_invariant(const struct ck *ck, uint64_t pfn, char *msg,
			   size_t len);
unsigned trap_ec(const struct ck_event *entry);

#endif /* PKVM_CHECKER_REPLAY_H */
