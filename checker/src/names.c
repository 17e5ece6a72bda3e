// SPDX-License-Identifier: MIT
/* Names the reports use, from the one list in abi.h. */
#include <pkvm/abi.h>

#include "checker.h"

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
