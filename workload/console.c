// SPDX-License-Identifier: MIT
/*
 * Console (PL011 at PKVM_UART_BASE), a lock so that lines from different
 * CPUs never interleave, a small printf, failure and power-off.
 *
 * Each CPU formats a whole line into its own buffer first and only then
 * takes the console lock, so the lock is held for the transmission only.
 */
#include "wl.h"

#define UART_DR 0x00u
#define UART_FR 0x18u
#define UART_FR_TXFF (1u << 5)

/*
 * Attempts at the console lock before printing without it: a CPU that
 * faulted while holding it (or a wedged one) must not silence a failure.
 */
#define CONSOLE_LOCK_TRIES 20000000u

static volatile uint32_t console_lock;
/* Used before the CPU is known (or when it is not valid). */
static char fallback_line[WL_LINE_MAX];

/*
 * Takes a spinlock (__atomic builds ldaxr/stxr loops on Armv8.0, no LSE),
 * giving up after `tries` attempts; true when taken.
 */
static bool lock_bounded(volatile uint32_t *lock, uint32_t tries)
{
	uint32_t expected = 0;

	while (!__atomic_compare_exchange_n(lock, &expected, 1, false,
					    __ATOMIC_ACQUIRE,
					    __ATOMIC_RELAXED)) {
		if (!--tries)
			return false;
		expected = 0;
		__asm__ volatile("yield");
	}
	return true;
}

static void unlock(volatile uint32_t *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

static void uart_putc(char ch)
{
	volatile uint32_t *fr =
		(volatile uint32_t *)(uintptr_t)(PKVM_UART_BASE + UART_FR);
	volatile uint32_t *dr =
		(volatile uint32_t *)(uintptr_t)(PKVM_UART_BASE + UART_DR);

	while (*fr & UART_FR_TXFF)
		;
	*dr = (uint32_t)(unsigned char)ch;
}

struct out {
	char *buf;
	uint32_t len;
	uint32_t cap;
};

static void out_char(struct out *o, char ch)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len++] = ch;
}

static void out_str(struct out *o, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		out_char(o, *s++);
}

static void out_num(struct out *o, uint64_t v, unsigned base, bool neg)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		out_char(o, '-');
	while (n)
		out_char(o, tmp[--n]);
}

/* Reads one integer argument of the size the length modifier says. */
static uint64_t arg_u(va_list *ap, int longs, bool is_signed, bool *neg)
{
	int64_t s;

	*neg = false;
	if (!is_signed)
		return longs ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned);
	s = longs ? va_arg(*ap, int64_t) : va_arg(*ap, int);
	if (s < 0) {
		*neg = true;
		return (uint64_t)0 - (uint64_t)s;
	}
	return (uint64_t)s;
}

/* Supports %s %c %d %i %u %x %p %% with l/ll/z modifiers. */
static void format(struct out *o, const char *fmt, va_list ap)
{
	bool neg;

	for (; *fmt; fmt++) {
		int longs = 0;

		if (*fmt != '%') {
			out_char(o, *fmt);
			continue;
		}
		fmt++;
		while (*fmt == 'l' || *fmt == 'z') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			out_str(o, va_arg(ap, const char *));
			break;
		case 'c':
			out_char(o, (char)va_arg(ap, int));
			break;
		case 'd':
		case 'i': {
			uint64_t v = arg_u(&ap, longs, true, &neg);
			out_num(o, v, 10, neg);
			break;
		}
		case 'u':
			out_num(o, arg_u(&ap, longs, false, &neg), 10, false);
			break;
		case 'x':
			out_num(o, arg_u(&ap, longs, false, &neg), 16, false);
			break;
		case 'p':
			out_str(o, "0x");
			out_num(o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16,
				false);
			break;
		case '%':
			out_char(o, '%');
			break;
		default:
			out_char(o, '?');
			if (!*fmt)
				return;
			break;
		}
	}
}

static char *line_buffer(void)
{
	struct wl_cpu *c = wl_this_cpu();

	return c ? c->line : fallback_line;
}

static void vprint(const char *prefix, const char *fmt, va_list ap,
		   const char *suffix)
{
	struct out o = { line_buffer(), 0, WL_LINE_MAX };
	bool locked;

	out_str(&o, prefix);
	format(&o, fmt, ap);
	out_str(&o, suffix);
	o.buf[o.len] = '\0';
	locked = lock_bounded(&console_lock, CONSOLE_LOCK_TRIES);
	for (uint32_t i = 0; i < o.len; i++) {
		if (o.buf[i] == '\n')
			uart_putc('\r');
		uart_putc(o.buf[i]);
	}
	if (locked)
		unlock(&console_lock);
}

/**
 * Formats into buf (cap bytes, always terminated when cap > 0) and returns
 * the length written, without the terminator. Output that does not fit is
 * cut off.
 */
uint32_t wl_format(char *buf, uint32_t cap, const char *fmt, ...)
{
	struct out o = { buf, 0, cap };
	va_list ap;

	if (!cap)
		return 0;
	va_start(ap, fmt);
	format(&o, fmt, ap);
	va_end(ap);
	o.buf[o.len] = '\0';
	return o.len;
}

/** Prints one formatted message without interleaving with other CPUs. */
void wl_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("", fmt, ap, "");
	va_end(ap);
}

/** Powers the machine off with PSCI SYSTEM_OFF; never returns. */
_Noreturn void wl_power_off(void)
{
	/*
	 * Under the hyp PSCI goes through SMC (trapped by the hyp); without
	 * EL2, QEMU's own PSCI uses the HVC conduit.
	 */
	if (wl_cfg.standalone)
		wl_hvc_raw(WL_PSCI_SYSTEM_OFF, 0, 0, 0, 0);
	else
		wl_smc(WL_PSCI_SYSTEM_OFF);
	for (;;)
		__asm__ volatile("wfe");
}

/** Prints "workload: FAIL <reason>" and powers off. */
_Noreturn void wl_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint("workload: FAIL ", fmt, ap, "\n");
	va_end(ap);
	wl_power_off();
}
