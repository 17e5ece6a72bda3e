/* SPDX-License-Identifier: MIT */
/*
 * Page summaries (reader_pagesum.c): a page handed out whole from its
 * summary must give exactly what the per-record checks give. Each file is
 * read per CPU twice, in runs (trace_reader_next_run, where summaries
 * apply) and one record at a time (trace_reader_next, the per-record
 * path), and both reads must agree on every record, the error (code,
 * message, offset) and the last seq; the tests then say what that is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zstd.h>

#include <pkvm/trace.h>

#include "helpers.h"
#include "internal.h"

/** What reading CPU 0 gave. */
struct outcome {
	size_t count;
	int rc;
	struct trace_error err;
	uint64_t last_seq, hash;
};

/* Read CPU 0 of `path` in runs or one record at a time, after a seek to
 * its start if `seek` (which drops leading continuations). */
static struct outcome read_cpu0(const char *path, bool runs, bool seek)
{
	struct outcome o = { 0 };
	struct trace_reader *r = trace_reader_open(path, &o.err);
	const struct pkvm_record *run;
	struct pkvm_record one;

	cr_assert_not_null(r, "%s", o.err.message);
	if (seek)
		cr_assert_eq(trace_reader_seek_time(r, 0, &o.err), 0, "%s",
			     o.err.message);
	o.hash = 1;
	for (;;) {
		o.rc = runs ? trace_reader_next_run(r, 0, &run, &o.err)
			    : trace_reader_next(r, 0, &one, &o.err);
		if (o.rc <= 0)
			break;
		if (!runs)
			run = &one;
		for (int i = 0; i < o.rc; i++) {
			o.hash = (o.hash ^ run[i].seq ^ run[i].a << 20 ^
				  (uint64_t)run[i].kind << 40 ^
				  (uint64_t)run[i].flags << 48) *
				 0x100000001b3ull;
			o.count++;
		}
	}
	if (o.rc == 0 && !seek)
		o.rc = trace_reader_finish(r, &o.err);
	o.last_seq = trace_reader_last_seq(r, 0);
	trace_reader_close(r);
	return o;
}

/* Read `path` both ways; they must agree. Returns the runs' outcome. */
static struct outcome read_both(const char *path, bool seek)
{
	struct outcome a = read_cpu0(path, true, seek),
		       b = read_cpu0(path, false, seek);

	cr_assert_eq(a.rc, b.rc, "runs %d, records %d (%s)", a.rc, b.rc,
		     b.err.message);
	cr_assert_eq(a.count, b.count, "runs %zu records, one by one %zu",
		     a.count, b.count);
	cr_assert_eq(a.hash, b.hash, "the records differ");
	cr_assert_eq(a.last_seq, b.last_seq, "last seq %llu vs %llu",
		     (unsigned long long)a.last_seq,
		     (unsigned long long)b.last_seq);
	if (a.rc < 0) {
		cr_assert_eq(a.err.code, b.err.code);
		cr_assert_str_eq(a.err.message, b.err.message);
		cr_assert_eq(a.err.offset, b.err.offset);
	}
	return a;
}

/* ---- hand-built pages ------------------------------------------------ */

/* Three pages of CPU 0, 20 records each: page 0 alone in the first
 * frame, pages 1 and 2 in the second (junctions across and within). */
#define PS_PAGES 3u
#define PS_RECS 20u

struct pages {
	unsigned n[PS_PAGES];
	struct pkvm_record rec[PS_PAGES][PS_RECS];
};

/* Plain good records, seq from 1, each page ending with a whole event;
 * the first and middle pages have `n0` and `mid` records, the last
 * PS_RECS. */
static void pages_plain_n(struct pages *p, unsigned n0, unsigned mid)
{
	uint32_t seq = 1;

	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < PS_PAGES; i++) {
		p->n[i] = i == 0 ? n0 : i == 1 ? mid : PS_RECS;
		for (unsigned j = 0; j < p->n[i]; j++, seq++)
			p->rec[i][j] = rec_make(0, seq, 10 * seq, PKVM_EV_MARK,
						0, seq, 0);
	}
}

