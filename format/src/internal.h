/* SPDX-License-Identifier: MIT */
/*
 * Private layout constants of the trace container (FORMAT.md) shared by the
 * writer and the reader. Not installed; tests include it to build corrupt
 * files on purpose.
 */
#ifndef PKVM_FORMAT_INTERNAL_H
#define PKVM_FORMAT_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include <pkvm/record.h>

/*
 * Format version written by this library; see FORMAT.md "Versioning".
 * 2.0 added the compact kinds (HCALL_ENTRY ... LOCK_RELEASE2) and the TLBI
 * barrier flags; a 1.x reader would skip a hypercall's entry, so they took
 * a new major. 3.0 added HCALL_ENTRY_LOCK2 and HCALL_EXIT_UNLOCK2, which a
 * 2.x reader would skip the same way. 4.0 added the header's `system`
 * name and the run's outcome and the producers' own counters to the end
 * summary (a 3.x reader would reject the longer summary, and a 4.0 file
 * without them could not say whether the run was whole). Readers still
 * read 1.x, 2.x and 3.x files, each knowing the kinds its version defined.
 * 4.1 added kinds 20-23 (region, boot_linux, lock_info, trap_regs): a 4.0
 * reader skips them, losing only what they add; in a 4.0 file they are
 * unknown (BAD_RECORD), as any kind a file's own version does not define.
 *
 * 5.0 gave the high bits of some words a meaning (sites, FORMAT.md 3.2): a
 * 4.x reader would take them for part of an address or lock id, hence the
 * major. Its kinds and layouts are 4.1's.
 */
#define TRACE_VERSION_MAJOR 5u
#define TRACE_VERSION_MINOR 0u
#define TRACE_V4_MINOR 1u /* the last 4.x minor */
#define TRACE_V40_MAX_KIND                                                     \
	PKVM_EV_HCALL_EXIT_UNLOCK2		/* the last kind of 4.0        \
						 */
#define TRACE_V1_MINOR 0u			/* the last 1.x minor */
#define TRACE_V1_MAX_KIND PKVM_EV_MARK		/* the last kind 1.x defines */
#define TRACE_V2_MINOR 0u			/* the last 2.x minor */
#define TRACE_V2_MAX_KIND PKVM_EV_LOCK_RELEASE2 /* the last kind of 2.x */
#define TRACE_V3_MINOR 0u			/* the last 3.x minor */
#define TRACE_V3_MAX_KIND                                                      \
	PKVM_EV_HCALL_EXIT_UNLOCK2 /* the last kind of 3.x                     \
				    */

/* zstd frame magics (RFC 8878) and the seekable-format footer magic. */
#define TRACE_ZSTD_MAGIC 0xFD2FB528u
#define TRACE_SKIP_MAGIC_MIN 0x184D2A50u
#define TRACE_SKIP_MAGIC_MASK 0xFFFFFFF0u
#define TRACE_SKIP_HEADER 0x184D2A50u  /* file header */
#define TRACE_SKIP_SUMMARY 0x184D2A51u /* end summary */
#define TRACE_SKIP_SEEK 0x184D2A5Eu    /* seek table (zstd seekable) */
#define TRACE_SEEKABLE_MAGIC 0x8F92EAB1u
#define TRACE_ZSTD_HEADER_MAX 18u /* longest zstd frame header */
#define TRACE_SEEK_FOOTER_SIZE 9u
#define TRACE_SEEK_ENTRY_SIZE 8u /* no checksums: descriptor bit 7 clear */

/* Payload magics inside our skippable frames. */
#define TRACE_HEADER_MAGIC "PKVMTRAC"
#define TRACE_SUMMARY_MAGIC "PKVMSUMM"
#define TRACE_MAGIC_LEN 8u

/*
 * File header payload: fixed part, then the event table, then identity.
 * From 4.0 the fixed part ends with the 16-byte `system` name.
 */
#define TRACE_HEADER_FIXED_V3 48u
#define TRACE_HEADER_FIXED 64u
#define TRACE_SYSTEM_LEN 16u
#define TRACE_EVENT_ENTRY 24u
#define TRACE_EVENT_NAME_LEN 16u
#define TRACE_MAX_CPUS 1024u

