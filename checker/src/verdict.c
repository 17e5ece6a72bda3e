// SPDX-License-Identifier: MIT
/*
 * What the replay may trust of its source, and what its verdict means
 * (DESIGN.md 9 "Honest verdicts").
 *
 * Before the replay: the file header must name a system this checker has
 * a profile for and an ABI version that profile knows. At the BOOT record:
 * it must agree with the header (CPU count, counter frequency, ABI) and
 * describe a possible machine. A trace that contradicts itself is corrupt
 * (exit 3), never a finding against the hypervisor, and the message names
 * the file and the offset.
 *
 * After it: the source reads and checks whatever it has left (so a
 * verdict always rests on the whole file, whether read from a path or a
 * pipe, and whether the replay stopped early or not), then says how the
 * recording ended. Only a whole run can conform: the file reached its
 * seek table, its end summary says the machine powered off, and every
 * CPU's stream is complete, from sequence number 0 to the last record its
 * producer made. Anything else is a reason the verdict is inconclusive
 * unless something was found.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <pkvm/abi.h>
#include <pkvm/trace.h>

#include "replay.h"

/*
 * Offsets in the file of the header fields checked here (FORMAT.md 5.1:
 * the header's payload follows its skippable frame's 8 bytes).
 */
#define VERDICT_OFF_CPUS (8u + 12u)
#define VERDICT_OFF_ABI (8u + 24u)
#define VERDICT_OFF_SYSTEM (8u + 48u)

/** The trace is corrupt: `fmt` says why, after the source and `offset`. */
void ck_corrupt_at(struct ck *ck, uint64_t offset, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (ck->corrupt)
		return;
	n = (size_t)snprintf(ck->sum->error, sizeof(ck->sum->error),
			     "%s: offset %" PRIu64 ": ",
			     ck->src->name ? ck->src->name : "trace", offset);
	va_start(ap, fmt);
	if (n < sizeof(ck->sum->error))
		vsnprintf(ck->sum->error + n, sizeof(ck->sum->error) - n, fmt,
			  ap);
	va_end(ap);
	ck->corrupt = ck->stop = true;
	findings_stop(ck->out);
}

/** The source reported an error: its message names the file and offset. */
void ck_corrupt_source(struct ck *ck)
{
	if (ck->corrupt)
		return;
	snprintf(ck->sum->error, sizeof(ck->sum->error), "%s", ck->src->error);
	ck->corrupt = ck->stop = true;
	findings_stop(ck->out);
}

/**
 * Before the replay: a profile for the header's system, an ABI version it
 * knows, a CPU count the replay supports. Returns 0, or -1 (corrupt).
 */
int verdict_header(struct ck *ck)
{
	const struct ck_source *src = ck->src;
	const char *system = src->system ? src->system : TRACE_SYSTEM_HYP;
	const struct ck_profile *p = profile_find(system);

	if (!p) {
		char known[128];
		size_t n = 0;

		known[0] = 0;
		for (unsigned i = 0; profile_at(i) && n < sizeof(known); i++)
			n += (size_t)snprintf(known + n, sizeof(known) - n,
					      "%s%s", i ? ", " : "",
					      profile_at(i)->system);
		ck_corrupt_at(ck, VERDICT_OFF_SYSTEM,
			      "no profile for system '%s' (this checker knows "
			      "%s)",
			      system, known);
		return -1;
	}
	if (src->abi_version < p->abi_min || src->abi_version > p->abi_max) {
		ck_corrupt_at(ck, VERDICT_OFF_ABI,
			      "unsupported ABI version %u in the file header "
			      "(the %s profile knows %u to %u)",
			      src->abi_version, system, p->abi_min, p->abi_max);
		return -1;
	}
	ck->view.profile = p;
	if (src->cpu_count == 0 || src->cpu_count > CK_MAX_CPUS) {
		ck_corrupt_at(ck, VERDICT_OFF_CPUS,
			      "the trace has %u CPUs; this checker replays 1 "
			      "to %u",
			      src->cpu_count, CK_MAX_CPUS);
		return -1;
	}
	return 0;
}

/**
 * The BOOT record `ev`, read at `offset`: it must agree with the file
 * header and describe a machine the model can hold. Returns 0, or -1
 * (corrupt).
 */
int verdict_boot(struct ck *ck, const struct ck_event *ev, uint64_t offset)
{
	const struct ck_source *src = ck->src;
	uint64_t abi = ev->w[0] & 0xffffffffu, freq = ev->w[1];

	if (abi != src->abi_version) {
		ck_corrupt_at(ck, offset,
			      "the BOOT record gives ABI version %" PRIu64
			      ", the file header %u",
			      abi, src->abi_version);
		return -1;
	}
	if (ck->view.boot.cpu_count != src->cpu_count) {
		ck_corrupt_at(ck, offset,
			      "the BOOT record gives %u CPUs, the file header "
			      "%u",
			      ck->view.boot.cpu_count, src->cpu_count);
		return -1;
	}
	if (src->counter_freq && freq != src->counter_freq) {
		ck_corrupt_at(ck, offset,
			      "the BOOT record gives a counter frequency of "
			      "%" PRIu64 " Hz, the file header %" PRIu64 " Hz",
			      freq, src->counter_freq);
		return -1;
	}
	if (ck->view.boot.ram_size == 0 ||
	    ck->view.boot.ram_size > (1ull << 32) ||
	    ((ck->view.boot.ram_base | ck->view.boot.ram_size) & 0xfff) ||
	    ck->view.boot.pool_end < ck->view.boot.pool_start ||
	    ck->view.boot.pool_end - ck->view.boot.pool_start > (1ull << 32)) {
		ck_corrupt_at(ck, offset,
			      "the BOOT record describes an impossible machine "
			      "(ram 0x%" PRIx64 "+0x%" PRIx64
			      ", pool 0x%" PRIx64 "..0x%" PRIx64 ")",
			      ck->view.boot.ram_base, ck->view.boot.ram_size,
			      ck->view.boot.pool_start, ck->view.boot.pool_end);
		return -1;
	}
	return 0;
}