static void pages_plain(struct pages *p, unsigned mid)
{
	pages_plain_n(p, PS_RECS, mid);
}

/* Store one page of `n` records as the writer would (delta-encoded). */
static void page_put(uint8_t *page, uint32_t page_seq,
		     const struct pkvm_record *rec, unsigned n)
{
	memset(page, 0, TRACE_PAGE_SIZE);
	trace_put32(page, TRACE_PAGE_MAGIC);
	trace_put16(page + 4, 0);
	trace_put32(page + 8, page_seq);
	trace_put32(page + 12, n * PKVM_RECORD_SIZE);
	memcpy(page + TRACE_PAGE_HEADER, rec, n * PKVM_RECORD_SIZE);
	trace_page_delta_encode(
		(struct pkvm_record *)(void *)(page + TRACE_PAGE_HEADER), n);
}

static void frame_put(FILE *f, const uint8_t *data, size_t dsize)
{
	size_t cap = ZSTD_compressBound(dsize);
	uint8_t *z = malloc(cap);
	size_t c = ZSTD_compress(z, cap, data, dsize, 1);

	cr_assert(!ZSTD_isError(c));
	cr_assert_eq(fwrite(z, 1, c, f), c);
	free(z);
}

/*
 * A 1-CPU file of the pages: a writer's header, then the frames, no end
 * summary nor seek table (a truncated file: its records all count).
 */
static void pages_file(const char *path, const struct pages *p)
{
	static uint8_t data[PS_PAGES * TRACE_PAGE_SIZE];
	struct pkvm_record one = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 0, 0);
	struct layout l;
	uint8_t *buf;
	size_t len;
	FILE *f;

	write_records(path, 1, &one, 1);
	buf = file_load(path, &len);
	layout_of(buf, len, &l);
	for (unsigned i = 0; i < PS_PAGES; i++)
		page_put(data + i * TRACE_PAGE_SIZE, i, p->rec[i], p->n[i]);
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, l.csize[0], f), l.csize[0]);
	frame_put(f, data, TRACE_PAGE_SIZE);
	frame_put(f, data + TRACE_PAGE_SIZE, (PS_PAGES - 1) * TRACE_PAGE_SIZE);
	fclose(f);
	free(buf);
}

/* Write the pages, read them both ways (after a seek to the start if
 * `seek`), expect `code` (or none) after `good` records; the message must
 * name `what`. */
static struct outcome pages_expect_at(const struct pages *p, bool seek,
				      unsigned code, size_t good,
				      const char *what)
{
	char path[128];
	struct outcome o;

	tmp_path(path, sizeof(path), "pagesum");
	pages_file(path, p);
	o = read_both(path, seek);
	unlink(path);
	cr_assert_eq(o.count, good, "%zu records before the end", o.count);
	if (!code) {
		cr_assert_eq(o.rc, 0, "%s", o.err.message);
		return o;
	}
	cr_assert_eq(o.rc, -1);
	cr_assert_eq((unsigned)o.err.code, code, "%s: %s",
		     trace_error_name(o.err.code), o.err.message);
	cr_assert(strstr(o.err.message, what), "%s", o.err.message);
	return o;
}

static struct outcome pages_expect(const struct pages *p, unsigned code,
				   size_t good, const char *what)
{
	return pages_expect_at(p, false, code, good, what);
}

Test(pagesum, a_page_read_whole_after_a_seek_ends_the_sync)
{
	/* Property: after a seek, the continuations that lead are dropped
	 * until a head; a page read whole from its summary is such a head,
	 * so a continuation without one after it is BAD_RECORD again. */
	struct pages p;

	pages_plain_n(&p, 3, PS_RECS);
	for (unsigned i = 0; i < 3; i++)
		p.rec[0][i] = rec_make(0, p.rec[0][i].seq, p.rec[0][i].ts,
				       PKVM_EV_BOOT, 4 + i, 0, 0);
	pages_expect_at(&p, true, 0, PS_RECS * 2, "");
	p.rec[2][0] = rec_make(0, p.rec[2][0].seq, p.rec[2][0].ts,
			       PKVM_EV_NONDET, 1, 0, 0);
	pages_expect_at(&p, true, TRACE_E_BAD_RECORD, PS_RECS,
			"without a head");
}

