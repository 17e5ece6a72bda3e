// SPDX-License-Identifier: MIT
/*
 * An in-memory record source: per-CPU arrays of records. The unit tests
 * build traces this way without touching the file format.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "checker.h"

/* The rest of the CPU's array, in runs of at most INT_MAX records. */
static int ck_memsrc_next(struct ck_source *s, unsigned cpu,
			  const struct pkvm_record **recs)
{
	struct ck_memsrc *m = (struct ck_memsrc *)s;
	size_t n;

	if (cpu >= s->cpu_count || cpu >= 8) {
		snprintf(s->error, sizeof(s->error), "no cpu %u", cpu);
		return -1;
	}
	n = m->count[cpu] - m->pos[cpu];
	if (n == 0)
		return 0; /* (the array may be NULL) */
	if (n > INT_MAX)
		n = INT_MAX;
	*recs = &m->recs[cpu][m->pos[cpu]];
	m->pos[cpu] += n;
	return (int)n;
}

static bool ck_memsrc_truncated(struct ck_source *s)
{
	return ((struct ck_memsrc *)s)->truncated;
}

void ck_memsrc_init(struct ck_memsrc *m, unsigned cpu_count)
{
	memset(m, 0, sizeof(*m));
	m->src.cpu_count = cpu_count;
	m->src.next = ck_memsrc_next;
	m->src.truncated = ck_memsrc_truncated;
}

void ck_memsrc_set(struct ck_memsrc *m, unsigned cpu,
		   const struct pkvm_record *recs, size_t count)
{
	if (cpu >= 8)
		return;
	m->recs[cpu] = recs;
	m->count[cpu] = count;
	m->pos[cpu] = 0;
}