/* Pages: a 32-byte header then up to 127 records. */
#define TRACE_PAGE_SIZE 4096u
#define TRACE_PAGE_HEADER 32u
#define TRACE_PAGE_MAGIC 0x47504B50u /* "PKPG" little-endian */
#define TRACE_PAGE_RECORDS ((TRACE_PAGE_SIZE - TRACE_PAGE_HEADER) / 32u)

/*
 * Pages per zstd frame. 64 pages (256 KiB) keeps a decoded frame inside a
 * core's L2 cache while the records are walked and gives a fine seek grain,
 * for about 2% more bytes than 1 MiB frames (FORMAT.md 5.2). Readers
 * accept any whole number of pages up to TRACE_MAX_FRAME_BYTES.
 */
#define TRACE_FRAME_PAGES 64u
/* Frames a CPU's page may stay open before the writer closes it. */
#define TRACE_PAGE_MAX_AGE 4u
#define TRACE_MAX_FRAME_BYTES (4u << 20)

/* zstd level 1: the recorder compresses live, so speed comes first. */
#define TRACE_ZSTD_LEVEL 1

/*
 * Summary payload: magic, cpu_count, frame_count, (4.0) outcome, reserved
 * and the reason; then the per-CPU table and the per-frame time index.
 * 4.0 per CPU: records, lost, last_seq, pages, produced, dropped.
 */
#define TRACE_SUMMARY_FIXED_V3 16u
#define TRACE_SUMMARY_CPU_V3 32u
#define TRACE_SUMMARY_FIXED 152u
#define TRACE_SUMMARY_WHY 128u
#define TRACE_SUMMARY_CPU 48u
#define TRACE_SUMMARY_FRAME 16u

/** The 32-byte page header, as stored. */
struct trace_page_header {
	uint32_t magic;	      /* TRACE_PAGE_MAGIC */
	uint16_t cpu;	      /* CPU whose records the page holds */
	uint16_t reserved;    /* zero */
	uint32_t page_seq;    /* per-CPU page number, from 0; wraps */
	uint32_t used;	      /* bytes of records after the header */
	uint64_t lost_before; /* LOST counts of this CPU in earlier pages */
	uint32_t seq_hi;      /* upper half of the first record's 64-bit seq */
	uint32_t reserved2;   /* zero */
};

_Static_assert(sizeof(struct trace_page_header) == TRACE_PAGE_HEADER,
	       "page header is 32 bytes");

/*
 * Page encoding (FORMAT.md "Page encoding"): inside a stored page, each
 * record's `ts` and `seq` hold the difference from the previous record's
 * (the first record's from zero), modulo 2^64 and 2^32. Consecutive records
 * of a CPU are close in time and sequence, so the differences are small and
 * repetitive, and zstd compresses them about twice as well as the raw values.
 * Each page still decodes on its own (reader_pages_decode, reader_pagesum.c).
 */
static inline void trace_page_delta_encode(struct pkvm_record *rec, unsigned n)
{
	uint64_t ts = 0;
	uint32_t seq = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t t = rec[i].ts;
		uint32_t s = rec[i].seq;

		rec[i].ts = t - ts;
		rec[i].seq = s - seq;
		ts = t;
		seq = s;
	}
}

static inline uint16_t trace_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t trace_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t trace_le64(const uint8_t *p)
{
	return (uint64_t)trace_le32(p) | (uint64_t)trace_le32(p + 4) << 32;
}

static inline void trace_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void trace_put32(uint8_t *p, uint32_t v)
{
	trace_put16(p, (uint16_t)v);
	trace_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void trace_put64(uint8_t *p, uint64_t v)
{
	trace_put32(p, (uint32_t)v);
	trace_put32(p + 4, (uint32_t)(v >> 32));
}

/*
 * Extend a 32-bit sequence number against the previous 64-bit one: a step
 * of 1 .. 2^31 - 1 is forward (gaps are losses); anything else, equality
 * included, goes backwards. Returns 0 and sets *ext, or -1.
 */
static inline int trace_seq_extend(uint64_t prev, uint32_t seq, uint64_t *ext)
{
	uint32_t delta = seq - (uint32_t)prev;

	if (delta == 0 || delta >= 0x80000000u)
		return -1;
	*ext = prev + delta;
	return 0;
}

/** Fill `err` (may be NULL) with a printf-style message. */
struct trace_error;
void trace_set_error(struct trace_error *err, int code, uint64_t offset,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif /* PKVM_FORMAT_INTERNAL_H */
