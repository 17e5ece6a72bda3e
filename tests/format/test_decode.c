/* SPDX-License-Identifier: MIT */
/*
 * What dump.h explains for people: descriptors (valid, level, input and
 * output address, attributes, page state), times in seconds, the tables
 * a reader learns from BOOT and table stores, the dump's filters (page,
 * hypercall, lock, sequence window) and its JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi.h>
#include <pkvm/dump.h>
#include <pkvm/trace.h>

#include "helpers.h"

#define HOST_ROOT 0x40304000ull
#define HYP_ROOT 0x40305000ull

Test(decode, times_are_seconds_to_the_nanosecond)
{
	/* Property: ticks over the frequency, exactly, in integers; ticks
	 * when asked or when the frequency is unknown. */
	char buf[64];

	trace_format_time(buf, sizeof(buf), 62500000ull * 3 + 16, 62500000,
			  false);
	cr_assert_str_eq(buf, "3.000000256s");
	trace_format_time(buf, sizeof(buf), UINT64_MAX, 1000000000, false);
	cr_assert_str_eq(buf, "18446744073.709551615s");
	trace_format_time(buf, sizeof(buf), 430, 62500000, true);
	cr_assert_str_eq(buf, "ticks=430");
	trace_format_time(buf, sizeof(buf), 430, 0, false);
	cr_assert_str_eq(buf, "ticks=430");
}

Test(decode, descriptors_say_what_they_map)
{
	/* Property: a stage-2 page, a stage-1 page, a block, a table and
	 * an annotated invalid descriptor are each named with what the
	 * bits say; what the reader does not know is left out. */
	struct trace_desc_where s2 = { 2, 3, true, 0x40801000 };
	struct trace_desc_where s1 = { 1, 3, true, 0x40801000 };
	struct trace_desc_where l2 = { 2, 2, true, 0x40800000 };
	char buf[256];

	trace_format_desc(buf, sizeof(buf), 0x800000408017ffull, &s2);
	cr_assert_str_eq(buf, "valid page L3 ipa=0x40801000 oa=0x40801000 "
			      "normal-wb sh=inner rw af state=shared-owned");
	trace_format_desc(buf, sizeof(buf), 0x1400000408017c3ull, &s1);
	cr_assert_str_eq(buf, "valid page L3 va=0x40801000 oa=0x40801000 "
			      "attridx=0 sh=inner ro xn af "
			      "state=shared-borrowed");
	trace_format_desc(buf, sizeof(buf), 0x408007fdull, &l2);
	cr_assert_str_eq(buf, "valid block L2 ipa=0x40800000 oa=0x40800000 "
			      "normal-wb sh=inner rw af state=owned");
	trace_format_desc(buf, sizeof(buf), 0x40306003ull, &l2);
	cr_assert_str_eq(buf, "valid table L2 ipa=0x40800000 next=0x40306000");
	trace_format_desc(buf, sizeof(buf), 1ull << 2, &s2);
	cr_assert_str_eq(buf, "invalid owner=hyp L3 ipa=0x40801000");
	trace_format_desc(buf, sizeof(buf), 0x40306003ull, NULL);
	cr_assert_str_eq(buf, "valid table next=0x40306000");
	trace_format_desc(buf, sizeof(buf), 0x1800000408017ffull, NULL);
	cr_assert_not_null(strstr(buf, "state=0b11"), "%s", buf);
}

/* A BOOT record (7 records) naming the two roots. */
static unsigned boot_records(struct pkvm_record *r, uint32_t seq)
{
	uint64_t w[14] = { 1 | 1ull << 32,
			   62500000,
			   0x40000000,
			   0x10000000,
			   0x40200000,
			   0x40400000,
			   0x40300000,
			   0x40400000,
			   HOST_ROOT,
			   HYP_ROOT,
			   0,
			   0,
			   0,
			   0 };

	for (unsigned i = 0; i < 7; i++)
		r[i] = rec_make(0, seq + i, 1 + i, PKVM_EV_BOOT, i, w[2 * i],
				w[2 * i + 1]);
	return 7;
}

