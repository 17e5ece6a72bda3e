/* SPDX-License-Identifier: MIT */
/*
 * The reader's two cursors and the checks every record goes through
 * (FORMAT.md "Records" and "Reading"): per-CPU in sequence order, with the
 * pages of other CPUs queued on the way, or every CPU in file order.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

/* ---- record checks --------------------------------------------------- */

/*
 * Kind-specific flag bits (3-6) a known kind may set. The TLBI barrier
 * bits came with 2.0: in a 1.x file they are reserved, as 1.0 had them.
 */
static unsigned kind_bits_allowed(const struct trace_reader *r, unsigned kind)
{
	if (pkvm_event_has_source(kind))
		return PKVM_REC_F_KIND_MASK;
	switch (kind) {
	case PKVM_EV_PTE_WRITE:
		return PKVM_REC_F_PTE_RELEASE;
	case PKVM_EV_TLBI:
		if (r->info.version_major == 1)
			return 0;
		return PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
		       PKVM_REC_F_TLBI_DSB_ISH_AFTER |
		       PKVM_REC_F_TLBI_ISB_AFTER;
	default:
		return 0;
	}
}

static int rec_fail(struct trace_reader *r, const struct rcpu *c, unsigned cpu,
		    int code, const char *what)
{
	const uint8_t *page = r->frames[c->cur_frame].data +
			      (size_t)c->cur_page * TRACE_PAGE_SIZE;
	size_t index = (size_t)((const uint8_t *)(c->rec - 1) -
				(page + TRACE_PAGE_HEADER)) /
		       PKVM_RECORD_SIZE;

	return FAIL(r, code, c->cur_offset,
		    "CPU %u, record %zu of page %u in the zstd frame at "
		    "offset %llu: %s",
		    cpu, index, c->cur_page, (unsigned long long)c->cur_offset,
		    what);
}

/* A continuation record: it must continue the event under way. */
static int rec_cont(struct trace_reader *r, struct rcpu *c, unsigned cpu,
		    const struct pkvm_record *rec)
{
	if (c->cont_left == 0) {
		if (c->syncing)
			return 1; /* the head was before the seek point */
		return rec_fail(r, c, cpu, TRACE_E_BAD_RECORD,
				"continuation record without a head record");
	}
	if (rec->flags & PKVM_REC_F_KIND_MASK)
		return rec_fail(r, c, cpu, TRACE_E_RESERVED_BITS,
				"reserved flag bits set on a continuation");
	if (rec->kind != c->cont_kind ||
	    (rec->flags & PKVM_REC_F_NCONT_MASK) != c->cont_next)
		return rec_fail(r, c, cpu, TRACE_E_BAD_RECORD,
				"continuation record out of place (wrong kind "
				"or index)");
	c->cont_next++;
	c->cont_left--;
	return c->skipping ? 1 : 0;
}

/* A head record: a known kind with its shape, or a newer kind to skip. */
static int rec_head(struct trace_reader *r, struct rcpu *c, unsigned cpu,
		    const struct pkvm_record *rec)
{
	unsigned ncont = rec->flags & PKVM_REC_F_NCONT_MASK;
	unsigned bits = rec->flags & PKVM_REC_F_KIND_MASK;

	if (c->cont_left)
		return rec_fail(r, c, cpu, TRACE_E_BAD_RECORD,
				"head record where a continuation belongs");
	c->syncing = false;
	if (rec->kind == 0)
		return rec_fail(r, c, cpu, TRACE_E_BAD_RECORD,
				"record of kind 0");
	c->cont_kind = rec->kind;
	c->cont_next = 1;
	c->cont_left = ncont;
	if (rec->kind > r->max_kind) {
		/* A newer minor version may add kinds; older ones may not. */
		if (r->info.version_minor <= r->known_minor)
			return rec_fail(r, c, cpu, TRACE_E_BAD_RECORD,
					"unknown kind in a file of a known "
					"version");
		c->skipping = true;
		return 1;
	}
	c->skipping = false;
	if (ncont != pkvm_event_ncont(rec->kind))
		return rec_fail(r, c, cpu, TRACE_E_BAD_RECORD,
				"wrong number of continuation records for "
				"its kind");
	if (bits & ~kind_bits_allowed(r, rec->kind))
		return rec_fail(r, c, cpu, TRACE_E_RESERVED_BITS,
				"reserved flag bits set");
	if (rec->kind == PKVM_EV_LOST)
		c->lost += rec->a;
	return 0;
}

