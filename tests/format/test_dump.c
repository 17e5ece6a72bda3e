/* SPDX-License-Identifier: MIT */
/*
 * Event rendering (dump.h) and the zstd command-line tool's view of a
 * trace file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/dump.h>
#include <pkvm/trace.h>

#include "helpers.h"

Test(format, dump_names_fields_and_enums)
{
	/* Property: a rendered event names its CPU, seq, time, kind and
	 * fields, and decodes hypercall, lock and errno values. */
	static const char prefix[] = "cpu1 seq=42 ticks=123456 trap_entry "
				     "esr=0x5a000000 elr=0x41000abc ";
	struct pkvm_record ev[4];
	char line[512];

	ev[0] = rec_make(1, 42, 123456, PKVM_EV_TRAP_ENTRY, 0, 0x5a000000,
			 0x41000abc);
	ev[1] = rec_make(1, 43, 123457, PKVM_EV_TRAP_ENTRY, 1, 0, 0);
	ev[2] = rec_make(1, 44, 123458, PKVM_EV_TRAP_ENTRY, 2,
			 PKVM_HC_BASE | PKVM_HC_SHARE_HYP, 0x41234);
	ev[3] = rec_make(1, 45, 123459, PKVM_EV_TRAP_ENTRY, 3, 0, 0);
	trace_format_event(line, sizeof(line), ev, 4);
	cr_assert(strncmp(line, prefix, strlen(prefix)) == 0, "%s", line);
	cr_assert_not_null(strstr(line, " x0=share_hyp x1=0x41234"), "%s",
			   line);
	ev[0] = rec_make(0, 1, 2, PKVM_EV_LOCK_ACQUIRE, 0, PKVM_LOCK_HYP_S1, 7);
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(
		line, "cpu0 seq=1 ticks=2 lock_acquire lock=hyp_s1 ticket=7");
	ev[0] = rec_make(0, 1, 2, PKVM_EV_TRAP_EXIT, 0, 0, (uint64_t)-22);
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_not_null(strstr(line, "x1=EINVAL"), "%s", line);
	ev[0] = rec_make(0, 1, 2, PKVM_EV_PTE_WRITE, 0, 0x40400008, 0x4c3);
	ev[0].flags |= PKVM_REC_F_PTE_RELEASE;
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(line, "cpu0 seq=1 ticks=2 pte_write release "
			       "pa=0x40400008 value=0x4c3 [valid page "
			       "oa=0x0 attrs=0x130,0x0 af "
			       "state=owned]");
}

Test(format, dump_shows_compact_kinds_as_recorded)
{
	/* Property: compact events print as recorded, readably: the
	 * hypercall's name and result, the pair's two locks and tickets,
	 * a TLBI's barriers where they were issued. */
	struct pkvm_record ev[2];
	char line[512];

	ev[0] = rec_make(0, 7, 9, PKVM_EV_HCALL_ENTRY, 0, 0x41000abc,
			 PKVM_HC_BASE | PKVM_HC_HOST_DONATE_HYP);
	ev[1] = rec_make(0, 8, 10, PKVM_EV_HCALL_ENTRY, 1, 0x41234, 2);
	trace_format_event(line, sizeof(line), ev, 2);
	cr_assert_str_eq(line, "cpu0 seq=7 ticks=9 hcall_entry elr=0x41000abc "
			       "x0=host_donate_hyp x1=0x41234 x2=2");
	ev[0] = rec_make(0, 9, 11, PKVM_EV_HCALL_EXIT, 0, 0, (uint64_t)-1);
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(line, "cpu0 seq=9 ticks=11 hcall_exit x0=0 x1=EPERM");
	ev[0] = rec_make(1, 3, 4, PKVM_EV_LOCK_ACQUIRE2, 0,
			 PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32,
			 12 | 40ull << 32);
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(line, "cpu1 seq=3 ticks=4 lock_acquire2 "
			       "locks=host_s2,hyp_s1 tickets=12,40");
	ev[0].kind = PKVM_EV_LOCK_RELEASE2;
	ev[0].a = 9 | (uint64_t)PKVM_LOCK_POOL << 32;
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(line, "cpu1 seq=3 ticks=4 lock_release2 locks=9,pool "
			       "tickets=12,40");
	ev[0] = rec_make(2, 5, 6, PKVM_EV_TLBI, 0, PKVM_TLBI_VAE2IS, 0x41234);
	ev[0].flags |= PKVM_REC_F_TLBI_DSB_ISHST_BEFORE |
		       PKVM_REC_F_TLBI_DSB_ISH_AFTER |
		       PKVM_REC_F_TLBI_ISB_AFTER;
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(line, "cpu2 seq=5 ticks=6 tlbi +dsb_ishst op=vae2is "
			       "operand=0x41234 +dsb_ish +isb");
	ev[0].flags = PKVM_REC_F_TLBI_ISB_AFTER;
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(line,
			 "cpu2 seq=5 ticks=6 tlbi op=vae2is operand=0x41234 "
			 "+isb");
}

