/* SPDX-License-Identifier: MIT */
/*
 * Names of everything a record can hold, all generated from the one list in
 * events.def and the lists in abi.h, so the dump, the checker's reports and
 * FORMAT.md cannot drift apart.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/trace.h>

#include "internal.h"

/** See internal.h. */
void trace_set_error(struct trace_error *err, int code, uint64_t offset,
		     const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = (enum trace_error_code)code;
	err->offset = offset;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/** See trace.h. */
const char *trace_error_name(enum trace_error_code code)
{
	switch (code) {
#define TRACE_ERR_NAME(name, str)                                              \
	case TRACE_E_##name:                                                   \
		return #name;
		TRACE_ERROR_LIST(TRACE_ERR_NAME)
#undef TRACE_ERR_NAME
	}
	return "UNKNOWN";
}

/** See trace.h. */
const char *trace_outcome_name(unsigned outcome)
{
	switch (outcome) {
#define TRACE_OUTCOME_NAME(name, value, str, text)                             \
	case value:                                                            \
		return str;
		TRACE_OUTCOME_LIST(TRACE_OUTCOME_NAME)
#undef TRACE_OUTCOME_NAME
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_outcome_text(unsigned outcome)
{
	switch (outcome) {
#define TRACE_OUTCOME_TEXT(name, value, str, text)                             \
	case value:                                                            \
		return text;
		TRACE_OUTCOME_LIST(TRACE_OUTCOME_TEXT)
#undef TRACE_OUTCOME_TEXT
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_cut_text(enum trace_cut cut)
{
	switch (cut) {
#define TRACE_CUT_TEXT(name, text)                                             \
	case TRACE_CUT_##name:                                                 \
		return text;
		TRACE_CUT_LIST(TRACE_CUT_TEXT)
#undef TRACE_CUT_TEXT
	}
	return "somewhere unknown";
}

/** See trace.h. */
const char *trace_kind_name(unsigned kind)
{
	switch (kind) {
#define PKVM_EVENT(name, value, ncont, str, fields)                            \
	case value:                                                            \
		return str;
#include <pkvm/events.def>
	default:
		return NULL;
	}
}

/** See trace.h. */
unsigned trace_kind_from_name(const char *name)
{
	if (!name)
		return 0;
#define PKVM_EVENT(n, value, ncont, str, fields)                               \
	if (strcmp(name, str) == 0)                                            \
		return value;
#include <pkvm/events.def>
	return 0;
}

static const char *kind_fields(unsigned kind)
{
	switch (kind) {
#define PKVM_EVENT(name, value, ncont, str, fields)                            \
	case value:                                                            \
		return fields;
#include <pkvm/events.def>
	default:
		return NULL;
	}
}

/*
 * Field names are stored space-separated; hand back the i-th as a
 * NUL-terminated string from a small table filled on first use, so callers
 * get a stable pointer without the library allocating per call.
 */
#define FIELD_MAX (2 * PKVM_EVENT_MAX_RECORDS)
static char field_store[PKVM_EV_MAX_KNOWN + 1][FIELD_MAX][24];

static void fields_split(unsigned kind)
{
	const char *s = kind_fields(kind);
	unsigned i = 0;

	while (s && *s && i < FIELD_MAX) {
		size_t n = strcspn(s, " ");

		if (n >= sizeof(field_store[0][0]))
			n = sizeof(field_store[0][0]) - 1;
		memcpy(field_store[kind][i], s, n);
		field_store[kind][i][n] = '\0';
		i++;
		s += n;
		s += strspn(s, " ");
	}
}

/* Filled before main() so that concurrent callers only ever read it. */
__attribute__((constructor)) static void fields_init(void)
{
	for (unsigned k = 1; k <= PKVM_EV_MAX_KNOWN; k++)
		fields_split(k);
}

/** See trace.h. */
const char *trace_field_name(unsigned kind, unsigned i)
{
	if (kind == 0 || kind > PKVM_EV_MAX_KNOWN || i >= FIELD_MAX ||
	    i >= 2 * (1 + pkvm_event_ncont(kind)))
		return NULL;
	return field_store[kind][i][0] ? field_store[kind][i] : NULL;
}

/** See trace.h. */
const char *trace_hcall_name(unsigned id)
{
	switch (id) {
#define HC_NAME(name, id, nargs, str)                                          \
	case id:                                                               \
		return str;
		PKVM_HCALL_LIST(HC_NAME)
#undef HC_NAME
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_lock_name(unsigned id)
{
	switch (id) {
#define LOCK_NAME(name, id, str)                                               \
	case id:                                                               \
		return str;
		PKVM_LOCK_LIST(LOCK_NAME)
#undef LOCK_NAME
	default:
		return NULL;
	}
}

/* The remaining enum lists share one shape: X(NAME, id, "name"). */
#define ENUM_NAME(name, id, str)                                               \
	case id:                                                               \
		return str;

/** See trace.h. */
const char *trace_sysreg_name(unsigned id)
{
	switch (id) {
		PKVM_SYSREG_LIST(ENUM_NAME)
	default:
		return NULL;
	}
}

/** See trace.h. TLBI ops carry a VMID in bits 16-31; the name is bits 0-15. */
const char *trace_tlbi_name(unsigned op)
{
	switch (op & 0xFFFFu) {
		PKVM_TLBI_LIST(ENUM_NAME)
		PKVM_TLBI_EXT_LIST(ENUM_NAME)
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_barrier_name(unsigned op)
{
	switch (op) {
		PKVM_BARRIER_LIST(ENUM_NAME)
		PKVM_BARRIER_EXT_LIST(ENUM_NAME)
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_nondet_name(unsigned what)
{
	switch (what) {
		PKVM_NONDET_LIST(ENUM_NAME)
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_mark_name(unsigned what)
{
	switch (what) {
		PKVM_MARK_LIST(ENUM_NAME)
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_region_name(unsigned what)
{
	switch (what) {
		PKVM_REGION_LIST(ENUM_NAME)
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_lock_role_name(unsigned role)
{
	switch (role & PKVM_LOCK_ROLE_MASK) {
		PKVM_LOCK_ROLE_LIST(ENUM_NAME)
	default:
		return NULL;
	}
}

/** See trace.h. */
const char *trace_component_name(unsigned comp)
{
	switch (comp) {
	case PKVM_COMP_HOST_S2:
		return "host_s2";
	case PKVM_COMP_HYP_S1:
		return "hyp_s1";
	case PKVM_COMP_GUEST_S2:
		return "guest_s2";
	default:
		return NULL;
	}
}

/** See trace.h. */
enum trace_system trace_system_of(const char *system)
{
	if (system && strcmp(system, PKVM_SYSTEM_LINUX612) == 0)
		return TRACE_SYS_LINUX612;
	return TRACE_SYS_HYP;
}

/** See trace.h. */
const char *trace_sys_hcall_name(enum trace_system sys, unsigned id)
{
	if (sys != TRACE_SYS_LINUX612)
		return trace_hcall_name(id);
	switch (id) {
#define L612_HC_NAME(name, id, nargs, str)                                     \
	case id:                                                               \
		return str;
		PKVM_L612_HCALL_LIST(L612_HC_NAME)
#undef L612_HC_NAME
	default:
		return NULL;
	}
}

/** See trace.h. Our hyp's bits: abi.h PKVM_BOOT_F_*. */
const char *trace_sys_boot_flag_name(enum trace_system sys, unsigned bit)
{
	if (sys != TRACE_SYS_LINUX612)
		return bit == 0 ? "test_hcalls" : bit == 1 ? "sites" : NULL;
	switch (bit) {
#define L612_BF_NAME(name, bit, str)                                           \
	case bit:                                                              \
		return str;
		PKVM_L612_BOOT_FLAG_LIST(L612_BF_NAME)
#undef L612_BF_NAME
	default:
		return NULL;
	}
}

/** See trace.h. Errors are stored negated, as the hyp returns them. */
const char *trace_errno_name(int64_t value)
{
	if (value == 0)
		return "0";
	switch (-value) {
#define ERR_NAME(name, val, str)                                               \
	case val:                                                              \
		return str;
		PKVM_ERROR_LIST(ERR_NAME)
#undef ERR_NAME
	default:
		return NULL;
	}
}
