/* SPDX-License-Identifier: MIT */
/*
 * One line (or one JSON object) per event (dump.h), and `pkvm-check
 * dump`'s filters. Payload words are named from events.def; words that
 * hold an enum from abi.h are printed by name as well; descriptors and
 * times are decoded by dump_desc.c.
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
			     const struct pkvm_record *head,
			     enum trace_system sys)
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
		if (i == 3 && (head->a == PKVM_NONDET_ALLOC_PAGE ||
			       head->a == PKVM_NONDET_FREE_PAGE))
			return trace_component_name((unsigned)v);
		return NULL;
	case PKVM_EV_REGION:
		return i == 0 ? trace_region_name((unsigned)v) : NULL;
	case PKVM_EV_MARK:
		return i == 0 ? trace_mark_name((unsigned)v) : NULL;
	case PKVM_EV_TRAP_ENTRY:
	case PKVM_EV_HCALL_ENTRY:
	case PKVM_EV_HCALL_ENTRY_LOCK2:
		/* x0 of a host hypercall: the id in its low bits. */
		if (i == (kind == PKVM_EV_TRAP_ENTRY ? 4u : 1u) &&
		    (v & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE)
			return trace_sys_hcall_name(
				sys, (unsigned)(v & PKVM_HC_ID_MASK));
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

/*
 * A lock id: its name (our hyp's small ids) or, for an address
 * (PKVM_LOCK_ADDR_MIN up), "pa@gen" in hex: "0x4071e1d8@2".
 */
static bool put_lock_id(char *buf, size_t len, size_t *pos, uint64_t v)
{
	if (!pkvm_lock_is_addr(v))
		return false;
	put(buf, len, pos, "0x%" PRIx64 "@%" PRIu64,
	    (uint64_t)(v & PKVM_LOCK_PA_MASK), v >> PKVM_LOCK_GEN_SHIFT);
	return true;
}

/* LOCK_INFO `role`: "vm:3", "pool:host_s2", "host_s2", else hex. */
static void put_lock_role(char *buf, size_t len, size_t *pos, uint64_t v)
{
	const char *role = trace_lock_role_name((unsigned)v);
	unsigned arg = (unsigned)(v >> PKVM_LOCK_ROLE_ARG_SHIFT) & 0xFFFFu;
	const char *comp = trace_component_name(arg);

	if (!role || v >> 32) {
		put(buf, len, pos, "0x%" PRIx64, v);
		return;
	}
	put(buf, len, pos, "%s", role);
	if ((v & PKVM_LOCK_ROLE_MASK) == PKVM_LOCK_ROLE_POOL && comp)
		put(buf, len, pos, ":%s", comp);
	else if (arg)
		put(buf, len, pos, ":%u", arg);
}

/* BOOT `boot_flags` of a system with its own table: "hvhe|lpa2". */
static bool put_boot_flags(char *buf, size_t len, size_t *pos, uint64_t v,
			   enum trace_system sys)
{
	unsigned n = 0;

	if (sys == TRACE_SYS_HYP || v == 0)
		return false;
	for (unsigned bit = 0; bit < 64; bit++) {
		const char *name = trace_sys_boot_flag_name(sys, bit);

		if (!(v >> bit & 1))
			continue;
		if (name)
			put(buf, len, pos, "%s%s", n++ ? "|" : "", name);
		else
			put(buf, len, pos, "%sbit%u", n++ ? "|" : "", bit);
	}
	return true;
}

/* Payload word `i` of an event as the line shows it, after "name=". */
static void word_text(char *buf, size_t len, const struct pkvm_record *recs,
		      unsigned i, enum trace_system sys)
{
	uint64_t v = i % 2 ? recs[i / 2].b : recs[i / 2].a;
	unsigned kind = recs[0].kind;
	const char *fname = trace_field_name(kind, i);
	const char *ename = word_enum(kind, i, v, &recs[0], sys);
	size_t pos = 0;
	bool locks;

	buf[0] = '\0';
	if (i == 0 &&
	    (kind == PKVM_EV_LOCK_ACQUIRE || kind == PKVM_EV_LOCK_RELEASE ||
	     kind == PKVM_EV_LOCK_INFO) &&
	    put_lock_id(buf, len, &pos, v))
		return;
	if (kind == PKVM_EV_LOCK_INFO && i == 1) {
		put_lock_role(buf, len, &pos, v);
		return;
	}
	if (kind == PKVM_EV_BOOT && i == 13 &&
	    put_boot_flags(buf, len, &pos, v, sys))
		return;
	if (word_pair(kind, i, &locks))
		put_pair(buf, len, &pos, locks, v);
	else if (ename)
		put(buf, len, &pos, "%s", ename);
	else if (v < 10 || word_decimal(fname))
		put(buf, len, &pos, "%" PRIu64, v);
	else
		put(buf, len, &pos, "0x%" PRIx64, v);
}

static void word_name(char *buf, size_t len, unsigned kind, unsigned i)
{
	const char *fname = trace_field_name(kind, i);

	if (fname)
		snprintf(buf, len, "%s", fname);
	else
		snprintf(buf, len, "w%u", i);
}

/** See dump.h. */
int trace_format_event_at(char *buf, size_t len, const struct pkvm_record *recs,
			  unsigned n, const struct trace_fmt *fmt)
{
	static const struct trace_fmt plain;
	const char *kname;
	char word[128], name[32];
	size_t pos = 0;

	if (!fmt)
		fmt = &plain;
	if (len)
		buf[0] = '\0';
	if (!recs || n == 0)
		return 0;
	kname = trace_kind_name(recs[0].kind);
	trace_format_time(word, sizeof(word), recs[0].ts, fmt->counter_freq,
			  fmt->ticks);
	put(buf, len, &pos, "cpu%u seq=%" PRIu32 " %s%s ", recs[0].cpu,
	    recs[0].seq, strncmp(word, "ticks=", 6) ? "t=" : "", word);
	if (kname)
		put(buf, len, &pos, "%s", kname);
	else
		put(buf, len, &pos, "kind%u", recs[0].kind);
	put_flags(buf, len, &pos, &recs[0]);
	for (unsigned i = 0; i < 2 * n; i++) {
		word_name(name, sizeof(name), recs[0].kind, i);
		word_text(word, sizeof(word), recs, i, fmt->system);
		put(buf, len, &pos, " %s=%s", name, word);
	}
	put_flags_after(buf, len, &pos, &recs[0]);
	if (fmt->site && fmt->site[0])
		put(buf, len, &pos, " %s", fmt->site);
	if (recs[0].kind == PKVM_EV_PTE_WRITE) {
		char desc[256];

		trace_format_desc(desc, sizeof(desc), recs[0].b, fmt->where);
		put(buf, len, &pos, " [%s]", desc);
	}
	return (int)(pos < len ? pos : (len ? len - 1 : 0));
}

/** See dump.h. */
int trace_format_event(char *buf, size_t len, const struct pkvm_record *recs,
		       unsigned n)
{
	return trace_format_event_at(buf, len, recs, n, NULL);
}

/** See dump.h. */
void trace_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/** See dump.h. */
void trace_json_event(FILE *out, const struct pkvm_record *recs, unsigned n,
		      const struct trace_fmt *fmt)
{
	static const struct trace_fmt plain;
	const char *kname = trace_kind_name(recs[0].kind);
	char word[1024], name[32];

	if (!fmt)
		fmt = &plain;
	fprintf(out,
		"{\"type\":\"event\",\"cpu\":%u,\"seq\":%" PRIu32
		",\"ts\":%" PRIu64,
		recs[0].cpu, recs[0].seq, recs[0].ts);
	if (fmt->counter_freq) {
		trace_format_time(word, sizeof(word), recs[0].ts,
				  fmt->counter_freq, false);
		word[strlen(word) - 1] = '\0'; /* the 's': a JSON number */
		fprintf(out, ",\"time\":%s", word);
	}
	fprintf(out, ",\"kind\":");
	if (kname)
		trace_json_str(out, kname);
	else
		fprintf(out, "\"kind%u\"", recs[0].kind);
	fprintf(out, ",\"flags\":%u,\"fields\":{", recs[0].flags);
	for (unsigned i = 0; i < 2 * n; i++) {
		word_name(name, sizeof(name), recs[0].kind, i);
		word_text(word, sizeof(word), recs, i, fmt->system);
		fprintf(out, "%s\"%s\":", i ? "," : "", name);
		trace_json_str(out, word);
	}
	fprintf(out, "}");
	if (fmt->site && fmt->site[0]) {
		fprintf(out, ",\"site\":");
		trace_json_str(out, fmt->site);
	}
	if (recs[0].kind == PKVM_EV_PTE_WRITE) {
		trace_format_desc(word, sizeof(word), recs[0].b, fmt->where);
		fprintf(out, ",\"desc\":");
		trace_json_str(out, word);
	}
	trace_format_event_at(word, sizeof(word), recs, n, fmt);
	fprintf(out, ",\"text\":");
	trace_json_str(out, word);
	fprintf(out, "%s}", fmt->marked ? ",\"marked\":true" : "");
}

/* ---- sites ------------------------------------------------------------ */

/** See dump.h. */
void trace_sites_init(struct trace_sites *s, enum trace_system system,
		      unsigned version_major)
{
	*s = (struct trace_sites){ system, false, 0, version_major >= 5 };
}

/** See dump.h. BOOT: `hyp_start` is word 4, `boot_flags` word 13. */
uint64_t trace_sites_take(struct trace_sites *s, struct pkvm_record *recs,
			  unsigned n)
{
	uint64_t site;

	if (n == 0)
		return 0;
	if (recs[0].kind == PKVM_EV_BOOT && n > 6) {
		s->on = s->system == TRACE_SYS_HYP && s->format_has &&
			(recs[6].b & PKVM_BOOT_F_SITES);
		s->hyp_start = recs[2].a;
		return 0;
	}
	if (!s->on || !pkvm_event_has_site(recs[0].kind))
		return 0;
	site = recs[0].a >> PKVM_SITE_SHIFT;
	recs[0].a &= PKVM_SITE_WORD_MASK;
	return site ? s->hyp_start + 4 * site : 0;
}

/** See dump.h. */
void trace_sites_pc_text(const struct trace_sites *s, uint64_t pc, char *buf,
			 size_t len)
{
	if (!pc)
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "pc=+0x%" PRIx64, pc - s->hyp_start);
}

