// SPDX-License-Identifier: MIT
/*
 * The linux-6.12 specification's pure functions (checker/spec/spec_l612.h)
 * against format/LINUX-6.12.md: the page state of descriptors (section 3)
 * and share/unshare (6.1, 6.2), each case written from the document.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "spec_l612.h"

/* A level-3 page leaf and a level-2 block, with software bits `sw`. */
#define PAGE(sw) (0x40280000ull | 0x7c3ull | (uint64_t)(sw) << 55)
#define BLOCK(sw) (0x40200000ull | 0x7c1ull | (uint64_t)(sw) << 55)

Test(spec_l612, host_side_of_a_descriptor)
{
	/* 3.3: invalid zero is the host's, mapped lazily */
	cr_assert_eq(l612_host_state(0, 3, true), SPEC_ST_OWNED);
	cr_assert_eq(l612_host_state(0, 1, true), SPEC_ST_OWNED);
	/* owner hyp (0x4), or a break in progress (0x400): not the host's */
	cr_assert_eq(l612_host_state(0x4, 3, true), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_host_state(0x400, 3, true), SPEC_ST_NOPAGE);
	/* 3.2: the software bits of a valid leaf, page or block */
	cr_assert_eq(l612_host_state(PAGE(0), 3, true), SPEC_ST_OWNED);
	cr_assert_eq(l612_host_state(PAGE(1), 3, true), SPEC_ST_SHARED_OWNED);
	cr_assert_eq(l612_host_state(PAGE(2), 3, true),
		     SPEC_ST_SHARED_BORROWED);
	cr_assert_eq(l612_host_state(PAGE(3), 3, true), SPEC_ST_BAD);
	cr_assert_eq(l612_host_state(BLOCK(0), 2, true), SPEC_ST_OWNED);
	cr_assert_eq(l612_host_state(BLOCK(1), 1, true), SPEC_ST_SHARED_OWNED);
	/* bits 1:0 = 01 at level 3 is no valid page: invalid, non-zero */
	cr_assert_eq(l612_host_state(0x40280001ull, 3, true), SPEC_ST_NOPAGE);
	/* not allowed memory (MMIO, NOMAP): NOPAGE whatever the entry */
	cr_assert_eq(l612_host_state(0, 3, false), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_host_state(PAGE(0), 3, false), SPEC_ST_NOPAGE);
	/* a table descriptor is no page's state */
	cr_assert_eq(l612_host_state(0x40313003ull, 2, true), SPEC_ST_UNKNOWN);
}

Test(spec_l612, hyp_side_of_a_descriptor)
{
	cr_assert_eq(l612_hyp_state(0, 3), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_hyp_state(0x4, 3), SPEC_ST_NOPAGE);
	cr_assert_eq(l612_hyp_state(PAGE(0), 3), SPEC_ST_OWNED);
	cr_assert_eq(l612_hyp_state(PAGE(1), 3), SPEC_ST_SHARED_OWNED);
	cr_assert_eq(l612_hyp_state(PAGE(2), 3), SPEC_ST_SHARED_BORROWED);
	cr_assert_eq(l612_hyp_state(PAGE(3), 3), SPEC_ST_BAD);
	cr_assert_eq(l612_hyp_state(BLOCK(0), 2), SPEC_ST_OWNED);
	cr_assert_eq(l612_hyp_state(0x40303003ull, 2), SPEC_ST_UNKNOWN);
}

/* A machine of 16 MiB of RAM at 0x40000000, 40-bit IPA, one page's two
 * sides set by the test, every other page the host's and unmapped. */
struct lm {
	uint64_t pfn;
	struct spec_page p;
	unsigned pin; /* enum l612_pin */
};

static struct spec_page lm_page(const void *ctx, uint64_t pfn)
{
	const struct lm *l = ctx;
	struct spec_page other = { SPEC_ST_OWNED, SPEC_ST_NOPAGE };

	return pfn == l->pfn ? l->p : other;
}

static unsigned lm_pin(const void *ctx, uint64_t pfn)
{
	const struct lm *l = ctx;

	return pfn == l->pfn ? l->pin : L612_PIN_NO;
}

static struct l612_machine lm_machine(struct lm *l, unsigned host, unsigned hyp)
{
	struct l612_machine m = {
		.ram_base = 0x40000000ull,
		.ram_size = 16ull << 20,
		.ia_bits = 40,
		.el2_debug = true,
		.ctx = l,
		.page = lm_page,
		.pin = lm_pin,
	};

