/* SPDX-License-Identifier: MIT */
/*
 * The two ownership transition tables, compared: the hyp's
 * (tests/hyp/transitions.def, written from the hyp's code) and the
 * specification's (tests/checker/transitions.def, written from
 * HYPERCALLS.md and upstream pKVM). Each side's own test runs its table
 * through its implementation; this one holds the tables against each
 * other, so a row one author got wrong is a disagreement here even when
 * that side's implementation agrees with it. Every situation one table
 * has must be in the other, with the same outcome.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi.h>

enum tt_where { TT_RAM, TT_HYP, TT_MMIO };
enum tt_state { TT_NOPAGE, TT_OWNED, TT_SHARED_OWNED, TT_SHARED_BORROWED };

static const char *const tt_where_name[] = { "a RAM page", "a hyp page",
					     "a non-RAM pfn" };
static const char *const tt_state_name[] = { "NOPAGE", "OWNED", "SHARED_OWNED",
					     "SHARED_BORROWED" };

/* One row of either table, in a common shape. */
struct tt_row {
	const char *name;
	enum tt_where where;
	enum tt_state host, hyp;
	int pinned;
	unsigned call;
	uint64_t nr;
	int64_t ret;
	enum tt_state host_after, hyp_after;
	int start; /* the hyp's rows: its HYP_START; -1 in the spec's */
};

/* The hyp's starts: how its test builds a page, and what that leaves. */
struct tt_start {
	enum tt_where where;
	enum tt_state host, hyp;
	int pinned;
};

enum tt_hyp_start {
#define HYP_START(start, where, host, hyp, pinned) TT_START_##start,
#define HYP_ROW(name, start, call, nr, ret, host_after, hyp_after)
#include "transitions.def"
	TT_START_COUNT
};

