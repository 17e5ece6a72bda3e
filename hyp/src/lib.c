/* SPDX-License-Identifier: MIT */
/*
 * memset and memcpy for the bare-metal image (the compiler may emit calls
 * to them for struct copies and zeroing). Only linked into hyp.elf.
 */
#include <hyp/hyp.h>

void *memset(void *dst, int c, __SIZE_TYPE__ n)
{
	volatile unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, __SIZE_TYPE__ n)
{
	volatile unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}
