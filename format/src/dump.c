/* SPDX-License-Identifier: MIT */
/*
 * One line per event (dump.h). Payload words are named from events.def;
 * words that hold an enum from abi.h are printed by name as well.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>
#include <pkvm/trace.h>

/* Append to buf[*pos..len), keeping *pos at the would-be length. */
static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*pos < len ? buf + *pos : NULL,
		      *pos < len ? len - *pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

/* Name of the enum value `v` in payload word `i` of `kind`, or NULL. */
static const char *word_enum(unsigned kind, unsigned i, uint64_t v,
			     const struct pkvm_record *head)
{
	switch (kind) {
	case PKVM_EV_LOCK_ACQUIRE:
	case PKVM_EV_LOCK_RELEASE:
		return i == 0 ? trace_lock_name((unsigned)v) : NULL;
	case PKVM_EV_SYSREG_WRITE:
		return i == 0 ? trace_sysreg_name((unsigned)v) : NULL;
	case PKVM_EV_TLBI:
		return i == 0 ? trace_tlbi_name((unsigned)v) : NULL;
	case PKVM_EV_BARRIER:
		return i == 0 ? trace_barrier_name((unsigned)v) : NULL;
	case PKVM_EV_NONDET:
		if (i == 0)
			return trace_nondet_name((unsigned)v);
		if (i == 3 && head->a == PKVM_NONDET_ALLOC_PAGE)
			return v == PKVM_COMP_HOST_S2  ? "host_s2"
			       : v == PKVM_COMP_HYP_S1 ? "hyp_s1"
						       : NULL;
		return NULL;
	case PKVM_EV_MARK:
		return i == 0 ? trace_mark_name((unsigned)v) : NULL;
	case PKVM_EV_TRAP_ENTRY:
	case PKVM_EV_HCALL_ENTRY:
	case PKVM_EV_HCALL_ENTRY_LOCK2:
		/* x0 of a host hypercall: the id in its low bits. */
		if (i == (kind == PKVM_EV_TRAP_ENTRY ? 4u : 1u) &&
		    (v & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE)
			return trace_hcall_name(
				(unsigned)(v & PKVM_HC_ID_MASK));
		return NULL;
	case PKVM_EV_TRAP_EXIT:
	case PKVM_EV_HCALL_EXIT:
	case PKVM_EV_HCALL_EXIT_UNLOCK2:
		/* x1 of a hypercall's return: 0 or a negative errno. */
		return i == 1 && (int64_t)v < 0 ? trace_errno_name((int64_t)v)
						: NULL;
	default:
		return NULL;
	}
}

/*
 * True if payload word `i` of `kind` is a lock pair's `locks` (then
 * `*locks` is set) or `tickets` word: in LOCK_ACQUIRE2, LOCK_RELEASE2 and
 * HCALL_ENTRY_LOCK2.
 */
static bool word_pair(unsigned kind, unsigned i, bool *locks)
{
	unsigned first;

	*locks = false;
	switch (kind) {
	case PKVM_EV_LOCK_ACQUIRE2:
	case PKVM_EV_LOCK_RELEASE2:
		first = 0;
		break;
	case PKVM_EV_HCALL_ENTRY_LOCK2:
		first = 4;
		break;
	default:
		return false;
	}
	*locks = i == first;
	return i == first || i == first + 1;
}

/*
 * Lock pair words hold two 32-bit halves, the first lock in the low half:
 * "locks=host_s2,hyp_s1 tickets=3,5".
 */
static void put_pair(char *buf, size_t len, size_t *pos, bool locks, uint64_t v)
{
	uint32_t half[2] = { (uint32_t)v, (uint32_t)(v >> 32) };

	for (unsigned k = 0; k < 2; k++) {
		const char *name = locks ? trace_lock_name(half[k]) : NULL;

		if (k)
			put(buf, len, pos, ",");
		if (name)
			put(buf, len, pos, "%s", name);
		else
			put(buf, len, pos, "%" PRIu32, half[k]);
	}
}

/* Words that count things read better in decimal than in hex. */
static bool word_decimal(const char *field)
{
	static const char *const names[] = { "ticket", "count", "first_seq" };

	for (size_t i = 0; field && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(field, names[i]) == 0)
			return true;
	return false;
}

/* A TLBI's barrier bits: the one before it, then the ones after it. */
#define TLBI_BEFORE PKVM_REC_F_TLBI_DSB_ISHST_BEFORE
#define TLBI_AFTER (PKVM_REC_F_TLBI_DSB_ISH_AFTER | PKVM_REC_F_TLBI_ISB_AFTER)

/* Kind-specific flag bits, after the kind's name. */
static void put_flags(char *buf, size_t len, size_t *pos,
		      const struct pkvm_record *head)
{
	unsigned bits =
		(head->flags & PKVM_REC_F_KIND_MASK) >> PKVM_REC_F_KIND_SHIFT;

	if (pkvm_event_has_source(head->kind)) {
		if (bits != PKVM_REC_SOURCE_HOST)
			put(buf, len, pos, " source=%u", bits);
		return;
	}
	switch (head->kind) {
	case PKVM_EV_PTE_WRITE:
		if (bits)
			put(buf, len, pos, " release");
		return;
	case PKVM_EV_TLBI:
		/* The barriers read in the order they were issued. */
		if (head->flags & TLBI_BEFORE)
			put(buf, len, pos, " +dsb_ishst");
		if (head->flags & PKVM_REC_F_KIND_MASK &
		    ~(TLBI_BEFORE | TLBI_AFTER))
			put(buf, len, pos, " flags=0x%02x", head->flags);
		return;
	default:
		if (bits)
			put(buf, len, pos, " flags=0x%02x", head->flags);
		return;
	}
}

/* A TLBI's barriers after it, after its words. */
static void put_flags_after(char *buf, size_t len, size_t *pos,
			    const struct pkvm_record *head)
{
	if (head->kind != PKVM_EV_TLBI)
		return;
	if (head->flags & PKVM_REC_F_TLBI_DSB_ISH_AFTER)
		put(buf, len, pos, " +dsb_ish");
	if (head->flags & PKVM_REC_F_TLBI_ISB_AFTER)
		put(buf, len, pos, " +isb");
}

/** See dump.h. */
int trace_format_event(char *buf, size_t len, const struct pkvm_record *recs,
		       unsigned n)
{
	const char *kname;
	size_t pos = 0;

	if (len)
		buf[0] = '\0';
	if (!recs || n == 0)
		return 0;
	kname = trace_kind_name(recs[0].kind);
	put(buf, len, &pos, "cpu%u #%" PRIu32 " t=%" PRIu64 " ", recs[0].cpu,
	    recs[0].seq, recs[0].ts);
	if (kname)
		put(buf, len, &pos, "%s", kname);
	else
		put(buf, len, &pos, "kind%u", recs[0].kind);
	put_flags(buf, len, &pos, &recs[0]);
	for (unsigned i = 0; i < 2 * n; i++) {
		uint64_t v = i % 2 ? recs[i / 2].b : recs[i / 2].a;
		const char *fname = trace_field_name(recs[0].kind, i);
		const char *ename = word_enum(recs[0].kind, i, v, &recs[0]);
		bool locks;

		if (fname)
			put(buf, len, &pos, " %s=", fname);
		else
			put(buf, len, &pos, " w%u=", i);
		if (word_pair(recs[0].kind, i, &locks))
			put_pair(buf, len, &pos, locks, v);
		else if (ename)
			put(buf, len, &pos, "%s", ename);
		else if (v < 10 || word_decimal(fname))
			put(buf, len, &pos, "%" PRIu64, v);
		else
			put(buf, len, &pos, "0x%" PRIx64, v);
	}
	put_flags_after(buf, len, &pos, &recs[0]);
	return (int)(pos < len ? pos : (len ? len - 1 : 0));
}

static bool dump_wanted(const struct pkvm_record *head,
			const struct trace_dump_opts *o)
{
	if (!o)
		return true;
	if (o->cpu >= 0 && head->cpu != (unsigned)o->cpu)
		return false;
	if (o->kind && head->kind != o->kind)
		return false;
	return head->ts >= o->from_ts &&
	       (o->to_ts == 0 || head->ts <= o->to_ts);
}

static void dump_print(FILE *out, const struct pkvm_record *ev, unsigned n,
		       const struct trace_dump_opts *o)
{
	char line[1024];

	if (n == 0 || !dump_wanted(&ev[0], o))
		return;
	trace_format_event(line, sizeof(line), ev, n);
	fprintf(out, "%s\n", line);
}

/*
 * Gather events per CPU: records arrive in file order, so a CPU's event may
 * be interleaved with other CPUs' pages but never with its own records.
 */
struct dump_cpu {
	struct pkvm_record ev[PKVM_EVENT_MAX_RECORDS];
	unsigned n;
};

static int dump_loop(FILE *out, FILE *errf, const char *path,
		     struct trace_reader *r, const struct trace_dump_opts *o)
{
	unsigned cpus = trace_reader_info(r)->cpu_count;
	struct dump_cpu *dc = calloc(cpus, sizeof(*dc));
	struct trace_error e;
	struct pkvm_record rec;
	int rc;

	if (!dc)
		return 3;
	while ((rc = trace_reader_next_any(r, &rec, &e)) == 1) {
		struct dump_cpu *d = &dc[rec.cpu];

		if (!(rec.flags & PKVM_REC_F_CONT)) {
			dump_print(out, d->ev, d->n, o);
			d->n = 0;
		}
		if (d->n < PKVM_EVENT_MAX_RECORDS)
			d->ev[d->n++] = rec;
		/* Print an event as soon as it is whole, to keep file order. */
		if (d->n == 1 + (d->ev[0].flags & PKVM_REC_F_NCONT_MASK)) {
			dump_print(out, d->ev, d->n, o);
			d->n = 0;
		}
	}
	for (unsigned i = 0; i < cpus; i++)
		dump_print(out, dc[i].ev, dc[i].n, o);
	free(dc);
	if (rc < 0) {
		fprintf(errf, "%s: offset %" PRIu64 ": %s: %s\n", path,
			e.offset, trace_error_name(e.code), e.message);
		return 3;
	}
	return 0;
}

/** See dump.h. */
int trace_dump(FILE *out, FILE *err, const char *path,
	       const struct trace_dump_opts *opts)
{
	struct trace_error e;
	struct trace_reader *r = trace_reader_open(path, &e);
	uint64_t valid_end;
	int rc;

	if (!r) {
		fprintf(err, "%s: offset %" PRIu64 ": %s: %s\n", path, e.offset,
			trace_error_name(e.code), e.message);
		return 3;
	}
	if (opts && opts->from_ts &&
	    trace_reader_seek_time(r, opts->from_ts, &e) < 0) {
		/* A pipe cannot seek: filtering alone gives the same lines. */
	}
	rc = dump_loop(out, err, path, r, opts);
	if (rc == 0 && trace_reader_truncated(r, &valid_end))
		fprintf(err,
			"%s: truncated: valid data ends at offset %" PRIu64
			"\n",
			path, valid_end);
	trace_reader_close(r);
	return rc;
}
