// SPDX-License-Identifier: MIT
/*
 * The hyp stage-1's attributes (check `hyp-s1-attributes`; HYPERCALLS.md
 * "Mapping attributes"): every valid hyp stage-1 leaf, page or block,
 * gives at most what its pages may have:
 *
 *   text   [hyp_start, text_end)     read-only, executable
 *   rodata [text_end, rodata_end)    read-only, execute-never
 *   everything else (the rest of the image, host pages shared or
 *   donated, the UART)               execute-never
 *
 * with text_end and rodata_end from the MARKs the hyp writes right after
 * BOOT. A block over pages of several kinds must satisfy each. Stage-1
 * encoding: AP[2] (bit 7) set is read-only, XN is bit 54. The hyp
 * stage-1 is an identity map, so a leaf's kind is that of its output
 * pages. What is only less than allowed (text mapped execute-never, say)
 * is never reported; memory types are the spec's (rule_spec.c), and
 * SCTLR_EL2.WXN is a system register's, not this rule's.
 *
 * The table pool [pool_start, pool_end) is also Normal Write-Back, inner
 * and outer: the hyp stores descriptors with ordinary cached stores and no
 * cache maintenance, and the walkers read them write-back (TCR_EL2 and
 * VTCR_EL2 IRGN0/ORGN0, judged by `sysreg`); a non-cacheable or device
 * view of a table page is a mismatched-attributes alias of what the
 * walkers read (Arm ARM, "Mismatched memory attributes"). The type is
 * MAIR_EL2's byte for the leaf's AttrIndx (bits 4:2), and the hyp builds
 * its tables before any CPU writes MAIR_EL2: a leaf over the pool is
 * judged when it is stored if MAIR_EL2 is known, else at the first
 * MAIR_EL2 write, once per index.
 *
 * ABI 2 promises the marks; on an ABI-1 trace the check is not judged
 * (said once in the summary). An ABI-2 trace without them is judged as
 * if text and rodata were empty, and the finding says the marks are
 * missing.
 */
#include <stdio.h>
#include <stdlib.h>

#include <pkvm/abi.h>

#include "rules.h"

#define ATTRS_AP2 (1ull << 7)
#define ATTRS_XN (1ull << 54)

struct attrs_rule {
	bool judged; /* ABI 2 or later */
	bool text_known, rodata_known;
	uint64_t hyp_start, text_end, rodata_end;
	uint64_t pool_start, pool_end;
	/* The AttrIndx values leaves over the pool use, the first store of
	 * each, those reported already, and MAIR_EL2 once written. */
	unsigned pool_idx, reported;
	uint64_t pool_store[8];
	bool mair_known;
	uint64_t mair;
};

static void attrs_boot(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct attrs_rule *r = self;
	unsigned abi = (unsigned)(ev->w[0] & 0xffffffffu);

	r->judged = abi >= 2;
	r->hyp_start = r->text_end = r->rodata_end = ev->w[4];
	r->pool_start = ev->w[6];
	r->pool_end = ev->w[7];
	if (!r->judged) {
		char why[64];

		snprintf(why, sizeof(why), "ABI %u records no image layout",
			 abi);
		ck_not_judged(env->out, "hyp-s1-attributes", why);
	}
}

static void attrs_mark(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct attrs_rule *r = self;

	(void)env;
	if (ev->w[0] == PKVM_MARK_TEXT_END && !r->text_known) {
		r->text_end = ev->w[1];
		r->text_known = true;
	} else if (ev->w[0] == PKVM_MARK_RODATA_END && !r->rodata_known) {
		r->rodata_end = ev->w[1];
		r->rodata_known = true;
	}
}

/* [a, a + n) meets [lo, hi)? */
static bool attrs_meets(uint64_t a, uint64_t n, uint64_t lo, uint64_t hi)
{
	return a < hi && lo < a + n;
}

/* A MAIR attribute nibble (inner or outer) that is Write-Back. */
static bool attrs_wb(unsigned n)
{
	return (n >> 2) == 3 || ((n >> 2) == 1 && (n & 3) != 0);
}

