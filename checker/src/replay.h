/* SPDX-License-Identifier: MIT */
/*
 * The replay's own state, private to it: reading (read.c), linearisation
 * (linearise.c), the replay itself (replay.c), what it shows the rules
 * (view.c) and the verdict on its source (verdict.c). No rule includes
 * this file; rules see the replay through view.h.
 */
#ifndef PKVM_CHECKER_REPLAY_H
#define PKVM_CHECKER_REPLAY_H

#include <stdarg.h>

#include <pkvm/dump.h>
#include <pkvm/expand.h>

#include "checker.h"
#include "findings.h"
#include "model.h"
#include "profile.h"
#include "rules.h"
#include "view.h"

enum ck_sched {
	CK_SCHED_NONE,	  /* the CPU's stream has ended */
	CK_SCHED_READY,	  /* its next event can always run */
	CK_SCHED_ACQUIRE, /* its next event waits for a lock ticket */
	CK_SCHED_HELD,	  /* it enters the profile's after_boot_hcall, which
			     waits for the boot hypercall's return */
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
	bool run_plain; /* the source said the run is plain (ck_source) */
	bool has_next, done;
	/* The canonical events of the last record read (ck_fetch), the
	 * next one to hand out, and what expanding HCALL_EXIT needs. */
	struct trace_words parts[TRACE_EXPAND_MAX];
	unsigned part_count, part_next;
	struct trace_expand_cpu expand;
	bool seq_started;
	uint32_t expect_seq;
	uint64_t first_lost; /* the count of a LOST record read first */
};

struct ck {
	/* What the rules see (view.h): first, so that the view is the
	 * replay. */
	struct ck_view view;
	struct ck_source *src;
	const struct ck_options *opt;
	struct ck_summary *sum;
	struct ck_findings *out;
	struct ck_rules *rules;
	struct ck_env env;
	unsigned ncpu;
	struct ck_cpu cpu[CK_MAX_CPUS]; /* reading each CPU's stream */
	/* Whether records carry sites, from BOOT (read first: cpu0). */
	struct trace_sites sites;
	bool boot_seen;
	/* Profile boot_cpu_alone, and cpu0 has not entered the host yet (nor
	 * lost records, nor trapped): while cpu0 can run, only cpu0 runs. */
	bool boot_alone;
	/* Profile after_boot_hcall until the boot hypercall returns (0:
	 * nothing held): CPUs whose lookahead enters it are CK_SCHED_HELD
	 * meanwhile (linearise.h). */
	unsigned hold_hcall;
	uint32_t trap_serial;
	/* Bit per lock id: the locks of components the spec reads, whose
	 * holding is a trap's critical section (profile.h). */
	unsigned spec_locks;
	/* Source position of the record read last, whichever CPU's. */
	uint64_t read_pos;
	/* Scheduling summary of each CPU's lookahead (sched_pick's hot
	 * data). */
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
	/* sched_pick's last full choice (-1: none to go by), the CPUs that
	 * were ready besides it then, and the best of those (-1: none). */
	int sched_last, sched_second;
	unsigned sched_others;
	/* Bit per quiet CPU (read.c): its lookahead is not read yet because
	 * its next records lie beyond everything the source has read. */
	unsigned sched_quiet;
	int cur_cpu;	  /* CPU whose event is being replayed */
	uint64_t cur_pos; /* ... and its source position */
	bool stop, corrupt;
	struct ck_end end;     /* how the source ended (verdict.c) */
	struct lockmap *locks; /* locks named by address (lockmap.c) */
	/* PROFILE_ROOTS_SYSREG: VTCR_EL2 as last written (0: not yet). */
	uint64_t vtcr;
	uint64_t boot_tcr; /* BOOT's tcr */
};

/* The lookahead of a CPU: the next event it replays. */
static inline struct ck_event *ck_next(const struct ck_cpu *c)
{
	return c->next;
}

/* replay.c */
void replay_loss(struct ck *ck, unsigned cpu);
void replay_unknown_lock(struct ck *ck, unsigned id, const char *why);

/* lockmap.c */
void lockmap_init(struct ck *ck);
void lockmap_free(struct ck *ck);
void lockmap_translate(struct ck *ck, struct ck_event *ev);
bool lockmap_translate_known(struct ck *ck, struct ck_event *ev);
void lockmap_info(struct ck *ck, const struct ck_event *ev);

/* verdict.c */
void ck_corrupt_at(struct ck *ck, uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ck_corrupt_source(struct ck *ck);
int verdict_header(struct ck *ck);
int verdict_boot(struct ck *ck, const struct ck_event *ev, uint64_t offset);
void verdict_end(struct ck *ck);
int verdict_code(const struct ck *ck);

#endif /* PKVM_CHECKER_REPLAY_H */
