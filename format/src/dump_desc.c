/* SPDX-License-Identifier: MIT */
/*
 * Descriptors and times for people (dump.h): what a stored descriptor
 * means, where it is stored, and a counter value in seconds. The decoding
 * follows abi.h's conventions of our hyp (4 KiB granule, walks from level
 * 1, page state in bits 56:55, owner annotation in bits 9:2 of an invalid
 * host stage-2 descriptor); it explains, it never judges: the checker's
 * model, not this file, decides what a descriptor does.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>

#define DESC_ADDR_MASK ((uint64_t)0x0000FFFFFFFFF000ull)

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

static int desc_done(size_t len, size_t pos)
{
	return (int)(pos < len ? pos : (len ? len - 1 : 0));
}

/** See dump.h. */
int trace_format_time(char *buf, size_t len, uint64_t ts, uint64_t freq,
		      bool ticks)
{
	uint64_t sec, ns;

	if (ticks || freq == 0)
		return snprintf(buf, len, "ticks=%" PRIu64, ts);
	sec = ts / freq;
	/* The remainder is below freq < 2^64: 128 bits hold it times 10^9. */
	ns = (uint64_t)((unsigned __int128)(ts % freq) * 1000000000u / freq);
	return snprintf(buf, len, "%" PRIu64 ".%09" PRIu64 "s", sec, ns);
}

/* Bytes one entry maps at `level` (1 GiB, 2 MiB, 4 KiB). */
static uint64_t desc_level_size(int level)
{
	return 1ull << (12 + 9 * (3 - level));
}

static const char *desc_state(uint64_t v)
{
	switch (v & PKVM_PTE_STATE_MASK) {
	case PKVM_PAGE_OWNED:
		return "owned";
	case PKVM_PAGE_SHARED_OWNED:
		return "shared-owned";
	case PKVM_PAGE_SHARED_BORROWED:
		return "shared-borrowed";
	default:
		return "0b11 (no such state)";
	}
}

static const char *desc_sh(uint64_t v)
{
	static const char *const sh[] = { "non", "(reserved)", "outer",
					  "inner" };

	return sh[(v >> 8) & 3];
}

/* A leaf's attributes: stage 2 (MemAttr, S2AP, XN) or stage 1 (AttrIndx,
 * AP, XN); with the stage unknown, the raw attribute bits. */
static void desc_attrs(char *buf, size_t len, size_t *pos, uint64_t v,
		       unsigned stage)
{
	if (stage == 2) {
		static const char *const ap[] = { "none", "ro", "wo", "rw" };
		unsigned ma = (unsigned)(v >> 2) & 0xf;

		if (ma == 0xf)
			put(buf, len, pos, " normal-wb");
		else if (ma == 0x1)
			put(buf, len, pos, " device-nGnRE");
		else
			put(buf, len, pos, " memattr=0x%x", ma);
		put(buf, len, pos, " sh=%s %s%s", desc_sh(v), ap[(v >> 6) & 3],
		    (v >> 53) & 3 ? " xn" : "");
	} else if (stage == 1) {
		put(buf, len, pos, " attridx=%u sh=%s %s%s",
		    (unsigned)(v >> 2) & 7, desc_sh(v),
		    (v >> 7) & 1 ? "ro" : "rw", (v >> 54) & 1 ? " xn" : "");
	} else {
		put(buf, len, pos, " attrs=0x%03" PRIx64 ",0x%" PRIx64,
		    (v >> 2) & 0x3ff, (v >> 50) & 0x1f);
	}
	if (v & (1ull << 10))
		put(buf, len, pos, " af");
}