/* ---- filters ---------------------------------------------------------- */

/*
 * What a filter needs to remember of a CPU's stream: the hypercall of the
 * trap it is in (--hcall) and the locks its open fused entry took (--lock:
 * HCALL_EXIT_UNLOCK2 lets them go without naming them).
 */
struct dump_state {
	unsigned hcall;	 /* hypercall id of the open trap, 0 none */
	uint64_t locks2; /* `locks` of the open HCALL_ENTRY_LOCK2, 0 none */
};

/* The x0 of a trap's entry if `recs` is one; `*is_entry` says so. */
static uint64_t dump_entry_x0(const struct pkvm_record *recs, unsigned n,
			      bool *is_entry)
{
	*is_entry = true;
	if (recs[0].kind == PKVM_EV_TRAP_ENTRY)
		return n > 2 ? recs[2].a : 0;
	if (recs[0].kind == PKVM_EV_HCALL_ENTRY ||
	    recs[0].kind == PKVM_EV_HCALL_ENTRY_LOCK2)
		return recs[0].b;
	*is_entry = false;
	return 0;
}

static bool dump_is_exit(unsigned kind)
{
	return kind == PKVM_EV_TRAP_EXIT || kind == PKVM_EV_HCALL_EXIT ||
	       kind == PKVM_EV_HCALL_EXIT_UNLOCK2;
}