Test(decode, tables_place_stores_from_boot_and_installs)
{
	/* Property: the roots come from BOOT at level 1; a table stored in
	 * a known table is known one level down, at the input address of
	 * its entry; a store into an unknown page stays unknown. */
	struct pkvm_record r[8];
	struct trace_tables *t = trace_tables_new();
	struct trace_desc_where w;

	cr_assert_not_null(t);
	boot_records(r, 0);
	trace_tables_learn(t, r, 7);
	w = trace_tables_where(t, HOST_ROOT + 8);
	cr_assert_eq(w.stage, 2);
	cr_assert_eq(w.level, 1);
	cr_assert_eq(w.ia, 0x40000000ull);
	r[0] = rec_make(0, 7, 8, PKVM_EV_PTE_WRITE, 0, HOST_ROOT + 8,
			0x40306003);
	trace_tables_learn(t, r, 1);
	/* Entry 4 of that level-2 table maps 4 * 2 MiB further. */
	w = trace_tables_where(t, 0x40306000 + 4 * 8);
	cr_assert_eq(w.stage, 2);
	cr_assert_eq(w.level, 2);
	cr_assert_eq(w.ia, 0x40800000ull);
	w = trace_tables_where(t, 0x40399000);
	cr_assert_eq(w.level, 0);
	cr_assert_not(w.has_ia);
	trace_tables_free(t);
}

Test(decode, sites_only_where_boot_says_so)
{
	/* Property (FORMAT.md 3.2): a site is taken from bits 48-63 of a
	 * store's, lock's or TLB op's first word, and cleared from it, only
	 * after a BOOT of our hyp with PKVM_BOOT_F_SITES; before one, without
	 * the flag, on another system, or on another kind, nothing changes. */
	const uint64_t pa = HOST_ROOT + 8, site = 0x1234;
	struct pkvm_record r[8], w;
	struct trace_sites s;
	char buf[32];

	w = rec_make(0, 7, 8, PKVM_EV_PTE_WRITE, 0, pa | site << 48, 3);
	trace_sites_init(&s, TRACE_SYS_HYP, 5);
	r[0] = w;
	cr_assert_eq(trace_sites_take(&s, r, 1), 0); /* no BOOT yet */
	cr_assert_eq(r[0].a, w.a);
	boot_records(r, 0);
	cr_assert_eq(trace_sites_take(&s, r, 7), 0);
	r[0] = w;
	cr_assert_eq(trace_sites_take(&s, r, 1), 0); /* flag clear */
	cr_assert_eq(r[0].a, w.a);

	boot_records(r, 0);
	r[6].b |= PKVM_BOOT_F_SITES;
	trace_sites_take(&s, r, 7);
	r[0] = w;
	cr_assert_eq(trace_sites_take(&s, r, 1), 0x40200000 + 4 * site);
	cr_assert_eq(r[0].a, pa);
	trace_sites_pc_text(&s, 0x40200000 + 4 * site, buf, sizeof(buf));
	cr_assert_str_eq(buf, "pc=+0x48d0");
	r[0] = rec_make(0, 8, 9, PKVM_EV_LOCK_ACQUIRE, 0,
			PKVM_LOCK_POOL | 5ull << 48, 2);
	cr_assert_eq(trace_sites_take(&s, r, 1), 0x40200000 + 4 * 5);
	cr_assert_eq(r[0].a, PKVM_LOCK_POOL);
	r[0] = rec_make(0, 9, 10, PKVM_EV_MARK, 0, 1ull << 48, 0);
	cr_assert_eq(trace_sites_take(&s, r, 1), 0); /* no site kind */
	cr_assert_eq(r[0].a, 1ull << 48);

	trace_sites_init(&s, TRACE_SYS_LINUX612, 5); /* bit 1 is another */
	boot_records(r, 0);
	r[6].b |= PKVM_BOOT_F_SITES;
	trace_sites_take(&s, r, 7);
	r[0] = w;
	cr_assert_eq(trace_sites_take(&s, r, 1), 0);
	cr_assert_eq(r[0].a, w.a);

	trace_sites_init(&s, TRACE_SYS_HYP, 4); /* 4.x: no sites, ever */
	boot_records(r, 0);
	r[6].b |= PKVM_BOOT_F_SITES;
	trace_sites_take(&s, r, 7);
	r[0] = w;
	cr_assert_eq(trace_sites_take(&s, r, 1), 0);
	cr_assert_eq(r[0].a, w.a);
}

