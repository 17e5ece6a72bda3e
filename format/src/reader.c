/* SPDX-License-Identifier: MIT */
/*
 * Trace reader (FORMAT.md "Reading"). Laid out like the format: an input
 * layer that hands out bytes of the file, the file header, the frame loop
 * (zstd frames of pages, skippable frames for the summary and seek table),
 * the page checks, and the record checks behind the two cursors.
 *
 * Decoded frames live in a small pool (reader_pool.c). The per-CPU cursor
 * queues references to pages of other CPUs instead of copying them, and a
 * frame goes back to the pool once every page in it has been read. The
 * pool is capped: a file whose CPUs are too far apart to read in bounded
 * memory gives SKEW.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>
#include <zstd_errors.h>

#include <pkvm/trace.h>

#include "internal.h"
#include "reader.h"

/** See trace.h. */
const struct trace_info *trace_reader_info(const struct trace_reader *r)
{
	return r ? &r->info : NULL;
}

/* ---- input layer ----------------------------------------------------- */

/*
 * Make at least `n` unread bytes available in r->in (fewer only at end of
 * file). Returns how many are available, or -1 on an I/O error, which is
 * recorded unless `quiet` (the prefetcher leaves errors to the next
 * synchronous read, so they are reported in file order).
 */
ssize_t reader_in_fill(struct trace_reader *r, size_t n, bool quiet)
{
	if (r->in_len - r->in_pos >= n || r->in_eof)
		return (ssize_t)(r->in_len - r->in_pos);
	if (r->in_pos > 0) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_off += r->in_pos;
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	if (n > r->in_cap) {
		size_t cap = n < 2 * r->in_cap ? 2 * r->in_cap : n;
		uint8_t *p = realloc(r->in, cap);

		if (!p)
			return quiet ? -1
				     : FAIL(r, TRACE_E_NOMEM, r->in_off,
					    "no memory for a %zu-byte input "
					    "buffer",
					    cap);
		r->in = p;
		r->in_cap = cap;
	}
	while (r->in_len < n && !r->in_eof) {
		ssize_t got =
			read(r->fd, r->in + r->in_len, r->in_cap - r->in_len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return quiet ? -1
				     : FAIL(r, TRACE_E_IO,
					    r->in_off + r->in_len,
					    "read failed: %s", strerror(errno));
		if (got == 0)
			r->in_eof = true;
		r->in_len += (size_t)got;
	}
	return (ssize_t)(r->in_len - r->in_pos);
}

static ssize_t in_need(struct trace_reader *r, size_t n)
{
	return reader_in_fill(r, n, false);
}

static uint64_t in_offset(const struct trace_reader *r)
{
	return r->in_off + r->in_pos;
}

/* Skip `n` bytes. Returns 0, 1 if the file ends first, -1 on error. */
static int in_skip(struct trace_reader *r, uint64_t n)
{
	while (n > 0) {
		size_t chunk = n < r->in_cap ? (size_t)n : r->in_cap;
		ssize_t avail = in_need(r, chunk);

		if (avail < 0)
			return -1;
		if (avail == 0)
			return 1;
		if ((uint64_t)avail > n)
			avail = (ssize_t)n;
		r->in_pos += (size_t)avail;
		n -= (uint64_t)avail;
	}
	return 0;
}

/** Forget buffered input and continue reading at `offset`. */
int reader_in_seek(struct trace_reader *r, uint64_t offset)
{
	if (lseek(r->fd, (off_t)offset, SEEK_SET) < 0)
		return FAIL(r, TRACE_E_IO, offset, "seek failed: %s",
			    strerror(errno));
	r->in_off = offset;
	r->in_pos = 0;
	r->in_len = 0;
	r->in_eof = false;
	return 0;
}

/* ---- file header ----------------------------------------------------- */

static int header_check_events(struct trace_reader *r, const uint8_t *p,
			       uint32_t count)
{
	for (uint32_t i = 0; i < count; i++, p += TRACE_EVENT_ENTRY) {
		unsigned kind = p[0];

		/* A known kind must keep its shape, or records misparse. */
		if (kind >= 1 && kind <= r->max_kind &&
		    p[1] != pkvm_event_ncont(kind))
			return FAIL(r, TRACE_E_BAD_HEADER, 8 + 48,
				    "event table gives kind %u %u continuation "
				    "records, this reader knows it with %u",
				    kind, p[1], pkvm_event_ncont(kind));
	}
	return 0;
}

static int header_parse(struct trace_reader *r, const uint8_t *p, uint32_t len)
{
	struct trace_info *info = &r->info;
	uint32_t events, idlen;

	info->version_major = trace_le16(p + 8);
	info->version_minor = trace_le16(p + 10);
	info->cpu_count = trace_le32(p + 12);
	info->counter_freq = trace_le64(p + 16);
	info->abi_version = trace_le32(p + 24);
	events = trace_le32(p + 36);
	idlen = trace_le32(p + 40);
	if (r->header_fixed >= TRACE_HEADER_FIXED && len >= r->header_fixed) {
		memcpy(info->system, p + 48, TRACE_SYSTEM_LEN);
		info->system[TRACE_SYSTEM_LEN] = '\0';
		if (!info->system[0])
			return FAIL(r, TRACE_E_BAD_HEADER, 8 + 48,
				    "header names no system");
	} else {
		strcpy(info->system, TRACE_SYSTEM_HYP);
	}
	if (info->cpu_count == 0 || info->cpu_count > TRACE_MAX_CPUS)
		return FAIL(r, TRACE_E_BAD_HEADER, 20,
			    "header gives %u CPUs (1..%u allowed)",
			    info->cpu_count, TRACE_MAX_CPUS);
	if (trace_le32(p + 28) != TRACE_PAGE_SIZE)
		return FAIL(r, TRACE_E_BAD_HEADER, 36,
			    "header gives page size %u (only %u supported)",
			    trace_le32(p + 28), TRACE_PAGE_SIZE);
	if (events > 255 || idlen >= sizeof(info->identity) ||
	    r->header_fixed + (uint64_t)events * TRACE_EVENT_ENTRY + idlen >
		    len)
		return FAIL(r, TRACE_E_BAD_HEADER, 44,
			    "header tables (%u events, %u identity bytes) do "
			    "not fit its %u bytes",
			    events, idlen, len);
	memcpy(info->identity, p + r->header_fixed + events * TRACE_EVENT_ENTRY,
	       idlen);
	info->identity[idlen] = '\0';
	return header_check_events(r, p + r->header_fixed, events);
}

/*
 * The majors this reader reads, and what each defines (FORMAT.md 6): 1.x
 * and 2.x files (saved recordings) keep being read as 1.0 and 2.0 read
 * them, so the kinds later majors added are unknown there. Returns -1 for
 * any other major.
 */
static int header_version(struct trace_reader *r, unsigned major,
			  unsigned minor)
{
	r->header_fixed = TRACE_HEADER_FIXED_V3;
	r->summary_fixed = TRACE_SUMMARY_FIXED_V3;
	r->summary_cpu = TRACE_SUMMARY_CPU_V3;
	if (major == 1) {
		r->max_kind = TRACE_V1_MAX_KIND;
		r->known_minor = TRACE_V1_MINOR;
		return 0;
	}
	if (major == 2) {
		r->max_kind = TRACE_V2_MAX_KIND;
		r->known_minor = TRACE_V2_MINOR;
		return 0;
	}
	if (major == 3) {
		r->max_kind = TRACE_V3_MAX_KIND;
		r->known_minor = TRACE_V3_MINOR;
		return 0;
	}
	if (major == 4 || major == TRACE_VERSION_MAJOR) {
		/* 4.0 files know the kinds of 3.0; 4.1 added 20-23; 5.0 has
		 * 4.1's kinds and layouts (it gave sites their bits). */
		r->max_kind = major > 4 || minor >= 1 ? PKVM_EV_MAX_KNOWN
						      : TRACE_V40_MAX_KIND;
		r->known_minor =
			major == 4 ? TRACE_V4_MINOR : TRACE_VERSION_MINOR;
		r->header_fixed = TRACE_HEADER_FIXED;
		r->summary_fixed = TRACE_SUMMARY_FIXED;
		r->summary_cpu = TRACE_SUMMARY_CPU;
		return 0;
	}
	return -1;
}

/* Bytes of the header payload this reader accepts at most. */
#define HEADER_MAX (TRACE_HEADER_FIXED + 255 * TRACE_EVENT_ENTRY + 4096)

static int header_read(struct trace_reader *r)
{
	static const uint8_t want[16] = { 0x50, 0x2A, 0x4D, 0x18, 0,   0,
					  0,	0,    'P',  'K',  'V', 'M',
					  'T',	'R',  'A',  'C' };
	ssize_t avail = in_need(r, 8 + 12);
	uint32_t len;

	if (avail < 0)
		return -1;
	for (ssize_t i = 0; i < avail && i < 16; i++)
		if (i < 4 || i >= 8)
			if (r->in[i] != want[i])
				return FAIL(r, TRACE_E_BAD_MAGIC, (uint64_t)i,
					    "not a pkvm trace: byte %zd of "
					    "the file header is 0x%02x",
					    i, r->in[i]);
	if (avail < 8 + 12)
		return FAIL(r, TRACE_E_TRUNCATED, (uint64_t)avail,
			    "file ends inside the file header");
	if (header_version(r, trace_le16(r->in + 16), trace_le16(r->in + 18)) <
	    0)
		return FAIL(r, TRACE_E_BAD_VERSION, 16,
			    "format version %u.%u is not supported: this "
			    "reader reads versions 1.x to 4.x and %u.x",
			    trace_le16(r->in + 16), trace_le16(r->in + 18),
			    TRACE_VERSION_MAJOR);
	len = trace_le32(r->in + 4);
	if (len < r->header_fixed || len > HEADER_MAX)
		return FAIL(r, TRACE_E_BAD_HEADER, 4,
			    "file header is %u bytes long (%u..%u allowed)",
			    len, r->header_fixed, (unsigned)HEADER_MAX);
	avail = in_need(r, 8 + (size_t)len);
	if (avail < 0)
		return -1;
	if ((size_t)avail < 8 + (size_t)len)
		return FAIL(r, TRACE_E_TRUNCATED, (uint64_t)avail,
			    "file ends inside the file header");
	if (header_parse(r, r->in + 8, len) < 0)
		return -1;
	r->header_size = 8 + (uint64_t)len;
	r->in_pos += 8 + (size_t)len;
	r->valid_end = r->header_size;
	return 0;
}

/* ---- pages ----------------------------------------------------------- */

/* Check one page header; pages must follow each other per CPU. */
static int page_check(struct trace_reader *r, const uint8_t *p, uint64_t offset,
		      unsigned index)
{
	uint32_t cpu = trace_le16(p + 4), seq = trace_le32(p + 8);
	uint32_t used = trace_le32(p + 12);
	struct rcpu *c;

	if (trace_le32(p) != TRACE_PAGE_MAGIC || trace_le16(p + 6) != 0 ||
	    trace_le32(p + 28) != 0)
		return FAIL(r, TRACE_E_BAD_PAGE, offset,
			    "page %u of the frame at offset %llu has a bad "
			    "magic or nonzero reserved fields",
			    index, (unsigned long long)offset);
	if (cpu >= r->info.cpu_count || reader_page_records(p) < 0)
		return FAIL(r, TRACE_E_BAD_PAGE, offset,
			    "page %u of the frame at offset %llu claims CPU %u "
			    "and %u bytes of records",
			    index, (unsigned long long)offset, cpu, used);
	c = &r->cpus[cpu];
	if (c->page_started ? seq != c->next_page_seq : (!r->seeked && seq))
		return FAIL(r, TRACE_E_PAGE_ORDER, offset,
			    "CPU %u: page #%u comes where page #%u belongs "
			    "(page %u of the frame at offset %llu)",
			    cpu, seq, c->page_started ? c->next_page_seq : 0,
			    index, (unsigned long long)offset);
	c->page_started = true;
	c->next_page_seq = seq + 1;
	return 0;
}

/**
 * Check every page header of a decoded frame, in order. Its records were
 * decoded (reader_pages_decode) and its time range set before.
 */
int reader_pages_check(struct trace_reader *r, int slot)
{
	struct rframe *f = &r->frames[slot];

	for (unsigned i = 0; i < f->size / TRACE_PAGE_SIZE; i++)
		if (page_check(r, f->data + (size_t)i * TRACE_PAGE_SIZE,
			       f->offset, i) < 0)
			return -1;
	f->hdr_sum = reader_pages_sum(f->data, f->size);
	return 0;
}

/** See reader.h. */
uint64_t reader_pages_sum(const uint8_t *data, size_t size)
{
	uint64_t h = 1;

	for (size_t off = 0; off + TRACE_PAGE_SIZE <= size;
	     off += TRACE_PAGE_SIZE) {
		if (reader_page_records(data + off) < 0)
			return 0;
		for (unsigned k = 0; k < TRACE_PAGE_HEADER; k += 8)
			h = (h ^ trace_le64(data + off + k)) * 0x100000001b3ull;
	}
	return h | 1;
}

/**
 * A data frame of `csize` compressed bytes was decoded into `slot` and its
 * pages checked: check its time range against the summary's frame index
 * and move past it. Returns the slot, or -1.
 */
int reader_frame_done(struct trace_reader *r, int slot, uint64_t csize)
{
	const struct rframe *f = &r->frames[slot];

	if (reader_check_frame_ts(r, f) < 0)
		return -1;
	r->frames[slot].csize = (uint32_t)csize;
	r->valid_end = f->offset + csize;
	r->data_index++;
	r->frames_decoded++;
	return slot;
}

/* ---- frame loop ------------------------------------------------------ */

/*
 * The data ends here without the seek table, `cut` says where: keep the
 * valid prefix. The input has reached the end of the file.
 */
static int end_truncated(struct trace_reader *r, enum trace_cut cut)
{
	r->at_end = true;
	r->truncated = true;
	r->cut = cut;
	r->file_end = r->in_off + r->in_len;
	return -2;
}

/* Decoded size of the zstd frame at the input position, or -2/-1. */
static int64_t frame_dsize(struct trace_reader *r, uint64_t off)
{
	ssize_t avail = in_need(r, TRACE_ZSTD_HEADER_MAX);
	unsigned long long dsize;

	if (avail < 0)
		return -1;
	dsize = ZSTD_getFrameContentSize(r->in + r->in_pos, (size_t)avail);
	if (dsize == ZSTD_CONTENTSIZE_ERROR &&
	    (size_t)avail < TRACE_ZSTD_HEADER_MAX && r->in_eof)
		return end_truncated(r, TRACE_CUT_FRAME_HEADER);
	if (dsize == ZSTD_CONTENTSIZE_ERROR)
		return FAIL(r, TRACE_E_ZSTD, off,
			    "zstd frame at offset %llu has a malformed header",
			    (unsigned long long)off);
	if (dsize == ZSTD_CONTENTSIZE_UNKNOWN || dsize == 0 ||
	    dsize % TRACE_PAGE_SIZE || dsize > TRACE_MAX_FRAME_BYTES)
		return FAIL(r, TRACE_E_BAD_PAGE, off,
			    "zstd frame at offset %llu does not hold 1 to %u "
			    "whole pages",
			    (unsigned long long)off,
			    TRACE_MAX_FRAME_BYTES / TRACE_PAGE_SIZE);
	return (int64_t)dsize;
}

/* Compressed size of the frame, reading until it is all buffered. */
static int64_t frame_csize(struct trace_reader *r, uint64_t off)
{
	size_t want = 128u << 10;
	size_t limit = ZSTD_compressBound(TRACE_MAX_FRAME_BYTES) + 64;
	size_t idx = (size_t)r->data_index + 1;

	/* The seek table says how much to read, saving retries. */
	if (r->have_table && idx + 1 < r->entry_count) {
		const struct rentry *e = reader_entry(r, idx);

		if (!e)
			return -1;
		if (e->csize <= limit)
			want = e->csize;
	}
	for (;;) {
		ssize_t avail = in_need(r, want);
		size_t cs;

		if (avail < 0)
			return -1;
		cs = ZSTD_findFrameCompressedSize(r->in + r->in_pos,
						  (size_t)avail);
		if (!ZSTD_isError(cs))
			return (int64_t)cs;
		if (ZSTD_getErrorCode(cs) != ZSTD_error_srcSize_wrong)
			return FAIL(r, TRACE_E_ZSTD, off,
				    "zstd frame at offset %llu is corrupt: %s",
				    (unsigned long long)off,
				    ZSTD_getErrorName(cs));
		if ((size_t)avail < want)
			return end_truncated(r, TRACE_CUT_DATA_FRAME);
		if (want >= limit)
			return FAIL(r, TRACE_E_ZSTD, off,
				    "zstd frame at offset %llu is larger than "
				    "%zu bytes",
				    (unsigned long long)off, limit);
		want = want * 2 < limit ? want * 2 : limit;
	}
}

static int frame_decode(struct trace_reader *r, int slot, size_t csize,
			size_t dsize, uint64_t off)
{
	struct rframe *f = &r->frames[slot];
	size_t got = ZSTD_decompressDCtx(r->dctx, f->data, f->cap,
					 r->in + r->in_pos, csize);

	if (ZSTD_isError(got) &&
	    ZSTD_getErrorCode(got) == ZSTD_error_checksum_wrong)
		return FAIL(r, TRACE_E_CHECKSUM, off,
			    "zstd frame at offset %llu fails its content "
			    "checksum",
			    (unsigned long long)off);
	if (ZSTD_isError(got) || got != dsize)
		return FAIL(r, TRACE_E_ZSTD, off,
			    "zstd frame at offset %llu cannot be decoded: %s",
			    (unsigned long long)off,
			    ZSTD_isError(got) ? ZSTD_getErrorName(got)
					      : "wrong decoded size");
	f->size = got;
	reader_pages_decode(f->data, f->size, &f->ts_lo, &f->ts_hi,
			    r->head_bits, r->head_flags,
			    reader_pagesum_wanted(r)
				    ? reader_buffer_sums(f->data, f->cap)
				    : NULL);
	return 0;
}

/* One zstd frame of pages: returns its slot, -2 at a truncated end. */
static int data_frame(struct trace_reader *r)
{
	uint64_t off = in_offset(r);
	int64_t dsize = frame_dsize(r, off), csize;
	int slot;

	if (dsize < 0)
		return (int)dsize;
	csize = frame_csize(r, off);
	if (csize < 0)
		return (int)csize;
	if (reader_check_frame(r, (uint32_t)csize, (uint32_t)dsize, off) < 0)
		return -1;
	slot = reader_slot_get(r, (size_t)dsize, off, false);
	if (slot < 0)
		return -1;
	if (frame_decode(r, slot, (size_t)csize, (size_t)dsize, off) < 0 ||
	    reader_pages_check(r, slot) < 0)
		return -1;
	r->in_pos += (size_t)csize;
	return reader_frame_done(r, slot, (uint64_t)csize);
}

/*
 * The end summary met in the stream. Read from the tail at open (a regular
 * file with a seek table), it is skipped; otherwise it is read whole: its
 * fixed and per-CPU parts, then its frame index, checked against the time
 * ranges of the frames read (their length is bounded by the frames read).
 */
static int summary_frame(struct trace_reader *r, uint32_t len, uint64_t off)
{
	size_t head = reader_summary_head(r);
	uint64_t want = head + r->data_index * (uint64_t)TRACE_SUMMARY_FRAME;
	size_t need;
	ssize_t avail;
	bool whole;

	if (r->have_summary && !r->stream_summary) /* read from the tail */
		return in_skip(r, 8 + (uint64_t)len)
			       ? end_truncated(r, TRACE_CUT_SUMMARY)
			       : 0;
	if (r->stream_summary && !r->seeked)
		return FAIL(r, TRACE_E_BAD_SUMMARY, off,
			    "a second end summary at offset %llu",
			    (unsigned long long)off);
	if (r->stream_summary) /* met again after a seek */
		return in_skip(r, 8 + (uint64_t)len)
			       ? end_truncated(r, TRACE_CUT_SUMMARY)
			       : 0;
	if (len < head)
		return FAIL(r, TRACE_E_BAD_SUMMARY, off,
			    "end summary at offset %llu is %u bytes, too short "
			    "for %u CPUs",
			    (unsigned long long)off, len, r->info.cpu_count);
	/*
	 * Its frame index is checked whole when its length is that of the
	 * frames read (else parse says what is wrong), and not after a seek,
	 * which skipped frames.
	 */
	whole = len == want && !r->seeked;
	need = 8 + (whole ? (size_t)len : head);
	avail = in_need(r, need);
	if (avail < 0)
		return -1;
	if ((size_t)avail < need)
		return end_truncated(r, TRACE_CUT_SUMMARY);
	if (reader_summary_parse(r, r->in + r->in_pos + 8, len, off, false) <
		    0 ||
	    (whole && reader_summary_times(r, r->in + r->in_pos + 8 + head,
					   (uint32_t)r->data_index, off) < 0))
		return -1;
	r->stream_summary = true;
	r->summary_size = 8 + (uint64_t)len;
	return in_skip(r, 8 + (uint64_t)len)
		       ? end_truncated(r, TRACE_CUT_SUMMARY)
		       : 0;
}

static int seek_frame(struct trace_reader *r, uint32_t len, uint64_t off)
{
	ssize_t avail;

	if (len > (16u << 20) + TRACE_SEEK_FOOTER_SIZE)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, off,
			    "seek table at offset %llu is %u bytes long",
			    (unsigned long long)off, len);
	if (r->have_table || r->seeked) {
		/* Checked at open: skip to the footer in buffer-sized
		 * steps rather than hold a table that grows with the file. */
		size_t foot = len < TRACE_SEEK_FOOTER_SIZE
				      ? 0
				      : TRACE_SEEK_FOOTER_SIZE;
		int rc = in_skip(r, 8 + (uint64_t)len - foot);

		if (rc < 0)
			return -1;
		avail = rc ? 0 : in_need(r, foot);
		if (avail < 0)
			return -1;
		if (rc || (size_t)avail < foot)
			return end_truncated(r, TRACE_CUT_SEEK_TABLE);
		if (reader_check_seek_footer(r, foot ? r->in + r->in_pos : NULL,
					     off) < 0)
			return -1;
		r->in_pos += foot;
	} else {
		avail = in_need(r, 8 + (size_t)len);
		if (avail < 0)
			return -1;
		if ((size_t)avail < 8 + (size_t)len)
			return end_truncated(r, TRACE_CUT_SEEK_TABLE);
		if (reader_check_seek_table(r, r->in + r->in_pos + 8, len,
					    off) < 0)
			return -1;
		if (r->other_frames)
			return FAIL(r, TRACE_E_BAD_SEEK_TABLE, off,
				    "the seek table at offset %llu does not "
				    "list the skippable frame at offset %llu",
				    (unsigned long long)off,
				    (unsigned long long)r->other_offset);
		r->in_pos += 8 + (size_t)len;
	}
	/* The seek table closes the file: nothing may follow it. */
	avail = in_need(r, 1);
	if (avail < 0)
		return -1;
	if (avail > 0)
		return FAIL(r, TRACE_E_BAD_SEEK_TABLE, in_offset(r),
			    "bytes follow the seek table, which ends the file "
			    "at offset %llu",
			    (unsigned long long)in_offset(r));
	r->at_end = true;
	r->truncated = false;
	r->cut = TRACE_CUT_NONE;
	r->valid_end = in_offset(r);
	r->file_end = r->valid_end;
	return -2;
}