static bool dump_pair_has(uint64_t locks, unsigned lock)
{
	return (uint32_t)locks == lock || (uint32_t)(locks >> 32) == lock;
}

/* The lock filter: does the event take or let go of `lock`? */
static bool dump_lock_match(const struct pkvm_record *recs, unsigned n,
			    unsigned lock, const struct dump_state *st)
{
	switch (recs[0].kind) {
	case PKVM_EV_LOCK_ACQUIRE:
	case PKVM_EV_LOCK_RELEASE:
		return recs[0].a == lock;
	case PKVM_EV_LOCK_ACQUIRE2:
	case PKVM_EV_LOCK_RELEASE2:
		return dump_pair_has(recs[0].a, lock);
	case PKVM_EV_HCALL_ENTRY_LOCK2:
		return n > 2 && dump_pair_has(recs[2].a, lock);
	case PKVM_EV_HCALL_EXIT_UNLOCK2:
		return dump_pair_has(st->locks2, lock);
	default:
		return false;
	}
}

/* A hypercall's page range: [x1, x1 + nr) for the donations, else x1. */
static bool dump_hcall_touches(uint64_t x0, uint64_t x1, uint64_t x2,
			       uint64_t pfn)
{
	uint64_t id = x0 & PKVM_HC_ID_MASK, nr = 1;

	if ((x0 & ~(uint64_t)PKVM_HC_ID_MASK) != PKVM_HC_BASE)
		return false;
	if (id == PKVM_HC_HOST_DONATE_HYP || id == PKVM_HC_HYP_DONATE_HOST)
		nr = x2 < PKVM_DONATE_MAX_PAGES ? x2 : PKVM_DONATE_MAX_PAGES;
	return pfn >= x1 && pfn - x1 < nr;
}

