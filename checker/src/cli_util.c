// SPDX-License-Identifier: MIT
/*
 * Small pieces every subcommand uses: times given on the command line,
 * names a value may take (listed when a value is wrong), and the last word
 * on standard output: a report that could not be written is an error,
 * never a verdict.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>

#include "cli.h"

/** See cli.h. */
int cli_time_arg(const char *s, uint64_t freq, bool as_ticks, uint64_t *ticks)
{
	uint64_t sec = 0, frac = 0, scale = 1000000000u;
	const char *p = s;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	if (as_ticks || freq == 0) {
		*ticks = strtoull(s, &end, 0);
		return *end || errno ? -1 : 0;
	}
	sec = strtoull(p, &end, 10);
	if (errno || (end == p && *end != '.'))
		return -1;
	p = end;
	if (*p == '.') {
		/* Up to nanoseconds; more digits are cut, not rounded. */
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
	}
	if (*p != '\0' && strcmp(p, "s") != 0)
		return -1;
	if (sec > UINT64_MAX / freq)
		return -1;
	*ticks = sec * freq +
		 (uint64_t)((unsigned __int128)frac * freq / 1000000000u);
	return 0;
}

/** See cli.h. */
int cli_out_done(FILE *f, int code)
{
	int err;

	if (fflush(f) == 0 && !ferror(f))
		return code;
	err = errno;
	fprintf(stderr, "pkvm-check: cannot write the output: %s\n",
		err ? strerror(err) : "write error");
	return CK_EXIT_USAGE;
}

/** See cli.h. */
unsigned cli_lock_id(const char *name)
{
#define CLI_LOCK(n, id, str)                                                   \
	if (strcmp(name, str) == 0)                                            \
		return id;
	PKVM_LOCK_LIST(CLI_LOCK)
#undef CLI_LOCK
	return 0;
}

/** See cli.h. */
unsigned cli_hcall_id(const char *name)
{
#define CLI_HC(n, id, nargs, str)                                              \
	if (strcmp(name, str) == 0)                                            \
		return id;
	PKVM_HCALL_LIST(CLI_HC)
#undef CLI_HC
	return 0;
}

static void cli_add(char *buf, size_t len, size_t *pos, const char *name)
{
	int n = snprintf(buf + *pos, *pos < len ? len - *pos : 0, "%s%s",
			 *pos ? ", " : "", name);

	if (n > 0)
		*pos += (size_t)n;
	if (*pos >= len)
		*pos = len - 1;
}

/** See cli.h. */
void cli_names(char *buf, size_t len, const char *what)
{
	size_t pos = 0;

	buf[0] = '\0';
	if (strcmp(what, "kind") == 0) {
		for (unsigned k = 1; k < 256; k++)
			if (trace_kind_name(k))
				cli_add(buf, len, &pos, trace_kind_name(k));
	} else if (strcmp(what, "lock") == 0) {
#define CLI_LOCK_NAME(n, id, str) cli_add(buf, len, &pos, str);
		PKVM_LOCK_LIST(CLI_LOCK_NAME)
#undef CLI_LOCK_NAME
	} else if (strcmp(what, "hcall") == 0) {
#define CLI_HC_NAME(n, id, nargs, str) cli_add(buf, len, &pos, str);
		PKVM_HCALL_LIST(CLI_HC_NAME)
#undef CLI_HC_NAME
	}
}
