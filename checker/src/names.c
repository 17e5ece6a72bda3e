// SPDX-License-Identifier: MIT
/* Names the reports use, from the one list in abi.h. */
#include <stdio.h>
#include <string.h>

#include <pkvm/abi.h>

#include "checker.h"
#include "l612_hcalls.h"
#include "profile.h"

const char *ck_hcall_name(uint64_t id)
{
	switch (id) {
#define CK_HC_NAME(name, num, nargs, str)                                      \
	case num:                                                              \
		return str;
		PKVM_HCALL_LIST(CK_HC_NAME)
#undef CK_HC_NAME
	default:
		return "unknown_hcall";
	}
}

const char *ck_errno_name(int64_t v)
{
	if (v == 0)
		return "success";
	switch (-v) {
#define CK_ERR_NAME(name, num, str)                                            \
	case num:                                                              \
		return "-" str;
		PKVM_ERROR_LIST(CK_ERR_NAME)
#undef CK_ERR_NAME
	default:
		return "unknown error";
	}
}

/* A linux-6.12 hypercall (LINUX-6.12.md 6's table): its name, and as many
 * of x1-x3 as it takes. */
static void ck_l612_hcall(const struct ck_event *t, char *buf, size_t len)
{
	unsigned id = (unsigned)(profile_hc_x0(t->w) & PKVM_HC_ID_MASK);
	const char *name = NULL;
	unsigned nargs = 0;
	size_t pos;

	name = l612_hcall_name(id);
	nargs = l612_hcall_nargs(id);
	if (!name) {
		snprintf(buf, len, "hypercall id %u (not in 6.12's table)", id);
		return;
	}
	snprintf(buf, len, "hypercall %s(", name);
	for (unsigned i = 0; i < nargs && i < 3; i++) {
		pos = strlen(buf);
		snprintf(buf + pos, len - pos, "%sx%u=0x%llx", i ? ", " : "",
			 i + 1, (unsigned long long)t->w[5 + i]);
	}
	pos = strlen(buf);
	snprintf(buf + pos, len - pos, "%s)", nargs > 3 ? ", ..." : "");
}

void ck_trap_text(const struct ck_event *t, enum trace_system sys, char *buf,
		  size_t len)
{
	unsigned ec = (unsigned)((t->w[0] >> 26) & 0x3f);
	uint64_t x0 = t->w[4];

	if (sys == TRACE_SYS_LINUX612 && ec == 0x16 &&
	    (profile_hc_x0(t->w) & ~(uint64_t)PKVM_HC_ID_MASK) ==
		    PKVM_HC_BASE) {
		ck_l612_hcall(t, buf, len);
	} else if (ec == 0x16 &&
		   (x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE) {
		uint64_t id = x0 & PKVM_HC_ID_MASK;

		if (id == PKVM_HC_HOST_DONATE_HYP ||
		    id == PKVM_HC_HYP_DONATE_HOST)
			snprintf(buf, len, "hypercall %s(pfn=0x%llx, nr=%llu)",
				 ck_hcall_name(id), (unsigned long long)t->w[5],
				 (unsigned long long)t->w[6]);
		else if (id == PKVM_HC_TEST_PANIC)
			snprintf(buf, len, "hypercall test_panic()");
		else
			snprintf(buf, len, "hypercall %s(%s=0x%llx)",
				 ck_hcall_name(id),
				 id == PKVM_HC_TRACE_LOAD ? "ctrl_pfn" : "pfn",
				 (unsigned long long)t->w[5]);
	} else if (ec == 0x16) {
		snprintf(buf, len, "hvc with x0=0x%llx (not a pKVM hypercall)",
			 (unsigned long long)x0);
	} else if (ec == 0x17) {
		snprintf(buf, len, "smc function 0x%llx",
			 (unsigned long long)x0);
	} else if (ec == 0x20 || ec == 0x24) {
		uint64_t ipa = (((t->w[3] >> 4) & ((1ull << 36) - 1)) << 12) |
			       (t->w[2] & 0xfff);

		snprintf(buf, len,
			 "host stage-2 %s abort at IPA 0x%llx "
			 "(far 0x%llx)",
			 ec == 0x20 ? "instruction" : "data",
			 (unsigned long long)ipa, (unsigned long long)t->w[2]);
	} else {
		snprintf(buf, len, "exception class 0x%x", ec);
	}
}
