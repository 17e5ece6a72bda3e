// SPDX-License-Identifier: MIT
/*
 * linux-6.12: the boot state (LINUX-6.12.md 5.3, check `boot-state`) and
 * the hyp stage-1 attributes of the boot mappings (5.1, 3.4, check
 * `hyp-s1-attributes`).
 *
 * When. 5.3's table holds after `__pkvm_init` returned 0 and every CPU's
 * first `__pkvm_prot_finalize` returned 0; a finalisation changes no table
 * (rule_l612_final.c judges that), so the tables are then as `__pkvm_init`
 * left them, but for what other CPUs' later traps changed. The `region`
 * records that say which page is what are written on cpu0 right after
 * BOOT, but the boot trap may run on another CPU, whose records the
 * linearised replay may take before cpu0's regions (no lock orders
 * them), and the host stage-2's root is named only by the first
 * finalisation's VTTBR_EL2 (LINUX-6.12.md 2). So the rule judges at the
 * first event at which all three hold: the boot trap has returned 0,
 * cpu0 has gone past its regions (an event of cpu0 other than a region,
 * or the end of the replay), and the host stage-2 root is known; it leaves
 * out the pages a store changed between the boot trap's exit and then
 * (those are judged by the rules of the trap that changed them).
 *
 * What. Each RAM page by the region that holds it (first match below):
 * the vGIC global state (host SHARED_BORROWED mapped, hyp SHARED_OWNED,
 * RO); a stack page (host NOPAGE annotated hyp, hyp NOPAGE in the linear
 * map); a per-CPU area or SVE area (host NOPAGE annotated hyp, hyp OWNED,
 * RW); hyp text (RX), rodata (RO), bss (RW), each host NOPAGE annotated
 * hyp and hyp OWNED; the idmap page (host NOPAGE annotated hyp: the hyp
 * maps it, fix_host_ownership annotates every page it maps); the reserved
 * region [hyp_start, hyp_end) (host NOPAGE annotated hyp, hyp OWNED, RW);
 * any other page of a `region ram` (host OWNED and not mapped, hyp
 * NOPAGE; in a NOMAP region, whose host *state* is NOPAGE whatever the
 * table says (3.3), the host stage-2 holds nothing either: it is created
 * empty and fix_host_ownership annotates only what the hyp maps). MMIO,
 * every address outside the `region ram` records: no valid host stage-2
 * leaf or annotation and no valid leaf of the hyp's linear map covers
 * it (one scan of each component's attached tables). A trace without
 * region records, without __pkvm_init, or in which no CPU finalised has
 * its boot state unjudged: an inconclusive note, so the run is not
 * judged whole; a failed __pkvm_init promises nothing (5.1). Attributes
 * (nVHE: AP RW 1, RO 3; hVHE: RW 0, RO 2; XN bit 54 unless executable)
 * are judged on pages whose hyp side is as the table says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>

#include "profile.h"
#include "rule_spec_l612.h"
#include "rules.h"
#include "spec_l612.h"

#define L612B_MAX_REGIONS 64u
#define L612B_MAX_DIRTY 64u

/* What a page is at boot, in the order a page's region is chosen. */
enum l612b_class {
	L612B_OTHER,  /* RAM the host owns */
	L612B_NOMAP,  /* RAM of a NOMAP region: hyp side only */
	L612B_MMIO,   /* no `region ram`: not judged */
	L612B_VGIC,   /* kvm_vgic_global_state */
	L612B_STACK,  /* a CPU's hyp stack */
	L612B_RW,     /* per-CPU, SVE, bss, reserved region */
	L612B_TEXT,   /* RX */
	L612B_RODATA, /* RO */
	L612B_IDMAP,  /* host side only */
};

struct l612b_region {
	uint64_t what, base, size, aux;
};

struct l612b_rule {
	struct l612b_region region[L612B_MAX_REGIONS];
	unsigned region_count;
	bool too_many_regions;
	bool regions_done; /* cpu0 went past its region records */
	int boot_cpu;	   /* the CPU in __pkvm_init, or -1 */
	bool boot_ok;	   /* it returned 0 */
	bool judged;
	struct ck_event boot_exit;
	uint64_t dirty_lo[L612B_MAX_DIRTY], dirty_hi[L612B_MAX_DIRTY];
	unsigned dirty_count;
	bool dirty_overflow;
	struct l612_where where;
	bool hvhe;
	bool no_regions; /* judged without usable region records */
};