Test(pagesum, plain_pages_read_whole)
{
	/* Property: good pages come out whole, seq running on. */
	struct pages p;
	struct outcome o;

	pages_plain(&p, PS_RECS);
	o = pages_expect(&p, 0, PS_PAGES * PS_RECS, "");
	cr_assert_eq(o.last_seq, PS_PAGES * PS_RECS);
}

Test(pagesum, a_seq_going_back_at_a_page_start_is_seq_backwards)
{
	/* Property: a page whose own records are good but whose first seq
	 * is not one step on from the previous page's last (back, equal,
	 * or 2^31 on) is SEQ_BACKWARDS at that record, across a frame and
	 * within one. */
	struct pages p;
	struct outcome o;

	for (unsigned at = 1; at < PS_PAGES; at++) {
		uint32_t last = at * PS_RECS;
		const uint32_t first[] = { 5, last, last + 0x80000000u };

		for (unsigned k = 0; k < 3; k++) {
			pages_plain(&p, PS_RECS);
			for (unsigned i = at; i < PS_PAGES; i++)
				for (unsigned j = 0; j < PS_RECS; j++)
					p.rec[i][j].seq += first[k] - last - 1;
			o = pages_expect(&p, TRACE_E_SEQ_BACKWARDS,
					 at * PS_RECS, "goes backwards");
			cr_assert(strstr(o.err.message, "record 0 of page"),
				  "%s", o.err.message);
		}
	}
	/* A gap (lost records) is a good step: the seq runs on from it. */
	pages_plain(&p, PS_RECS);
	for (unsigned j = 0; j < PS_RECS; j++)
		p.rec[2][j].seq += 1000;
	o = pages_expect(&p, 0, PS_PAGES * PS_RECS, "");
	cr_assert_eq(o.last_seq, PS_PAGES * PS_RECS + 1000);
}

/* Make page `at` end with an event of `kind` whose continuations go on
 * into page `at` + 1 from its first record: `split` of them there. */
static void pages_split(struct pages *p, unsigned at, unsigned kind,
			unsigned split)
{
	unsigned ncont = pkvm_event_ncont(kind),
		 head = PS_RECS - 1 - ncont + split;
	struct pkvm_record *r = p->rec[at];

	pages_plain(p, PS_RECS);
	r[head] = rec_make(0, r[head].seq, r[head].ts, kind, 0, 7, 8);
	for (unsigned i = 1; i <= ncont; i++) {
		unsigned j = head + i;
		struct pkvm_record *x =
			j < PS_RECS ? &r[j] : &p->rec[at + 1][j - PS_RECS];

		*x = rec_make(0, x->seq, x->ts, kind, i, i, 0);
	}
}

Test(pagesum, an_event_split_across_pages_reads_whole)
{
	/* Property: an event whose continuations begin the next page, in
	 * part or whole, is good, across a frame and within one. */
	for (unsigned at = 0; at + 1 < PS_PAGES; at++) {
		struct pages p;

		for (unsigned split = 1; split <= 3; split++) {
			pages_split(&p, at, PKVM_EV_TRAP_ENTRY, split);
			pages_expect(&p, 0, PS_PAGES * PS_RECS, "");
		}
		pages_split(&p, at, PKVM_EV_NONDET, 1);
		pages_expect(&p, 0, PS_PAGES * PS_RECS, "");
	}
}

