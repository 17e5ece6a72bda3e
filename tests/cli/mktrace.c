// SPDX-License-Identifier: MIT
/*
 * mktrace: write the small traces the golden command-line tests check,
 * built with the checker's unit-test trace builder and written through
 * libpkvmtrace's writer, as a recorder would write a whole run: outcome
 * `clean` and each CPU's exact producer count in the end summary. Cases
 * that test the verdict change what the file says (another outcome, a
 * tail loss, counters unknown, a header the BOOT record contradicts) or
 * patch its bytes afterwards (a wrong frame index, a repeated frame).
 *
 *   mktrace DIR [SITE]   writes DIR/<case>.trace for every case below;
 *                        SITE: the site the `sites` case's records carry
 *                        (FORMAT.md 3.2: (pc - hyp_start) / 4), default 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/trace.h>

#include "builder.h"

/** How a case's file differs from a clean recording of the built run. */
struct mk_file {
	bool outcome_given; /* else: clean */
	enum trace_outcome outcome;
	const char *why;
	bool counters_unknown;
	int64_t extra_produced[8]; /* the producer's count past the last */
	unsigned header_cpus;	   /* 0: the builder's */
	uint64_t header_freq;	   /* 0: the BOOT record's */
	uint32_t header_abi;	   /* 0: PKVM_ABI_VERSION */
	const char *system;	   /* NULL: our hyp */
	/* Change the written file's bytes: 0, or -1 on failure. */
	int (*patch)(const char *path);
};

static int write_trace(const struct tb *b, const char *dir, const char *name,
		       const struct mk_file *f)
{
	struct trace_info info;
	struct trace_error err;
	struct trace_writer *w;
	char path[4096];

	memset(&info, 0, sizeof(info));
	info.cpu_count = f->header_cpus ? f->header_cpus : b->ncpu;
	info.counter_freq = f->header_freq ? f->header_freq : 62500000;
	info.abi_version = f->header_abi ? f->header_abi : PKVM_ABI_VERSION;
	if (f->system)
		snprintf(info.system, sizeof(info.system), "%s", f->system);
	snprintf(info.identity, sizeof(info.identity), "case=%s\n", name);
	snprintf(path, sizeof(path), "%s/%s.trace", dir, name);
	w = trace_writer_open(path, &info, &err);
	if (!w)
		goto fail;
	for (unsigned c = 0; c < b->ncpu; c++)
		if (b->count[c] &&
		    trace_writer_add(w, c, b->recs[c], b->count[c], &err)) {
			trace_writer_close(w, &err);
			goto fail;
		}
	trace_writer_set_outcome(
		w, f->outcome_given ? f->outcome : TRACE_OUTCOME_CLEAN,
		f->why ? f->why : "the machine powered off");
	for (unsigned c = 0; c < b->ncpu; c++) {
		/* Every record made is in the file: the next seq. */
		uint64_t next = b->count[c]
					? b->recs[c][b->count[c] - 1].seq + 1ull
					: 0;

		if (trace_writer_set_producer(
			    w, c,
			    f->counters_unknown
				    ? TRACE_COUNT_UNKNOWN
				    : next + (uint64_t)f->extra_produced[c],
			    f->counters_unknown ? TRACE_COUNT_UNKNOWN : 0,
			    &err)) {
			trace_writer_close(w, &err);
			goto fail;
		}
	}
	if (trace_writer_close(w, &err) == 0)
		return f->patch ? f->patch(path) : 0;
fail:
	fprintf(stderr, "mktrace: %s: %s\n", path, err.message);
	return 1;
}

/* ---- byte patches ---------------------------------------------------- */

/* A written trace in memory, and its frames as its seek table lists them. */
struct mk_bytes {
	uint8_t *p;
	size_t len;
	uint32_t n;	   /* frames before the seek table */
	size_t off[64];	   /* their offsets */
	uint32_t size[64]; /* and sizes */
};

static uint32_t mk_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void mk_put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void mk_add64(uint8_t *p, uint64_t add)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	v += add;
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int mk_load(const char *path, struct mk_bytes *m)
{
	FILE *f = fopen(path, "rb");
	const uint8_t *e;
	size_t at = 0;

	memset(m, 0, sizeof(*m));
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	m->len = (size_t)ftell(f);
	rewind(f);
	m->p = malloc(m->len);
	if (!m->p || fread(m->p, 1, m->len, f) != m->len) {
		fclose(f);
		return -1;
	}
	fclose(f);
	m->n = mk_le32(m->p + m->len - 9);
	if (m->n > 64)
		return -1;
	e = m->p + m->len - 9 - 8 * (size_t)m->n;
	for (uint32_t i = 0; i < m->n; i++) {
		m->off[i] = at;
		m->size[i] = mk_le32(e + 8 * i);
		at += m->size[i];
	}
	return 0;
}

