/* SPDX-License-Identifier: MIT */
/*
 * The 32-byte trace record (FORMAT.md section "Records").
 *
 * Freestanding: usable by the hypervisor at EL2 (no libc) and by the host
 * tools. All multi-byte fields are little-endian; every target this project
 * builds for is little-endian, so the struct is the wire layout.
 */
#ifndef PKVM_RECORD_H
#define PKVM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Kinds of event; the values come from events.def. */
enum pkvm_event_kind {
	PKVM_EV_INVALID = 0,
#define PKVM_EVENT(name, value, ncont, str, fields) PKVM_EV_##name = value,
#include <pkvm/events.def>
	PKVM_EV_MAX_KNOWN = 23,
};

/**
 * Continuation records each kind carries after its head record (0 for a
 * kind not in the list). A table, not a switch: readers ask it of every
 * record, and a switch became a jump per call.
 */
static inline unsigned pkvm_event_ncont(unsigned kind)
{
	static const uint8_t ncont_of[] = {
#define PKVM_EVENT(name, value, ncont, str, fields) [value] = ncont,
#include <pkvm/events.def>
	};

	return kind < sizeof(ncont_of) ? ncont_of[kind] : 0;
}

/*
 * `flags`:
 *   bit 7     PKVM_REC_F_CONT: this is a continuation record; `kind` repeats
 *             the head's kind.
 *   bits 0-2  on a head record: the number of continuation records that
 *             follow (so a reader can skip a kind it does not know).
 *             On a continuation record: its index, 1-based.
 *   bits 3-6  kind-specific (see PKVM_REC_F_* below); must be zero where a
 *             kind defines none ("reserved bits").
 */
#define PKVM_REC_F_CONT 0x80u
#define PKVM_REC_F_NCONT_MASK 0x07u
#define PKVM_REC_F_KIND_SHIFT 3
#define PKVM_REC_F_KIND_MASK 0x78u

/* PTE_WRITE: the store was a store-release (STLR) rather than a plain STR. */
#define PKVM_REC_F_PTE_RELEASE (1u << 3)
/*
 * TLBI: the barriers the hyp issued right around it, with no other record
 * between (FORMAT.md "tlbi"): a DSB ISHST just before, then after it a
 * DSB ISH, then an ISB. Readers expand them into BARRIER events.
 */
#define PKVM_REC_F_TLBI_DSB_ISHST_BEFORE (1u << 3)
#define PKVM_REC_F_TLBI_DSB_ISH_AFTER (1u << 4)
#define PKVM_REC_F_TLBI_ISB_AFTER (1u << 5)
/*
 * HCALL_ENTRY and HCALL_ENTRY_LOCK2 stand for a TRAP_ENTRY with this ESR:
 * HVC #0 from AArch64.
 */
#define PKVM_HCALL_ENTRY_ESR 0x5A000000ull
/* TRAP_ENTRY/TRAP_EXIT/HCALL_*: bits 3-6 hold the source; 0 is the host. */
#define PKVM_REC_SOURCE_HOST 0u
/*
 * 4.1: a guest's traps (a production hypervisor's: linux-6.12), each nested
 * in the host's vCPU-run hypercall on the same CPU. GUEST_SYNC: a guest's
 * synchronous exception (ESR, FAR, HPFAR valid); GUEST_IRQ: an interrupt
 * while a guest ran (ESR, FAR, HPFAR 0); GUEST_OTHER: another exit (`esr`
 * holds the hypervisor's own exit code).
 */
#define PKVM_REC_SOURCE_GUEST_SYNC 1u
#define PKVM_REC_SOURCE_GUEST_IRQ 2u
#define PKVM_REC_SOURCE_GUEST_OTHER 3u

/** True if bits 3-6 of `kind`'s head record hold the trap's source. */
static inline bool pkvm_event_has_source(unsigned kind)
{
	switch (kind) {
	case PKVM_EV_TRAP_ENTRY:
	case PKVM_EV_TRAP_EXIT:
	case PKVM_EV_HCALL_ENTRY:
	case PKVM_EV_HCALL_EXIT:
	case PKVM_EV_HCALL_ENTRY_LOCK2:
	case PKVM_EV_HCALL_EXIT_UNLOCK2:
		return true;
	default:
		return false;
	}
}

/*
 * Sites (FORMAT.md "Sites"): in a trace of our hyp whose BOOT `boot_flags`
 * has PKVM_BOOT_F_SITES (abi.h), bits 48-63 of the head's `a` word of the
 * kinds below hold where in the hyp's code the event was made: (pc -
 * hyp_start) / 4 of the instruction, 0 if unknown. The word's own value is
 * then bits 0-47 (a PA, an op, a lock id or the pair of small lock ids),
 * which those kinds never need more of on that system. Without the flag the
 * bits mean what they always meant: a reader never guesses a site from
 * nonzero bits.
 */
#define PKVM_SITE_SHIFT 48
#define PKVM_SITE_WORD_MASK ((1ull << PKVM_SITE_SHIFT) - 1)
/* Instructions are 4 bytes: a site reaches 256 KiB of text. */
#define PKVM_SITE_SPAN (0x10000ull * 4)

/** True if `kind`'s head `a` word carries a site in a trace with sites. */
static inline bool pkvm_event_has_site(unsigned kind)
{
	switch (kind) {
	case PKVM_EV_PTE_WRITE:
	case PKVM_EV_TLBI:
	case PKVM_EV_BARRIER:
	case PKVM_EV_LOCK_ACQUIRE:
	case PKVM_EV_LOCK_RELEASE:
	case PKVM_EV_LOCK_ACQUIRE2:
	case PKVM_EV_LOCK_RELEASE2:
		return true;
	default:
		return false;
	}
}

/** One trace record, exactly as stored in rings, pages and files. */
struct pkvm_record {
	uint64_t ts;   /* raw generic-counter ticks (CNTVCT) */
	uint8_t kind;  /* enum pkvm_event_kind */
	uint8_t flags; /* PKVM_REC_F_* */
	uint16_t cpu;  /* logical CPU index, 0-based */
	uint32_t seq;  /* per-CPU sequence number; wraps modulo 2^32 */
	uint64_t a;    /* first payload word */
	uint64_t b;    /* second payload word */
};

_Static_assert(sizeof(struct pkvm_record) == 32, "record is 32 bytes");
_Static_assert(offsetof(struct pkvm_record, ts) == 0, "ts at 0");
_Static_assert(offsetof(struct pkvm_record, kind) == 8, "kind at 8");
_Static_assert(offsetof(struct pkvm_record, flags) == 9, "flags at 9");
_Static_assert(offsetof(struct pkvm_record, cpu) == 10, "cpu at 10");
_Static_assert(offsetof(struct pkvm_record, seq) == 12, "seq at 12");
_Static_assert(offsetof(struct pkvm_record, a) == 16, "a at 16");
_Static_assert(offsetof(struct pkvm_record, b) == 24, "b at 24");

#define PKVM_RECORD_SIZE 32u
/* Longest event: BOOT, a head and six continuations. */
#define PKVM_EVENT_MAX_RECORDS 7u

#endif /* PKVM_RECORD_H */
