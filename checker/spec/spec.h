/* SPDX-License-Identifier: MIT */
/*
 * The executable specification: format/HYPERCALLS.md as pure functions.
 *
 * Each function takes the abstract pre-state (through struct spec_machine)
 * and the call's arguments and says what must happen: the return registers
 * and the page states afterwards. It never looks at the trace or at page
 * tables; the machine model (checker/src/model.c) supplies the abstraction
 * and checker/src/rule_spec.c compares the outcome with what was observed.
 */
#ifndef PKVM_CHECKER_SPEC_H
#define PKVM_CHECKER_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include <pkvm/abi.h>
#include <pkvm/record.h>
#include <pkvm/ring.h>

/** A page's state on one side (host or hyp), HYPERCALLS.md "Page state". */
enum spec_state {
	SPEC_ST_NOPAGE = 0,
	SPEC_ST_OWNED = 1,
	SPEC_ST_SHARED_OWNED = 2,
	SPEC_ST_SHARED_BORROWED = 3,
	SPEC_ST_UNKNOWN = 4, /* lost records: the checker cannot tell */
	SPEC_ST_BAD = 5,     /* reserved state bits (0b11) in a descriptor */
};

/*
 * The state a valid leaf's two software bits (56:55) give its page, in our
 * hyp and in Linux 6.12's pKVM alike (HYPERCALLS.md "Page state per side",
 * LINUX-6.12.md 3.2): 0 owned, 1 shared and owned, 2 shared and borrowed,
 * 3 reserved.
 */
static inline unsigned spec_sw_state(unsigned bits)
{
	switch (bits) {
	case 0:
		return SPEC_ST_OWNED;
	case 1:
		return SPEC_ST_SHARED_OWNED;
	case 2:
		return SPEC_ST_SHARED_BORROWED;
	default:
		return SPEC_ST_BAD;
	}
}

/** Both sides of one page. */
struct spec_page {
	uint8_t host; /* enum spec_state */
	uint8_t hyp;  /* enum spec_state */
};

/*
 * BOOT boot_flags bit 0 (HYPERCALLS.md "test_panic"): the image is a test
 * image, with the test-only hypercalls. Without it, TEST_PANIC's id is an
 * unknown call.
 */
#define SPEC_BOOT_F_TEST_HCALLS 1ull

/** The abstract machine a spec function reads: ranges and page states. */
struct spec_machine {
	uint64_t ram_base, ram_size;
	uint64_t hyp_start, hyp_end;
	unsigned cpu_count;
	bool trace_loaded;
	/* Whether tracing is loaded, and what it pinned, are unknown: lost
	 * records may have loaded it. */
	bool trace_unknown;
	bool test_hcalls; /* a test image (SPEC_BOOT_F_TEST_HCALLS in BOOT) */
	const void *ctx;
	struct spec_page (*page)(const void *ctx, uint64_t pfn);
	bool (*pinned)(const void *ctx, uint64_t pfn);
};

/** The states one call sets on one page. */
struct spec_effect {
	uint64_t pfn;
	struct spec_page after;
};

/** What the spec allows for one hypercall. */
struct spec_outcome {
	uint64_t x0;	 /* PKVM_SMCCC_SUCCESS or PKVM_SMCCC_NOT_SUPPORTED */
	int64_t x1;	 /* 0 or -PKVM_E*; only meaningful when check_x1 */
	bool check_x1;	 /* false for unknown ids (x1 is unspecified) */
	bool may_enomem; /* the call allocates: -ENOMEM allowed if pool empty */
	bool panics;	 /* test_panic: the call must not return */
	bool unknown;	 /* a page the result depends on is unknown */
	unsigned effect_count;
	struct spec_effect effect[PKVM_DONATE_MAX_PAGES];
	/* trace_load success: the pages it pins (control page and rings). */
	unsigned pin_count;
	struct spec_pin {
		uint64_t first_pfn, last_pfn;
	} pin[1 + PKVM_RING_MAX_CPUS];
};

/**
 * Host-written words of the trace control page as the hyp read them (NONDET
 * host_read records): a byte image of struct pkvm_ring_ctrl and which bytes
 * were read. The spec only judges fields the hyp actually read.
 */
struct spec_host_reads {
	uint64_t ctrl_pa;
	uint8_t bytes[sizeof(struct pkvm_ring_ctrl)];
	uint8_t known[sizeof(struct pkvm_ring_ctrl)];
	bool read_twice; /* some word was read more than once */
};

/**
 * Where a host stage-2 abort must leave the faulting page. Every abort is
 * answered in its trap: mapped, or injected. The two MAP kinds may instead
 * end with no change and the abort injected, but only if the pool ran out
 * in that trap (a NONDET alloc_page of 0): the spec cannot know that in
 * advance, the trap's records tell (checker/src/rule_spec.c).
 */
enum spec_abort_kind {
	SPEC_ABORT_MAP_MMIO, /* map identity as device memory, execute-never */
	SPEC_ABORT_MAP_RAM,  /* map identity, normal RW, host state bits */
	SPEC_ABORT_INJECT,   /* no change; inject the abort into the host */
	SPEC_ABORT_UNKNOWN,  /* the page's host state is unknown */
};

/** PSCI SYSTEM_OFF function id (SMC from the host). */
#define SPEC_PSCI_SYSTEM_OFF 0x84000008ull

/* One function per hypercall, in the order of PKVM_HCALL_LIST. */
void spec_share_hyp(const struct spec_machine *m, uint64_t pfn,
		    struct spec_outcome *out);
void spec_unshare_hyp(const struct spec_machine *m, uint64_t pfn,
		      struct spec_outcome *out);
void spec_host_donate_hyp(const struct spec_machine *m, uint64_t pfn,
			  uint64_t nr, struct spec_outcome *out);
void spec_hyp_donate_host(const struct spec_machine *m, uint64_t pfn,
			  uint64_t nr, struct spec_outcome *out);
void spec_trace_load(const struct spec_machine *m, uint64_t ctrl_pfn,
		     const struct spec_host_reads *reads,
		     struct spec_outcome *out);
/* A test image panics; a production one (no test_hcalls) does not know it. */
void spec_test_panic(const struct spec_machine *m, struct spec_outcome *out);

/**
 * Dispatch a host `hvc #0` on x0..x3 like the hyp's hypercall table: known
 * ids go to their function, anything else is NOT_SUPPORTED with no effect.
 * `reads` is only used by trace_load and may be NULL otherwise.
 */
void spec_hcall(const struct spec_machine *m, const uint64_t x[4],
		const struct spec_host_reads *reads, struct spec_outcome *out);

/**
 * What a host stage-2 abort on `ipa` must do; `esr` is the trap's ESR_EL2
 * (instruction or data abort, and its fault status code).
 */
enum spec_abort_kind spec_host_abort(const struct spec_machine *m, uint64_t ipa,
				     uint64_t esr);

/** The SMC function ids the hyp handles (returns true for SYSTEM_OFF). */
bool spec_smc_is_system_off(uint64_t x0);

/** Printable name of a state ("SHARED_OWNED"). */
const char *spec_state_name(unsigned st);

/** True if `pfn` is a RAM page of `m`. */
bool spec_pfn_in_ram(const struct spec_machine *m, uint64_t pfn);

#endif /* PKVM_CHECKER_SPEC_H */