	l->pfn = 0x40280;
	l->p.host = (uint8_t)host;
	l->p.hyp = (uint8_t)hyp;
	l->pin = L612_PIN_NO;
	return m;
}

Test(spec_l612, share_hyp)
{
	struct lm l;
	struct l612_machine m = lm_machine(&l, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
	struct l612_outcome o;
	uint64_t x[3] = { 0x40280, 0, 0 };

	/* 6.1.4: OWNED => SHARED_OWNED, NOPAGE => SHARED_BORROWED, 0 */
	l612_hcall(&m, 9, x, &o);
	cr_assert(o.specified && o.x1 == 0 && o.has_effect);
	cr_assert_eq(o.effect.pfn, 0x40280);
	cr_assert_eq(o.effect.after.host, SPEC_ST_SHARED_OWNED);
	cr_assert_eq(o.effect.after.hyp, SPEC_ST_SHARED_BORROWED);
	/* 6.1.2: the host does not own it (the hyp's, shared, borrowed) */
	l.p.host = SPEC_ST_NOPAGE;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	l.p.host = SPEC_ST_SHARED_OWNED;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	/* ... MMIO: the page after RAM is never the host's */
	l612_share_hyp(&m, 0x41000, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	/* 6.1.3 (debug): the hyp maps it already */
	l.p.host = SPEC_ST_OWNED;
	l.p.hyp = SPEC_ST_OWNED;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	m.el2_debug = false;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == 0 && o.has_effect);
	/* 6.1.1: beyond the 40-bit input range, also by wrapping */
	l612_share_hyp(&m, 1ull << 28, &o);
	cr_assert_eq(o.x1, -L612_ERANGE);
	/* pa is pfn << 12 mod 2^64: no range check of its own */
	l612_share_hyp(&m, (1ull << 52) | 0x40280, &o);
	cr_assert_eq(o.x1, 0);
	/* unknown state: no verdict */
	l.p.host = SPEC_ST_UNKNOWN;
	l612_share_hyp(&m, 0x40280, &o);
	cr_assert(o.unknown);
}

Test(spec_l612, unshare_hyp)
{
	struct lm l;
	struct l612_machine m =
		lm_machine(&l, SPEC_ST_SHARED_OWNED, SPEC_ST_SHARED_BORROWED);
	struct l612_outcome o;
	uint64_t x[3] = { 0x40280, 0, 0 };

	/* 6.2.5: back to the host, unmapped from the hyp, 0 */
	l612_hcall(&m, 10, x, &o);
	cr_assert(o.specified && o.x1 == 0 && o.has_effect && !o.may_ebusy);
	cr_assert_eq(o.effect.after.host, SPEC_ST_OWNED);
	cr_assert_eq(o.effect.after.hyp, SPEC_ST_NOPAGE);
	/* 6.2.3: pinned */
	l.pin = L612_PIN_YES;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EBUSY && !o.has_effect);
	/* a pin maybe: 0 with the effect, or -EBUSY with none */
	l.pin = L612_PIN_MAYBE;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == 0 && o.has_effect && o.may_ebusy);
	/* 6.2.2: not shared by the host (before the pin check) */
	l.p.host = SPEC_ST_OWNED;
	l.pin = L612_PIN_YES;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	l.pin = L612_PIN_NO;
	/* 6.2.4 (debug): the hyp does not borrow it */
	l.p.host = SPEC_ST_SHARED_OWNED;
	l.p.hyp = SPEC_ST_NOPAGE;
	l612_unshare_hyp(&m, 0x40280, &o);
	cr_assert(o.x1 == -L612_EPERM && !o.has_effect);
	/* 6.2.1 */
	l612_unshare_hyp(&m, 1ull << 28, &o);
	cr_assert_eq(o.x1, -L612_ERANGE);
}

Test(spec_l612, the_table_specifies_share_and_unshare_only)
{
	struct lm l;
	struct l612_machine m = lm_machine(&l, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
	struct l612_outcome o;
	uint64_t x[3] = { 0 };

	for (unsigned id = 0; id < 30; id++) {
		l612_hcall(&m, id, x, &o);
		cr_assert_eq(o.specified, id == 9 || id == 10, "id %u", id);
		cr_assert_eq(l612_hcall_specified(id), id == 9 || id == 10);
	}
}
