// SPDX-License-Identifier: MIT
/* The parts of the view (view.h) that are not inline. */
#include "replay.h"

bool view_range_unsure(const struct ck_view *v, unsigned comp, uint64_t base,
		       uint64_t size)
{
	const struct model *m = v->model;
	uint64_t end = base + size;

	if (!v->any_loss)
		return false;
	if (base < m->ram_base || end > m->ram_base + m->ram_size)
		return true;
	for (uint64_t a = base; a < end; a += 1ull << MODEL_PAGE_SHIFT)
		if (v->unknown[(a - m->ram_base) >> MODEL_PAGE_SHIFT] &
		    (1u << comp))
			return true;
	return false;
}

/* The history lives in the replay's rings of read events (replay.h). */
unsigned view_history(const struct ck_view *v, unsigned cpu,
		      const struct ck_event **out, unsigned max)
{
	const struct ck *ck = (const struct ck *)v; /* its first member */
	const struct ck_cpu *c = &ck->cpu[cpu];
	unsigned n = c->replayed < max ? c->replayed : max;

	for (unsigned i = 0; i < n; i++)
		out[i] = &c->ring[(c->head + c->ring_size - n + i) %
				  c->ring_size];
	return n;
}
