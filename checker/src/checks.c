// SPDX-License-Identifier: MIT
/*
 * The checks of the pkvm-check-hyp profile, as checker/README.md "The
 * checks" lists them: the JUnit, TAP and LAVA reports list every one, so
 * a farm sees the same tests in every run and can follow each one's
 * history. tests/cli/run-formats checks that this list, the README's
 * table and the names the rules report stay the same set.
 */
#include "cli.h"

static const struct check_info checks[] = {
	{ "hcall-return",
	  "x0/x1 at TRAP_EXIT differ from the spec's result (including -ENOMEM "
	  "with no failed allocation, and test_panic returning)" },
	{ "hcall-effect",
	  "a hypercall changed the state of a page other than the spec says" },
	{ "missing-mapping",
	  "a page the spec says must be mapped (host SHARED_OWNED, hyp "
	  "OWNED/SHARED_BORROWED, a host abort's page) is not" },
	{ "unexpected-mapping",
	  "a page the spec says must be NOPAGE is mapped, or a hyp mapping of "
	  "an unrelated page changed" },
	{ "bad-mapping",
	  "a mapping exists but is not identity, normal memory (device for "
	  "MMIO aborts), RW, or changed the page's state" },
	{ "enomem-with-effect", "-ENOMEM returned after changing state" },
	{ "trap-effect",
	  "an abort, SMC or other trap changed a page's state, or an abort "
	  "injected after the pool ran out changed its page" },
	{ "abort-injection",
	  "an abort that must be injected was not (or with wrong "
	  "ESR/FAR/ELR/SPSR), or one that must be mapped was injected (without "
	  "the pool running out)" },
	{ "abort-return",
	  "a resolved abort does not resume at the faulting instruction" },
	{ "smc-return", "an unhandled SMC did not return -1" },
	{ "trap-return",
	  "any other trap changed x0-x3 (but x0 = -1 for an hvc with another "
	  "immediate), did not resume where it was, or injected something" },
	{ "hyp-panic",
	  "a PANIC outside test_panic of a test image (BOOT boot_flags bit 0; "
	  "in a production image test_panic's id is unknown)" },
	{ "host-caused-panic",
	  "linux-6.12: a PANIC the spec names as the outcome of what the host "
	  "did (a host access to a hyp page, a teardown with a loaded vCPU): "
	  "a note, the run is inconclusive, never a finding" },
	{ "host-read-twice",
	  "the hyp read the same host word twice in one trap" },
	{ "boot-state", "at the first host_enter the boot state of "
			"HYPERCALLS.md does not hold" },
	{ "pte-write-without-lock",
	  "a descriptor store by a CPU not holding its component's lock" },
	{ "pte-write-not-table",
	  "a descriptor store to a page that is not an installed table" },
	{ "table-not-from-pool", "a new table page not handed out by the pool "
				 "in that trap, or installed twice" },
	{ "table-reuse",
	  "a table descriptor points at a table attached elsewhere" },
	{ "pool-alloc",
	  "the pool handed out a page outside the pool, or twice" },
	{ "host-maps-foreign-page", "host stage-2 maps a page the hyp owns (so "
				    "the page has two owners)" },
	{ "hyp-maps-foreign-page", "hyp stage-1 maps a page the host owns and "
				   "has not shared (two owners)" },
	{ "invariant-share-pairing",
	  "SHARED_OWNED on one side without SHARED_BORROWED on the other" },
	{ "invalid-state-bits", "a valid descriptor with state bits 0b11" },
	{ "tlbi-after-unmap",
	  "a store replaced a valid descriptor with an invalid one and the "
	  "writer let the component's lock go (or, without the lock, left its "
	  "trap) before the TLB maintenance below (architecture, not "
	  "HYPERCALLS.md)" },
	{ "break-before-make",
	  "a store replaced a valid descriptor with another valid one that "
	  "changes the output address, block <-> table, the Contiguous bit, "
	  "the memory type/cacheability or (cacheable memory) the "
	  "shareability, without a completed break first (architecture)" },
	{ "lock-order",
	  "a CPU took a lock while it held one that does not come earlier in "
	  "the lock order (abi.h PKVM_LOCK_ORDER_LIST), deadlock or not" },
	{ "hyp-s1-without-host-s2",
	  "hyp_s1 taken, or a hyp stage-1 descriptor stored, by a CPU that "
	  "does not hold host_s2 (abi.h PKVM_LOCK_NEEDS_LIST), boot included" },
	{ "lock-held-at-exit",
	  "a host trap returned to the host holding a lock it took" },
	{ "barrier-after-make",
	  "a store made an entry valid and the writer let the component's "
	  "lock go without a DSB (ishst, ish or sy) after its last such "
	  "store, and for the hyp stage-1 an ISB after that DSB" },
	{ "table-not-zeroed",
	  "a table page linked (or a root written) with no MARK page_zeroed "
	  "for it on the CPU that took it, after its alloc_page (a root: "
	  "after BOOT) and before the link (ABI 2)" },
	{ "hyp-s1-attributes",
	  "a valid hyp stage-1 leaf gives a page more than its kind allows: "
	  "text read-only, rodata read-only execute-never, everything else "
	  "execute-never; the table pool Normal Write-Back (ABI 2)" },
	{ "sysreg",
	  "a write of VTTBR_EL2, VTCR_EL2, HCR_EL2, TTBR0_EL2, TCR_EL2, "
	  "SCTLR_EL2, MAIR_EL2 or VBAR_EL2 with a field HYPERCALLS.md "
	  "\"System registers\" determines set otherwise, a regime turned on "
	  "before its registers are written, or a CPU that enters the host "
	  "without having written all eight" },
	{ "inconsistent-trace",
	  "no schedule satisfies CPU order and lock tickets" },
};

/** See cli.h. */
const struct check_info *checks_list(unsigned *count)
{
	*count = sizeof(checks) / sizeof(checks[0]);
	return checks;
}