/* A skippable frame: summary, seek table, or one to ignore. */
static int skippable_frame(struct trace_reader *r, uint32_t magic)
{
	uint64_t off = in_offset(r);
	ssize_t avail = in_need(r, 8);
	uint32_t len;
	int rc;

	if (avail < 0)
		return -1;
	if (avail < 8)
		return end_truncated(r, TRACE_CUT_FRAME_HEADER);
	len = trace_le32(r->in + r->in_pos + 4);
	if (magic == TRACE_SKIP_HEADER)
		return FAIL(r, TRACE_E_BAD_HEADER, off,
			    "second file header at offset %llu",
			    (unsigned long long)off);
	if (magic == TRACE_SKIP_SEEK)
		return seek_frame(r, len, off);
	if (magic == TRACE_SKIP_SUMMARY) {
		rc = summary_frame(r, len, off);
	} else {
		/* Another tool's frame: ignored, unless a seek table comes. */
		if (r->other_frames++ == 0)
			r->other_offset = off;
		rc = in_skip(r, 8 + (uint64_t)len)
			     ? end_truncated(r, TRACE_CUT_SKIPPABLE)
			     : 0;
	}
	if (rc == 0)
		r->valid_end = in_offset(r);
	return rc;
}

/* The next data frame, decoded in this thread. */
static int load_sync(struct trace_reader *r)
{
	for (;;) {
		ssize_t avail;
		uint32_t magic;
		int rc;

		if (r->failed)
			return -1;
		if (r->at_end)
			return -2;
		avail = in_need(r, 4);
		if (avail < 0)
			return -1;
		if (avail < 4)
			return end_truncated(
				r, avail	     ? TRACE_CUT_FRAME_HEADER
				   : r->have_summary ? TRACE_CUT_NO_SEEK_TABLE
						     : TRACE_CUT_NO_SUMMARY);
		magic = trace_le32(r->in + r->in_pos);
		if (magic == TRACE_ZSTD_MAGIC)
			return data_frame(r);
		if ((magic & TRACE_SKIP_MAGIC_MASK) != TRACE_SKIP_MAGIC_MIN)
			return FAIL(r, TRACE_E_BAD_MAGIC, in_offset(r),
				    "offset %llu holds neither a zstd frame "
				    "nor a skippable frame (magic 0x%08x)",
				    (unsigned long long)in_offset(r), magic);
		rc = skippable_frame(r, magic);
		if (rc < 0)
			return rc;
	}
}