Test(pagesum, a_page_of_continuations_only_reads_whole)
{
	/* Property: a page holding only continuations, neither the first
	 * nor the last of its event's, reads whole; a wrong one in it, or
	 * after it, is BAD_RECORD where record by record finds it. */
	static const unsigned total = 2 * PS_RECS + 4;
	struct pages p;
	struct pkvm_record *last;

	for (unsigned bad = 0; bad < 3; bad++) {
		pages_plain(&p, 4);
		last = &p.rec[0][PS_RECS - 1];
		*last = rec_make(0, last->seq, last->ts, PKVM_EV_BOOT, 0, 1, 2);
		for (unsigned c = 1; c <= 6; c++) {
			struct pkvm_record *x =
				c <= 4 ? &p.rec[1][c - 1] : &p.rec[2][c - 5];

			*x = rec_make(0, x->seq, x->ts, PKVM_EV_BOOT, c, c, 0);
		}
		if (bad == 0) {
			pages_expect(&p, 0, total, "");
			continue;
		}
		/* The last page's second continuation is the wrong one, or
		 * a head comes where it belongs. */
		if (bad == 1)
			p.rec[2][1].flags = PKVM_REC_F_CONT | 5;
		else
			p.rec[2][1] = rec_make(0, p.rec[2][1].seq, 1,
					       PKVM_EV_MARK, 0, 0, 0);
		pages_expect(&p, TRACE_E_BAD_RECORD, PS_RECS + 5,
			     bad == 1 ? "out of place"
				      : "where a continuation");
	}
}

Test(pagesum, a_page_start_that_breaks_the_event_is_bad_record)
{
	/* Property: a page whose records are good among themselves but
	 * whose leading continuations do not continue the previous page's
	 * event (wrong kind, wrong index, none open, one still open at its
	 * first head) is BAD_RECORD there, as record by record. */
	struct pages p;

	for (unsigned at = 0; at + 1 < PS_PAGES; at++) {
		size_t good = (at + 1) * PS_RECS;

		pages_split(&p, at, PKVM_EV_TRAP_ENTRY, 2);
		p.rec[at + 1][0].kind = PKVM_EV_TRAP_EXIT;
		p.rec[at + 1][1].kind = PKVM_EV_TRAP_EXIT;
		pages_expect(&p, TRACE_E_BAD_RECORD, good, "out of place");
		pages_split(&p, at, PKVM_EV_TRAP_ENTRY, 2);
		p.rec[at + 1][0].flags = PKVM_REC_F_CONT | 3;
		p.rec[at + 1][1].flags = PKVM_REC_F_CONT | 4;
		pages_expect(&p, TRACE_E_BAD_RECORD, good, "out of place");
		/* The previous page ends whole: nothing to continue. */
		pages_plain(&p, PS_RECS);
		p.rec[at + 1][0] = rec_make(0, p.rec[at + 1][0].seq, 1,
					    PKVM_EV_NONDET, 1, 0, 0);
		pages_expect(&p, TRACE_E_BAD_RECORD, good, "without a head");
		/* Two continuations lead where three are open. */
		pages_split(&p, at, PKVM_EV_TRAP_ENTRY, 3);
		p.rec[at + 1][2] = rec_make(0, p.rec[at + 1][2].seq, 1,
					    PKVM_EV_MARK, 0, 0, 0);
		pages_expect(&p, TRACE_E_BAD_RECORD, good + 2,
			     "where a continuation belongs");
	}
}

/* Spoil record `at` of page 1 in one of 8 ways; the error it gives. */
static unsigned spoil(struct pages *p, unsigned at, unsigned how,
		      const char **what)
{
	static const char *const whats[] = {
		"goes backwards", "goes backwards", "another CPU",
		"kind 0",	  "reserved flag",  "without a head",
		"without a head", "without a head",
	};
	struct pkvm_record *x = &p->rec[1][at];

	*what = whats[how];
	switch (how) {
	case 0:
		x->seq -= 3;
		return TRACE_E_SEQ_BACKWARDS;
	case 1:
		x->seq--;
		return TRACE_E_SEQ_BACKWARDS;
	case 2:
		x->cpu = 1;
		break;
	case 3:
		x->kind = 0;
		break;
	case 4:
		x->flags |= 1u << 6;
		return TRACE_E_RESERVED_BITS;
	case 7: /* every flag bit, of a kind no version defines */
		x->kind = 200;
		x->flags = 0xff;
		break;
	default: /* of another kind, or one more than a MARK has */
		*x = rec_make(0, x->seq, x->ts,
			      how == 5 ? PKVM_EV_NONDET : PKVM_EV_MARK, 1, 0,
			      0);
		break;
	}
	return TRACE_E_BAD_RECORD;
}

