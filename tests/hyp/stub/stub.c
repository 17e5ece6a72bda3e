/* SPDX-License-Identifier: MIT */
/*
 * A minimal host for testing hyp.elf under QEMU (tests/hyp/meson.build,
 * suite qemu): CPU 0 runs hypercalls and checks their results, a donated
 * page's access gets the injected abort, tracing is loaded and CPU 0's ring
 * is checked for consecutive sequence numbers; every CPU checks in; then
 * PSCI SYSTEM_OFF. Prints "stub: PASS" or "stub: FAIL ...".
 */
#include <stdint.h>

#include <pkvm/abi.h>
#include <pkvm/record.h>

#include <pkvm/ring.h>

uint8_t stub_stacks[8][8192] __attribute__((aligned(16)));
volatile uint64_t stub_abort_esr, stub_abort_far, stub_aborts;
static volatile uint32_t stub_checked_in;
static unsigned stub_failures;

#define STUB_CTRL 0x41200000ull
#define STUB_RING(i) (0x41201000ull + (uint64_t)(i)*0x4000)
#define STUB_RING_RECORDS 512u
#define STUB_PAGE_A 0x41300000ull
#define STUB_PAGE_B 0x41310000ull
#define STUB_DRAIN_PAIRS 500u

static void putc_(char c)
{
	volatile uint32_t *uart = (volatile uint32_t *)PKVM_UART_BASE;

	while (uart[6] & (1u << 5))
		;
	uart[0] = (uint32_t)(unsigned char)c;
}

static void puts_(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			putc_('\r');
		putc_(*s);
	}
}

static void putx(uint64_t v)
{
	puts_("0x");
	for (int i = 60; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 0xF]);
}

static uint64_t hvc(uint64_t id, uint64_t a1, uint64_t a2, uint64_t *x1)
{
	register uint64_t r0 __asm__("x0") = PKVM_HC_BASE | id;
	register uint64_t r1 __asm__("x1") = a1;
	register uint64_t r2 __asm__("x2") = a2;
	register uint64_t r3 __asm__("x3") = 0;

	__asm__ volatile("hvc #0"
			 : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3)
			 :
			 : "memory");
	*x1 = r1;
	return r0;
}

static uint64_t smc(uint64_t fid)
{
	register uint64_t r0 __asm__("x0") = fid;

	__asm__ volatile("smc #0" : "+r"(r0) : : "x1", "x2", "x3", "memory");
	return r0;
}

static void expect(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	stub_failures++;
	puts_("stub: FAIL ");
	puts_(what);
	puts_(" got ");
	putx(got);
	puts_(" want ");
	putx(want);
	puts_("\n");
}

static void expect_call(const char *what, uint64_t id, uint64_t a1, uint64_t a2,
			int64_t want)
{
	uint64_t x1;

	expect(what, hvc(id, a1, a2, &x1), 0);
	expect(what, x1, (uint64_t)want);
}

static void test_ownership(void)
{
	uint64_t x1;
	uint64_t pa = STUB_PAGE_A >> 12, pb = STUB_PAGE_B >> 12;

	expect("unknown id", hvc(0x77, 0, 0, &x1), PKVM_SMCCC_NOT_SUPPORTED);
	expect_call("share", PKVM_HC_SHARE_HYP, pa, 0, 0);
	expect_call("share again", PKVM_HC_SHARE_HYP, pa, 0, -PKVM_EPERM);
	expect_call("share mmio", PKVM_HC_SHARE_HYP, 0x9000, 0, -PKVM_EINVAL);
	expect_call("share hyp", PKVM_HC_SHARE_HYP, 0x40300, 0, -PKVM_EPERM);
	expect_call("donate", PKVM_HC_HOST_DONATE_HYP, pb, 2, 0);
	(void)*(volatile uint64_t *)(STUB_PAGE_B + 0x1008);
	expect("abort injected", stub_aborts, 1);
	/* The stub runs in EL1h: the same-EL class (ABI 3). */
	expect("abort esr ec", stub_abort_esr >> 26, 0x25);
	expect("abort far", stub_abort_far, STUB_PAGE_B + 0x1008);
	expect_call("reclaim", PKVM_HC_HYP_DONATE_HOST, pb, 2, 0);
	*(volatile uint64_t *)(STUB_PAGE_B + 0x1008) = 5;
	expect("no abort after reclaim", stub_aborts, 1);
	expect_call("reclaim again", PKVM_HC_HYP_DONATE_HOST, pb, 2,
		    -PKVM_EPERM);
	expect_call("unshare", PKVM_HC_UNSHARE_HYP, pa, 0, 0);
	expect_call("donate zero", PKVM_HC_HOST_DONATE_HYP, pb, 0,
		    -PKVM_EINVAL);
	expect("other smc", smc(0x84000000), PKVM_SMCCC_NOT_SUPPORTED);
}

