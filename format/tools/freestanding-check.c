/* SPDX-License-Identifier: MIT */
/*
 * Compile-only check: the headers the hypervisor includes must build with
 * -ffreestanding for aarch64-none-elf (no libc beyond stddef/stdint).
 */
#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
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
	total += 0 PKVM_HCALL_LIST(COUNT4);
	total += 0 PKVM_LOCK_LIST(COUNT3);
	total += 0 PKVM_SYSREG_LIST(COUNT3);
	total += 0 PKVM_TLBI_LIST(COUNT3);
	total += 0 PKVM_BARRIER_LIST(COUNT3);
	total += 0 PKVM_TLBI_EXT_LIST(COUNT3);
	total += 0 PKVM_BARRIER_EXT_LIST(COUNT3);
	total += 0 PKVM_NONDET_LIST(COUNT3);
	total += 0 PKVM_MARK_LIST(COUNT3);
	total += 0 PKVM_REGION_LIST(COUNT3);
	total += 0 PKVM_LOCK_ROLE_LIST(COUNT3);
	total += 0 PKVM_L612_HCALL_LIST(COUNT4);
	total += 0 PKVM_L612_BOOT_FLAG_LIST(COUNT3);
	return total + (unsigned)sizeof(struct pkvm_record) +
	       (unsigned)sizeof(struct pkvm_params);
}
