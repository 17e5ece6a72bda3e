// SPDX-License-Identifier: MIT
/*
 * format/HYPERCALLS.md, executable. Laid out like the hypercall table in
 * abi.h: one pure function per hypercall, each a list of checks made in the
 * documented order (the first that fails gives the result and no state
 * changes) followed by the transition on success.
 */
#include "spec.h"

#include <stddef.h>
#include <string.h>

#define SPEC_PAGE_SHIFT 12

bool spec_pfn_in_ram(const struct spec_machine *m, uint64_t pfn)
{
	uint64_t first = m->ram_base >> SPEC_PAGE_SHIFT;
	uint64_t count = m->ram_size >> SPEC_PAGE_SHIFT;

	return pfn >= first && pfn - first < count;
}

/* Every page of [pfn, pfn + nr) is RAM (nr may be large: no overflow). */
static bool spec_range_in_ram(const struct spec_machine *m, uint64_t pfn,
			      uint64_t nr)
{
	return spec_pfn_in_ram(m, pfn) && nr <= PKVM_DONATE_MAX_PAGES &&
	       spec_pfn_in_ram(m, pfn + nr - 1);
}

static bool spec_pfn_in_hyp(const struct spec_machine *m, uint64_t pfn)
{
	uint64_t pa = pfn << SPEC_PAGE_SHIFT;

	return pa >= m->hyp_start && pa < m->hyp_end;
}

static void spec_result(struct spec_outcome *out, int64_t x1)
{
	out->x0 = PKVM_SMCCC_SUCCESS;
	out->x1 = x1;
	out->check_x1 = true;
}

static void spec_set(struct spec_outcome *out, uint64_t pfn, unsigned host,
		     unsigned hyp)
{
	struct spec_effect *e = &out->effect[out->effect_count++];

	e->pfn = pfn;
	e->after.host = (uint8_t)host;
	e->after.hyp = (uint8_t)hyp;
}

/* A state the spec must branch on is unknown: no verdict possible. */
static bool spec_unknown(struct spec_outcome *out, struct spec_page p)
{
	if (p.host == SPEC_ST_UNKNOWN || p.hyp == SPEC_ST_UNKNOWN) {
		out->unknown = true;
		return true;
	}
	return false;
}

/* Check 1 of both donations: 1 to PKVM_DONATE_MAX_PAGES pages, all RAM. */
static bool spec_donate_range_ok(const struct spec_machine *m, uint64_t pfn,
				 uint64_t nr)
{
	return nr != 0 && nr <= PKVM_DONATE_MAX_PAGES &&
	       spec_range_in_ram(m, pfn, nr);
}

static void spec_begin(struct spec_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->may_enomem = true;
}

/*
 * Check 1 of the one-page calls (pfn in RAM, else -EINVAL) and the page's
 * pre-state. False when the outcome is already decided (-EINVAL, or the
 * page's state is unknown after lost records).
 */
static bool spec_one_page(const struct spec_machine *m, uint64_t pfn,
			  struct spec_outcome *out, struct spec_page *p)
{
	spec_begin(out);
	if (!spec_pfn_in_ram(m, pfn)) {
		spec_result(out, -PKVM_EINVAL);
		return false;
	}
	*p = m->page(m->ctx, pfn);
	return !spec_unknown(out, *p);
}

void spec_share_hyp(const struct spec_machine *m, uint64_t pfn,
		    struct spec_outcome *out)
{
	struct spec_page p;

	if (!spec_one_page(m, pfn, out, &p))
		return;
	if (p.host != SPEC_ST_OWNED || p.hyp != SPEC_ST_NOPAGE) {
		spec_result(out, -PKVM_EPERM);
		return;
	}
	/* host OWNED => SHARED_OWNED, hyp NOPAGE => SHARED_BORROWED */
	spec_set(out, pfn, SPEC_ST_SHARED_OWNED, SPEC_ST_SHARED_BORROWED);
	spec_result(out, 0);
}

void spec_unshare_hyp(const struct spec_machine *m, uint64_t pfn,
		      struct spec_outcome *out)
{
	struct spec_page p;

