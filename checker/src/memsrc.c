// SPDX-License-Identifier: MIT
/*
 * An in-memory record source: per-CPU arrays of records. The unit tests
 * build traces this way without touching the file format.
 */
#include <stdio.h>
#include <string.h>

#include "checker.h"

static int ck_memsrc_next(struct ck_source *s, unsigned cpu,
			  struct pkvm_record *out)
{
	struct ck_memsrc *m = (struct ck_memsrc *)s;

	if (cpu >= s->cpu_count || cpu >= 8) {
		snprintf(s->error, sizeof(s->error), "no cpu %u", cpu);
		return -1;
	}
	if (m->pos[cpu] >= m->count[cpu])
		return 0;
	*out = m->recs[cpu][m->pos[cpu]++];
	return 1;
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