/** See dump.h. */
int trace_format_desc(char *buf, size_t len, uint64_t v,
		      const struct trace_desc_where *w)
{
	static const struct trace_desc_where none;
	size_t pos = 0;
	bool table;

	if (!w)
		w = &none;
	if (len)
		buf[0] = '\0';
	if (!(v & 1)) {
		unsigned owner = (unsigned)((v & PKVM_PTE_OWNER_MASK) >>
					    PKVM_PTE_OWNER_SHIFT);

		put(buf, len, &pos, "invalid");
		if (w->stage != 1 && owner)
			put(buf, len, &pos, " owner=%s",
			    owner == PKVM_OWNER_HYP ? "hyp" : "?");
		if (w->level)
			put(buf, len, &pos, " L%d", w->level);
		if (w->has_ia)
			put(buf, len, &pos, " %s=0x%" PRIx64,
			    w->stage == 1 ? "va" : "ipa", w->ia);
		return desc_done(len, pos);
	}
	/* Bits 1:0 = 0b11 are a table above level 3 and a page at level 3;
	 * with the level unknown, a descriptor with no attribute bits is
	 * taken for a table (our hyp's tables carry none). */
	table = (v & 3) == 3 &&
		(w->level ? w->level < 3 : (v & ~DESC_ADDR_MASK) == 3);
	if (table)
		put(buf, len, &pos, "valid table");
	else if ((v & 3) == 1)
		put(buf, len, &pos, "valid block");
	else
		put(buf, len, &pos, "valid page");
	if (w->level)
		put(buf, len, &pos, " L%d", w->level);
	if (w->has_ia)
		put(buf, len, &pos, " %s=0x%" PRIx64,
		    w->stage == 1 ? "va" : "ipa", w->ia);
	if (table) {
		put(buf, len, &pos, " next=0x%" PRIx64, v & DESC_ADDR_MASK);
		return desc_done(len, pos);
	}
	put(buf, len, &pos, " oa=0x%" PRIx64,
	    (uint64_t)(v & DESC_ADDR_MASK &
		       ~(w->level ? desc_level_size(w->level) - 1 : 0)));
	desc_attrs(buf, len, &pos, v, w->stage);
	put(buf, len, &pos, " state=%s", desc_state(v));
	return desc_done(len, pos);
}

/* ---- tables seen installed ------------------------------------------- */

struct tables_slot {
	uint64_t page; /* table page PA >> 12, +1 (0: empty) */
	uint8_t stage;
	int8_t level;
	uint64_t ia; /* input address the table's entry 0 translates */
};

struct trace_tables {
	struct tables_slot *slot;
	size_t cap, used; /* cap a power of two */
};

struct trace_tables *trace_tables_new(void)
{
	struct trace_tables *t = calloc(1, sizeof(*t));

	if (t && !(t->slot = calloc(t->cap = 1024, sizeof(*t->slot)))) {
		free(t);
		return NULL;
	}
	return t;
}

void trace_tables_free(struct trace_tables *t)
{
	if (t)
		free(t->slot);
	free(t);
}

static struct tables_slot *tables_find(const struct trace_tables *t,
				       uint64_t page)
{
	size_t i = (size_t)(page * 0x9e3779b97f4a7c15ull) & (t->cap - 1);

	while (t->slot[i].page && t->slot[i].page != page + 1)
		i = (i + 1) & (t->cap - 1);
	return &t->slot[i];
}

static void tables_put(struct trace_tables *t, uint64_t pa, unsigned stage,
		       int level, uint64_t ia)
{
	struct tables_slot *s;

	if (2 * (t->used + 1) > t->cap) {
		struct trace_tables big = { calloc(2 * t->cap, sizeof(*s)),
					    2 * t->cap, 0 };

		/* Out of memory: keep what is known, learn nothing new. */
		if (!big.slot)
			return;
		for (size_t i = 0; i < t->cap; i++)
			if (t->slot[i].page)
				*tables_find(&big, t->slot[i].page - 1) =
					t->slot[i];
		free(t->slot);
		t->slot = big.slot;
		t->cap = big.cap;
	}
	s = tables_find(t, pa >> 12);
	if (!s->page)
		t->used++;
	*s = (struct tables_slot){ (pa >> 12) + 1, (uint8_t)stage,
				   (int8_t)level, ia };
}

/** See dump.h. */
struct trace_desc_where trace_tables_where(const struct trace_tables *t,
					   uint64_t pa)
{
	struct trace_desc_where w = { 0 };
	const struct tables_slot *s = t ? tables_find(t, pa >> 12) : NULL;

	if (!s || !s->page)
		return w;
	w.stage = s->stage;
	w.level = s->level;
	w.has_ia = true;
	w.ia = s->ia + ((pa & 0xfff) >> 3) * desc_level_size(s->level);
	return w;
}

/** See dump.h. */
void trace_tables_learn(struct trace_tables *t, const struct pkvm_record *recs,
			unsigned n)
{
	struct trace_desc_where w;

	if (!t || n == 0)
		return;
	/* BOOT: host_s2_root is word 8, hyp_s1_root word 9 (events.def). */
	if (recs[0].kind == PKVM_EV_BOOT && n > 4) {
		tables_put(t, recs[4].a, 2, 1, 0);
		tables_put(t, recs[4].b, 1, 1, 0);
		return;
	}
	if (recs[0].kind != PKVM_EV_PTE_WRITE)
		return;
	w = trace_tables_where(t, recs[0].a);
	if (w.level && w.level < 3 && (recs[0].b & 3) == 3)
		tables_put(t, recs[0].b & DESC_ADDR_MASK, w.stage, w.level + 1,
			   w.ia);
}