/*
 * Check one record of `cpu`. Returns 0 to hand it out, 1 to skip it
 * (unknown kind, or cut off by a seek), -1 on error.
 */
static int rec_check(struct trace_reader *r, struct rcpu *c, unsigned cpu,
		     const struct pkvm_record *rec)
{
	c->records++;
	if (rec->cpu != cpu)
		return rec_fail(r, c, cpu, TRACE_E_BAD_RECORD,
				"record names another CPU");
	if (!c->seq_started) {
		c->ext_seq = (uint64_t)c->page_seq_hi << 32 | rec->seq;
		c->first_seq = c->ext_seq;
		c->seq_started = true;
	} else if (trace_seq_extend(c->ext_seq, rec->seq, &c->ext_seq) < 0) {
		return rec_fail(r, c, cpu, TRACE_E_SEQ_BACKWARDS,
				"sequence number goes backwards");
	}
	if (rec->flags & PKVM_REC_F_CONT)
		return rec_cont(r, c, cpu, rec);
	return rec_head(r, c, cpu, rec);
}

/** The tables of run_fast, for the file's version (after its header). */
void reader_records_setup(struct trace_reader *r)
{
	for (unsigned kind = 0; kind < 256; kind++) {
		bool known = kind >= 1 && kind <= r->max_kind;

		/* For other kinds, the continuation bit: no record's flags
		 * masked so are 0xff (reader_pagesum.c, sum_take). */
		r->head_bits[kind] = known ? (uint8_t)kind_bits_allowed(r, kind)
					   : PKVM_REC_F_CONT;
		r->head_flags[kind] =
			known ? (uint8_t)pkvm_event_ncont(kind) : 0xff;
	}
}

/*
 * The common case of rec_check, a tight loop over the records of the
 * current page of `c` from the cursor on, at most `max`: records of this
 * CPU, each one step on in sequence, each a known kind's good head or the
 * expected continuation of one. Stops before anything else (rec_check
 * decides) and moves the cursor past those it took, with the changes
 * rec_check would have made. Returns how many.
 */
static unsigned run_fast(const struct trace_reader *r, struct rcpu *c,
			 unsigned cpu, unsigned max)
{
	const struct pkvm_record *rec = c->rec, *start = c->rec;
	const struct pkvm_record *end = rec + (c->left < max ? c->left : max);
	uint64_t seq = c->ext_seq;
	struct rec_walk w = { c->cont_left, c->cont_next, c->cont_kind,
			      c->lost };
	bool head = false;
	unsigned n;

	if (!c->seq_started || c->skipping)
		return 0;
	for (; rec < end; rec++) {
		uint32_t delta = rec->seq - (uint32_t)seq;

		if (rec->cpu != cpu || delta - 1 >= 0x7fffffffu ||
		    !rec_walk_take(&w, rec, r->head_bits, r->head_flags))
			break;
		head |= !(rec->flags & PKVM_REC_F_CONT);
		seq += delta;
	}
	n = (unsigned)(rec - start);
	if (!n)
		return 0;
	c->rec = rec;
	c->left -= n;
	c->records += n;
	c->ext_seq = seq;
	c->lost = w.lost;
	c->cont_left = w.left;
	c->cont_next = w.next;
	c->cont_kind = (uint8_t)w.kind;
	if (head)
		c->syncing = false;
	return n;
}

/* ---- cursors --------------------------------------------------------- */

static void page_begin(struct trace_reader *r, struct rcpu *c, int frame,
		       unsigned index)
{
	const uint8_t *p =
		r->frames[frame].data + (size_t)index * TRACE_PAGE_SIZE;

	c->rec = (const struct pkvm_record *)(p + TRACE_PAGE_HEADER);
	c->left = trace_le32(p + 12) / PKVM_RECORD_SIZE;
	c->cur_frame = frame;
	c->cur_offset = r->frames[frame].offset;
	c->cur_page = index;
	c->page_seq_hi = trace_le32(p + 24);
	c->page_fresh = true;
	c->pages++;
}