/**
 * Decode the next zstd frame of pages into a pool slot, reading past the
 * skippable frames on the way. Returns the slot, -2 at the end of the data
 * (r->truncated says how it ended), -1 on error (r->err). The frame after
 * it starts decoding on the prefetch thread meanwhile.
 */
int reader_load_frame(struct trace_reader *r)
{
	int slot;

	if (r->failed)
		return -1;
	slot = r->job.count ? reader_prefetch_collect(r) : load_sync(r);
	if (slot >= 0)
		reader_prefetch_next(r);
	return slot;
}

/** Read `len` bytes at `offset` without moving the stream. */
ssize_t reader_pread(struct trace_reader *r, void *buf, size_t len,
		     uint64_t offset)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(r->fd, (uint8_t *)buf + done, len - done,
				  (off_t)(offset + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FAIL(r, TRACE_E_IO, offset, "read failed: %s",
				    strerror(errno));
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* ---- open and close -------------------------------------------------- */

static int reader_setup(struct trace_reader *r, const char *path)
{
	struct stat st;

	r->in_cap = 1u << 20;
	r->in = malloc(r->in_cap);
	r->dctx = ZSTD_createDCtx();
	if (!r->in || !r->dctx)
		return FAIL(r, TRACE_E_NOMEM, 0, "no memory for the reader");
	if (strcmp(path, "-") == 0) {
		r->fd = STDIN_FILENO;
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0)
			return FAIL(r, TRACE_E_IO, 0, "cannot open %s: %s",
				    path, strerror(errno));
		r->seekable = fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode);
	}
	if (header_read(r) < 0)
		return -1;
	reader_records_setup(r);
	r->cpus = calloc(r->info.cpu_count, sizeof(*r->cpus));
	if (!r->cpus)
		return FAIL(r, TRACE_E_NOMEM, 0, "no memory for CPU cursors");
	for (unsigned i = 0; i < r->info.cpu_count; i++)
		r->cpus[i].cur_frame = -1;
	r->any_frame = -1;
	r->pin_frame = -1;
	return r->seekable ? reader_tail_load(r) : 0;
}