/* Run trace_dump over records with `o`; returns the text printed. */
static char *dump_text(const struct pkvm_record *in, size_t n, unsigned cpus,
		       const struct trace_dump_opts *o)
{
	char path[128], *text = NULL, *errs = NULL;
	size_t tlen = 0, elen = 0;
	FILE *out, *err;

	tmp_path(path, sizeof(path), "decode");
	write_records(path, cpus, in, n);
	out = open_memstream(&text, &tlen);
	err = open_memstream(&errs, &elen);
	cr_assert_eq(trace_dump(out, err, path, o), 0);
	fclose(out);
	fclose(err);
	free(errs);
	unlink(path);
	return text;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; (s = strchr(s, '\n')); s++)
		n++;
	return n;
}

/*
 * cpu0: BOOT, a share_hyp of 0x40801 (entry with its lock pair, a stage-2
 * store mapping the page, the fused exit), a TLBI of another page and a
 * pool lock; cpu1: a donate of 0x40900..0x40903 as a canonical trap.
 */
static size_t scenario(struct pkvm_record *r)
{
	size_t n = boot_records(r, 0);
	uint32_t s = 7;

	r[n++] = rec_make(0, s++, 20, PKVM_EV_HCALL_ENTRY_LOCK2, 0, 0x41000104,
			  PKVM_HC_BASE | PKVM_HC_SHARE_HYP);
	r[n++] = rec_make(0, s++, 20, PKVM_EV_HCALL_ENTRY_LOCK2, 1, 0x40801, 0);
	r[n++] = rec_make(0, s++, 20, PKVM_EV_HCALL_ENTRY_LOCK2, 2,
			  PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32,
			  0);
	r[n++] = rec_make(0, s++, 21, PKVM_EV_PTE_WRITE, 0, HOST_ROOT + 8,
			  0x40306003);
	r[n++] = rec_make(0, s++, 22, PKVM_EV_PTE_WRITE, 0, 0x40306000 + 4 * 8,
			  0x40307003);
	r[n++] = rec_make(0, s++, 23, PKVM_EV_PTE_WRITE, 0, 0x40307000 + 8,
			  0x800000408017ffull);
	r[n++] = rec_make(0, s++, 24, PKVM_EV_HCALL_EXIT_UNLOCK2, 0, 0, 0);
	r[n++] = rec_make(0, s++, 25, PKVM_EV_TLBI, 0, PKVM_TLBI_VAE2IS,
			  0x40555);
	r[n++] = rec_make(0, s++, 26, PKVM_EV_LOCK_ACQUIRE, 0, PKVM_LOCK_POOL,
			  0);
	r[n++] = rec_make(1, 0, 30, PKVM_EV_TRAP_ENTRY, 0, 0x5a000000,
			  0x41000104);
	r[n++] = rec_make(1, 1, 30, PKVM_EV_TRAP_ENTRY, 1, 0, 0);
	r[n++] = rec_make(1, 2, 30, PKVM_EV_TRAP_ENTRY, 2,
			  PKVM_HC_BASE | PKVM_HC_HOST_DONATE_HYP, 0x40900);
	r[n++] = rec_make(1, 3, 30, PKVM_EV_TRAP_ENTRY, 3, 4, 0);
	r[n++] = rec_make(1, 4, 31, PKVM_EV_TRAP_EXIT, 0, 0, 0);
	r[n++] = rec_make(1, 5, 31, PKVM_EV_TRAP_EXIT, 1, 0, 0);
	r[n++] = rec_make(1, 6, 31, PKVM_EV_TRAP_EXIT, 2, 0, 0x41000104);
	r[n++] = rec_make(1, 7, 31, PKVM_EV_TRAP_EXIT, 3, 0, 0);
	return n;
}