/* Set the class of the RAM pages [base, base + size) rounded out. */
static void l612b_paint(uint8_t *cls, const struct ck_boot *b, uint64_t base,
			uint64_t size, unsigned c)
{
	uint64_t lo = base & ~0xfffull, hi = (base + size + 0xfff) & ~0xfffull;

	if (lo < b->ram_base)
		lo = b->ram_base;
	if (hi > b->ram_base + b->ram_size)
		hi = b->ram_base + b->ram_size;
	for (uint64_t pa = lo; pa < hi; pa += 4096)
		cls[(pa - b->ram_base) >> 12] = (uint8_t)c;
}

/*
 * The class of every RAM page (enum l612b_class), one byte each: MMIO
 * outside every `region ram`, then the RAM, the reserved region and the
 * regions painted from the lowest precedence to the highest, so that a
 * page holding two is the first one's of the head comment's order.
 */
static uint8_t *l612b_classes(const struct l612b_rule *r,
			      const struct ck_boot *b)
{
	static const unsigned rank[] = {
		[PKVM_REGION_VGIC_GLOBAL_STATE] = L612B_VGIC,
		[PKVM_REGION_HYP_STACK] = L612B_STACK,
		[PKVM_REGION_HYP_PERCPU] = L612B_RW,
		[PKVM_REGION_HOST_SVE] = L612B_RW,
		[PKVM_REGION_HYP_TEXT] = L612B_TEXT,
		[PKVM_REGION_HYP_RODATA] = L612B_RODATA,
		[PKVM_REGION_HYP_BSS] = L612B_RW,
		[PKVM_REGION_IDMAP] = L612B_IDMAP,
	};
	static const unsigned order[] = {
		L612B_IDMAP, L612B_RODATA, L612B_TEXT,
		L612B_RW,    L612B_STACK,  L612B_VGIC
	};
	uint8_t *cls = malloc(b->ram_size >> 12);

	CK_CHECK(cls != NULL);
	memset(cls, L612B_MMIO, b->ram_size >> 12);
	for (unsigned i = 0; i < r->region_count; i++)
		if (r->region[i].what == PKVM_REGION_RAM)
			l612b_paint(cls, b, r->region[i].base,
				    r->region[i].size,
				    r->region[i].aux & 1 ? L612B_NOMAP
							 : L612B_OTHER);
	if (b->hyp_end > b->hyp_start)
		l612b_paint(cls, b, b->hyp_start, b->hyp_end - b->hyp_start,
			    L612B_RW);
	for (unsigned o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (unsigned i = 0; i < r->region_count; i++) {
			const struct l612b_region *g = &r->region[i];

			if (g->what < sizeof(rank) / sizeof(rank[0]) &&
			    rank[g->what] == order[o])
				l612b_paint(cls, b, g->base, g->size, order[o]);
		}
	return cls;
}

/* The host side the class wants (SPEC_ST_*), or -1: not judged. */
static int l612b_want_host(unsigned cls)
{
	switch (cls) {
	case L612B_OTHER:
	case L612B_NOMAP: /* the table's reading: nothing there */
		return SPEC_ST_OWNED;
	case L612B_VGIC:
		return SPEC_ST_SHARED_BORROWED;
	case L612B_MMIO:
		return -1;
	default:
		return SPEC_ST_NOPAGE;
	}
}

/* The hyp side the class wants, or -1: not judged. */
static int l612b_want_hyp(unsigned cls)
{
	switch (cls) {
	case L612B_OTHER:
	case L612B_NOMAP:
	case L612B_STACK:
		return SPEC_ST_NOPAGE;
	case L612B_VGIC:
		return SPEC_ST_SHARED_OWNED;
	case L612B_RW:
	case L612B_TEXT:
	case L612B_RODATA:
		return SPEC_ST_OWNED;
	default:
		return -1;
	}
}

static const char *l612b_class_name(unsigned cls)
{
	static const char *const names[] = {
		[L612B_OTHER] = "host memory",
		[L612B_NOMAP] = "NOMAP memory",
		[L612B_MMIO] = "MMIO",
		[L612B_VGIC] = "kvm_vgic_global_state",
		[L612B_STACK] = "a hyp stack",
		[L612B_RW] = "hyp data (per-CPU, bss or reserved region)",
		[L612B_TEXT] = "hyp text",
		[L612B_RODATA] = "hyp rodata",
		[L612B_IDMAP] = "the idmap page",
	};
	return names[cls];
}

static bool l612b_dirty(const struct l612b_rule *r, uint64_t pa)
{
	for (unsigned i = 0; i < r->dirty_count; i++)
		if (pa >= r->dirty_lo[i] && pa < r->dirty_hi[i])
			return true;
	return false;
}

/*
 * The hyp stage-1 leaf of `pa`'s linear VA has the class's attributes
 * (LINUX-6.12.md 3.4): text RX, rodata and the vGIC state RO XN, the rest
 * RW XN. Writes what is wrong into `why`.
 */
static bool l612b_attrs_ok(const struct l612b_rule *r, const struct model *m,
			   unsigned cls, uint64_t pa, char *why, size_t len)
{
	uint64_t d = 0;
	int level = 3;
	unsigned ap, rw = r->hvhe ? 0 : 1, ro = r->hvhe ? 2 : 3;
	bool xn, want_w = cls == L612B_RW, want_x = cls == L612B_TEXT;

	if (!model_leaf(m, PKVM_COMP_HYP_S1, pa + r->where.hyp_off, &d,
			&level) ||
	    !(d & 1))
		return true; /* its state is judged instead */
	ap = (unsigned)(d >> 6) & 3;
	xn = (d >> 54) & 1;
	if ((want_w ? ap == rw : ap == ro) && xn == !want_x)
		return true;
	snprintf(why, len, "descriptor 0x%llx: %s%s, wanted %s%s",
		 (unsigned long long)d,
		 ap == rw   ? "RW"
		 : ap == ro ? "RO"
			    : "AP?",
		 xn ? " XN" : " executable", want_w ? "RW" : "RO",
		 want_x ? " executable" : " XN");
	return false;
}

/* [lo, hi) lies in `region ram` records (RAM, NOMAP or not). */
static bool l612b_is_ram(const struct l612b_rule *r, uint64_t lo, uint64_t hi)
{
	while (lo < hi) {
		unsigned i;

		for (i = 0; i < r->region_count; i++) {
			const struct l612b_region *g = &r->region[i];

			if (g->what == PKVM_REGION_RAM && lo >= g->base &&
			    lo - g->base < g->size) {
				lo = g->base + g->size;
				break;
			}
		}
		if (i == r->region_count)
			return false;
	}
	return true;
}

static bool l612b_dirty_range(const struct l612b_rule *r, uint64_t lo,
			      uint64_t hi)
{
	for (unsigned i = 0; i < r->dirty_count; i++)
		if (lo < r->dirty_hi[i] && r->dirty_lo[i] < hi)
			return true;
	return false;
}

/*
 * MMIO at boot (5.3): no valid host stage-2 leaf and no annotation, and no
 * valid leaf of the hyp's linear map (VA = PA + offset), covers an address
 * outside RAM. One scan of the attached tables of each component; the
 * first such entry goes into `what`, and the count is returned.
 */
static unsigned l612b_mmio(const struct l612b_rule *r, const struct model *m,
			   uint64_t *first, char *what, size_t len)
{
	unsigned bad = 0;

	for (uint32_t ti = 0; ti < m->table_count; ti++) {
		const struct model_table *t = m->tables[ti];
		uint64_t size;

		if (!t ||
		    (t->comp != PKVM_COMP_HOST_S2 &&
		     t->comp != PKVM_COMP_HYP_S1) ||
		    !model_table_attached(m, (int)ti))
			continue;
		size = model_entry_size(t->level);
		for (unsigned slot = 0; slot < MODEL_PTRS; slot++) {
			uint64_t d = t->desc[slot], in, out;
			bool host = t->comp == PKVM_COMP_HOST_S2;

			if (!d || d == L612_PTE_LOCKED ||
			    l612_is_table(d, t->level))
				continue;
			in = t->base + (uint64_t)slot * size;
			out = d & 0x0000fffffffff000ull & ~(size - 1);
			if (!l612_is_leaf(d, t->level)) {
				if (!host)
					continue; /* no hyp annotations */
				out = in; /* an annotation of [in, +size) */
			} else if (!host && in - r->where.hyp_off != out) {
				continue; /* outside the linear map */
			}
			if (l612b_is_ram(r, out, out + size) ||
			    l612b_dirty_range(r, out, out + size))
				continue;
			if (!bad++) {
				*first = out;
				snprintf(what, len,
					 "the %s entry 0x%llx at %s 0x%llx "
					 "(%llu KiB) covers 0x%llx, outside "
					 "RAM",
					 host ? "host stage-2" : "hyp stage-1",
					 (unsigned long long)d,
					 host ? "IPA" : "VA",
					 (unsigned long long)in,
					 (unsigned long long)(size >> 10),
					 (unsigned long long)out);
			}
		}
	}
	return bad;
}

/* Judge every RAM page as 5.3's table says (see the head comment). */
static void l612b_judge(struct l612b_rule *r, const struct ck_env *env,
			const struct ck_event *ev)
{
	const struct ck_boot *b = view_boot(env->view);
	const struct model *m = view_model(env->view);
	uint64_t bad = 0, bad_attr = 0, first = 0, first_attr = 0;
	char what[240] = "", attr[240] = "";
	bool have_ram = false;
	unsigned mmio;
	uint8_t *cls_of;

	r->judged = true;
	for (unsigned i = 0; i < r->region_count; i++)
		have_ram |= r->region[i].what == PKVM_REGION_RAM;
	if (!have_ram || r->too_many_regions) {
		r->no_regions = true; /* said at the end */
		return;
	}
	if (view_any_loss(env->view) || r->dirty_overflow) {
		ck_inconclusive(env->out, "boot state: %s",
				r->dirty_overflow
					? "too many changes before the region "
					  "records were replayed"
					: "records were lost");
		return;
	}
	cls_of = l612b_classes(r, b);
	for (uint64_t pa = b->ram_base; pa - b->ram_base < b->ram_size;
	     pa += 4096) {
		unsigned cls = cls_of[(pa - b->ram_base) >> 12];
		int wh = l612b_want_host(cls), wy = l612b_want_hyp(cls);
		uint64_t out, host_out;
		unsigned host, hyp;

		if (cls == L612B_MMIO || l612b_dirty(r, pa))
			continue;
		host = l612_page_side(env, &r->where, PKVM_COMP_HOST_S2, pa,
				      &host_out);
		hyp = l612_page_side(env, &r->where, PKVM_COMP_HYP_S1, pa,
				     &out);
		/* Host OWNED pages are not mapped yet; the vGIC state is. */
		if ((wh >= 0 && host != (unsigned)wh) ||
		    (wy >= 0 && hyp != (unsigned)wy) ||
		    ((cls == L612B_OTHER || cls == L612B_NOMAP) &&
		     host_out != ~0ull) ||
		    (cls == L612B_VGIC && host_out == ~0ull)) {
			if (!bad++) {
				first = pa;
				snprintf(what, sizeof(what),
					 "page 0x%llx (%s): host side %s%s, "
					 "hyp side %s",
					 (unsigned long long)pa,
					 l612b_class_name(cls),
					 spec_state_name(host),
					 host_out != ~0ull ? " mapped" : "",
					 spec_state_name(hyp));
			}
			continue;
		}
		if (wy == SPEC_ST_OWNED || wy == SPEC_ST_SHARED_OWNED) {
			char why[160];

			if (!l612b_attrs_ok(r, m, cls, pa, why, sizeof(why)) &&
			    !bad_attr++) {
				first_attr = pa;
				snprintf(attr, sizeof(attr),
					 "page 0x%llx (%s): %s",
					 (unsigned long long)pa,
					 l612b_class_name(cls), why);
			}
		}
	}
	free(cls_of);
	mmio = bad ? 0 : l612b_mmio(r, m, &first, what, sizeof(what));
	if (mmio)
		ck_finding(env->out, "boot-state", ev, first, false, 0,
			   "after __pkvm_init and the finalisations, neither "
			   "the host stage-2 nor the hyp's linear map maps "
			   "MMIO (LINUX-6.12.md 5.3); %u entr(ies) do, first "
			   "%s",
			   mmio, what);
	if (bad)
		ck_finding(env->out, "boot-state", ev, first, false, 0,
			   "after __pkvm_init and the finalisations, each page "
			   "must be as LINUX-6.12.md 5.3's table says; %llu "
			   "page(s) differ, first %s",
			   (unsigned long long)bad, what);
	if (bad_attr)
		ck_finding(env->out, "hyp-s1-attributes", ev, first_attr, false,
			   0,
			   "the hyp maps its image's sections and data with "
			   "the attributes of LINUX-6.12.md 5.1 (text RX, "
			   "rodata RO, the rest RW, all but text XN); %llu "
			   "page(s) differ, first %s",
			   (unsigned long long)bad_attr, attr);
}

/* Judge once both the boot trap has returned and cpu0's regions are in. */
static void l612b_maybe(struct l612b_rule *r, const struct ck_env *env,
			const struct ck_event *ev)
{
	if (ev->cpu == 0 && ev->kind != PKVM_EV_REGION &&
	    ev->kind != PKVM_EV_BOOT)
		r->regions_done = true;
	if (r->boot_ok && r->regions_done && !r->judged &&
	    view_model(env->view)->root[PKVM_COMP_HOST_S2] >= 0)
		l612b_judge(r, env, ev);
}

static void l612b_boot(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct l612b_rule *r = self;
	const struct ck_boot *b = view_boot(env->view);

	r->where.ram_base = b->ram_base;
	r->where.ram_size = b->ram_size;
	r->where.hyp_off = ev->w[12];
	r->hvhe = b->flags & PKVM_L612_BOOT_HVHE;
}

static void l612b_region(void *self, const struct ck_env *env,
			 const struct ck_event *ev)
{
	struct l612b_rule *r = self;

	(void)env;
	if (r->region_count == L612B_MAX_REGIONS) {
		r->too_many_regions = true;
		return;
	}
	r->region[r->region_count++] =
		(struct l612b_region){ ev->w[0], ev->w[1], ev->w[2], ev->w[3] };
}

static void l612b_entry(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612b_rule *r = self;

	if (r->boot_cpu < 0 && !r->boot_ok &&
	    profile_is_hcall(ev->w, PKVM_L612_HC_PKVM_INIT))
		r->boot_cpu = (int)ev->cpu;
	l612b_maybe(r, env, ev);
}

static void l612b_exit(void *self, const struct ck_env *env,
		       const struct ck_event *ev)
{
	struct l612b_rule *r = self;

	if (r->boot_cpu == (int)ev->cpu) {
		r->boot_cpu = -2; /* once */
		r->boot_ok = ev->w[0] == 0 && ev->w[1] == 0;
		r->boot_exit = *ev;
	}
	l612b_maybe(r, env, ev);
}

/* A store after the boot trap's exit, before the judgement: its range. */
static void l612b_store(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	struct l612b_rule *r = self;
	const struct model_write *w = view_store_write(env->view);
	const struct model *m = view_model(env->view);
	uint64_t ia, size;

	if (r->boot_ok && !r->judged && w->table >= 0 &&
	    (w->comp == PKVM_COMP_HOST_S2 || w->comp == PKVM_COMP_HYP_S1)) {
		size = model_entry_size(w->level);
		ia = m->tables[w->table]->base +
		     ((ev->w[0] & 0xfff) >> 3) * size;
		if (w->comp == PKVM_COMP_HYP_S1)
			ia -= r->where.hyp_off;
		if (r->dirty_count == L612B_MAX_DIRTY) {
			r->dirty_overflow = true;
		} else {
			r->dirty_lo[r->dirty_count] = ia;
			r->dirty_hi[r->dirty_count++] = ia + size;
		}
	}
	l612b_maybe(r, env, ev);
}

static void l612b_other(void *self, const struct ck_env *env,
			const struct ck_event *ev)
{
	/* (Once judged, nothing: it is on most events' path.) */
	if (!((struct l612b_rule *)self)->judged)
		l612b_maybe(self, env, ev);
}

static void l612b_end(void *self, const struct ck_env *env)
{
	struct l612b_rule *r = self;

	if (r->boot_cpu == -1) { /* never entered */
		ck_inconclusive(env->out,
				"boot state (boot-state) not judged: the "
				"trace holds no __pkvm_init (LINUX-6.12.md "
				"5.1)");
		return;
	}
	/* (a failed __pkvm_init promises nothing: 5.1) */
	if (r->boot_ok && !r->judged &&
	    view_model(env->view)->root[PKVM_COMP_HOST_S2] < 0) {
		r->judged = true;
		ck_inconclusive(env->out,
				"boot state (boot-state) not judged: no CPU "
				"finalised, the host stage-2 was never named "
				"(LINUX-6.12.md 5.3)");
	} else if (r->boot_ok && !r->judged) {
		l612b_judge(r, env, &r->boot_exit);
	}
	/* Said last, after any other note of the run. */
	if (r->no_regions)
		ck_inconclusive(env->out,
				"boot state (boot-state, hyp-s1-attributes) "
				"not judged: the trace has no usable region "
				"records (LINUX-6.12.md 5.3)");
}

static void *l612b_create(const struct ck_env *env, unsigned cpu_count)
{
	struct l612b_rule *r = calloc(1, sizeof(*r));

	(void)env;
	(void)cpu_count;
	CK_CHECK(r != NULL);
	r->boot_cpu = -1;
	return r;
}

const struct ck_rule rule_l612_boot = {
	.name = "l612-boot",
	.system = PKVM_SYSTEM_LINUX612,
	.create = l612b_create,
	.destroy = free,
	.boot = l612b_boot,
	.region = l612b_region,
	.trap_entry = l612b_entry,
	.trap_exit = l612b_exit,
	.store_after = l612b_store,
	.sysreg = l612b_other,
	.nondet = l612b_other,
	.host_read = l612b_other,
	.maintenance = l612b_other,
	.lock_acquire = l612b_other,
	.boot_linux = l612b_other,
	.mark = l612b_other,
	.end = l612b_end,
};
