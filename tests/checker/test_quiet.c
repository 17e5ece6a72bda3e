// SPDX-License-Identifier: MIT
/*
 * Quiet CPUs (read.c): a CPU whose next records lie far ahead in the
 * source waits instead of making the source decode everything before them.
 * The trace is read through a source that, like a file, holds only what it
 * has decoded in file order (ck_source.ready) and decodes one more chunk
 * when asked (ck_source.more); a `next` for records not decoded yet has to
 * read ahead, which the test counts. The verdict must be the one of the
 * same records all ready (a plain memsrc), and the source must never read
 * ahead of what the replay needs.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "builder.h"

#define QS_MAX_CHUNKS 256u

/** A CPU's records in file order: chunk i ends `cpu`'s records at `end`. */
struct qs_chunk {
	unsigned cpu;
	size_t end;
};

/** The trace as a file would hand it out. */
struct qsrc {
	struct ck_memsrc m; /* the records, and its end and truncated */
	struct qs_chunk chunk[QS_MAX_CHUNKS];
	unsigned nchunks, decoded_chunks;
	size_t decoded[CK_MAX_CPUS]; /* records decoded, per CPU */
	size_t given[CK_MAX_CPUS];   /* ... and handed out by `next` */
	/* What the replay made the source do. */
	unsigned more_calls;
	unsigned ahead;		  /* chunks `next` had to decode for its CPU */
	unsigned more_while_held; /* more() while a CPU had records waiting */
	size_t peak_held;	  /* decoded, not yet handed out */
};

static size_t qs_held(const struct qsrc *q)
{
	size_t held = 0;

	for (unsigned c = 0; c < q->m.src.cpu_count; c++)
		held += q->decoded[c] - q->given[c];
	return held;
}

static bool qs_decode(struct qsrc *q)
{
	size_t held;

	if (q->decoded_chunks == q->nchunks)
		return false;
	q->decoded[q->chunk[q->decoded_chunks].cpu] =
		q->chunk[q->decoded_chunks].end;
	q->decoded_chunks++;
	held = qs_held(q);
	if (held > q->peak_held)
		q->peak_held = held;
	return true;
}

/* The CPU's decoded records as one run; reading ahead for them if none. */
static int qs_next(struct ck_source *s, unsigned cpu,
		   const struct pkvm_record **recs)
{
	struct qsrc *q = (struct qsrc *)s;
	size_t n;

	while (q->decoded[cpu] == q->given[cpu] && qs_decode(q))
		q->ahead++;
	n = q->decoded[cpu] - q->given[cpu];
	if (n == 0)
		return 0;
	*recs = &q->m.recs[cpu][q->given[cpu]];
	q->given[cpu] += n;
	return (int)n;
}

/* Decoded records wait for it, or the whole file is decoded. */
static bool qs_ready(struct ck_source *s, unsigned cpu)
{
	struct qsrc *q = (struct qsrc *)s;

	return q->decoded[cpu] > q->given[cpu] ||
	       q->decoded_chunks == q->nchunks;
}

static int qs_more(struct ck_source *s)
{
	struct qsrc *q = (struct qsrc *)s;

	q->more_calls++;
	if (qs_held(q))
		q->more_while_held++;
	return qs_decode(q) ? 1 : 0;
}

/* Cut the records `b` holds now into chunks, one per CPU that has new. */
static void qs_cut(struct qsrc *q, const struct tb *b)
{
	for (unsigned c = 0; c < b->ncpu; c++) {
		size_t last = 0;

		for (unsigned i = 0; i < q->nchunks; i++)
			if (q->chunk[i].cpu == c)
				last = q->chunk[i].end;
		if (b->count[c] == last)
			continue;
		cr_assert_lt(q->nchunks, QS_MAX_CHUNKS);
		q->chunk[q->nchunks].cpu = c;
		q->chunk[q->nchunks].end = b->count[c];
		q->nchunks++;
	}
}

/* Check `b` through `q`, whose chunks were cut while it was built; the
 * chunks up to `first` (the boot) are decoded when it opens. */
