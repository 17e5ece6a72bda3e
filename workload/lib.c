// SPDX-License-Identifier: MIT
/*
 * The two library routines the compiler may emit calls to for structure
 * initialisation and copies in a freestanding image.
 */
#include <stddef.h>

void *memset(void *dst, int ch, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

/** Fills n bytes at dst with ch. */
void *memset(void *dst, int ch, size_t n)
{
	/* volatile: keep the compiler from turning this loop into memset. */
	volatile unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)ch;
	return dst;
}

/** Copies n bytes from src to dst (no overlap). */
void *memcpy(void *dst, const void *src, size_t n)
{
	volatile unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}