Test(pagesum, a_bad_record_inside_a_page_is_found_there)
{
	/* Property: a page with a bad record among good ones (in its middle
	 * or last) is not read whole: the records before it come out, then
	 * its error. */
	static const unsigned ats[] = { 7, PS_RECS - 1 };
	struct pages p;

	for (unsigned i = 0; i < 2; i++) {
		for (unsigned how = 0; how < 8; how++) {
			const char *what;
			unsigned code;

			pages_plain(&p, PS_RECS);
			code = spoil(&p, ats[i], how, &what);
			pages_expect(&p, code, PS_RECS + ats[i], what);
		}
	}
}

Test(pagesum, records_after_a_skipped_kind_in_a_page_read_on)
{
	/* Property: in a file of a newer minor version, a page with a kind
	 * this reader does not know among good records is not read whole,
	 * but the records after it still come out decoded (seq and ts),
	 * the unknown one skipped, and the page after it reads whole. */
	char path[128];
	struct pages p;
	struct outcome o;

	pages_plain(&p, PS_RECS);
	p.rec[1][7] =
		rec_make(0, p.rec[1][7].seq, p.rec[1][7].ts, 200, 0, 0, 0);
	p.rec[1][7].flags = 0;
	tmp_path(path, sizeof(path), "pagesum-skip");
	pages_file(path, &p);
	file_set_version(path, TRACE_VERSION_MAJOR, 1);
	o = read_both(path, false);
	unlink(path);
	cr_assert_eq(o.rc, 0, "%s", o.err.message);
	cr_assert_eq(o.count, PS_PAGES * PS_RECS - 1);
	cr_assert_eq(o.last_seq, PS_PAGES * PS_RECS);
}

/* ---- files from the writer ------------------------------------------- */

Test(pagesum, lost_records_inside_pages_count)
{
	/* Property: LOST records inside pages read whole add their counts
	 * (the end summary's LOST count, records, last seq and pages must
	 * match the reader's at the end), and a bad record deep in a page
	 * comes out after the good ones before it. */
	enum { N = 1000 };
	static struct pkvm_record in[N];
	char path[128];
	uint32_t seq = 1;
	struct outcome o;

	tmp_path(path, sizeof(path), "pagesum-lost");
	for (unsigned i = 0; i < N; seq++) {
		unsigned kind = i % 37 == 5   ? PKVM_EV_LOST
				: i % 11 == 3 ? PKVM_EV_TRAP_ENTRY
					      : PKVM_EV_MARK;

		if (kind == PKVM_EV_LOST)
			seq += 3;
		in[i++] = rec_make(0, seq, seq, kind, 0, 3, 0);
		for (unsigned c = 1; c <= pkvm_event_ncont(kind) && i < N;
		     c++) {
			seq++;
			in[i++] = rec_make(0, seq, seq, kind, c, c, 0);
		}
	}
	write_records(path, 1, in, N);
	o = read_both(path, false);
	cr_assert_eq(o.rc, 0, "%s", o.err.message);
	cr_assert_eq(o.count, N);
	/* The same with a reserved flag on a head in the middle of the
	 * fourth page. */
	in[3 * 127 + 60].flags |= 1u << 6;
	write_records(path, 1, in, N);
	o = read_both(path, false);
	cr_assert_eq(o.rc, -1);
	cr_assert_eq(o.err.code, TRACE_E_RESERVED_BITS, "%s", o.err.message);
	unlink(path);
}

