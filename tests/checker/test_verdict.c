// SPDX-License-Identifier: MIT
/*
 * Honest verdicts (DESIGN.md 9, checker/src/verdict.c): only a whole run
 * conforms. In memory: a source that does not say the run was whole is
 * inconclusive, and so is a stream that does not start at 0. From files:
 * a real trace (the hyp core on the fake machine, whole: it conforms) cut
 * at any byte never conforms, says where it ends, and gets the same
 * verdict read from its path and from a pipe.
 *
 * The traces come from the build (tests/checker/meson.build): VERDICT_SMALL
 * (2 CPUs, one data frame, every byte cut) and VERDICT_FRAMES (4 CPUs,
 * several frames, cut around each frame boundary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zstd.h>

#include "builder.h"
#include "cli.h"

static struct tb b;

static void setup(void)
{
	tb_init(&b, 2);
	tb_boot(&b);
	tb_share(&b, 0, TB_HOST_PFN(0));
	tb_unshare(&b, 1, TB_HOST_PFN(0));
}

static void teardown(void)
{
	tb_free(&b);
}

/* Run the builder's trace through a memory source set up by `how`. */
static int run_mem(void (*how)(struct ck_memsrc *m), struct ck_summary *sum)
{
	struct ck_options opt = { .context = 2 };
	struct ck_memsrc m;

	ck_memsrc_init(&m, b.ncpu);
	for (unsigned c = 0; c < b.ncpu; c++)
		ck_memsrc_set(&m, c, b.recs[c], b.count[c]);
	if (how)
		how(&m);
	return ck_run(&m.src, &opt, NULL, sum);
}

static void whole(struct ck_memsrc *m)
{
	m->complete = true;
}

static void whole_but_cut(struct ck_memsrc *m)
{
	m->complete = m->truncated = true;
}