	if (!spec_one_page(m, pfn, out, &p))
		return;
	if (p.host != SPEC_ST_SHARED_OWNED ||
	    p.hyp != SPEC_ST_SHARED_BORROWED) {
		spec_result(out, -PKVM_EPERM);
		return;
	}
	if (m->trace_unknown) {
		out->unknown = true;
		return;
	}
	if (m->pinned && m->pinned(m->ctx, pfn)) {
		spec_result(out, -PKVM_EBUSY);
		return;
	}
	/* host SHARED_OWNED => OWNED, hyp SHARED_BORROWED => NOPAGE */
	spec_set(out, pfn, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
	spec_result(out, 0);
}

void spec_host_donate_hyp(const struct spec_machine *m, uint64_t pfn,
			  uint64_t nr, struct spec_outcome *out)
{
	spec_begin(out);
	if (!spec_donate_range_ok(m, pfn, nr)) {
		spec_result(out, -PKVM_EINVAL);
		return;
	}
	for (uint64_t i = 0; i < nr; i++) {
		struct spec_page p = m->page(m->ctx, pfn + i);

		if (spec_unknown(out, p))
			return;
		if (p.host != SPEC_ST_OWNED || p.hyp != SPEC_ST_NOPAGE) {
			spec_result(out, -PKVM_EPERM);
			return;
		}
	}
	/* every page: host OWNED => NOPAGE (owner hyp), hyp NOPAGE => OWNED */
	for (uint64_t i = 0; i < nr; i++)
		spec_set(out, pfn + i, SPEC_ST_NOPAGE, SPEC_ST_OWNED);
	spec_result(out, 0);
}

void spec_hyp_donate_host(const struct spec_machine *m, uint64_t pfn,
			  uint64_t nr, struct spec_outcome *out)
{
	spec_begin(out);
	if (!spec_donate_range_ok(m, pfn, nr)) {
		spec_result(out, -PKVM_EINVAL);
		return;
	}
	for (uint64_t i = 0; i < nr; i++) {
		struct spec_page p = m->page(m->ctx, pfn + i);

		if (spec_pfn_in_hyp(m, pfn + i)) {
			spec_result(out, -PKVM_EPERM);
			return;
		}
		if (spec_unknown(out, p))
			return;
		if (p.hyp != SPEC_ST_OWNED || p.host != SPEC_ST_NOPAGE) {
			spec_result(out, -PKVM_EPERM);
			return;
		}
	}
	/* every page: hyp OWNED => NOPAGE, host NOPAGE => OWNED */
	for (uint64_t i = 0; i < nr; i++)
		spec_set(out, pfn + i, SPEC_ST_OWNED, SPEC_ST_NOPAGE);
	spec_result(out, 0);
}

/* ---- trace_load ----------------------------------------------------- */

/* A host-written field of the control page, if the hyp read all of it. */
static bool spec_field(const struct spec_host_reads *r, size_t off, size_t size,
		       uint64_t *val)
{
	uint64_t v = 0;

	for (size_t i = 0; i < size; i++) {
		if (!r->known[off + i])
			return false;
		v |= (uint64_t)r->bytes[off + i] << (8 * i);
	}
	*val = v;
	return true;
}

#define SPEC_CTRL_FIELD(r, f, v)                                               \
	spec_field((r), offsetof(struct pkvm_ring_ctrl, f),                    \
		   sizeof(((struct pkvm_ring_ctrl *)0)->f), (v))

/*
 * Check 4's verdict on the fields read: 1 some field is bad, 0 every field
 * the rules need was read and is good, -1 a needed field was never read.
 */
struct spec_ring {
	uint64_t base, nr;
};

static bool spec_nr_ok(uint64_t nr)
{
	return nr >= 128 && nr <= (1ull << 20) && (nr & (nr - 1)) == 0;
}

static bool spec_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int spec_check_rings(const struct spec_machine *m,
			    const struct spec_host_reads *r, unsigned count,
			    struct spec_ring *rings)
{
	uint64_t ram_end = m->ram_base + m->ram_size;
	const size_t stride = sizeof(struct pkvm_ring_cpu);
	const size_t first = offsetof(struct pkvm_ring_ctrl, cpu);