static void test_tracing(unsigned ncpus)
{
	volatile struct pkvm_ring_ctrl *c =
		(volatile struct pkvm_ring_ctrl *)STUB_CTRL;
	uint64_t pages = STUB_RING_RECORDS * 32 / 4096;

	c->magic = PKVM_RING_MAGIC;
	c->version = PKVM_RING_VERSION;
	c->cpu_count = ncpus;
	c->mode = PKVM_RING_DROP;
	for (unsigned i = 0; i < ncpus; i++) {
		c->cpu[i].base_pa = STUB_RING(i);
		c->cpu[i].nr_records = STUB_RING_RECORDS;
		c->cpu[i].tail = 0;
	}
	expect_call("trace_load unshared", PKVM_HC_TRACE_LOAD, STUB_CTRL >> 12,
		    0, -PKVM_EPERM);
	expect_call("share ctrl", PKVM_HC_SHARE_HYP, STUB_CTRL >> 12, 0, 0);
	expect_call("trace_load rings unshared", PKVM_HC_TRACE_LOAD,
		    STUB_CTRL >> 12, 0, -PKVM_EPERM);
	for (unsigned i = 0; i < ncpus; i++)
		for (uint64_t p = 0; p < pages; p++)
			expect_call("share ring", PKVM_HC_SHARE_HYP,
				    (STUB_RING(i) >> 12) + p, 0, 0);
	c->cpu_count = ncpus + 1;
	expect_call("trace_load bad count", PKVM_HC_TRACE_LOAD, STUB_CTRL >> 12,
		    0, -PKVM_EINVAL);
	c->cpu_count = ncpus;
	expect_call("trace_load", PKVM_HC_TRACE_LOAD, STUB_CTRL >> 12, 0, 0);
	expect_call("trace_load again", PKVM_HC_TRACE_LOAD, STUB_CTRL >> 12, 0,
		    -PKVM_EBUSY);
	expect_call("unshare pinned", PKVM_HC_UNSHARE_HYP, STUB_CTRL >> 12, 0,
		    -PKVM_EBUSY);
	expect("state running", c->state, PKVM_RING_STATE_RUNNING);
}

/* CPU 0's ring: BOOT first, then consecutive sequence numbers (or LOST). */
static void check_ring0(void)
{
	volatile struct pkvm_ring_ctrl *c =
		(volatile struct pkvm_ring_ctrl *)STUB_CTRL;
	const struct pkvm_record *r = (const struct pkvm_record *)STUB_RING(0);
	uint64_t head = __atomic_load_n(&c->cpu[0].head, __ATOMIC_ACQUIRE);
	uint64_t expected = 0;

	expect("ring0 boot first", r[0].kind, PKVM_EV_BOOT);
	for (uint64_t i = 0; i < head && i < STUB_RING_RECORDS; i++) {
		if (r[i].seq != (uint32_t)expected) {
			if (r[i].kind != PKVM_EV_LOST || r[i].b != expected) {
				expect("ring0 seq", r[i].seq, expected);
				return;
			}
			expected += r[i].a;
		}
		expect("ring0 cpu", r[i].cpu, 0);
		expected++;
	}
	puts_("stub: ring0 records=");
	putx(head);
	puts_("\n");
	expect("ring0 has records", head > 50, 1);
}

/* Consume every ring (we are the consumer here): set tail = head. */
static void drain_rings(unsigned ncpus)
{
	volatile struct pkvm_ring_ctrl *c =
		(volatile struct pkvm_ring_ctrl *)STUB_CTRL;

	for (unsigned i = 0; i < ncpus; i++)
		__atomic_store_n(
			&c->cpu[i].tail,
			__atomic_load_n(&c->cpu[i].head, __ATOMIC_ACQUIRE),
			__ATOMIC_RELEASE);
}

/* A steady share + unshare load while this CPU drains: nothing may drop. */
static void drain_load(unsigned ncpus)
{
	uint64_t x1;

	for (unsigned i = 0; i < STUB_DRAIN_PAIRS; i++) {
		drain_rings(ncpus);
		hvc(PKVM_HC_SHARE_HYP, (STUB_PAGE_A >> 12) + (i & 15), 0, &x1);
		hvc(PKVM_HC_UNSHARE_HYP, (STUB_PAGE_A >> 12) + (i & 15), 0,
		    &x1);
	}
	drain_rings(ncpus);
}

void stub_main(uint64_t cpu, uint64_t ncpus)
{
	volatile struct pkvm_ring_ctrl *c =
		(volatile struct pkvm_ring_ctrl *)STUB_CTRL;
	uint64_t x1;

	if (cpu != 0) {
		__atomic_fetch_add(&stub_checked_in, 1, __ATOMIC_ACQ_REL);
		return;
	}
	puts_("stub: cpus=");
	putx(ncpus);
	puts_("\n");
	test_ownership();
	test_tracing((unsigned)ncpus);
	check_ring0();
	drain_rings((unsigned)ncpus);
	hvc(0x77, 0, 0, &x1); /* lets the pending LOST record out */
	uint64_t dropped = c->cpu[0].dropped;
	drain_load((unsigned)ncpus);
	expect("no drops while draining", c->cpu[0].dropped, dropped);
	while (__atomic_load_n(&stub_checked_in, __ATOMIC_ACQUIRE) != ncpus - 1)
		;
	puts_(stub_failures ? "stub: FAIL\n" : "stub: PASS\n");
	smc(0x84000008);
}
