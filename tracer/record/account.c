/* SPDX-License-Identifier: MIT */
/*
 * Every record accounted for (tracer/README.md): at the end of a run, each
 * CPU's producer counters (`written`, `dropped` in ring.h) are checked
 * against the records the consumer got, and the losses are counted the way
 * the checker counts them, plus what the counters alone can show.
 *
 * For one CPU, every sequence number in [0, produced) is either a record in
 * the trace or lost, and the lost ones are counted once each:
 *   - in the count of the LOST record that follows them;
 *   - as a gap before a record that is not LOST (a record the consumer
 *     rejected, or a producer that skipped numbers without saying so);
 *   - before the first record in the trace (a dump taken mid-stream);
 *   - after the last record in the trace: a tail loss, records dropped at
 *     the end of the run when no LOST record could follow any more.
 */
#include <stdio.h>
#include <string.h>

#include "record.h"

/* What the counters must satisfy; false with `a->why` if they do not. */
static bool counters_agree(const struct record_cpu_stats *s, unsigned cpu,
			   uint64_t produced, uint64_t dropped,
			   struct record_account *a)
{
	uint64_t next = s->seen ? s->next_seq64 : 0;

	if (produced == TRACE_COUNT_UNKNOWN)
		return true;
	if (produced < next) {
		snprintf(a->why, sizeof(a->why),
			 "cpu %u: the producer says it made %llu records, "
			 "but its ring held record %llu",
			 cpu, (unsigned long long)produced,
			 (unsigned long long)(next - 1));
		return false;
	}
	if (dropped == TRACE_COUNT_UNKNOWN)
		return true;
	/* Every dropped record is missing from the trace. */
	if (dropped > produced - s->records) {
		snprintf(a->why, sizeof(a->why),
			 "cpu %u: the producer says it dropped %llu of %llu "
			 "records, but only %llu are missing from the trace",
			 cpu, (unsigned long long)dropped,
			 (unsigned long long)produced,
			 (unsigned long long)(produced - s->records));
		return false;
	}
	return true;
}

void record_account_cpu(const struct record_drain *d, unsigned cpu,
			uint64_t produced, uint64_t dropped,
			struct record_account *a)
{
	const struct record_cpu_stats *s = &d->stats[cpu];
	uint64_t next = s->seen ? s->next_seq64 : 0;

	memset(a, 0, sizeof(*a));
	a->head = s->seen ? s->first_seq : 0;
	if (!counters_agree(s, cpu, produced, dropped, a)) {
		a->contradicts = true;
		produced = dropped = TRACE_COUNT_UNKNOWN;
	}
	a->produced = produced;
	a->dropped = dropped;
	if (produced != TRACE_COUNT_UNKNOWN)
		a->tail = produced - next;
	a->lost = s->lost + s->unexplained + a->head + a->tail;
}

int record_account_all(struct record_drain *d, const uint64_t *produced,
		       const uint64_t *dropped, struct record_totals *t,
		       FILE *log)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < d->cpu_count; i++) {
		struct record_account *a = &t->cpu[i];

		record_account_cpu(d, i, produced[i], dropped[i], a);
		if (a->contradicts) {
			t->contradictions++;
			fprintf(log,
				"pkvm-record: %s; its counters are stored as "
				"unknown\n",
				a->why);
		}
		if (a->produced == TRACE_COUNT_UNKNOWN)
			t->unknown++;
		if (a->dropped != TRACE_COUNT_UNKNOWN)
			t->dropped += a->dropped;
		t->lost += a->lost;
		t->lost_counts += d->stats[i].lost;
		t->tail += a->tail;
		if (trace_writer_set_producer(d->writer, i, a->produced,
					      a->dropped, &d->err)) {
			snprintf(d->message, sizeof(d->message),
				 "cpu %u counters: %s", i, d->err.message);
			return -1;
		}
	}
	return 0;
}