static int mk_store(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc = f && fwrite(p, 1, len, f) == len ? 0 : -1;

	if (f)
		fclose(f);
	return rc;
}

/* The end summary's payload, and its per-CPU table and frame index. */
static uint8_t *mk_summary(const struct mk_bytes *m, uint8_t **cpu,
			   uint8_t **index)
{
	uint8_t *q = m->p + m->off[m->n - 1] + 8;

	*cpu = q + 152;
	*index = *cpu + 48 * (size_t)mk_le32(q + 8);
	return q;
}

/* The summary gives data frame 0 a later last timestamp than its records. */
static int patch_frame_index(const char *path)
{
	struct mk_bytes m;
	uint8_t *cpu, *index;
	int rc = mk_load(path, &m);

	if (rc == 0) {
		mk_summary(&m, &cpu, &index);
		mk_add64(index + 8, 1);
		rc = mk_store(path, m.p, m.len);
	}
	free(m.p);
	return rc;
}

/* The summary gives cpu1 one page more than it has. */
static int patch_pages(const char *path)
{
	struct mk_bytes m;
	uint8_t *cpu, *index;
	int rc = mk_load(path, &m);

	if (rc == 0) {
		mk_summary(&m, &cpu, &index);
		mk_add64(cpu + 48 + 24, 1);
		rc = mk_store(path, m.p, m.len);
	}
	free(m.p);
	return rc;
}

/* Cut the file inside its end summary, as a killed recorder might. */
static int patch_cut_in_summary(const char *path)
{
	struct mk_bytes m;
	int rc = mk_load(path, &m);

	if (rc == 0)
		rc = mk_store(path, m.p, m.off[m.n - 1] + m.size[m.n - 1] / 2);
	free(m.p);
	return rc;
}

/* Cut the file after its last data frame: no summary, no seek table. */
static int patch_cut_after_data(const char *path)
{
	struct mk_bytes m;
	int rc = mk_load(path, &m);

	if (rc == 0)
		rc = mk_store(path, m.p, m.off[m.n - 1]);
	free(m.p);
	return rc;
}

/*
 * The last data frame written twice, and listed twice, consistently, in
 * the end summary (its frame count and time index) and the seek table, as
 * a recorder that wrote a frame again would leave it. A reader that stops
 * reading each CPU where the summary's counts end would never see it.
 */
static int patch_repeat_frame(const char *path)
{
	struct mk_bytes m;
	uint8_t *out, *q, *cpu, *index, *sum;
	uint32_t last, n;
	size_t len, sumlen;
	int rc = mk_load(path, &m);

	if (rc < 0 || m.n < 3) {
		free(m.p);
		return -1;
	}
	last = m.n - 2; /* the last data frame */
	sum = mk_summary(&m, &cpu, &index);
	n = mk_le32(sum + 12);
	sumlen = m.size[m.n - 1];
	len = m.len + m.size[last] + 16 + 8;
	out = malloc(len);
	if (!out) {
		free(m.p);
		return -1;
	}
	/* Every frame up to the summary, the last data frame twice. */
	q = out;
	memcpy(q, m.p, m.off[m.n - 1]);
	q += m.off[m.n - 1];
	memcpy(q, m.p + m.off[last], m.size[last]);
	q += m.size[last];
	/* The summary: one more frame, its index entry repeated. */
	memcpy(q, m.p + m.off[m.n - 1], sumlen);
	mk_put32(q + 4, (uint32_t)(sumlen - 8 + 16));
	mk_put32(q + 8 + 12, n + 1);
	memcpy(q + sumlen, index + 16 * (size_t)(n - 1), 16);
	q += sumlen + 16;
	/* The seek table: one more entry, the summary's longer. */
	mk_put32(q, 0x184D2A5Eu);
	mk_put32(q + 4, 8 * (m.n + 1) + 9);
	q += 8;
	for (uint32_t i = 0; i <= m.n; i++, q += 8) {
		uint32_t from = i <= last ? i : i - 1;

		mk_put32(q, m.size[from] + (i == m.n ? 16 : 0));
		memcpy(q + 4, m.p + m.len - 9 - 8 * (size_t)m.n + 8 * from + 4,
		       4);
	}
	memcpy(q, m.p + m.len - 9, 9);
	mk_put32(q, m.n + 1);
	q += 9;
	rc = mk_store(path, out, (size_t)(q - out));
	free(out);
	free(m.p);
	return rc;
}