	for (unsigned i = 0; i < count; i++) {
		size_t off = first + i * stride;
		uint64_t base, nr;

		if (!spec_field(r, off, 8, &base) ||
		    !spec_field(r, off + 8, 8, &nr))
			return -1;
		if ((base & 0xfff) != 0 || !spec_nr_ok(nr))
			return 1;
		if (base < m->ram_base || base >= ram_end ||
		    nr * PKVM_RECORD_SIZE > ram_end - base)
			return 1;
		if (spec_overlap(base, nr * PKVM_RECORD_SIZE, r->ctrl_pa, 4096))
			return 1;
		for (unsigned j = 0; j < i; j++)
			if (spec_overlap(base, nr * PKVM_RECORD_SIZE,
					 rings[j].base,
					 rings[j].nr * PKVM_RECORD_SIZE))
				return 1;
		rings[i].base = base;
		rings[i].nr = nr;
	}
	return 0;
}

static int spec_check_fields(const struct spec_machine *m,
			     const struct spec_host_reads *r,
			     struct spec_ring *rings)
{
	uint64_t magic, version, cpus, mode;
	bool all = SPEC_CTRL_FIELD(r, magic, &magic) &&
		   SPEC_CTRL_FIELD(r, version, &version) &&
		   SPEC_CTRL_FIELD(r, cpu_count, &cpus) &&
		   SPEC_CTRL_FIELD(r, mode, &mode);

	/* Any field read and bad is enough for -EINVAL, whatever the order. */
	if (SPEC_CTRL_FIELD(r, magic, &magic) && magic != PKVM_RING_MAGIC)
		return 1;
	if (SPEC_CTRL_FIELD(r, version, &version) &&
	    version != PKVM_RING_VERSION)
		return 1;
	if (SPEC_CTRL_FIELD(r, cpu_count, &cpus) && cpus != m->cpu_count)
		return 1;
	if (SPEC_CTRL_FIELD(r, mode, &mode) && mode != PKVM_RING_WAIT &&
	    mode != PKVM_RING_DROP)
		return 1;
	if (!all)
		return -1;
	return spec_check_rings(m, r, m->cpu_count, rings);
}

static bool spec_ring_shared(const struct spec_machine *m,
			     const struct spec_ring *ring, bool *unknown)
{
	uint64_t first = ring->base >> SPEC_PAGE_SHIFT;
	uint64_t last = (ring->base + ring->nr * PKVM_RECORD_SIZE - 1) >>
			SPEC_PAGE_SHIFT;

	for (uint64_t pfn = first; pfn <= last; pfn++) {
		struct spec_page p = m->page(m->ctx, pfn);

		if (p.hyp == SPEC_ST_UNKNOWN)
			*unknown = true;
		else if (p.hyp != SPEC_ST_SHARED_BORROWED)
			return false;
	}
	return true;
}

void spec_trace_load(const struct spec_machine *m, uint64_t ctrl_pfn,
		     const struct spec_host_reads *reads,
		     struct spec_outcome *out)
{
	struct spec_ring rings[PKVM_RING_MAX_CPUS];
	struct spec_page p;
	int verdict;

