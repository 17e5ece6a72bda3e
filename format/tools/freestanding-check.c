/* SPDX-License-Identifier: MIT */
/*
 * Compile-only check: the headers the hypervisor includes must build with
 * -ffreestanding for aarch64-none-elf (no libc beyond stddef/stdint).
 */
#include <pkvm/abi.h>
#include <pkvm/record.h>

/* Use every list so the preprocessor expands each one. */
#define COUNT3(name, id, str) +1
#define COUNT4(name, id, n, str) +1

unsigned format_freestanding_kinds(void);

/** Number of continuation records over every kind, to use events.def. */
unsigned format_freestanding_kinds(void)
{
	unsigned total = 0;

	for (unsigned k = 1; k <= PKVM_EV_MAX_KNOWN; k++)
		total += pkvm_event_ncont(k);
	return total +
	       (0 PKVM_HCALL_LIST(COUNT4) PKVM_LOCK_LIST(COUNT3)
			PKVM_SYSREG_LIST(COUNT3) PKVM_TLBI_LIST(COUNT3)
				PKVM_BARRIER_LIST(COUNT3)
					PKVM_NONDET_LIST(COUNT3)
						PKVM_MARK_LIST(COUNT3)) +
	       (unsigned)sizeof(struct pkvm_record) +
	       (unsigned)sizeof(struct pkvm_params);
}