/* The page filter (FORMAT.md 10): does the event name page `pfn`? */
static bool dump_page_match(const struct pkvm_record *recs, unsigned n,
			    uint64_t pfn, const struct trace_tables *tables)
{
	const struct pkvm_record *h = &recs[0];

	switch (h->kind) {
	case PKVM_EV_PTE_WRITE: {
		struct trace_desc_where w = trace_tables_where(tables, h->a);
		uint64_t size =
			w.level ? 1ull << (12 + 9 * (3 - w.level)) : 4096;

		if (h->a >> 12 == pfn ||
		    (h->b & 0x0000FFFFFFFFF000ull) >> 12 == pfn)
			return true;
		return w.has_ia && pfn >= w.ia >> 12 &&
		       pfn - (w.ia >> 12) < size >> 12;
	}
	case PKVM_EV_TRAP_ENTRY: {
		unsigned ec = (unsigned)(h->a >> 26) & 0x3f;

		if (n < 3)
			return false;
		/* A stage-2 abort: the faulting IPA's page, from HPFAR. */
		if (ec == 0x20 || ec == 0x24)
			return ((recs[1].b >> 4) & ((1ull << 36) - 1)) == pfn;
		return dump_hcall_touches(recs[2].a, recs[2].b,
					  n > 3 ? recs[3].a : 0, pfn);
	}
	case PKVM_EV_HCALL_ENTRY:
	case PKVM_EV_HCALL_ENTRY_LOCK2:
		return n > 1 &&
		       dump_hcall_touches(h->b, recs[1].a, recs[1].b, pfn);
	case PKVM_EV_TLBI:
		/* By-address operations carry the page number in 43:0. */
		return (h->a & 0xffff) != PKVM_TLBI_VMALLS12E1IS &&
		       (h->b & ((1ull << 44) - 1)) == pfn;
	case PKVM_EV_NONDET:
		return n > 1 &&
		       ((h->a == PKVM_NONDET_ALLOC_PAGE && h->b >> 12 == pfn) ||
			(h->a == PKVM_NONDET_HOST_READ &&
			 recs[1].a >> 12 == pfn));
	default:
		return false;
	}
}

static bool dump_wanted(const struct pkvm_record *recs, unsigned n,
			const struct trace_dump_opts *o,
			const struct dump_state *st,
			const struct trace_tables *tables)
{
	const struct pkvm_record *head = &recs[0];

	if (!o)
		return true;
	if (o->cpu >= 0 && head->cpu != (unsigned)o->cpu)
		return false;
	if (o->kind && head->kind != o->kind)
		return false;
	if (head->ts < o->from_ts || (o->to_ts != 0 && head->ts > o->to_ts))
		return false;
	if (o->has_seq && (uint32_t)(head->seq - o->seq_from) >
				  (uint32_t)(o->seq_to - o->seq_from))
		return false;
	if (o->hcall && st->hcall != o->hcall)
		return false;
	if (o->lock && !dump_lock_match(recs, n, o->lock, st))
		return false;
	return !o->has_page || dump_page_match(recs, n, o->pfn, tables);
}