Test(verdict, only_a_source_that_says_the_run_was_whole_conforms, .init = setup,
     .fini = teardown)
{
	/* Property: the same records conform from a source that says the
	 * run was whole, and are inconclusive, with the reason, from one
	 * that does not or that was cut. */
	struct ck_summary sum;

	cr_assert_eq(run_mem(whole, &sum), CK_EXIT_OK);
	cr_assert_eq(sum.incomplete_count, 0);
	cr_assert_eq(run_mem(NULL, &sum), CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(sum.incomplete_count, 1);
	cr_assert_str_eq(sum.incomplete[0], "the trace has no end summary: it "
					    "does not say how the run ended");
	cr_assert_eq(run_mem(whole_but_cut, &sum), CK_EXIT_INCONCLUSIVE);
	cr_assert(strstr(sum.incomplete[0], ": truncated"), "%s",
		  sum.incomplete[0]);
}

Test(verdict, a_stream_that_does_not_start_at_zero_lost_its_head, .init = setup,
     .fini = teardown)
{
	/* Property: records before a CPU's first are lost (counted, named),
	 * unless its first record is a LOST record that counts them. */
	struct ck_summary sum;

	for (size_t k = 0; k < b.count[1]; k++)
		b.recs[1][k].seq += 7;
	cr_assert_eq(run_mem(whole, &sum), CK_EXIT_INCONCLUSIVE);
	cr_assert_eq(sum.lost, 7);
	cr_assert_eq(sum.incomplete_count, 1);
	cr_assert_str_eq(sum.incomplete[0],
			 "cpu1: its first 7 records are not in the trace");
}

Test(verdict, findings_win_over_an_incomplete_run, .init = setup,
     .fini = teardown)
{
	/* Property: a finding is exit 1 even when the run is not whole. */
	struct ck_summary sum;

	tb_refuse(&b, 0, PKVM_HC_SHARE_HYP, TB_HOST_PFN(1), 0, -PKVM_EPERM);
	cr_assert_eq(run_mem(NULL, &sum), CK_EXIT_FINDINGS);
	cr_assert_eq(sum.incomplete_count, 1);
}

/* ---- files ---------------------------------------------------------- */

/* Check `path` as pkvm-check does; the summary in `sum`. */
static int check_file(const char *path, struct ck_summary *sum)
{
	struct ck_options opt = { .context = 0 };
	struct filesrc fs = { 0 };
	char msg[600];
	int rc;

	memset(sum, 0, sizeof(*sum));
	if (filesrc_open(&fs, path, msg, sizeof(msg))) {
		snprintf(sum->error, sizeof(sum->error), "%s", msg);
		return CK_EXIT_CORRUPT;
	}
	rc = ck_run(&fs.src, &opt, NULL, sum);
	filesrc_close(&fs);
	return rc;
}

/* The same, with the file on standard input. */
static int check_pipe(const char *path, struct ck_summary *sum)
{
	cr_assert_not_null(freopen(path, "rb", stdin));
	return check_file("-", sum);
}

static uint8_t *load(const char *env, size_t *len)
{
	const char *path = getenv(env);
	FILE *f;
	uint8_t *buf;

	cr_assert_not_null(path, "%s not set (run through meson test)", env);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	buf = malloc(*len);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void store(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* The file header's length: its skippable frame's. */
static size_t header_len(const uint8_t *buf)
{
	return 8 + ((size_t)buf[4] | (size_t)buf[5] << 8 |
		    (size_t)buf[6] << 16 | (size_t)buf[7] << 24);
}

/*
 * `buf` cut at `at`: never conforms; a cut inside the file header is
 * unreadable (3), any later one inconclusive (4) and its first reason
 * names the offset and says "truncated". With `pipe`, the verdict from
 * stdin must be the same.
 */
static void expect_cut(const char *cut, const uint8_t *buf, size_t len,
		       size_t at, bool pipe)
{
	struct ck_summary sum;
	char want[64];
	int rc;

	cr_assert_lt(at, len);
	store(cut, buf, at);
	rc = check_file(cut, &sum);
	if (at < header_len(buf)) {
		cr_assert_eq(rc, CK_EXIT_CORRUPT, "cut at %zu: exit %d", at,
			     rc);
	} else {
		snprintf(want, sizeof(want), "the trace ends at offset %zu, ",
			 at);
		cr_assert_eq(rc, CK_EXIT_INCONCLUSIVE, "cut at %zu: exit %d %s",
			     at, rc, sum.error);
		cr_assert_geq(sum.incomplete_count, 1, "cut at %zu", at);
		cr_assert(strncmp(sum.incomplete[0], want, strlen(want)) == 0 &&
				  strstr(sum.incomplete[0], ": truncated"),
			  "cut at %zu: %s", at, sum.incomplete[0]);
	}
	if (pipe) {
		int prc = check_pipe(cut, &sum);

		cr_assert_eq(prc, rc,
			     "cut at %zu: exit %d from a pipe, %d "
			     "from the path",
			     at, prc, rc);
	}
}

Test(verdict, every_cut_of_a_real_trace_is_truncated)
{
	/* Property: the whole trace conforms (from its path and a pipe);
	 * cut at any byte it does not, and says where it ends. */
	struct ck_summary sum;
	char cut[128];
	size_t len;
	uint8_t *buf = load("VERDICT_SMALL", &len);

	snprintf(cut, sizeof(cut), "/tmp/pkvm-verdict-%d-small.trace",
		 (int)getpid());
	store(cut, buf, len);
	cr_assert_eq(check_file(cut, &sum), CK_EXIT_OK, "%s", sum.error);
	cr_assert_eq(check_pipe(cut, &sum), CK_EXIT_OK, "%s", sum.error);
	for (size_t at = 0; at < len; at++)
		expect_cut(cut, buf, len, at, at % 16 == 0);
	unlink(cut);
	free(buf);
}

Test(verdict, cuts_around_every_frame_boundary_are_truncated)
{
	/* Property: around the start of every frame (data frames, the end
	 * summary, the seek table), a cut never conforms, says where the
	 * file ends, and reads the same from its path and a pipe. */
	struct ck_summary sum;
	char cut[128];
	size_t len, at;
	uint8_t *buf = load("VERDICT_FRAMES", &len);
	unsigned frames = 0;

	snprintf(cut, sizeof(cut), "/tmp/pkvm-verdict-%d-frames.trace",
		 (int)getpid());
	store(cut, buf, len);
	cr_assert_eq(check_file(cut, &sum), CK_EXIT_OK, "%s", sum.error);
	/* Walk the frames: skippable ones give their length, zstd says
	 * where a data frame ends. */
	for (at = 0; at < len; frames++) {
		uint32_t magic = (uint32_t)buf[at] |
				 (uint32_t)buf[at + 1] << 8 |
				 (uint32_t)buf[at + 2] << 16 |
				 (uint32_t)buf[at + 3] << 24;
		size_t next;

		for (size_t d = at > 64 ? at - 64 : 0; d <= at + 64 && d < len;
		     d++)
			expect_cut(cut, buf, len, d, true);
		if ((magic & 0xFFFFFFF0u) == 0x184D2A50u)
			next = at + 8 +
			       ((size_t)buf[at + 4] | (size_t)buf[at + 5] << 8 |
				(size_t)buf[at + 6] << 16 |
				(size_t)buf[at + 7] << 24);
		else
			next = at +
			       ZSTD_findFrameCompressedSize(buf + at, len - at);
		cr_assert_gt(next, at);
		at = next;
	}
	cr_assert_geq(frames, 5, "only %u frames", frames);
	for (at = 0; at < len; at += 1024)
		expect_cut(cut, buf, len, at, false);
	unlink(cut);
	free(buf);
}
