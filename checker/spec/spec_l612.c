// SPDX-License-Identifier: MIT
/*
 * format/LINUX-6.12.md as pure functions (spec_l612.h): the page state of
 * a descriptor (section 3) and the host hypercalls specified so far
 * (section 6.1, 6.2), in a table laid out like the profile's hypercall
 * table (pkvm/abi_linux612.h).
 */
#include "spec_l612.h"

#include <stddef.h>
#include <string.h>

#include <pkvm/abi_linux612.h>

bool l612_is_table(uint64_t d, int level)
{
	return level < 3 && (d & 3) == 3;
}

bool l612_is_leaf(uint64_t d, int level)
{
	return level == 3 ? (d & 3) == 3 : (d & 3) == 1;
}

/* The software bits of a valid leaf (3.2): 11 is reserved. */
static unsigned l612_sw_state(uint64_t d)
{
	switch ((d & L612_PTE_SW_MASK) >> L612_PTE_SW_SHIFT) {
	case 0:
		return SPEC_ST_OWNED;
	case 1:
		return SPEC_ST_SHARED_OWNED;
	case 2:
		return SPEC_ST_SHARED_BORROWED;
	default:
		return SPEC_ST_BAD;
	}
}

unsigned l612_host_state(uint64_t d, int level, bool memory)
{
	if (!memory)
		return SPEC_ST_NOPAGE; /* MMIO or NOMAP: never the host's */
	if (l612_is_table(d, level))
		return SPEC_ST_UNKNOWN; /* not a leaf: the walk goes on */
	if (!l612_is_leaf(d, level))
		/* 0: the host's, mapped lazily; an annotation (or LOCKED,
		 * a break in progress): not the host's */
		return d == 0 ? SPEC_ST_OWNED : SPEC_ST_NOPAGE;
	return l612_sw_state(d);
}

unsigned l612_hyp_state(uint64_t d, int level)
{
	if (l612_is_table(d, level))
		return SPEC_ST_UNKNOWN;
	if (!l612_is_leaf(d, level))
		return SPEC_ST_NOPAGE;
	return l612_sw_state(d);
}

/* ---- the host hypercalls (LINUX-6.12.md 6) ---------------------------- */

static bool l612_in_ram(const struct l612_machine *m, uint64_t pfn)
{
	uint64_t first = m->ram_base >> 12;

	return pfn >= first && pfn - first < m->ram_size >> 12;
}

/* Both sides of `pfn`; the host side of a page that is no memory is
 * NOPAGE whatever its entry (3.3). */
static struct spec_page l612_page(const struct l612_machine *m, uint64_t pfn)
{
	struct spec_page p = m->page(m->ctx, pfn);

	if (!l612_in_ram(m, pfn))
		p.host = SPEC_ST_NOPAGE;
	return p;
}

/* Step 1 of 6.1 and 6.2: pa = pfn << 12 (mod 2^64) beyond the host
 * stage-2's input range. */
static bool l612_out_of_range(const struct l612_machine *m, uint64_t pfn)
{
	uint64_t pa = pfn << 12;

	return m->ia_bits < 64 && (pa >> m->ia_bits) != 0;
}

static void l612_result(struct l612_outcome *out, int64_t x1)
{
	out->x1 = x1;
}

static void l612_effect(struct l612_outcome *out, uint64_t pfn, unsigned host,
			unsigned hyp)
{
	out->x1 = 0;
	out->has_effect = true;
	out->effect.pfn = pfn;
	out->effect.after.host = (uint8_t)host;
	out->effect.after.hyp = (uint8_t)hyp;
}

/*
 * What share and unshare do first: the range check, then both sides of
 * the page. False if that already decided `out`.
 */
static bool l612_begin(const struct l612_machine *m, uint64_t *pfn,
		       struct spec_page *p, struct l612_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->specified = true;
	if (l612_out_of_range(m, *pfn)) {
		l612_result(out, -L612_ERANGE);
		return false;
	}
	*pfn = (*pfn << 12) >> 12; /* the page of pa */
	*p = l612_page(m, *pfn);
	return true;
}

void l612_share_hyp(const struct l612_machine *m, uint64_t pfn,
		    struct l612_outcome *out)
{
	struct spec_page p;

	if (!l612_begin(m, &pfn, &p, out))
		return;
	if (p.host == SPEC_ST_UNKNOWN ||
	    (m->el2_debug && p.hyp == SPEC_ST_UNKNOWN)) {
		out->unknown = true;
		return;
	}
	if (p.host != SPEC_ST_OWNED ||
	    (m->el2_debug && p.hyp != SPEC_ST_NOPAGE)) {
		l612_result(out, -L612_EPERM);
		return;
	}
	l612_effect(out, pfn, SPEC_ST_SHARED_OWNED, SPEC_ST_SHARED_BORROWED);
}

void l612_unshare_hyp(const struct l612_machine *m, uint64_t pfn,
		      struct l612_outcome *out)
{
	struct spec_page p;

	if (!l612_begin(m, &pfn, &p, out))
		return;
	if (p.host == SPEC_ST_UNKNOWN) {
		out->unknown = true;
		return;
	}
	if (p.host != SPEC_ST_SHARED_OWNED) {
		l612_result(out, -L612_EPERM);
		return;
	}
	switch (m->pin(m->ctx, pfn)) {
	case L612_PIN_YES:
		l612_result(out, -L612_EBUSY);
		return;
	case L612_PIN_MAYBE:
		/* the pin check (step 3) may refuse it; the checks after it
		 * decide otherwise */
		out->may_ebusy = true;
		break;
	default:
		break;
	}
	if (m->el2_debug && p.hyp == SPEC_ST_UNKNOWN) {
		out->unknown = true;
		return;
	}
	if (m->el2_debug && p.hyp != SPEC_ST_SHARED_BORROWED) {
		l612_result(out, -L612_EPERM);
		return;
	}
	l612_effect(out, pfn, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
}

/* ---- the hypercall table -------------------------------------------- */

typedef void (*l612_hcall_fn)(const struct l612_machine *m, const uint64_t x[3],
			      struct l612_outcome *out);

static void l612_hc_share_hyp(const struct l612_machine *m, const uint64_t x[3],
			      struct l612_outcome *out)
{
	l612_share_hyp(m, x[0], out);
}

static void l612_hc_unshare_hyp(const struct l612_machine *m,
				const uint64_t x[3], struct l612_outcome *out)
{
	l612_unshare_hyp(m, x[0], out);
}

/* Indexed by id (LINUX-6.12.md 6); NULL: not specified in this checker. */
static const l612_hcall_fn l612_hcalls[PKVM_L612_HC_COUNT] = {
	[PKVM_L612_HC_PKVM_HOST_SHARE_HYP] = l612_hc_share_hyp,
	[PKVM_L612_HC_PKVM_HOST_UNSHARE_HYP] = l612_hc_unshare_hyp,
};

bool l612_hcall_specified(unsigned id)
{
	return id < PKVM_L612_HC_COUNT && l612_hcalls[id];
}

void l612_hcall(const struct l612_machine *m, unsigned id, const uint64_t x[3],
		struct l612_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (l612_hcall_specified(id))
		l612_hcalls[id](m, x, out);
}