Test(format, dump_shows_fused_kinds_as_recorded)
{
	/* Property: the 3.0 kinds print as recorded: the hypercall's name,
	 * its pair of locks and tickets as LOCK_ACQUIRE2's, the result and a
	 * source other than the host. */
	struct pkvm_record ev[3];
	char line[512];

	ev[0] = rec_make(0, 7, 9, PKVM_EV_HCALL_ENTRY_LOCK2, 0, 0x41000abc,
			 PKVM_HC_BASE | PKVM_HC_UNSHARE_HYP);
	ev[1] = rec_make(0, 8, 10, PKVM_EV_HCALL_ENTRY_LOCK2, 1, 0x41234, 0);
	ev[2] = rec_make(0, 9, 11, PKVM_EV_HCALL_ENTRY_LOCK2, 2,
			 PKVM_LOCK_HOST_S2 | (uint64_t)PKVM_LOCK_HYP_S1 << 32,
			 12 | 40ull << 32);
	trace_format_event(line, sizeof(line), ev, 3);
	cr_assert_str_eq(line,
			 "cpu0 seq=7 ticks=9 hcall_entry_lock2 elr=0x41000abc "
			 "x0=unshare_hyp x1=0x41234 x2=0 "
			 "locks=host_s2,hyp_s1 tickets=12,40");
	ev[0] = rec_make(0, 10, 12, PKVM_EV_HCALL_EXIT_UNLOCK2, 0, 0,
			 (uint64_t)-PKVM_EINVAL);
	ev[0].flags |= 2u << PKVM_REC_F_KIND_SHIFT;
	trace_format_event(line, sizeof(line), ev, 1);
	cr_assert_str_eq(
		line, "cpu0 seq=10 ticks=12 hcall_exit_unlock2 source=2 x0=0 "
		      "x1=EINVAL");
}

Test(format, dump_line_is_truncated_to_the_buffer)
{
	/* Property: trace_format_event never writes past `len` and returns
	 * the length it kept. */
	struct pkvm_record ev = rec_make(0, 1, 2, PKVM_EV_MARK, 0, 1, 0);
	char line[16];

	memset(line, 'Z', sizeof(line));
	cr_assert_eq(trace_format_event(line, 10, &ev, 1), 9);
	cr_assert_eq(line[9], '\0');
	cr_assert_eq(line[10], 'Z');
}