Test(decode, dump_filters_by_page_hcall_lock_and_seq)
{
	/* Property: each filter keeps exactly the events it names: the
	 * page's hypercalls, stores and TLB maintenance; the events of one
	 * hypercall's traps; one lock's events, the fused exit included;
	 * one CPU's sequence window, its event marked. */
	struct pkvm_record r[40];
	size_t n = scenario(r);
	struct trace_dump_opts o = { .cpu = -1, .to_ts = UINT64_MAX };
	char *t;

	o.has_page = true;
	o.pfn = 0x40801;
	t = dump_text(r, n, 2, &o);
	/* The entry (x1 = pfn), both tables on the way (they cover it) and
	 * the leaf; not the exit, the other TLBI or the donate. */
	cr_assert_eq(count_lines(t), 4, "%s", t);
	cr_assert_not_null(strstr(t, "[valid page L3 ipa=0x40801000 "
				     "oa=0x40801000 normal-wb"),
			   "%s", t);
	free(t);
	o.pfn = 0x40902; /* inside the donated range and both tables' */
	t = dump_text(r, n, 2, &o);
	cr_assert_eq(count_lines(t), 3, "%s", t);
	cr_assert_not_null(strstr(t, "x0=host_donate_hyp"), "%s", t);
	free(t);
	o.has_page = false;
	o.hcall = PKVM_HC_SHARE_HYP;
	t = dump_text(r, n, 2, &o);
	cr_assert_eq(count_lines(t), 5, "%s", t); /* entry, 3 stores, exit */
	free(t);
	o.hcall = 0;
	o.lock = PKVM_LOCK_HYP_S1;
	t = dump_text(r, n, 2, &o);
	cr_assert_eq(count_lines(t), 2, "%s", t); /* entry, fused exit */
	free(t);
	o.lock = 0;
	o.cpu = 0;
	o.has_seq = true;
	o.seq_from = 10;
	o.seq_to = 12;
	o.mark = true;
	o.mark_seq = 11;
	t = dump_text(r, n, 2, &o);
	cr_assert_eq(count_lines(t), 3, "%s", t);
	cr_assert_not_null(strstr(t, "-> cpu0 seq=11 "), "%s", t);
	free(t);
}

Test(decode, dump_json_is_one_typed_object_per_event)
{
	/* Property: --format=json gives one object a line, each with
	 * "type":"event", the time in seconds and the decoded descriptor. */
	struct pkvm_record r[40];
	size_t n = scenario(r);
	struct trace_dump_opts o = { .cpu = 0,
				     .to_ts = UINT64_MAX,
				     .kind = PKVM_EV_PTE_WRITE,
				     .json = true };
	char *t = dump_text(r, n, 2, &o);

	cr_assert_eq(count_lines(t), 3, "%s", t);
	for (char *l = t; *l; l = strchr(l, '\n') + 1)
		cr_assert(strncmp(l, "{\"type\":\"event\",", 16) == 0, "%s", l);
	cr_assert_not_null(strstr(t, "\"time\":0.000000336,"), "%s", t);
	cr_assert_not_null(strstr(t, "\"desc\":\"valid table L1 ipa=0x40000000 "
				     "next=0x40306000\""),
			   "%s", t);
	free(t);
}