static int fail_copy(struct trace_reader *r, struct trace_error *err)
{
	if (err)
		*err = r->err;
	return -1;
}

/* The end of a CPU's stream: check it against the end summary. */
static int cpu_end(struct trace_reader *r, unsigned cpu)
{
	struct rcpu *c = &r->cpus[cpu];
	const struct trace_cpu_summary *s;

	if (c->ended || r->truncated || r->seeked)
		return 0;
	c->ended = true;
	if (c->cont_left)
		return FAIL(r, TRACE_E_BAD_RECORD, r->valid_end,
			    "CPU %u: the last event lacks %u continuation "
			    "records",
			    cpu, c->cont_left);
	if (!r->have_summary)
		return 0;
	s = &r->summary[cpu];
	if (s->records != c->records || s->lost != c->lost ||
	    s->last_seq != (c->records ? c->ext_seq : 0) ||
	    (r->summary_fixed == TRACE_SUMMARY_FIXED && s->pages != c->pages))
		return FAIL(r, TRACE_E_BAD_SUMMARY, r->valid_end,
			    "end summary gives CPU %u %llu records (%llu lost) "
			    "ending at seq %llu in %llu pages, the file holds "
			    "%llu (%llu lost) ending at %llu in %llu pages",
			    cpu, (unsigned long long)s->records,
			    (unsigned long long)s->lost,
			    (unsigned long long)s->last_seq,
			    (unsigned long long)s->pages,
			    (unsigned long long)c->records,
			    (unsigned long long)c->lost,
			    (unsigned long long)c->ext_seq,
			    (unsigned long long)c->pages);
	/* The producer made every record it wrote (FORMAT.md 5.3). */
	if (s->produced != TRACE_COUNT_UNKNOWN && c->records &&
	    s->produced <= c->ext_seq)
		return FAIL(r, TRACE_E_BAD_SUMMARY, r->valid_end,
			    "end summary says CPU %u produced %llu records, "
			    "yet the file holds its record #%llu",
			    cpu, (unsigned long long)s->produced,
			    (unsigned long long)c->ext_seq);
	return 0;
}

/*
 * True when the end summary, read at open from a regular file, says `cpu`
 * has no more records: all it counts have been handed out. The stream of a
 * CPU that stopped early in the file then ends there, instead of decoding
 * the rest of the file to prove it, which would queue every later page of
 * the other CPUs (memory growing with the trace's length). A page of the
 * CPU found later anyway is an error (queue_push).
 */
static bool summary_done(const struct trace_reader *r, const struct rcpu *c,
			 unsigned cpu)
{
	return r->have_summary && !r->seeked && !c->cont_left &&
	       c->records == r->summary[cpu].records;
}

