// SPDX-License-Identifier: MIT
/*
 * Where in the code a finding happened, for the report: the host
 * instruction that trapped (its ELR, looked up in the workload image's
 * DWARF), and on the hyp's side the panic site (a PANIC record carries its
 * address) or the function that handles the trap.
 *
 * A trace whose records carry sites (FORMAT.md "Sites") says where in the
 * hyp a descriptor store, a lock or a TLB operation was made: the event's
 * site is named from the hyp image's DWARF, or given as its address. An
 * older trace records no hyp program counter for them, so the hyp side
 * names the handler of the trap the rule was broken in, from a small
 * table of our hyp's entry points (hyp/src/trap.c dispatches to them). It
 * is a reading aid for the `pkvm-check-hyp` profile and judges nothing;
 * tests/cli/run-dwarf checks that every name in it is a function in the
 * built hyp.elf's DWARF, so a rename shows up as a failing test, not as a
 * silent gap in reports.
 */
#include <string.h>

#include <pkvm/abi.h>

#include "report.h"

/* Our hyp's handler of each host hypercall and trap class. */
static const struct {
	unsigned ec;	/* ESR_EL2 exception class */
	unsigned hcall; /* for HVC: the hypercall id */
	const char *fn;
} where_handlers[] = {
	{ 0x16, PKVM_HC_SHARE_HYP, "mem_share_hyp" },
	{ 0x16, PKVM_HC_UNSHARE_HYP, "mem_unshare_hyp" },
	{ 0x16, PKVM_HC_HOST_DONATE_HYP, "mem_host_donate_hyp" },
	{ 0x16, PKVM_HC_HYP_DONATE_HOST, "mem_hyp_donate_host" },
	{ 0x16, PKVM_HC_TRACE_LOAD, "tracing_load" },
	{ 0x16, PKVM_HC_TEST_PANIC, "image_test_hcall" },
	{ 0x17, 0, "trap_smc" },
	{ 0x20, 0, "mem_host_fault" },
	{ 0x24, 0, "mem_host_fault" },
};

static void where_hit(char *buf, size_t len, const char *what,
		      const struct locate_hit *h, uint64_t addr)
{
	char at[48] = "";

	if (addr)
		snprintf(at, sizeof(at), " at 0x%llx",
			 (unsigned long long)addr);
	if (h->file[0])
		snprintf(buf, len, "%s %s (%s:%d)%s", what, h->func, h->file,
			 h->line, at);
	else
		snprintf(buf, len, "%s %s%s", what, h->func, at);
}

/* The host instruction that trapped: HVC returns after itself. */
static void where_host(const struct report *r, const struct ck_event *t,
		       struct report_where *w)
{
	unsigned ec = (unsigned)((t->w[0] >> 26) & 0x3f);
	uint64_t pc = ec == 0x16 ? t->w[1] - 4 : t->w[1];
	const char *what = ec == 0x16	? "hvc in"
			   : ec == 0x17 ? "smc in"
			   : ec == 0x20 ? "instruction fetch in"
			   : ec == 0x24 ? "access in"
					: "trap in";

	/* Assembly may have no DWARF function, or none at all: its
	 * symbol names it then. */
	if (!locate_addr(r->cfg.loc, pc, &w->host_hit)) {
		memset(&w->host_hit, 0, sizeof(w->host_hit));
		if (!elf_images_symbol(r->cfg.elf, pc, w->host_hit.func,
				       sizeof(w->host_hit.func)))
			return;
		w->host_hit.image = "";
	} else if (strcmp(w->host_hit.func, "?") == 0) {
		elf_images_symbol(r->cfg.elf, pc, w->host_hit.func,
				  sizeof(w->host_hit.func));
	}
	w->has_host = true;
	w->host_addr = pc;
	where_hit(w->host, sizeof(w->host), what, &w->host_hit, pc);
}

static const char *where_handler(const struct ck_event *t)
{
	unsigned ec = (unsigned)((t->w[0] >> 26) & 0x3f);
	uint64_t x0 = t->w[4];
	unsigned id = 0;

	if (ec == 0x16 && (x0 & ~(uint64_t)PKVM_HC_ID_MASK) == PKVM_HC_BASE)
		id = (unsigned)(x0 & PKVM_HC_ID_MASK);
	else if (ec == 0x16)
		return NULL;
	for (size_t i = 0;
	     i < sizeof(where_handlers) / sizeof(where_handlers[0]); i++)
		if (where_handlers[i].ec == ec && where_handlers[i].hcall == id)
			return where_handlers[i].fn;
	return NULL;
}

/*
 * The event's site: "pte_write at hyp/src/pgtable.c:252 (pgtable_split,
 * inlined in pgtable_set at pgtable.c:315), pc 0x40201234", or its address
 * alone without an image that knows it.
 */
static void where_site(const struct report *r, const struct ck_event *ev,
		       struct report_where *w)
{
	const char *kind = trace_kind_name(ev->kind);
	struct locate_hit *h = &w->site_hit;
	char via[160] = "";

	w->has_site = true;
	w->site_addr = ev->site;
	if (!locate_site(r->cfg.loc, ev->site, h) || !h->file[0]) {
		snprintf(w->site, sizeof(w->site),
			 "%s at pc 0x%llx (no image names it: give the hyp's "
			 "with --elf)",
			 kind ? kind : "event", (unsigned long long)ev->site);
		return;
	}
	w->site_named = true;
	if (h->inlined[0])
		snprintf(via, sizeof(via), ", %s", h->inlined);
	/* Line 0: code the compiler gave no line (a merged call). */
	snprintf(w->site, sizeof(w->site), "%s at %s%s%.0d (%s%s), pc 0x%llx",
		 kind ? kind : "event", h->file, h->line ? ":" : "", h->line,
		 h->func, via, (unsigned long long)ev->site);
}

/** See report.h. */
void report_locate(const struct report *r, const struct ck_finding *f,
		   struct report_where *w)
{
	const struct ck_event *ev = f->event;
	const char *fn;
	char what[96];

	memset(w, 0, sizeof(*w));
	if (ev->site)
		where_site(r, ev, w);
	if (!locate_count(r->cfg.loc))
		return;
	if (f->trap && f->trap->kbits == PKVM_REC_SOURCE_HOST)
		where_host(r, f->trap, w);
	if (!r->cfg.run ||
	    strcmp(r->cfg.run->info.system, TRACE_SYSTEM_HYP) != 0)
		return;
	if (ev->kind == PKVM_EV_PANIC &&
	    locate_addr(r->cfg.loc, ev->w[1], &w->hyp_hit)) {
		if (strcmp(w->hyp_hit.func, "?") == 0)
			elf_images_symbol(r->cfg.elf, ev->w[1], w->hyp_hit.func,
					  sizeof(w->hyp_hit.func));
		snprintf(what, sizeof(what), "panic (code %llu) in",
			 (unsigned long long)ev->w[0]);
		where_hit(w->hyp, sizeof(w->hyp), what, &w->hyp_hit, ev->w[1]);
		w->hyp_addr = ev->w[1];
		w->has_hyp = true;
		return;
	}
	fn = f->trap ? where_handler(f->trap) : NULL;
	if (fn && locate_func(r->cfg.loc, fn, &w->hyp_hit)) {
		where_hit(w->hyp, sizeof(w->hyp), "in the trap's handler",
			  &w->hyp_hit, 0);
		w->has_hyp = true;
	}
}
