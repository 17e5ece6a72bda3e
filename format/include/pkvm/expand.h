/* SPDX-License-Identifier: MIT */
/*
 * Compact events expanded into the events they stand for (FORMAT.md
 * section 3, "Compact kinds"). Host only.
 *
 * Format 2.0 lets the hyp write a few common sequences as one record or
 * event: HCALL_ENTRY and HCALL_EXIT for a hypercall's TRAP_ENTRY and
 * TRAP_EXIT, LOCK_ACQUIRE2 and LOCK_RELEASE2 for two lock events in a row,
 * and flag bits on TLBI for the barriers around it. Each is an exact,
 * lossless stand-in, so a reader that expands them sees the *canonical*
 * events only (the kinds of format 1.x), and code written against those
 * needs no change. trace_expand() is the one place that knows how;
 * trace_expand_words() gives the same events as payload words only, for a
 * replay that has no use for records made up of the compact head's.
 *
 * Format 3.0 adds HCALL_ENTRY_LOCK2, a hypercall's entry with the two
 * table locks taken right after it, and HCALL_EXIT_UNLOCK2, their release
 * (in reverse order) with the exit.
 *
 * HCALL_EXIT leaves out what did not change since the trap's entry (x2,
 * x3, ELR), and HCALL_EXIT_UNLOCK2 also which locks the entry took:
 * expanding them needs that entry, so the expansion keeps a little state
 * per CPU stream. A stream that lost records (a LOST record, a gap in the
 * sequence numbers) must say so with trace_expand_loss(): the entry that
 * an exit then closes may be among the lost records, and its words are
 * never taken from an older trap.
 */
#ifndef PKVM_EXPAND_H
#define PKVM_EXPAND_H

#include <stdbool.h>
#include <stdint.h>

#include <pkvm/record.h>

/** Canonical events one event expands into, at most (a TLBI with three
 *  barriers: dsb ishst, tlbi, dsb ish, isb). */
#define TRACE_EXPAND_MAX 4u

/**
 * What one CPU's stream must remember to expand HCALL_EXIT and
 * HCALL_EXIT_UNLOCK2: the words of the trap entry still open, and the
 * locks it took. Zero-initialise one per CPU.
 */
struct trace_expand_cpu {
	bool open;	      /* an entry was read; no exit or loss since */
	bool locked;	      /* ... an HCALL_ENTRY_LOCK2, which took locks */
	uint64_t x2, x3, elr; /* that entry's (x3 is 0 after HCALL_ENTRY*) */
	uint64_t locks;	      /* if locked: its `locks` and `tickets` words */
	uint64_t tickets;
};

/** One canonical event: a head record and its continuations. */
struct trace_canon {
	/* Each record takes the compact head's ts, cpu and seq. */
	struct pkvm_record recs[PKVM_EVENT_MAX_RECORDS];
	unsigned nrec;
	/*
	 * An HCALL_EXIT or HCALL_EXIT_UNLOCK2 expanded without an open entry
	 * (none read, or lost records since): its x2, x3 and elr are 0, not
	 * the entry's values, and an HCALL_EXIT_UNLOCK2 lacks its lock
	 * releases (which locks, the lost entry said).
	 */
	bool incomplete;
	/*
	 * The compact event was written where FORMAT.md does not allow it,
	 * so the trace contradicts itself: an HCALL_EXIT_UNLOCK2 closing a
	 * trap whose entry, read with no loss since, took no locks. It
	 * expands to its TRAP_EXIT alone (the releases it claims are of
	 * locks never taken); a checker must not trust the trace past it.
	 */
	bool invalid;
};

/**
 * One canonical event as its words: what a trace_canon holds, less the
 * records around them (every record of an expanded event repeats the
 * compact head's ts, cpu and seq, and its flags follow from `kind` and
 * `kbits`). A replay that keeps events as words need not build records
 * only to take them apart again.
 */
struct trace_words {
	uint8_t kind;	 /* canonical kind */
	uint8_t kbits;	 /* its head's kind-specific flag bits */
	uint8_t nrec;	 /* 1 + pkvm_event_ncont(kind): `w` holds 2 * nrec */
	bool incomplete; /* as trace_canon's */
	bool invalid;	 /* as trace_canon's */
	uint64_t w[2 * PKVM_EVENT_MAX_RECORDS]; /* payload words in order */
};

/**
 * Expand one whole event, `recs[0]` its head and `n - 1` continuations,
 * as the reader returns them, into `out` (room for TRACE_EXPAND_MAX).
 * A compact event becomes the canonical events it stands for, in order; an
 * event of a canonical kind comes back unchanged. Returns how many events
 * were written: 1 to TRACE_EXPAND_MAX, or 0 for a kind this library does
 * not know (a newer minor version's: skip it) or an event cut short.
 * Trap entries, exits and LOST records update `st`. `incomplete` and
 * `invalid` are set on the one event concerned (a TRAP_EXIT), clear on all
 * others.
 */
unsigned trace_expand(struct trace_expand_cpu *st,
		      const struct pkvm_record *recs, unsigned n,
		      struct trace_canon *out);

/**
 * trace_expand() with the events as words (trace_words) rather than
 * records: the same events, in the same order, with the same effect on
 * `st` and the same return value. An event that is canonical already
 * comes back as its head's kind and flag bits and the words of its
 * records.
 */
unsigned trace_expand_words(struct trace_expand_cpu *st,
			    const struct pkvm_record *recs, unsigned n,
			    struct trace_words *out);

/** Records of this CPU were lost: forget the open entry. */
void trace_expand_loss(struct trace_expand_cpu *st);

/**
 * The cheap half of trace_expand() for the common case: if the event in
 * `recs` (as for trace_expand) is canonical already, update `st` exactly as
 * trace_expand() would and return true; the event then stands for itself,
 * and the caller can use `recs` where trace_expand() would have copied
 * them. Returns false, changing nothing, for a compact event, an unknown
 * kind or an event cut short: call trace_expand().
 *
 * Inline: a replay asks it of nearly every event it reads, and has often
 * just checked the kind and the record count itself, which the compiler
 * then need not check twice.
 */
static inline bool trace_expand_follow(struct trace_expand_cpu *st,
				       const struct pkvm_record *recs,
				       unsigned n)
{
	unsigned kind = recs[0].kind;

	/* Kinds 1-13 and (4.1) 20-23 are canonical (FORMAT.md 3). */
	if (kind == 0 || (kind > PKVM_EV_MARK && kind < PKVM_EV_REGION) ||
	    kind > PKVM_EV_TRAP_REGS || n != 1 + pkvm_event_ncont(kind))
		return false; /* compact (14-19), unknown, or cut short */
	switch (kind) {
	case PKVM_EV_TLBI:
		/* Flag bits (barriers, FORMAT.md 3.1): expand_tlbi. */
		return !(recs[0].flags & PKVM_REC_F_KIND_MASK);
	case PKVM_EV_TRAP_ENTRY:
		/* esr elr far hpfar x0 x1 x2 x3: remember x2, x3 and elr; a
		 * trap entry takes no locks. */
		*st = (struct trace_expand_cpu){ .open = true,
						 .x2 = recs[3].a,
						 .x3 = recs[3].b,
						 .elr = recs[0].b };
		return true;
	case PKVM_EV_TRAP_EXIT:
		st->open = st->locked = false;
		return true;
	case PKVM_EV_LOST:
		trace_expand_loss(st);
		return true;
	default:
		return true;
	}
}

#endif /* PKVM_EXPAND_H */