Test(format, dump_filters_and_reports_errors)
{
	/* Property: trace_dump prints one line per event passing the filter,
	 * exits 0, and exits 3 naming the file and offset on a bad file. */
	struct pkvm_record in[6];
	char path[128], *text = NULL, *errs = NULL;
	size_t tlen = 0, elen = 0, lines = 0;
	struct trace_dump_opts o = {
		.cpu = 1, .kind = 0, .from_ts = 0, .to_ts = UINT64_MAX
	};
	FILE *out, *err;

	for (unsigned i = 0; i < 6; i++)
		in[i] = rec_make(i % 2, i / 2, 10 + i, PKVM_EV_BARRIER, 0,
				 PKVM_BARRIER_ISB, 0);
	tmp_path(path, sizeof(path), "dump");
	write_records(path, 2, in, 6);
	out = open_memstream(&text, &tlen);
	err = open_memstream(&errs, &elen);
	cr_assert_eq(trace_dump(out, err, path, &o), 0);
	fclose(out);
	for (char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, 3, "%s", text);
	cr_assert_not_null(
		strstr(text, "cpu1 seq=0 t=0.000000176s barrier op=isb"), "%s",
		text);
	free(text);
	out = open_memstream(&text, &tlen);
	cr_assert_eq(trace_dump(out, err, "/nonexistent/trace", &o), 3);
	fclose(out);
	fclose(err);
	cr_assert_not_null(strstr(errs, "/nonexistent/trace"), "%s", errs);
	free(text);
	free(errs);
	unlink(path);
}

Test(format, zstd_cli_decodes_the_pages)
{
	/* Property: `zstd -t` accepts a trace and `zstd -dc` yields exactly
	 * the pages (a whole number of 4 KiB pages). */
	struct pkvm_record in[300];
	char path[128], cmd[256];
	FILE *p;
	size_t total = 0, n;
	char buf[4096];

	if (system("zstd --version > /dev/null 2>&1") != 0)
		cr_skip_test("zstd not installed");
	for (unsigned i = 0; i < 300; i++)
		in[i] = rec_make(i % 3, i / 3, i, PKVM_EV_TLBI, 0, 1, i);
	tmp_path(path, sizeof(path), "cli");
	write_records(path, 3, in, 300);
	snprintf(cmd, sizeof(cmd), "zstd -q -t %s", path);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "zstd -q -dc %s", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		total += n;
	cr_assert_eq(pclose(p), 0);
	/* 300 records over 3 CPUs: 100 each, one page per CPU. */
	cr_assert_eq(total, 3 * 4096);
	unlink(path);
}

/* The FORMAT.md table row for one kind, built from events.def. */
static void kind_row(char *buf, size_t len, unsigned value, const char *name,
		     const char *enum_name, unsigned ncont, const char *fields)
{
	size_t pos =
		(size_t)snprintf(buf, len, "| %u | `%s` | `PKVM_EV_%s` | %u | ",
				 value, name, enum_name, ncont);

	while (*fields && pos < len) {
		size_t n = strcspn(fields, " ");

		pos += (size_t)snprintf(buf + pos, len - pos, "`%.*s`%s",
					(int)n, fields,
					fields[n] ? ", " : " |");
		fields += n;
		fields += strspn(fields, " ");
	}
}

Test(format, format_md_kind_table_matches_events_def)
{
	/* Property: FORMAT.md's kind table has one row per events.def entry,
	 * with the same value, names, continuation count and fields, and its
	 * hypercall and error tables match abi.h. */
	size_t len;
	char *doc = (char *)file_load(FORMAT_MD, &len);
	char row[1024];

	doc[len] = '\0';
#define PKVM_EVENT(n, value, ncont, str, fields)                               \
	kind_row(row, sizeof(row), value, str, #n, ncont, fields);             \
	cr_assert_not_null(strstr(doc, row), "FORMAT.md lacks: %s", row);
#include <pkvm/events.def>
#define HC_ROW(name, id, nargs, str)                                           \
	snprintf(row, sizeof(row), "| %u | `%s` |", id, str);                  \
	cr_assert_not_null(strstr(doc, row), "FORMAT.md lacks: %s", row);
	PKVM_HCALL_LIST(HC_ROW)
#define ERR_ROW(name, val, str)                                                \
	snprintf(row, sizeof(row), "| -%u | `%s` |", val, str);                \
	cr_assert_not_null(strstr(doc, row), "FORMAT.md lacks: %s", row);
	PKVM_ERROR_LIST(ERR_ROW)
	PKVM_L612_HCALL_LIST(HC_ROW)
	free(doc);
}