	spec_begin(out);
	out->may_enomem = false; /* no page-table change, no allocation */
	if (m->trace_unknown) {
		out->unknown = true;
		return;
	}
	if (m->trace_loaded) {
		spec_result(out, -PKVM_EBUSY);
		return;
	}
	if (!spec_pfn_in_ram(m, ctrl_pfn)) {
		spec_result(out, -PKVM_EINVAL);
		return;
	}
	p = m->page(m->ctx, ctrl_pfn);
	if (p.hyp == SPEC_ST_UNKNOWN) {
		out->unknown = true;
		return;
	}
	if (p.hyp != SPEC_ST_SHARED_BORROWED) {
		spec_result(out, -PKVM_EPERM);
		return;
	}
	if (m->cpu_count > PKVM_RING_MAX_CPUS || !reads) {
		spec_result(out, -PKVM_EINVAL);
		return;
	}
	verdict = spec_check_fields(m, reads, rings);
	if (verdict != 0) {
		/*
		 * -1: the hyp returned without reading a field the rules
		 * need; it can only be right if it refused the call, which
		 * it may only do for a bad value it read. Either way the
		 * expected result is the refusal.
		 */
		{
			spec_result(out, -PKVM_EINVAL);
			return;
		}
	}
	for (unsigned i = 0; i < m->cpu_count; i++) {
		bool unknown = false;

		if (!spec_ring_shared(m, &rings[i], &unknown)) {
			spec_result(out, -PKVM_EPERM);
			return;
		}
		if (unknown) {
			out->unknown = true;
			return;
		}
	}
	/* tracing on; the control page and every ring page pinned */
	out->pin[out->pin_count].first_pfn = ctrl_pfn;
	out->pin[out->pin_count++].last_pfn = ctrl_pfn;
	for (unsigned i = 0; i < m->cpu_count; i++) {
		uint64_t end =
			rings[i].base + rings[i].nr * PKVM_RECORD_SIZE - 1;

		out->pin[out->pin_count].first_pfn =
			rings[i].base >> SPEC_PAGE_SHIFT;
		out->pin[out->pin_count++].last_pfn = end >> SPEC_PAGE_SHIFT;
	}
	spec_result(out, 0);
}

/* Unknown id: NOT_SUPPORTED, x1 unspecified, no effect. */
static void spec_unknown_id(struct spec_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->x0 = PKVM_SMCCC_NOT_SUPPORTED;
}

void spec_test_panic(const struct spec_machine *m, struct spec_outcome *out)
{
	/* Only a test image has it: in production it is an unknown id. */
	if (!m->test_hcalls) {
		spec_unknown_id(out);
		return;
	}
	spec_begin(out);
	out->may_enomem = false;
	out->panics = true;
	spec_result(out, 0);
}

/* ---- dispatch ------------------------------------------------------- */

void spec_hcall(const struct spec_machine *m, const uint64_t x[4],
		const struct spec_host_reads *reads, struct spec_outcome *out)
{
	uint64_t id = x[0] & PKVM_HC_ID_MASK;

	if ((x[0] & ~(uint64_t)PKVM_HC_ID_MASK) != PKVM_HC_BASE)
		id = 0;
	switch (id) {
	case PKVM_HC_SHARE_HYP:
		spec_share_hyp(m, x[1], out);
		return;
	case PKVM_HC_UNSHARE_HYP:
		spec_unshare_hyp(m, x[1], out);
		return;
	case PKVM_HC_HOST_DONATE_HYP:
		spec_host_donate_hyp(m, x[1], x[2], out);
		return;
	case PKVM_HC_HYP_DONATE_HOST:
		spec_hyp_donate_host(m, x[1], x[2], out);
		return;
	case PKVM_HC_TRACE_LOAD:
		spec_trace_load(m, x[1], reads, out);
		return;
	case PKVM_HC_TEST_PANIC:
		spec_test_panic(m, out);
		return;
	default:
		spec_unknown_id(out);
		return;
	}
}

/* ESR_EL2 of an instruction abort from a lower EL (a fetch, not data). */
#define SPEC_EC_IABT_LOW 0x20u

/* The fault status code (ISS[5:0]) says a translation fault: 0b0001xx. */
static bool spec_translation_fault(uint64_t esr)
{
	return (esr & 0x3c) == 0x04;
}

enum spec_abort_kind spec_host_abort(const struct spec_machine *m, uint64_t ipa,
				     uint64_t esr)
{
	uint64_t pfn = ipa >> SPEC_PAGE_SHIFT;
	bool fetch = ((esr >> 26) & 0x3f) == SPEC_EC_IABT_LOW;
	struct spec_page p;

	/*
	 * No mapping resolves a fault beyond the 32-bit input range, or one
	 * that is not a translation fault (permission, access flag, ...):
	 * the host's mappings allow every access it may make.
	 */
	if (ipa >> 32 || !spec_translation_fault(esr))
		return SPEC_ABORT_INJECT;
	/* MMIO is execute-never: a fetch from it is refused at once. */
	if (!spec_pfn_in_ram(m, pfn))
		return fetch ? SPEC_ABORT_INJECT : SPEC_ABORT_MAP_MMIO;
	p = m->page(m->ctx, pfn);
	switch (p.host) {
	case SPEC_ST_OWNED:
	case SPEC_ST_SHARED_OWNED:
		return SPEC_ABORT_MAP_RAM;
	case SPEC_ST_UNKNOWN:
		return SPEC_ABORT_UNKNOWN;
	default:
		return SPEC_ABORT_INJECT;
	}
}

bool spec_smc_is_system_off(uint64_t x0)
{
	return (x0 & 0xffffffffull) == SPEC_PSCI_SYSTEM_OFF;
}

const char *spec_state_name(unsigned st)
{
	static const char *const names[] = {
		"NOPAGE",	   "OWNED",   "SHARED_OWNED",
		"SHARED_BORROWED", "UNKNOWN", "BAD_STATE_BITS",
	};

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}