/* ---- after the replay ----------------------------------------------- */

static void verdict_reason(struct ck *ck, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** One more reason the trace is not a whole run. */
static void verdict_reason(struct ck *ck, const char *fmt, ...)
{
	struct ck_summary *sum = ck->sum;
	va_list ap;

	if (sum->incomplete_count == CK_MAX_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(sum->incomplete[sum->incomplete_count++],
		  sizeof(sum->incomplete[0]), fmt, ap);
	va_end(ap);
}

/* How the run ended, if not cleanly (FORMAT.md 5.3). */
static void verdict_outcome(struct ck *ck, const struct ck_end *e)
{
	const char *text = trace_outcome_text(e->outcome);

	if (!e->has_summary) {
		if (!e->truncated)
			verdict_reason(ck, "the trace has no end summary: it "
					   "does not say how the run ended");
		return; /* else the cut says it */
	}
	if (!e->has_outcome) {
		verdict_reason(ck,
			       "the trace is format %u.%u, which does not "
			       "record how the run ended",
			       e->version_major, e->version_minor);
		return;
	}
	if (e->outcome == TRACE_OUTCOME_CLEAN)
		return;
	if (e->outcome == TRACE_OUTCOME_UNKNOWN)
		text = "the trace does not say how the run ended (outcome "
		       "unknown)";
	if (e->why[0])
		verdict_reason(ck, "%s (%s)", text, e->why);
	else
		verdict_reason(ck, "%s", text);
}

/*
 * Each CPU's stream must be whole: from sequence number 0 (or a LOST
 * record that says so) to the last record its producer made. What is
 * missing at either end is counted as lost and named.
 */
static void verdict_streams(struct ck *ck, const struct ck_end *e)
{
	char unknown[128] = "";
	size_t n = 0;

	for (unsigned i = 0; i < ck->ncpu; i++) {
		const struct ck_cpu *c = &ck->cpu[i];
		uint64_t next = e->records[i] ? e->last_seq[i] + 1 : 0;
		uint64_t head = e->records[i] ? e->first_seq[i] : 0;

		/* A first LOST record explains the records before it. */
		head = head > c->first_lost ? head - c->first_lost : 0;
		if (head) {
			ck->sum->lost += head;
			verdict_reason(ck,
				       "cpu%u: its first %" PRIu64 " records "
				       "are not in the trace",
				       i, head);
		}
		if (e->produced[i] == TRACE_COUNT_UNKNOWN) {
			n += (size_t)snprintf(
				unknown + n,
				n < sizeof(unknown) ? sizeof(unknown) - n : 0,
				"%scpu%u", n ? ", " : "", i);
			continue;
		}
		if (e->produced[i] > next) {
			ck->sum->lost += e->produced[i] - next;
			verdict_reason(ck,
				       "cpu%u: the last %" PRIu64 " records "
				       "the hypervisor produced are not in the "
				       "trace",
				       i, e->produced[i] - next);
		}
	}
	if (n)
		verdict_reason(ck,
			       "%s: the recorder could not read the producer's "
			       "counters, so no stream is proven complete",
			       unknown);
}

/**
 * After the replay (every stream ended, or it stopped): let the source
 * read and check what it has left, then note every reason the trace is
 * not a whole run. The source's error makes the trace corrupt.
 */
void verdict_end(struct ck *ck)
{
	struct ck_end *e = &ck->end;

	memset(e, 0, sizeof(*e));
	if (!ck->src->end) {
		verdict_reason(ck, "the source does not say how the run ended");
		return;
	}
	if (ck->src->end(ck->src, e) < 0) {
		ck_corrupt_source(ck);
		return;
	}
	if (e->truncated)
		verdict_reason(
			ck,
			"the trace ends at offset %" PRIu64 ", %s: truncated",
			e->cut_offset, e->cut_where ? e->cut_where : "early");
	verdict_outcome(ck, e);
	if (e->has_summary && e->has_outcome)
		verdict_streams(ck, e);
}

/** The exit code: corrupt, findings, inconclusive or conforms. */
int verdict_code(const struct ck *ck)
{
	if (ck->corrupt)
		return CK_EXIT_CORRUPT;
	if (ck->sum->findings)
		return CK_EXIT_FINDINGS;
	if (ck->sum->inconclusive || ck->sum->incomplete_count ||
	    ck->sum->unjudged)
		return CK_EXIT_INCONCLUSIVE;
	return CK_EXIT_OK;
}