static int queue_push(struct trace_reader *r, struct rcpu *c, int frame,
		      unsigned index)
{
	if (c->ended && !r->seeked)
		return FAIL(r, TRACE_E_BAD_SUMMARY, r->frames[frame].offset,
			    "CPU %u has a page (page %u of the frame at offset "
			    "%llu) after the records its end summary counts",
			    (unsigned)(c - r->cpus), index,
			    (unsigned long long)r->frames[frame].offset);
	if (c->qlen == c->qcap) {
		size_t cap = c->qcap ? 2 * c->qcap : 64;
		struct rpage *q = malloc(cap * sizeof(*q));

		if (!q)
			return FAIL(r, TRACE_E_NOMEM, r->frames[frame].offset,
				    "no memory for the page queue");
		for (size_t i = 0; i < c->qlen; i++)
			q[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = q;
		c->qcap = cap;
		c->qhead = 0;
	}
	c->q[(c->qhead + c->qlen) % c->qcap] =
		(struct rpage){ .frame = (uint32_t)frame, .index = index };
	c->qlen++;
	r->frames[frame].refs++;
	return 0;
}

/* Decode the next frame, queueing each page on its CPU: 1, 0 at the end
 * of the data, -1 on error. */
static int queue_frame(struct trace_reader *r)
{
	int frame = reader_load_frame(r);
	const struct rframe *f;

	if (frame == -2)
		return 0;
	if (frame < 0)
		return -1;
	f = &r->frames[frame];
	for (unsigned i = 0; i < f->size / TRACE_PAGE_SIZE; i++) {
		unsigned cpu =
			trace_le16(f->data + (size_t)i * TRACE_PAGE_SIZE + 4);

		if (queue_push(r, &r->cpus[cpu], frame, i) < 0)
			return -1;
	}
	if (r->frames[frame].refs == 0)
		r->frames[frame].busy = false;
	return 1;
}

/* Decode frames, queueing each page on its CPU, until `c` has a page. */
static int queue_fill(struct trace_reader *r, struct rcpu *c)
{
	while (c->qlen == 0) {
		int rc = queue_frame(r);

		if (rc <= 0)
			return rc;
	}
	return 1;
}

/*
 * Check the records of the current page of `c` from the cursor on and
 * point `*run` at the good ones that follow one another, at most `max`:
 * the run ends at the end of the page, at a record to skip, or before a
 * bad record. Returns its length, 0 when the page has nothing more to hand
 * out, -1 on error.
 *
 * A page begun in the cursor's plain state whose summary and junction
 * hold (reader_pagesum.c) is one run, checked in O(1).
 *
 * A bad record found after good ones is not an error yet: the caller has
 * not asked for it. Its error waits in c->bad until the next call for this
 * CPU (cpu_run), and meanwhile the other CPUs read on, so records and
 * errors come out at the same points whatever the length of the runs.
 */
static int page_run(struct trace_reader *r, struct rcpu *c, unsigned cpu,
		    unsigned max, const struct pkvm_record **run)
{
	unsigned n = 0;

	c->run_plain = false;
	/* The common case: the whole page at once, from its summary. */
	if (c->page_fresh && c->left && c->left <= max && r->mode == 1) {
		n = reader_pagesum_take(r, c);
		if (n)
			*run = c->rec - n;
	}
	c->page_fresh = false;
	while (c->left && n < max) {
		unsigned fast = run_fast(r, c, cpu, max - n);
		const struct pkvm_record *rec;
		int rc;

		if (fast) {
			if (n == 0)
				*run = c->rec - fast;
			n += fast;
			continue;
		}
		rec = c->rec++;
		c->left--;
		rc = rec_check(r, c, cpu, rec);
		if (rc < 0 && n == 0)
			return -1;
		if (rc < 0) {
			c->bad = true;
			c->bad_err = r->err;
			r->failed = false;
			break;
		}
		if (rc == 1 && n > 0)
			break; /* skipped: the run ends before it */
		if (rc == 1)
			continue;
		if (n++ == 0)
			*run = rec;
	}
	if (n)
		r->last_offset = c->cur_offset;
	return (int)n;
}

/* Copy out the next record of a page (page_run with runs of one). */
static int page_next(struct trace_reader *r, struct rcpu *c, unsigned cpu,
		     struct pkvm_record *out)
{
	const struct pkvm_record *rec;
	int rc = page_run(r, c, cpu, 1, &rec);

	if (rc > 0)
		*out = *rec;
	return rc;
}

static int mode_check(struct trace_reader *r, int mode, const void *out,
		      struct trace_error *err)
{
	if (!r || !out) {
		trace_set_error(err, TRACE_E_USAGE, 0, "no reader or record");
		return -1;
	}
	if (r->mode && r->mode != mode) {
		trace_set_error(err, TRACE_E_USAGE, r->last_offset,
				"a reader reads per CPU or in file order, not "
				"both");
		return -1;
	}
	r->mode = mode;
	return r->failed ? fail_copy(r, err) : 0;
}

/*
 * The per-CPU cursor: the next run of at most `max` records of `cpu`
 * (page_run), moving on to its next queued page, decoding frames until
 * there is one, as needed.
 */
static int cpu_run(struct trace_reader *r, unsigned cpu, unsigned max,
		   const struct pkvm_record **run, struct trace_error *err)
{
	struct rcpu *c;

	if (mode_check(r, 1, run, err) < 0)
		return -1;
	if (cpu >= r->info.cpu_count) {
		trace_set_error(err, TRACE_E_USAGE, 0,
				"CPU %u out of range (the trace has %u)", cpu,
				r->info.cpu_count);
		return -1;
	}
	c = &r->cpus[cpu];
	if (c->bad) {
		/* The caller has reached the bad record: now it counts. */
		r->err = c->bad_err;
		r->failed = true;
		return fail_copy(r, err);
	}
	for (;;) {
		struct rpage pg;
		int rc = page_run(r, c, cpu, max, run);

		if (rc)
			return rc > 0 ? rc : fail_copy(r, err);
		if (c->cur_frame >= 0)
			reader_release(r, c->cur_frame);
		c->cur_frame = -1;
		if (c->qlen == 0 && summary_done(r, c, cpu))
			return cpu_end(r, cpu) < 0 ? fail_copy(r, err) : 0;
		rc = queue_fill(r, c);
		if (rc < 0)
			return fail_copy(r, err);
		if (rc == 0)
			return cpu_end(r, cpu) < 0 ? fail_copy(r, err) : 0;
		pg = c->q[c->qhead];
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
		if (reader_frame_keep(r, (int)pg.frame) < 0)
			return fail_copy(r, err);
		page_begin(r, c, (int)pg.frame, pg.index);
	}
}

/** See trace.h. */
int trace_reader_next(struct trace_reader *r, unsigned cpu,
		      struct pkvm_record *out, struct trace_error *err)
{
	const struct pkvm_record *rec;
	int rc;

	if (!out) {
		trace_set_error(err, TRACE_E_USAGE, 0, "no reader or record");
		return -1;
	}
	rc = cpu_run(r, cpu, 1, &rec, err);
	if (rc > 0)
		*out = *rec;
	return rc;
}

/** See trace.h. */
int trace_reader_next_run(struct trace_reader *r, unsigned cpu,
			  const struct pkvm_record **recs,
			  struct trace_error *err)
{
	return cpu_run(r, cpu, UINT_MAX, recs, err);
}

/** See trace.h. */
bool trace_reader_run_plain(const struct trace_reader *r, unsigned cpu)
{
	return r && cpu < r->info.cpu_count && r->cpus[cpu].run_plain;
}

/** See trace.h. */
int trace_reader_decode_more(struct trace_reader *r, struct trace_error *err)
{
	int rc;

	if (mode_check(r, 1, r, err) < 0)
		return -1;
	rc = queue_frame(r);
	return rc < 0 ? fail_copy(r, err) : rc;
}

/** See trace.h. */
bool trace_reader_cpu_ready(const struct trace_reader *r, unsigned cpu)
{
	const struct rcpu *c;

	if (!r || cpu >= r->info.cpu_count || r->failed || r->at_end)
		return true;
	c = &r->cpus[cpu];
	return c->left || c->qlen || c->bad || c->ended ||
	       summary_done(r, c, cpu);
}

/** See trace.h. */
int trace_reader_next_any(struct trace_reader *r, struct pkvm_record *out,
			  struct trace_error *err)
{
	if (mode_check(r, 2, out, err) < 0)
		return -1;
	for (;;) {
		const struct rframe *f;
		unsigned cpu;

		if (r->any_cpu_valid) {
			int rc = page_next(r, &r->cpus[r->any_cpu], r->any_cpu,
					   out);

			if (rc)
				return rc > 0 ? 1 : fail_copy(r, err);
		}
		r->any_cpu_valid = false;
		if (r->any_frame >= 0 &&
		    r->any_page >=
			    r->frames[r->any_frame].size / TRACE_PAGE_SIZE) {
			r->frames[r->any_frame].busy = false;
			r->any_frame = -1;
		}
		if (r->any_frame < 0) {
			r->any_frame = reader_load_frame(r);
			r->any_page = 0;
			if (r->any_frame == -1)
				return fail_copy(r, err);
			if (r->any_frame == -2) {
				r->any_frame = -1;
				for (cpu = 0; cpu < r->info.cpu_count; cpu++)
					if (cpu_end(r, cpu) < 0)
						return fail_copy(r, err);
				return 0;
			}
		}
		f = &r->frames[r->any_frame];
		cpu = trace_le16(f->data +
				 (size_t)r->any_page * TRACE_PAGE_SIZE + 4);
		page_begin(r, &r->cpus[cpu], r->any_frame, r->any_page++);
		r->any_cpu = cpu;
		r->any_cpu_valid = true;
	}
}

/* ---- the rest of the file ------------------------------------------- */

/*
 * Check the records of `cpu` already decoded, without reading the file:
 * the rest of its current page and its queued pages. Where the summary
 * says the CPU has no more, its stream ends (as in cpu_run).
 */
static int cpu_drain(struct trace_reader *r, unsigned cpu)
{
	struct rcpu *c = &r->cpus[cpu];
	const struct pkvm_record *run;

	for (;;) {
		struct rpage pg;
		int rc;

		if (c->bad) {
			r->err = c->bad_err;
			r->failed = true;
			return -1;
		}
		rc = page_run(r, c, cpu, UINT_MAX, &run);
		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		if (c->cur_frame >= 0)
			reader_release(r, c->cur_frame);
		c->cur_frame = -1;
		if (c->qlen == 0)
			return summary_done(r, c, cpu) ? cpu_end(r, cpu) : 0;
		pg = c->q[c->qhead];
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
		if (reader_frame_keep(r, (int)pg.frame) < 0)
			return -1;
		page_begin(r, c, (int)pg.frame, pg.index);
	}
}

/*
 * The per-CPU cursor's half of trace_reader_finish: every CPU's decoded
 * records, then each frame left, page by page as a file-order read would
 * meet them (so memory stays at one frame), then each CPU's end.
 */
static int finish_per_cpu(struct trace_reader *r)
{
	for (unsigned cpu = 0; cpu < r->info.cpu_count; cpu++)
		if (cpu_drain(r, cpu) < 0)
			return -1;
	for (;;) {
		int frame = reader_load_frame(r);
		const struct rframe *f;

		if (frame == -2)
			break;
		if (frame < 0)
			return -1;
		f = &r->frames[frame];
		/* A reference of its own keeps the frame while its pages go,
		 * and the pin keeps it in memory. */
		r->frames[frame].refs++;
		r->pin_frame = frame;
		for (unsigned i = 0; i < f->size / TRACE_PAGE_SIZE; i++) {
			unsigned cpu = trace_le16(
				f->data + (size_t)i * TRACE_PAGE_SIZE + 4);

			if (queue_push(r, &r->cpus[cpu], frame, i) < 0 ||
			    cpu_drain(r, cpu) < 0)
				return -1;
		}
		r->pin_frame = -1;
		reader_release(r, frame);
	}
	for (unsigned cpu = 0; cpu < r->info.cpu_count; cpu++)
		if (cpu_end(r, cpu) < 0)
			return -1;
	return 0;
}

/** See trace.h. */
int trace_reader_finish(struct trace_reader *r, struct trace_error *err)
{
	struct pkvm_record rec;
	int rc;

	if (!r) {
		trace_set_error(err, TRACE_E_USAGE, 0, "no reader");
		return -1;
	}
	if (r->seeked) {
		trace_set_error(err, TRACE_E_USAGE, r->last_offset,
				"trace_reader_finish after a seek");
		return -1;
	}
	if (r->failed)
		return fail_copy(r, err);
	if (r->mode == 2) {
		while ((rc = trace_reader_next_any(r, &rec, err)) == 1)
			;
		return rc;
	}
	r->mode = 1;
	return finish_per_cpu(r) < 0 ? fail_copy(r, err) : 0;
}

/* ---- seeking --------------------------------------------------------- */

/* Forget every cursor; the next frame read starts each CPU afresh. */
static void cursors_reset(struct trace_reader *r)
{
	reader_prefetch_cancel(r);
	reader_pool_reset(r);
	for (unsigned i = 0; i < r->info.cpu_count; i++) {
		struct rcpu *c = &r->cpus[i];
		struct rpage *q = c->q;
		size_t qcap = c->qcap;

		memset(c, 0, sizeof(*c));
		c->q = q;
		c->qcap = qcap;
		c->cur_frame = -1;
		c->syncing = true;
	}
	r->any_frame = -1;
	r->any_cpu_valid = false;
	r->at_end = false;
	r->truncated = false;
	r->seeked = true;
}

/* Highest timestamp in a decoded frame. */
static uint64_t frame_max_ts(const struct rframe *f)
{
	uint64_t max = 0;

	for (size_t p = 0; p < f->size; p += TRACE_PAGE_SIZE) {
		const struct pkvm_record *rec =
			(const void *)(f->data + p + TRACE_PAGE_HEADER);
		uint32_t n = trace_le32(f->data + p + 12) / PKVM_RECORD_SIZE;

		for (uint32_t i = 0; i < n; i++)
			if (rec[i].ts > max)
				max = rec[i].ts;
	}
	return max;
}

/*
 * Without a frame index (no end summary, as in a truncated file), find the
 * frame by decoding from the start. Returns 0 with the frame's offset and
 * index set, 1 if every record is older than `ts`, -1 on error.
 */
static int seek_scan(struct trace_reader *r, uint64_t ts, uint64_t *offset,
		     uint64_t *index)
{
	cursors_reset(r);
	r->data_index = 0;
	if (reader_in_seek(r, r->header_size) < 0)
		return -1;
	for (;;) {
		int frame = reader_load_frame(r);

		if (frame == -2)
			return 1;
		if (frame < 0)
			return -1;
		r->frames[frame].busy = false;
		if (frame_max_ts(&r->frames[frame]) >= ts) {
			*offset = r->frames[frame].offset;
			*index = r->data_index - 1;
			return 0;
		}
	}
}

/** See trace.h. */
int trace_reader_seek_time(struct trace_reader *r, uint64_t ts,
			   struct trace_error *err)
{
	uint64_t offset = 0, index = 0;
	int rc = 0;

	if (!r || !r->seekable) {
		trace_set_error(err, TRACE_E_USAGE, 0,
				"cannot seek: the trace is read from a pipe");
		return -1;
	}
	if (r->failed)
		return fail_copy(r, err);
	if (r->have_frame_ts && r->have_table) {
		const struct rentry *e;

		if (reader_frame_find(r, ts, &index) < 0)
			return fail_copy(r, err);
		e = reader_entry(r, (size_t)index + 1);
		if (!e)
			return fail_copy(r, err);
		offset = e->offset;
	} else {
		rc = seek_scan(r, ts, &offset, &index);
		if (rc < 0)
			return fail_copy(r, err);
	}
	cursors_reset(r);
	if (rc == 1) { /* nothing that late: stay at the end */
		r->at_end = true;
		r->truncated = true;
		return 0;
	}
	r->data_index = index;
	return reader_in_seek(r, offset) < 0 ? fail_copy(r, err) : 0;
}

/* ---- accessors ------------------------------------------------------- */

/** See trace.h. */
uint64_t trace_reader_data_offset(const struct trace_reader *r)
{
	return r ? r->header_size : 0;
}

/** See trace.h. */
uint64_t trace_reader_offset(const struct trace_reader *r)
{
	return r ? r->last_offset : 0;
}

/** See trace.h. */
bool trace_reader_truncated(const struct trace_reader *r, uint64_t *valid_end)
{
	if (!r)
		return false;
	if (valid_end)
		*valid_end = r->valid_end;
	return r->at_end && r->truncated;
}

/** See trace.h. */
enum trace_cut trace_reader_cut(const struct trace_reader *r,
				uint64_t *file_end)
{
	bool cut = trace_reader_truncated(r, NULL);

	if (file_end)
		*file_end = cut ? r->file_end : 0;
	return cut ? r->cut : TRACE_CUT_NONE;
}

/** See trace.h. */
uint64_t trace_reader_first_seq(const struct trace_reader *r, unsigned cpu)
{
	if (!r || cpu >= r->info.cpu_count)
		return 0;
	return r->cpus[cpu].first_seq;
}

/** See trace.h. */
const struct trace_cpu_summary *
trace_reader_summary(const struct trace_reader *r, unsigned cpu)
{
	if (!r || !r->have_summary || cpu >= r->info.cpu_count)
		return NULL;
	return &r->summary[cpu];
}

/** See trace.h. */
const struct trace_run *trace_reader_run(const struct trace_reader *r)
{
	return r && r->have_summary ? &r->run : NULL;
}

/** See trace.h. */
uint64_t trace_reader_frames_decoded(const struct trace_reader *r)
{
	return r ? r->frames_decoded : 0;
}

/** See trace.h. */
uint64_t trace_reader_last_seq(const struct trace_reader *r, unsigned cpu)
{
	if (!r || cpu >= r->info.cpu_count)
		return 0;
	return r->cpus[cpu].ext_seq;
}
