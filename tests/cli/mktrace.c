// SPDX-License-Identifier: MIT
/*
 * mktrace: write the small traces the golden command-line tests check,
 * built with the checker's unit-test trace builder and written through
 * libpkvmtrace's writer.
 *
 *   mktrace DIR     writes DIR/<case>.trace for every case below
 */
#include <stdio.h>
#include <string.h>

#include <pkvm/trace.h>

#include "builder.h"

static int write_trace(const struct tb *b, const char *dir, const char *name)
{
	struct trace_info info;
	struct trace_error err;
	struct trace_writer *w;
	char path[4096];

	memset(&info, 0, sizeof(info));
	info.cpu_count = b->ncpu;
	info.counter_freq = 62500000;
	info.abi_version = PKVM_ABI_VERSION;
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
	if (trace_writer_close(w, &err) == 0)
		return 0;
fail:
	fprintf(stderr, "mktrace: %s: %s\n", path, err.message);
	return 1;
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

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*build)(struct tb *b);
	} cases[] = {
		{ "conforms", case_conforms },
		{ "missing-mapping", case_missing_mapping },
		{ "abort-injection", case_abort },
		{ "inconsistent", case_inconsistent },
		{ "lost", case_lost },
		{ "compact-conforms", case_compact_conforms },
		{ "compact-finding", case_compact_finding },
		{ "compact-inconsistent", case_compact_inconsistent },
		{ "fused-conforms", case_fused_conforms },
		{ "fused-inconsistent", case_fused_inconsistent },
		{ "fused-lost", case_fused_lost },
	};
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mktrace DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb b;

		tb_init(&b, 2);
		tb_boot(&b);
		cases[i].build(&b);
		rc |= write_trace(&b, argv[1], cases[i].name);
		tb_free(&b);
	}
	return rc;
}