static const struct tt_start tt_hyp_starts[TT_START_COUNT] = {
#define HYP_START(start, where, host, hyp, pinned)                             \
	[TT_START_##start] = { TT_##where, TT_##host, TT_##hyp, pinned },
#define HYP_ROW(name, start, call, nr, ret, host_after, hyp_after)
#include "transitions.def"
};

static const struct tt_row tt_hyp[] = {
#define HYP_START(start, where, host, hyp, pinned)
#define HYP_ROW(name_, start_, call_, nr_, ret_, host_, hyp_)                  \
	{ .name = #name_,                                                      \
	  .call = PKVM_HC_##call_,                                             \
	  .nr = nr_,                                                           \
	  .ret = ret_,                                                         \
	  .host_after = TT_##host_,                                            \
	  .hyp_after = TT_##hyp_,                                              \
	  .start = TT_START_##start_ },
#include "transitions.def"
};

static const struct tt_row tt_spec[] = {
#define SPEC_ROW(name_, where_, host_, hyp_, pinned_, call_, nr_, ret_,        \
		 host_after_, hyp_after_, why)                                 \
	{ .name = #name_,                                                      \
	  .where = TT_##where_,                                                \
	  .host = TT_##host_,                                                  \
	  .hyp = TT_##hyp_,                                                    \
	  .pinned = pinned_,                                                   \
	  .call = PKVM_HC_##call_,                                             \
	  .nr = nr_,                                                           \
	  .ret = ret_,                                                         \
	  .host_after = TT_##host_after_,                                      \
	  .hyp_after = TT_##hyp_after_,                                        \
	  .start = -1 },
#include "../checker/transitions.def"
};

#define TT_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TT_MAX_ROWS 128

/* The hyp's rows in the common shape (the start says where and what). */
static size_t tt_hyp_rows(struct tt_row *out)
{
	for (size_t i = 0; i < TT_COUNT(tt_hyp); i++) {
		const struct tt_start *s = &tt_hyp_starts[tt_hyp[i].start];

		out[i] = tt_hyp[i];
		out[i].where = s->where;
		out[i].host = s->host;
		out[i].hyp = s->hyp;
		out[i].pinned = s->pinned;
	}
	return TT_COUNT(tt_hyp);
}

static unsigned tt_nargs(unsigned call)
{
#define TT_NARGS(name, id, nargs, str)                                         \
	if (call == id)                                                        \
		return nargs;
	PKVM_HCALL_LIST(TT_NARGS)
#undef TT_NARGS
	return 0;
}

static const char *tt_call_name(unsigned call)
{
#define TT_CALL_NAME(name, id, nargs, str)                                     \
	if (call == id)                                                        \
		return str;
	PKVM_HCALL_LIST(TT_CALL_NAME)
#undef TT_CALL_NAME
	return "?";
}

/* Same situation and call (nr only counts for calls that read it). */
static bool tt_same_key(const struct tt_row *a, const struct tt_row *b)
{
	return a->where == b->where && a->host == b->host && a->hyp == b->hyp &&
	       !a->pinned == !b->pinned && a->call == b->call &&
	       (tt_nargs(a->call) < 2 || a->nr == b->nr);
}

static void tt_key_text(char *buf, size_t len, const struct tt_row *r)
{
	snprintf(buf, len, "%s(nr %llu) on %s, host %s, hyp %s%s",
		 tt_call_name(r->call), (unsigned long long)r->nr,
		 tt_where_name[r->where], tt_state_name[r->host],
		 tt_state_name[r->hyp], r->pinned ? ", pinned" : "");
}

static void tt_outcome_text(char *buf, size_t len, const struct tt_row *r)
{
	snprintf(buf, len, "x1 %lld, host %s, hyp %s", (long long)r->ret,
		 tt_state_name[r->host_after], tt_state_name[r->hyp_after]);
}

#define TT_SPEC_FILE "tests/checker/transitions.def"
#define TT_HYP_FILE "tests/hyp/transitions.def"

/*
 * Every disagreement between the two tables, one message each, into
 * `msgs` (up to `cap`); returns how many there are. A situation in one
 * table only is a disagreement too: each side must say what it does.
 */
static size_t tt_compare(const struct tt_row *spec, size_t ns,
			 const struct tt_row *hyp, size_t nh, char (*msgs)[400],
			 size_t cap)
{
	size_t count = 0;
	char key[160], a[80], b[80];

	for (size_t i = 0; i < ns; i++) {
		const struct tt_row *s = &spec[i], *h = NULL;

		for (size_t j = 0; j < nh && !h; j++)
			if (tt_same_key(s, &hyp[j]))
				h = &hyp[j];
		tt_key_text(key, sizeof(key), s);
		tt_outcome_text(a, sizeof(a), s);
		if (!h) {
			if (count < cap)
				snprintf(msgs[count], 400,
					 "row %s (%s): only in the spec's "
					 "table (%s, says %s); the hyp's table "
					 "(%s) has no row for it",
					 s->name, key, TT_SPEC_FILE, a,
					 TT_HYP_FILE);
			count++;
			continue;
		}
		tt_outcome_text(b, sizeof(b), h);
		if (s->ret == h->ret && s->host_after == h->host_after &&
		    s->hyp_after == h->hyp_after)
			continue;
		if (count < cap)
			snprintf(msgs[count], 400,
				 "rows %s / %s (%s) disagree: the spec's table "
				 "(%s) says %s; the hyp's table (%s) says %s",
				 s->name, h->name, key, TT_SPEC_FILE, a,
				 TT_HYP_FILE, b);
		count++;
	}
	for (size_t j = 0; j < nh; j++) {
		bool found = false;

		for (size_t i = 0; i < ns && !found; i++)
			found = tt_same_key(&spec[i], &hyp[j]);
		if (found)
			continue;
		tt_key_text(key, sizeof(key), &hyp[j]);
		tt_outcome_text(b, sizeof(b), &hyp[j]);
		if (count < cap)
			snprintf(msgs[count], 400,
				 "row %s (%s): only in the hyp's table (%s, "
				 "says %s); the spec's table (%s) has no row "
				 "for it",
				 hyp[j].name, key, TT_HYP_FILE, b,
				 TT_SPEC_FILE);
		count++;
	}
	return count;
}

/* The two tables agree on every situation either of them names. */
Test(tables, spec_and_hyp_agree)
{
	static struct tt_row hyp[TT_MAX_ROWS];
	static char msgs[TT_MAX_ROWS * 2][400];
	size_t nh = tt_hyp_rows(hyp);
	size_t n = tt_compare(tt_spec, TT_COUNT(tt_spec), hyp, nh, msgs,
			      TT_COUNT(msgs));

	for (size_t i = 0; i < n && i < TT_COUNT(msgs); i++)
		cr_log_error("%s", msgs[i]);
	cr_assert_eq(n, 0, "%zu disagreement(s) between the tables, first: %s",
		     n, n ? msgs[0] : "");
	cr_assert_gt(nh, 20);
}

/* Each table's rows name distinct situations (else a lookup is ambiguous). */
Test(tables, no_situation_twice)
{
	static struct tt_row hyp[TT_MAX_ROWS];
	size_t nh = tt_hyp_rows(hyp);

	for (size_t i = 0; i < nh; i++)
		for (size_t j = i + 1; j < nh; j++)
			cr_assert(!tt_same_key(&hyp[i], &hyp[j]),
				  "hyp rows %s and %s", hyp[i].name,
				  hyp[j].name);
	for (size_t i = 0; i < TT_COUNT(tt_spec); i++)
		for (size_t j = i + 1; j < TT_COUNT(tt_spec); j++)
			cr_assert(!tt_same_key(&tt_spec[i], &tt_spec[j]),
				  "spec rows %s and %s", tt_spec[i].name,
				  tt_spec[j].name);
}

/*
 * The comparison can fail, and says which row and which side: a wrong
 * outcome planted in a copy of the spec's table, and a row taken out of
 * a copy of the hyp's, are each reported by name and file.
 */
Test(tables, a_planted_disagreement_is_reported)
{
	static struct tt_row hyp[TT_MAX_ROWS], spec[TT_MAX_ROWS];
	static char msgs[8][400];
	size_t nh = tt_hyp_rows(hyp), ns = TT_COUNT(tt_spec), n, k = 0;

	memcpy(spec, tt_spec, sizeof(tt_spec));
	while (spec[k].call != PKVM_HC_UNSHARE_HYP || !spec[k].pinned)
		k++;
	spec[k].ret = 0; /* "a pinned page unshares": wrong */
	n = tt_compare(spec, ns, hyp, nh, msgs, 8);
	cr_assert_eq(n, 1);
	cr_assert_not_null(strstr(msgs[0], spec[k].name), "%s", msgs[0]);
	cr_assert_not_null(strstr(msgs[0], "the spec's table (" TT_SPEC_FILE
					   ") says x1 0"),
			   "%s", msgs[0]);
	cr_assert_not_null(strstr(msgs[0], "x1 -16"), "%s", msgs[0]);

	memcpy(spec, tt_spec, sizeof(tt_spec));
	hyp[0] = hyp[--nh];
	n = tt_compare(spec, ns, hyp, nh, msgs, 8);
	cr_assert_eq(n, 1);
	cr_assert_not_null(strstr(msgs[0], "only in the spec's table"), "%s",
			   msgs[0]);
	cr_assert_not_null(
		strstr(msgs[0], "the hyp's table (" TT_HYP_FILE ") has no row"),
		"%s", msgs[0]);
}
