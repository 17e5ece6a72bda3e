/* SPDX-License-Identifier: MIT */
/*
 * Panic, console helpers and the freestanding memset/memcpy.
 */
#include <hyp/arch.h>
#include <hyp/htrace.h>
#include <hyp/hyp.h>
#include <hyp/tracing.h>

/* Set by the first CPU to panic; others stop at their next trap. */
uint32_t hyp_panicking;

/*
 * Only the first panic on the machine reports: the console line first
 * (it needs nothing but the UART), then the PANIC record, then the ring
 * state that tells the consumer everything is published. A panic taken while
 * reporting (say, the record's store faults because the ring itself is what
 * broke) finds the flag set and parks at once instead of recursing, so the
 * machine always stops visibly.
 */
_Noreturn void hyp_panic(uint64_t code, uint64_t addr, const char *why)
{
	if (!__atomic_exchange_n(&hyp_panicking, 1, __ATOMIC_ACQ_REL)) {
		hyp_puts("hyp: PANIC code=");
		hyp_put_dec(code);
		hyp_puts(" addr=");
		hyp_put_hex(addr);
		hyp_puts(": ");
		hyp_puts(why);
		hyp_puts("\n");
		/* This CPU may hold locks: it must not wait for the host. */
		tracing_no_wait();
		htrace_sync();
		htrace1(PKVM_EV_PANIC, 0, code, addr);
		tracing_stop(PKVM_RING_STATE_PANIC, code, addr);
	}
	arch_cpu_park();
}

__attribute__((noinline)) _Noreturn void hyp_check_failed(const char *what)
{
	hyp_panic(PKVM_PANIC_CHECK,
		  (uint64_t)(__UINTPTR_TYPE__)__builtin_return_address(0),
		  what);
}

void hyp_puts(const char *s)
{
	arch_console_puts(s);
}

void hyp_put_hex(uint64_t v)
{
	char buf[19];

	buf[0] = '0';
	buf[1] = 'x';
	for (int i = 0; i < 16; i++) {
		unsigned d = (unsigned)(v >> (60 - 4 * i)) & 0xF;
		buf[2 + i] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	}
	buf[18] = 0;
	arch_console_puts(buf);
}

void hyp_put_dec(uint64_t v)
{
	char buf[21];
	int i = 20;

	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	arch_console_puts(&buf[i]);
}