static void case_conforms(struct tb *b)
{
	tb_share(b, 0, TB_HOST_PFN(0));
	tb_donate(b, 1, TB_HOST_PFN(1));
	tb_abort_map(b, 0, TB_HOST_PFN(2));
	tb_abort_inject(b, 1, TB_HOST_PFN(1));
	tb_unshare(b, 1, TB_HOST_PFN(0));
	tb_reclaim(b, 0, TB_HOST_PFN(1));
}

static void case_missing_mapping(struct tb *b)
{
	tb_share(b, 0, TB_HOST_PFN(0));
	/* share_hyp that forgets the hyp side, twice */
	tb_two_sided(b, 1, PKVM_HC_SHARE_HYP, TB_HOST_PFN(1),
		     tb_s2_page(TB_HOST_PFN(1) << 12, PKVM_PAGE_SHARED_OWNED),
		     0);
	tb_two_sided(b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(2),
		     tb_s2_page(TB_HOST_PFN(2) << 12, PKVM_PAGE_SHARED_OWNED),
		     0);
}

static void case_abort(struct tb *b)
{
	uint64_t pfn = TB_HYP_PFN + 1;

	tb_entry(b, 0, TB_ESR_DABT, pfn << 12, pfn << 4, 0, 0, 0);
	tb_lock(b, 0, PKVM_LOCK_HOST_S2);
	tb_unlock(b, 0, PKVM_LOCK_HOST_S2);
	tb_exit_full(b, 0, 0, 0, 0, 0, 0x41000100, 0x3c5);
}

static void case_inconsistent(struct tb *b)
{
	uint64_t w[2] = { PKVM_LOCK_HYP_S1, 7 };

	tb_share(b, 0, TB_HOST_PFN(0));
	tb_event(b, 1, PKVM_EV_LOCK_RELEASE, w, 2);
}

static void case_lost(struct tb *b)
{
	uint64_t w[2] = { 5, 100 };

	tb_share(b, 0, TB_HOST_PFN(0));
	tb_event(b, 1, PKVM_EV_LOST, w, 2);
	tb_unshare(b, 0, TB_HOST_PFN(0));
}

/*
 * The compact forms of format 2.0, as the hyp writes them (the builder's
 * `compact`): a correct run with TLB maintenance, a store after the
 * LOCK_RELEASE2 that let its lock go, and a pair whose second release is
 * of a lock the CPU does not hold.
 */
static void case_compact_conforms(struct tb *b)
{
	b->compact = true;
	case_conforms(b);
	tb_share(b, 1, TB_HOST_PFN(5));
	tb_unshare(b, 1, TB_HOST_PFN(5));
	tb_tlb_flush(b, 1, true, TB_HOST_PFN(5) << 12);
	tb_tlb_flush(b, 1, false, TB_HOST_PFN(5) << 12);
}