Test(pagesum, a_page_whose_times_go_down_gives_its_frame_range)
{
	/* Property: a frame's time range is its records' smallest and
	 * largest ts, also where ts goes down or wraps around inside a page
	 * (the writer's frame index must match it at the end). */
	static const uint64_t ts[] = { 1000, 10, 5000, 3, UINT64_MAX - 5, 7 };
	enum { N = 300 };
	static struct pkvm_record in[N];
	char path[128];
	struct outcome o;

	for (unsigned wrap = 0; wrap < 2; wrap++) {
		for (unsigned i = 0; i < N; i++)
			in[i] = rec_make(0, i + 1, 2000 + i, PKVM_EV_MARK, 0, i,
					 0);
		/* In the middle of the second page, and the third's first. */
		for (unsigned i = 0; i < 6; i++)
			if (wrap || ts[i] != UINT64_MAX - 5)
				in[127 + 60 + i].ts = ts[i];
		in[2 * 127].ts = wrap ? UINT64_MAX : 1;
		tmp_path(path, sizeof(path), "pagesum-ts");
		write_records(path, 1, in, N);
		o = read_both(path, false);
		unlink(path);
		cr_assert_eq(o.rc, 0, "%s", o.err.message);
		cr_assert_eq(o.count, N);
	}
}

/* Check what trace_reader_run_plain promises of `run`, walking it: each
 * seq one on, each head of its kind's count, each continuation the next
 * one due (the run may begin with some of an earlier event's). */
static void run_check_plain(const struct pkvm_record *run, int n)
{
	unsigned left = 0, next = 0, kind = 0;
	bool leading = true;

	for (int i = 0; i < n; i++) {
		const struct pkvm_record *x = &run[i];

		if (i)
			cr_assert_eq(x->seq, run[i - 1].seq + 1, "seq %u",
				     x->seq);
		if (x->flags & PKVM_REC_F_CONT) {
			if (leading && i == 0) {
				kind = x->kind;
				next = x->flags & PKVM_REC_F_NCONT_MASK;
				left = 1;
			}
			cr_assert(left && x->kind == kind &&
					  x->flags == (PKVM_REC_F_CONT | next),
				  "seq %u: not the continuation due", x->seq);
			next++;
			left--;
			continue;
		}
		leading = false;
		left = 0; /* a plain run's leading ones end the event */
		cr_assert(x->kind >= 1 && x->kind <= PKVM_EV_MAX_KNOWN);
		cr_assert_eq(x->flags & PKVM_REC_F_NCONT_MASK,
			     pkvm_event_ncont(x->kind), "seq %u", x->seq);
		kind = x->kind;
		next = 1;
		left = pkvm_event_ncont(x->kind);
	}
}

Test(pagesum, runs_said_plain_are_plain)
{
	/* Property: trace_reader_run_plain holds of the pages read whole
	 * with no seq gap, and of no run with a gap (LOST records with
	 * their loss) or a bad record; what it says of a run is true. */
	enum { N = 3000 };
	static struct pkvm_record in[N];
	const struct pkvm_record *run;
	struct trace_error err;
	char path[128];
	unsigned plain = 0, other = 0, count = 0;
	uint32_t seq = 1;
	struct trace_reader *r;
	int n;

	tmp_path(path, sizeof(path), "pagesum-plain");
	while (count < N - 8) {
		unsigned kind = count > 1500 && count % 211 == 5 ? PKVM_EV_LOST
				: count % 7 == 3 ? PKVM_EV_TRAP_ENTRY
						 : PKVM_EV_MARK;

		if (kind == PKVM_EV_LOST)
			seq += 3;
		for (unsigned c = 0; c <= pkvm_event_ncont(kind); c++, seq++)
			in[count++] =
				rec_make(0, seq, seq, kind, c, c ? c : 3, 0);
	}
	write_records(path, 1, in, count);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	while ((n = trace_reader_next_run(r, 0, &run, &err)) > 0) {
		bool gap = false;

		for (int i = 1; i < n; i++)
			gap |= run[i].seq != run[i - 1].seq + 1;
		if (trace_reader_run_plain(r, 0)) {
			cr_assert(!gap);
			run_check_plain(run, n);
			plain++;
		} else {
			other++;
		}
	}
	cr_assert_eq(n, 0, "%s", err.message);
	cr_assert(!trace_reader_run_plain(r, 1));
	trace_reader_close(r);
	unlink(path);
	/* 12 pages before the first loss, each read whole. */
	cr_assert_geq(plain, 11, "%u plain runs", plain);
	cr_assert_geq(other, 5, "%u other runs", other);
}