/** See trace.h. */
struct trace_reader *trace_reader_open(const char *path,
				       struct trace_error *err)
{
	struct trace_reader *r;

	if (!path) {
		trace_set_error(err, TRACE_E_USAGE, 0, "no path given");
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		trace_set_error(err, TRACE_E_NOMEM, 0, "no memory for reader");
		return NULL;
	}
	r->fd = -1;
	if (reader_setup(r, path) < 0) {
		if (err)
			*err = r->err;
		trace_reader_close(r);
		return NULL;
	}
	return r;
}

/** See trace.h. */
void trace_reader_close(struct trace_reader *r)
{
	if (!r)
		return;
	reader_prefetch_stop(r);
	if (r->fd > STDIN_FILENO)
		close(r->fd);
	for (size_t i = 0; i < r->frame_slots; i++)
		free(r->frames[i].data);
	for (unsigned i = 0; r->cpus && i < r->info.cpu_count; i++)
		free(r->cpus[i].q);
	free(r->frames);
	free(r->reload);
	free(r->cpus);
	free(r->in);
	reader_chain_free(&r->seen_sizes);
	reader_chain_free(&r->seen_times);
	free(r->ts_win);
	free(r->win);
	free(r->raw);
	free(r->summary);
	ZSTD_freeDCtx(r->dctx);
	free(r);
}