/* Before the event is judged: a trap's entry opens its hypercall. */
static void dump_state_enter(struct dump_state *st,
			     const struct pkvm_record *recs, unsigned n)
{
	bool entry;
	uint64_t x0 = dump_entry_x0(recs, n, &entry);

	if (!entry)
		return;
	st->hcall = (x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE
			    ? (unsigned)(x0 & PKVM_HC_ID_MASK)
			    : 0;
	st->locks2 = recs[0].kind == PKVM_EV_HCALL_ENTRY_LOCK2 && n > 2
			     ? recs[2].a
			     : 0;
}

/* After it: an exit closes the trap (it belongs to it, so it is shown). */
static void dump_state_leave(struct dump_state *st, unsigned kind)
{
	if (dump_is_exit(kind))
		*st = (struct dump_state){ 0 };
}

/* ---- the dump ---------------------------------------------------------- */

/*
 * Gather events per CPU: records arrive in file order, so a CPU's event may
 * be interleaved with other CPUs' pages but never with its own records.
 */
struct dump_cpu {
	struct pkvm_record ev[PKVM_EVENT_MAX_RECORDS];
	unsigned n;
	struct dump_state st;
};

struct dump_ctx {
	FILE *out;
	const struct trace_dump_opts *o;
	struct trace_tables *tables;
	uint64_t freq;
	enum trace_system system;
	struct trace_sites sites;
};

/* The event's site as the line shows it: named if the caller can. */
static void dump_site(struct dump_ctx *c, uint64_t pc, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!pc)
		return;
	if (c->o && c->o->site_name &&
	    c->o->site_name(c->o->site_ctx, pc, buf, len))
		return;
	trace_sites_pc_text(&c->sites, pc, buf, len);
}

static void dump_print(struct dump_ctx *c, struct dump_cpu *d)
{
	struct trace_desc_where where;
	struct trace_fmt fmt = { c->freq, c->o && c->o->ticks, &where,
				 false,	  c->system,	       NULL };
	char line[1536], site[320];
	bool marked;

	if (d->n == 0)
		return;
	dump_site(c, trace_sites_take(&c->sites, d->ev, d->n), site,
		  sizeof(site));
	fmt.site = site;
	dump_state_enter(&d->st, d->ev, d->n);
	/* Where the store goes is what was known before it. */
	where = trace_tables_where(c->tables, d->ev[0].a);
	if (d->ev[0].kind != PKVM_EV_PTE_WRITE)
		fmt.where = NULL;
	if (dump_wanted(d->ev, d->n, c->o, &d->st, c->tables)) {
		marked = c->o && c->o->mark && d->ev[0].seq == c->o->mark_seq;
		fmt.marked = marked;
		if (c->o && c->o->json) {
			trace_json_event(c->out, d->ev, d->n, &fmt);
			fputc('\n', c->out);
		} else {
			trace_format_event_at(line, sizeof(line), d->ev, d->n,
					      &fmt);
			fprintf(c->out, "%s%s\n",
				c->o && c->o->mark ? (marked ? "-> " : "   ")
						   : "",
				line);
		}
	}
	trace_tables_learn(c->tables, d->ev, d->n);
	dump_state_leave(&d->st, d->ev[0].kind);
	d->n = 0;
}

static void dump_error(struct dump_ctx *c, FILE *errf, const char *path,
		       const struct trace_error *e)
{
	char msg[768];

	snprintf(msg, sizeof(msg), "%s: offset %" PRIu64 ": %s: %s", path,
		 e->offset, trace_error_name(e->code), e->message);
	fprintf(errf, "%s\n", msg);
	if (c->o && c->o->json) {
		fprintf(c->out, "{\"type\":\"error\",\"file\":");
		trace_json_str(c->out, path);
		fprintf(c->out,
			",\"offset\":%" PRIu64 ",\"message\":", e->offset);
		trace_json_str(c->out, msg);
		fprintf(c->out, "}\n");
	}
}

