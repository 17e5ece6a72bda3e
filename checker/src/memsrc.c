// SPDX-License-Identifier: MIT
/*
 * An in-memory record source: per-CPU arrays of records. The unit tests
 * build traces this way without touching the file format.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/trace.h>

#include "checker.h"

/* The rest of the CPU's array, in runs of at most INT_MAX records. */
static int ck_memsrc_next(struct ck_source *s, unsigned cpu,
			  const struct pkvm_record **recs)
{
	struct ck_memsrc *m = (struct ck_memsrc *)s;
	size_t n;

	if (cpu >= s->cpu_count || cpu >= CK_MAX_CPUS) {
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

/*
 * The arrays hold no more than they hold. Only a `complete` source says
 * how the run ended: cleanly, each producer having made exactly the
 * records up to its CPU's last one (no tail loss). Sequence numbers are
 * taken as they are (the tests' traces never wrap).
 */
static int ck_memsrc_end(struct ck_source *s, struct ck_end *end)
{
	struct ck_memsrc *m = (struct ck_memsrc *)s;

	memset(end, 0, sizeof(*end));
	end->truncated = m->truncated;
	end->cut_where = "where the test cut it";
	end->has_summary = end->has_outcome = m->complete;
	end->version_major = 5;
	end->outcome =
		m->complete ? TRACE_OUTCOME_CLEAN : TRACE_OUTCOME_UNKNOWN;
	for (unsigned c = 0; c < s->cpu_count && c < CK_MAX_CPUS; c++) {
		size_t n = m->count[c];

		end->records[c] = n;
		end->first_seq[c] = n ? m->recs[c][0].seq : 0;
		end->last_seq[c] = n ? m->recs[c][n - 1].seq : 0;
		end->produced[c] = !m->complete ? TRACE_COUNT_UNKNOWN
				   : n		? end->last_seq[c] + 1
						: 0;
	}
	return 0;
}

void ck_memsrc_init(struct ck_memsrc *m, unsigned cpu_count)
{
	memset(m, 0, sizeof(*m));
	m->src.cpu_count = cpu_count;
	m->src.name = "memory";
	m->src.system = TRACE_SYSTEM_HYP;
	m->src.version_major = 5;
	m->src.abi_version = PKVM_ABI_VERSION;
	m->src.next = ck_memsrc_next;
	m->src.truncated = ck_memsrc_truncated;
	m->src.end = ck_memsrc_end;
}

void ck_memsrc_set(struct ck_memsrc *m, unsigned cpu,
		   const struct pkvm_record *recs, size_t count)
{
	if (cpu >= CK_MAX_CPUS)
		return;
	m->recs[cpu] = recs;
	m->count[cpu] = count;
	m->pos[cpu] = 0;
}