/* AttrIndx `idx`, used over the pool, judged against MAIR_EL2 (known). */
static void attrs_judge_pool(struct attrs_rule *r, const struct ck_env *env,
			     const struct ck_event *ev, unsigned idx)
{
	unsigned a = (unsigned)(r->mair >> (8 * idx)) & 0xff;

	if ((r->reported >> idx & 1u) || (attrs_wb(a >> 4) && attrs_wb(a & 15)))
		return;
	r->reported |= 1u << idx;
	ck_finding(env->out, "hyp-s1-attributes", ev, r->pool_start, true,
		   r->pool_store[idx],
		   "the hyp stage-1 maps the table pool [0x%llx, 0x%llx) with "
		   "AttrIndx %u (the leaf stored at #%llu), which MAIR_EL2 "
		   "0x%llx makes 0x%02x, %s: HYPERCALLS.md \"Mapping "
		   "attributes\" wants the pool Normal Write-Back, inner and "
		   "outer, as the walkers read it (a MAIR byte with both "
		   "nibbles 0b01RW, RW not 0, or 0b11RW)",
		   (unsigned long long)r->pool_start,
		   (unsigned long long)r->pool_end, idx,
		   (unsigned long long)r->pool_store[idx],
		   (unsigned long long)r->mair, a,
		   (a >> 4) == 0 ? "device memory" : "not write-back");
}

static void attrs_sysreg(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct attrs_rule *r = self;

	if (!r->judged || ev->w[0] != PKVM_SYSREG_MAIR_EL2)
		return;
	r->mair = ev->w[1];
	r->mair_known = true;
	for (unsigned idx = 0; idx < 8; idx++)
		if (r->pool_idx >> idx & 1u)
			attrs_judge_pool(r, env, ev, idx);
}

/* A leaf over [oa, oa + size) with descriptor `d`: the pool's type. */
static void attrs_pool_leaf(struct attrs_rule *r, const struct ck_env *env,
			    const struct ck_event *ev, uint64_t d, uint64_t oa,
			    uint64_t size)
{
	unsigned idx = (unsigned)(d >> 2) & 7;

	if (!attrs_meets(oa, size, r->pool_start, r->pool_end))
		return;
	if (!(r->pool_idx >> idx & 1u)) {
		r->pool_idx |= 1u << idx;
		r->pool_store[idx] = ev->index;
	}
	if (r->mair_known)
		attrs_judge_pool(r, env, ev, idx);
}

static void attrs_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct attrs_rule *r = self;
	const struct model_write *w = view_store_write(env->view);
	uint64_t d = ev->w[1], size, oa;
	bool ro, xn, leaf;
	const char *kinds, *missing;

	if (!r->judged || w->table < 0 || w->comp != PKVM_COMP_HYP_S1)
		return;
	leaf = w->level == 3 ? (d & 3) == 3 : (d & 3) == 1;
	if (!leaf)
		return;
	size = 1ull << (12 + 9 * (3 - w->level));
	oa = d & 0x0000fffffffff000ull & ~(size - 1);
	attrs_pool_leaf(r, env, ev, d, oa, size);
	/* Read-only over text and rodata; execute-never but over text. */
	ro = attrs_meets(oa, size, r->hyp_start, r->rodata_end);
	xn = oa < r->hyp_start || oa + size > r->text_end;
	if ((!ro || (d & ATTRS_AP2)) && (!xn || (d & ATTRS_XN)))
		return;
	missing = ro && !(d & ATTRS_AP2)
			  ? (xn && !(d & ATTRS_XN) ? "writable and executable"
						   : "writable")
			  : "executable";
	kinds = attrs_meets(oa, size, r->hyp_start, r->text_end)
			? (xn ? "hyp text and other pages" : "hyp text")
		: attrs_meets(oa, size, r->text_end, r->rodata_end)
			? "hyp rodata"
			: "hyp data, host or MMIO pages";
	ck_finding(env->out, "hyp-s1-attributes", ev, oa, false, 0,
		   "hyp stage-1 level-%d %s for [0x%llx, 0x%llx) (%s) is %s: "
		   "HYPERCALLS.md \"Mapping attributes\" allows text [0x%llx, "
		   "0x%llx) read-only and executable, rodata [0x%llx, 0x%llx) "
		   "read-only, everything else execute-never (AP[2] bit 7 "
		   "read-only, XN bit 54)%s",
		   w->level, w->level == 3 ? "page" : "block",
		   (unsigned long long)oa, (unsigned long long)(oa + size),
		   kinds, missing, (unsigned long long)r->hyp_start,
		   (unsigned long long)r->text_end,
		   (unsigned long long)r->text_end,
		   (unsigned long long)r->rodata_end,
		   r->text_known && r->rodata_known
			   ? ""
			   : "; the trace has no MARK text_end or rodata_end, "
			     "so text and rodata are taken as empty");
}

static void *attrs_create(const struct ck_env *env, unsigned cpu_count)
{
	struct attrs_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	return r;
}

const struct ck_rule rule_attrs = {
	.name = "hyp-s1-attributes",
	.create = attrs_create,
	.destroy = free,
	.boot = attrs_boot,
	.mark = attrs_mark,
	.store_after = attrs_store,
	.sysreg = attrs_sysreg,
};