static int dump_loop(struct dump_ctx *c, FILE *errf, const char *path,
		     struct trace_reader *r)
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

		if (!(rec.flags & PKVM_REC_F_CONT))
			dump_print(c, d);
		if (d->n < PKVM_EVENT_MAX_RECORDS)
			d->ev[d->n++] = rec;
		/* Print an event as soon as it is whole, to keep file order. */
		if (d->n == 1 + (d->ev[0].flags & PKVM_REC_F_NCONT_MASK))
			dump_print(c, d);
	}
	for (unsigned i = 0; i < cpus; i++)
		dump_print(c, &dc[i]);
	free(dc);
	if (rc < 0) {
		dump_error(c, errf, path, &e);
		return 3;
	}
	return 0;
}

/*
 * Before a seek: read CPU 0's first event, the BOOT record (at the start
 * of the file's first frame), for what it says of sites. The seek that
 * follows starts the cursors again. -1 (nothing read) if the reader
 * cannot seek: a pipe.
 */
static int dump_boot_sites(struct dump_ctx *c, struct trace_reader *r)
{
	struct pkvm_record boot[PKVM_EVENT_MAX_RECORDS], rec;
	struct trace_error e;
	unsigned n = 0;

	if (trace_reader_seek_time(r, 0, &e) < 0)
		return -1;
	while (n < PKVM_EVENT_MAX_RECORDS &&
	       trace_reader_next_any(r, &rec, &e) == 1) {
		if (rec.cpu != 0)
			continue;
		if (rec.kind != PKVM_EV_BOOT)
			return 0;
		boot[n++] = rec;
	}
	trace_sites_take(&c->sites, boot, n);
	return 0;
}

/** See dump.h. */
int trace_dump_reader(FILE *out, FILE *err, const char *path,
		      struct trace_reader *r,
		      const struct trace_dump_opts *opts)
{
	struct dump_ctx c = {
		out, opts,	    NULL,
		0,   TRACE_SYS_HYP, { TRACE_SYS_HYP, false, 0, false }
	};
	struct trace_error e;
	uint64_t valid_end;
	int rc;

	c.freq = trace_reader_info(r)->counter_freq;
	c.system = trace_system_of(trace_reader_info(r)->system);
	c.tables = trace_tables_new();
	trace_sites_init(&c.sites, c.system,
			 trace_reader_info(r)->version_major);
	/*
	 * A seek skips the BOOT record and the table installs before the
	 * window: its descriptors are then decoded without their place. The
	 * page filter needs the places, so it reads from the start. Whether
	 * the records carry sites is read from BOOT first.
	 */
	if (opts && opts->from_ts && !opts->has_page &&
	    dump_boot_sites(&c, r) == 0 &&
	    trace_reader_seek_time(r, opts->from_ts, &e) < 0) {
		/* A pipe cannot seek: filtering alone gives the same lines. */
	}
	rc = dump_loop(&c, err, path, r);
	if (rc == 0 && trace_reader_truncated(r, &valid_end)) {
		fprintf(err,
			"%s: truncated: valid data ends at offset %" PRIu64
			"\n",
			path, valid_end);
		if (opts && opts->json) {
			fprintf(out, "{\"type\":\"truncated\",\"file\":");
			trace_json_str(out, path);
			fprintf(out, ",\"offset\":%" PRIu64 "}\n", valid_end);
		}
	}
	trace_tables_free(c.tables);
	return rc;
}

/** See dump.h. */
int trace_dump(FILE *out, FILE *err, const char *path,
	       const struct trace_dump_opts *opts)
{
	struct dump_ctx c = {
		out, opts,	    NULL,
		0,   TRACE_SYS_HYP, { TRACE_SYS_HYP, false, 0, false }
	};
	struct trace_error e;
	struct trace_reader *r = trace_reader_open(path, &e);
	int rc;

	if (!r) {
		dump_error(&c, err, path, &e);
		return 3;
	}
	rc = trace_dump_reader(out, err, path, r, opts);
	trace_reader_close(r);
	return rc;
}
