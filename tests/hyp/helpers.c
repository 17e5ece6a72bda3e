/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"

void th_boot(unsigned cpus, unsigned pool_pages)
{
	fake_boot(cpus, pool_pages ? pool_pages : 1000);
}

enum mem_state th_host_state(uint64_t pfn)
{
	if (!hyp_pfn_in_ram(pfn))
		return MEM_NOPAGE;
	struct pgtable_locked l = pgtable_lock(&mem_host_s2);
	enum mem_state st = mem_host_state(l, pfn);
	pgtable_unlock(l);
	return st;
}

/* hyp_s1 is taken only with host_s2 held (abi.h PKVM_LOCK_NEEDS_LIST). */
enum mem_state th_hyp_state(uint64_t pfn)
{
	struct pgtable_locked host, hyp;
	enum mem_state st;

	if (!hyp_pfn_in_ram(pfn))
		return MEM_NOPAGE;
	pgtable_lock2(&mem_host_s2, &mem_hyp_s1, &host, &hyp);
	st = mem_hyp_state(hyp, pfn);
	pgtable_unlock2(hyp, host);
	return st;
}

struct pgtable_walk th_host_walk(uint64_t addr)
{
	struct pgtable_walk w;
	struct pgtable_locked l = pgtable_lock(&mem_host_s2);

	pgtable_walk(l, addr, &w);
	pgtable_unlock(l);
	return w;
}

struct pgtable_walk th_hyp_walk(uint64_t addr)
{
	struct pgtable_walk w;
	struct pgtable_locked host, hyp;

	pgtable_lock2(&mem_host_s2, &mem_hyp_s1, &host, &hyp);
	pgtable_walk(hyp, addr, &w);
	pgtable_unlock2(hyp, host);
	return w;
}

int64_t th_call(unsigned id, uint64_t a1, uint64_t a2)
{
	uint64_t x1 = 0;
	uint64_t x0 = fake_hvc(id, a1, a2, 0, &x1);

	cr_assert_eq(x0, 0, "hypercall %u: x0 = %#llx", id,
		     (unsigned long long)x0);
	return (int64_t)x1;
}

struct pkvm_ring_ctrl *th_ctrl(void)
{
	return fake_mem(TH_CTRL_PA);
}

void th_trace_prepare(uint32_t mode, uint64_t nr, bool share)
{
	struct pkvm_ring_ctrl *c = th_ctrl();
	uint64_t pages = nr * sizeof(struct pkvm_record) / HYP_PAGE_SIZE;

	memset(c, 0, sizeof(*c));
	c->magic = PKVM_RING_MAGIC;
	c->version = PKVM_RING_VERSION;
	c->cpu_count = hyp_cfg.cpu_count;
	c->mode = mode;
	for (unsigned i = 0; i < hyp_cfg.cpu_count; i++) {
		c->cpu[i].base_pa = TH_RING_PA(i);
		c->cpu[i].nr_records = nr;
	}
	if (!share)
		return;
	cr_assert_eq(th_call(PKVM_HC_SHARE_HYP, TH_CTRL_PA >> 12, 0), 0);
	for (unsigned i = 0; i < hyp_cfg.cpu_count; i++)
		for (uint64_t p = 0; p < pages; p++)
			cr_assert_eq(th_call(PKVM_HC_SHARE_HYP,
					     (TH_RING_PA(i) >> 12) + p, 0),
				     0);
}

void th_trace_on(uint64_t nr)
{
	th_trace_prepare(PKVM_RING_DROP, nr, true);
	cr_assert_eq(th_call(PKVM_HC_TRACE_LOAD, TH_CTRL_PA >> 12, 0), 0);
}

size_t th_ring_records(unsigned cpu, struct pkvm_record *out, size_t max)
{
	struct pkvm_ring_ctrl *c = th_ctrl();
	uint64_t head = __atomic_load_n(&c->cpu[cpu].head, __ATOMIC_ACQUIRE);
	uint64_t nr = c->cpu[cpu].nr_records;
	const struct pkvm_record *ring = fake_mem(c->cpu[cpu].base_pa);
	size_t n = 0;

	cr_assert_leq(head, nr, "test rings must not wrap");
	for (uint64_t i = 0; i < head && n < max; i++)
		out[n++] = ring[i];
	return n;
}

size_t th_count(const struct pkvm_record *r, size_t n, unsigned kind,
		uint64_t a)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++)
		if (r[i].kind == kind && !(r[i].flags & PKVM_REC_F_CONT) &&
		    (a == ~0ull || r[i].a == a))
			count++;
	return count;
}