static void case_compact_finding(struct tb *b)
{
	uint64_t pfn = TB_HOST_PFN(4), slot;

	b->compact = true;
	tb_share(b, 0, TB_HOST_PFN(0));
	tb_hvc(b, 0, PKVM_HC_SHARE_HYP, pfn, 0);
	tb_lock2(b, 0, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	slot = tb_l3(b, 0, PKVM_COMP_HOST_S2, pfn);
	tb_pte(b, 0, tb_l3(b, 0, PKVM_COMP_HYP_S1, pfn),
	       tb_s1_page(pfn << 12, PKVM_PAGE_SHARED_BORROWED));
	tb_tlb_flush(b, 0, false, pfn << 12);
	tb_unlock2(b, 0, PKVM_LOCK_HYP_S1, PKVM_LOCK_HOST_S2);
	tb_pte(b, 0, slot, tb_s2_page(pfn << 12, PKVM_PAGE_SHARED_OWNED));
	tb_exit(b, 0, 0, 0);
}

static void case_compact_inconsistent(struct tb *b)
{
	b->compact = true;
	tb_share(b, 0, TB_HOST_PFN(0));
	tb_lock(b, 1, PKVM_LOCK_POOL);
	/* pool is held, hyp_s1 is not */
	tb_unlock2(b, 1, PKVM_LOCK_POOL, PKVM_LOCK_HYP_S1);
}

/*
 * The fused forms of format 3.0 (the builder's `fused`): the compact run
 * above with ownership calls as HCALL_ENTRY_LOCK2 ... HCALL_EXIT_UNLOCK2,
 * such an exit closing a call whose entry took no locks, and one after
 * lost records whose locks the other CPU then takes.
 */
static void case_fused_conforms(struct tb *b)
{
	tb_set_form(b, TB_FUSED);
	case_compact_conforms(b);
}

static void case_fused_inconsistent(struct tb *b)
{
	uint64_t w[2] = { 0, 0 };

	tb_set_form(b, TB_FUSED);
	tb_share(b, 0, TB_HOST_PFN(0));
	tb_hvc(b, 1, PKVM_HC_SHARE_HYP, TB_HOST_PFN(1), 0);
	tb_event(b, 1, PKVM_EV_HCALL_EXIT_UNLOCK2, w, 2);
}

static void case_fused_lost(struct tb *b)
{
	uint64_t w[2] = { 3, 0 };

	tb_set_form(b, TB_FUSED);
	tb_hvc_lock2(b, 1, PKVM_HC_SHARE_HYP, TB_HOST_PFN(0), 0,
		     PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1);
	w[1] = b->seq[1];
	b->seq[1] += 3;
	tb_event(b, 1, PKVM_EV_LOST, w, 2);
	tb_unlock2_exit(b, 1, PKVM_LOCK_HOST_S2, PKVM_LOCK_HYP_S1, 0, 0);
	tb_share(b, 0, TB_HOST_PFN(1));
}

/*
 * Whole-run cases (the verdict): a long run written in several zstd
 * frames; cpu1's stream starting at sequence 5, as if its first records
 * were lost; cpu0's last events copied into the middle of cpu1's stream,
 * their numbers jumping on and then back (a trace that contradicts
 * itself); a BOOT record whose ABI version is not the header's.
 */
static void case_many_frames(struct tb *b)
{
	for (unsigned i = 0; i < 700; i++) {
		tb_share(b, i & 1, TB_HOST_PFN(i % 8));
		tb_unshare(b, i & 1, TB_HOST_PFN(i % 8));
	}
}

static void case_head_loss(struct tb *b)
{
	case_conforms(b);
	for (size_t k = 0; k < b->count[1]; k++)
		b->recs[1][k].seq += 5;
}

static void case_copied_records(struct tb *b)
{
	struct pkvm_record *copy;
	size_t n = 20, at;

	case_conforms(b);
	/* Whole events: from a head record on. */
	while (b->recs[0][b->count[0] - n].flags & PKVM_REC_F_CONT)
		n++;
	/* cpu1: its first half, cpu0's last 20 records, its second half. */
	at = b->count[1] / 2;
	copy = malloc((b->count[1] + n) * sizeof(*copy));
	if (!copy)
		abort();
	memcpy(copy, b->recs[1], at * sizeof(*copy));
	memcpy(copy + at, b->recs[0] + b->count[0] - n, n * sizeof(*copy));
	for (size_t k = 0; k < n; k++)
		copy[at + k].cpu = 1;
	memcpy(copy + at + n, b->recs[1] + at,
	       (b->count[1] - at) * sizeof(*copy));
	free(b->recs[1]);
	b->recs[1] = copy;
	b->count[1] += n;
	b->cap[1] = b->count[1];
}

/* No records at all, so no BOOT record. */
static void case_no_boot(struct tb *b)
{
	b->count[0] = b->count[1] = 0;
}

/* A BOOT record giving the machine no RAM. */
static void case_no_ram(struct tb *b)
{
	b->recs[0][1].b = 0; /* continuation 1: ram_base, ram_size */
	case_conforms(b);
}

/* The site every site-carrying record of the `sites` case names. */
static uint64_t mk_site;

/*
 * compact-finding with sites (FORMAT.md 3.2): BOOT says the records carry
 * them, and every record of a kind with one names `mk_site`, so that a
 * test can point it at a known instruction of the built hyp.elf.
 */
static void case_sites(struct tb *b)
{
	b->recs[0][6].b |= PKVM_BOOT_F_SITES; /* BOOT word 13: boot_flags */
	case_compact_finding(b);
	for (unsigned c = 0; c < b->ncpu; c++)
		for (size_t i = 0; i < b->count[c]; i++) {
			struct pkvm_record *r = &b->recs[c][i];

			if (!(r->flags & PKVM_REC_F_CONT) &&
			    pkvm_event_has_site(r->kind))
				r->a |= mk_site << PKVM_SITE_SHIFT;
		}
}

static void case_boot_abi(struct tb *b)
{
	b->recs[0][0].a = (PKVM_ABI_VERSION + 1) | (uint64_t)b->ncpu << 32;
	case_conforms(b);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*build)(struct tb *b);
		struct mk_file file;
	} cases[] = {
		{ "conforms", case_conforms, { 0 } },
		{ "missing-mapping", case_missing_mapping, { 0 } },
		{ "abort-injection", case_abort, { 0 } },
		{ "inconsistent", case_inconsistent, { 0 } },
		{ "lost", case_lost, { 0 } },
		{ "compact-conforms", case_compact_conforms, { 0 } },
		{ "compact-finding", case_compact_finding, { 0 } },
		{ "sites", case_sites, { 0 } },
		{ "compact-inconsistent", case_compact_inconsistent, { 0 } },
		{ "fused-conforms", case_fused_conforms, { 0 } },
		{ "fused-inconsistent", case_fused_inconsistent, { 0 } },
		{ "fused-lost", case_fused_lost, { 0 } },
		/* How the run ended, other than cleanly: inconclusive. */
		{ "outcome-unknown",
		  case_conforms,
		  { .outcome_given = true, .why = "" } },
		{ "outcome-hyp-panic",
		  case_conforms,
		  { .outcome_given = true,
		    .outcome = TRACE_OUTCOME_PANIC,
		    .why = "hyp panic code=2 at 0x40201234" } },
		{ "outcome-timeout",
		  case_conforms,
		  { .outcome_given = true,
		    .outcome = TRACE_OUTCOME_TIMEOUT,
		    .why = "timed out after 2 s" } },
		{ "outcome-interrupted",
		  case_conforms,
		  { .outcome_given = true,
		    .outcome = TRACE_OUTCOME_INTERRUPTED,
		    .why = "interrupted by signal 2" } },
		{ "outcome-qemu-failed",
		  case_conforms,
		  { .outcome_given = true,
		    .outcome = TRACE_OUTCOME_QEMU,
		    .why = "QEMU exited with status 1" } },
		{ "outcome-recorder-failed",
		  case_conforms,
		  { .outcome_given = true,
		    .outcome = TRACE_OUTCOME_RECORDER,
		    .why = "cannot write the trace: No space left on "
			   "device" } },
		{ "outcome-running",
		  case_conforms,
		  { .outcome_given = true,
		    .outcome = TRACE_OUTCOME_RUNNING,
		    .why = "" } },
		/* Streams not proven whole: inconclusive. */
		{ "tail-loss", case_conforms, { .extra_produced = { 0, 37 } } },
		{ "head-loss", case_head_loss, { 0 } },
		{ "unknown-counters",
		  case_conforms,
		  { .counters_unknown = true } },
		{ "many-frames", case_many_frames, { 0 } },
		/* Traces that contradict themselves: corrupt. */
		{ "produced-short",
		  case_conforms,
		  { .extra_produced = { 0, -1 } } },
		{ "boot-cpus", case_conforms, { .header_cpus = 3 } },
		{ "boot-freq", case_conforms, { .header_freq = 1000000000 } },
		{ "boot-abi", case_boot_abi, { 0 } },
		{ "abi-9", case_conforms, { .header_abi = 9 } },
		{ "system-linux", case_conforms, { .system = "linux-5.10" } },
		{ "no-boot", case_no_boot, { 0 } },
		{ "no-ram", case_no_ram, { 0 } },
		{ "frame-index",
		  case_conforms,
		  { .patch = patch_frame_index } },
		{ "summary-pages", case_conforms, { .patch = patch_pages } },
		{ "copied-records", case_copied_records, { 0 } },
		{ "repeated-frame",
		  case_many_frames,
		  { .patch = patch_repeat_frame } },
		/* Cut short: inconclusive, saying where. */
		{ "cut-in-summary",
		  case_conforms,
		  { .patch = patch_cut_in_summary } },
		{ "cut-after-data",
		  case_conforms,
		  { .patch = patch_cut_after_data } },
	};
	int rc = 0;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: mktrace DIR [SITE]\n");
		return 2;
	}
	if (argc == 3)
		mk_site = strtoull(argv[2], NULL, 0) & 0xffff;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb b;

		tb_init(&b, 2);
		tb_boot(&b);
		cases[i].build(&b);
		rc |= write_trace(&b, argv[1], cases[i].name, &cases[i].file);
		tb_free(&b);
	}
	return rc;
}