static void qs_check(struct qsrc *q, struct tb *b, unsigned first,
		     struct tb_result *r)
{
	struct ck_options opt = { .context = 4 };
	struct ck_sink sink = { 0 };

	memset(r, 0, sizeof(*r));
	ck_memsrc_init(&q->m, b->ncpu);
	q->m.src.abi_version = tb_abi(b);
	q->m.complete = true;
	for (unsigned c = 0; c < b->ncpu; c++)
		ck_memsrc_set(&q->m, c, b->recs[c], b->count[c]);
	q->m.src.next = qs_next;
	q->m.src.ready = qs_ready;
	q->m.src.more = qs_more;
	while (q->decoded_chunks < first)
		qs_decode(q);
	q->peak_held = 0; /* (what it holds from then on) */
	r->exit = ck_run(&q->m.src, &opt, &sink, &r->sum);
}

static void qs_same(const struct tb_result *a, const struct tb_result *b)
{
	cr_assert_eq(a->exit, b->exit);
	cr_assert_eq(a->sum.events, b->sum.events);
	cr_assert_eq(a->sum.traps_checked, b->sum.traps_checked);
	cr_assert_eq(a->sum.findings, b->sum.findings);
	cr_assert_eq(a->sum.inconclusive, b->sum.inconclusive);
	cr_assert_eq(a->sum.lost, b->sum.lost);
	cr_assert_eq(a->sum.incomplete_count, b->sum.incomplete_count);
}

/*
 * cpu1 records its boot, then nothing while cpu0 makes 60 hypercalls, then
 * one share and unshare, then nothing while cpu0 makes 20 more. Each CPU
 * waits for its records: the source decodes one chunk at a time, only
 * when no CPU has records to go on with, and never more than one chunk
 * is held.
 */
Test(quiet, far_cpu_waits_and_reads_no_further_than_needed)
{
	static struct qsrc q;
	struct tb b;
	struct tb_result all, quiet;
	unsigned boot_chunks, calls = 0;
	size_t biggest = 0;

	memset(&q, 0, sizeof(q));
	tb_init(&b, 2);
	tb_boot(&b);
	qs_cut(&q, &b);
	boot_chunks = q.nchunks;
	for (unsigned i = 0; i < 80; i++) {
		if (i == 60) {
			tb_share(&b, 1, TB_HOST_PFN(1));
			qs_cut(&q, &b);
			tb_unshare(&b, 1, TB_HOST_PFN(1));
			qs_cut(&q, &b);
			calls += 2;
		}
		if (i % 2 == 0)
			tb_share(&b, 0, TB_HOST_PFN(0));
		else
			tb_unshare(&b, 0, TB_HOST_PFN(0));
		qs_cut(&q, &b);
		calls++;
	}
	for (unsigned i = boot_chunks; i < q.nchunks; i++) {
		size_t start = 0;

		for (unsigned j = 0; j < i; j++)
			if (q.chunk[j].cpu == q.chunk[i].cpu)
				start = q.chunk[j].end;
		if (q.chunk[i].end - start > biggest)
			biggest = q.chunk[i].end - start;
	}

	tb_check(&b, &all);
	cr_assert_eq(all.exit, CK_EXIT_OK, "exit %d", all.exit);
	cr_assert_eq(all.sum.traps_checked, calls);
	qs_check(&q, &b, boot_chunks, &quiet);
	qs_same(&quiet, &all);

	/* Every chunk after the boot's came from more(), one a call (the
	 * last one decoded wakes whoever waits: no call to find the end),
	 * none from a `next` reading ahead. */
	cr_assert_eq(q.ahead, 0, "next read %u chunks ahead", q.ahead);
	cr_assert_eq(q.more_calls, q.nchunks - boot_chunks,
		     "more() %u times for %u chunks", q.more_calls,
		     q.nchunks - boot_chunks);
	cr_assert_eq(q.more_while_held, 0,
		     "more() %u times while records were waiting",
		     q.more_while_held);
	cr_assert_leq(q.peak_held, biggest, "held %zu records, a chunk %zu",
		      q.peak_held, biggest);
	tb_free(&b);
}
