// SPDX-License-Identifier: MIT
/* pkvm-record's command-line values that need more than a number. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "record_config.h"

/*
 * The workload's scenarios, in number order. It refuses any other number
 * (a FAIL line), so the recorder refuses it too, before booting anything,
 * and lists the valid ones.
 */
static const char *const record_scenarios[] = {
	"stress", "transitions", "aborts",	  "bad-rings",
	"panic",  "progress",	 "no-test-panic", "trace-race",
};

#define RECORD_SCENARIOS                                                       \
	(sizeof(record_scenarios) / sizeof(record_scenarios[0]))

/** See cli.h. */
int record_scenario_parse(const char *s, uint64_t *num, const char **name)
{
	unsigned long long v;
	char *end;

	for (size_t i = 0; i < RECORD_SCENARIOS; i++)
		if (strcmp(s, record_scenarios[i]) == 0) {
			*num = i;
			*name = record_scenarios[i];
			return 0;
		}
	errno = 0;
	v = strtoull(s, &end, 0);
	if (!errno && end != s && !*end && *s != '-' && v < RECORD_SCENARIOS) {
		*num = v;
		*name = record_scenarios[v];
		return 0;
	}
	fprintf(stderr, "pkvm-record: --scenario: no scenario '%s'; valid:", s);
	for (size_t i = 0; i < RECORD_SCENARIOS; i++)
		fprintf(stderr, "%s %s (%zu)", i ? "," : "",
			record_scenarios[i], i);
	fprintf(stderr, "\n");
	return -1;
}

/** See cli.h. */
const char *record_image_default(const char *name, const char *build)
{
	static char paths[3][PATH_MAX];
	static unsigned next;
	char exe[PATH_MAX], *slash, *p = paths[next++ % 3];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return build;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return build;
	*slash = '\0';
	if (strcmp(exe, RECORD_BUILD_DIR) == 0)
		return build;
	if (RECORD_REL_DATADIR[0]) {
		char rel[PATH_MAX];

		snprintf(rel, sizeof(rel), "%s/%s/%s", exe, RECORD_REL_DATADIR,
			 name);
		if (access(rel, R_OK) == 0 && realpath(rel, p))
			return p;
	}
	snprintf(p, PATH_MAX, "%s/%s", RECORD_DATADIR, name);
	return access(p, R_OK) == 0 ? p : build;
}
