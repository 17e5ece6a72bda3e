/* SPDX-License-Identifier: MIT */
/*
 * Format 4.1 (FORMAT.md 6): the kinds a production hypervisor needs
 * (region, boot_linux, lock_info, trap_regs), the values added to abi.h,
 * the linux-6.12 tables (abi_linux612.h), and the versioning rules: a 4.0
 * file still reads, and the new kinds are unknown in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <pkvm/abi.h>
#include <pkvm/abi_linux612.h>
#include <pkvm/dump.h>
#include <pkvm/trace.h>

#include "helpers.h"
#include "internal.h"

/* One event of each 4.1 kind on CPU 0 from seq 1, as linux-6.12 writes. */
static size_t v41_events(struct pkvm_record *out)
{
	size_t n = 0;
	uint32_t seq = 1;

	out[n++] = rec_make(0, seq++, 10, PKVM_EV_REGION, 0,
			    PKVM_REGION_HYP_TEXT, 0x40210000);
	out[n++] = rec_make(0, seq++, 10, PKVM_EV_REGION, 1, 0x5000, 0);
	out[n++] = rec_make(0, seq++, 11, PKVM_EV_BOOT_LINUX, 0,
			    0x0000ffffffffffffull, 0xffff800000000000ull);
	for (unsigned c = 1; c <= 4; c++)
		out[n++] = rec_make(0, seq++, 11, PKVM_EV_BOOT_LINUX, c,
				    0x100 * c, 0x100 * c + 1);
	out[n++] =
		rec_make(0, seq++, 12, PKVM_EV_LOCK_INFO, 0, 0x200004071e1d8ull,
			 PKVM_LOCK_ROLE_VM | 3u << PKVM_LOCK_ROLE_ARG_SHIFT);
	out[n++] = rec_make(0, seq++, 13, PKVM_EV_TRAP_REGS, 0, 4, 5);
	out[n++] = rec_make(0, seq++, 13, PKVM_EV_TRAP_REGS, 1, 6, 7);
	return n;
}

Test(v41, new_kinds_round_trip)
{
	/* Property: each 4.1 kind, with its continuations, comes back from a
	 * file exactly as written (the writer's file says 5.0). */
	struct pkvm_record in[16], out[16];
	struct trace_error err;
	struct trace_reader *r;
	size_t n = v41_events(in), got;
	char path[128];

	tmp_path(path, sizeof(path), "v41");
	write_records(path, 1, in, n);
	cr_assert_eq(read_all(path, out, 16, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(memcmp(&in[i], &out[i], sizeof(in[i])), 0,
			     "record %zu differs", i);
	r = trace_reader_open(path, &err);
	cr_assert_not_null(r, "%s", err.message);
	/* (5.0 writes them as 4.1 did: FORMAT.md 6.) */
	cr_assert_eq(trace_reader_info(r)->version_major, 5);
	cr_assert_eq(trace_reader_info(r)->version_minor, 0);
	trace_reader_close(r);
	unlink(path);
}

Test(v41, a_4_0_file_still_reads)
{
	/* Property: a file of the old minor (4.0) with the kinds 4.0 has
	 * reads back whole. */
	struct pkvm_record in[3], out[3];
	struct trace_error err;
	size_t got;
	char path[128];

	in[0] = rec_make(0, 0, 1, PKVM_EV_MARK, 0, PKVM_MARK_CPU_UP, 0);
	in[1] = rec_make(0, 1, 2, PKVM_EV_LOCK_ACQUIRE, 0, 1, 0);
	in[2] = rec_make(0, 2, 3, PKVM_EV_HCALL_EXIT_UNLOCK2, 0, 0, 0);
	tmp_path(path, sizeof(path), "v40");
	write_records(path, 1, in, 3);
	file_set_version(path, 4, 0);
	cr_assert_eq(read_all(path, out, 3, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, 3);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	unlink(path);
}

Test(v41, new_kinds_are_unknown_in_a_4_0_file)
{
	/* Property: kinds 20-23 in a 4.0 file are kinds its own version does
	 * not define: BAD_RECORD, as a 4.0 reader has them; the same records
	 * in a 4.1 file read. */
	struct pkvm_record all[16], in[8], out[8];
	struct trace_error err;
	size_t n = v41_events(all), got;
	char path[128];

	for (unsigned kind = PKVM_EV_REGION; kind <= PKVM_EV_TRAP_REGS;
	     kind++) {
		size_t k = 0;

		in[k++] = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 1, 0);
		for (size_t i = 0; i < n; i++)
			if (all[i].kind == kind)
				in[k++] = all[i];
		for (size_t i = 1; i < k; i++)
			in[i].seq = (uint32_t)i;
		tmp_path(path, sizeof(path), "v40new");
		write_records(path, 1, in, k);
		cr_assert_eq(read_all(path, out, 8, &got, &err, NULL), 0,
			     "4.1, kind %u: %s", kind, err.message);
		cr_assert_eq(got, k);
		file_set_version(path, 4, 0);
		cr_assert_eq(read_all(path, out, 8, &got, &err, NULL), -1,
			     "kind %u read in a 4.0 file", kind);
		cr_assert_eq(err.code, TRACE_E_BAD_RECORD, "%s",
			     trace_error_name(err.code));
		cr_assert_eq(got, 1);
		unlink(path);
	}
}

Test(v41, a_4_0_reader_skips_the_new_kinds)
{
	/* Property: what a reader of 4.0 does with a 4.1 file, shown on
	 * this reader one minor on: in a 4.2 file a kind it does not know
	 * (24, one continuation) is skipped with its continuation, and the
	 * events around it read. */
	struct pkvm_record in[4], out[4];
	struct trace_error err;
	size_t got;
	char path[128];

	in[0] = rec_make(0, 0, 1, PKVM_EV_MARK, 0, 1, 0);
	in[1] = rec_make(0, 1, 2, 24, 0, 4, 5);
	in[1].flags = 1;
	in[2] = rec_make(0, 2, 2, 24, 1, 6, 7);
	in[3] = rec_make(0, 3, 3, PKVM_EV_MARK, 0, 2, 0);
	tmp_path(path, sizeof(path), "v42");
	write_records(path, 1, in, 4);
	file_set_version(path, 4, 2);
	cr_assert_eq(read_all(path, out, 4, &got, &err, NULL), 0, "%s",
		     err.message);
	cr_assert_eq(got, 2);
	cr_assert_eq(out[1].a, 2);
	file_set_version(path, 4, 1);
	cr_assert_eq(read_all(path, out, 4, &got, &err, NULL), -1);
	cr_assert_eq(err.code, TRACE_E_BAD_RECORD);
	unlink(path);
}

Test(v41, linux_tables_name_what_linux_numbers)
{
	/* Property: the linux-6.12 tables are its own: ids 0-25 as kvm_asm.h
	 * numbers them, nothing beyond; our hyp keeps its names. */
	cr_assert_eq(trace_system_of(PKVM_SYSTEM_LINUX612), TRACE_SYS_LINUX612);
	cr_assert_eq(trace_system_of(TRACE_SYSTEM_HYP), TRACE_SYS_HYP);
	cr_assert_str_eq(trace_sys_hcall_name(TRACE_SYS_LINUX612, 0),
			 "__kvm_hyp_init");
	cr_assert_str_eq(trace_sys_hcall_name(TRACE_SYS_LINUX612, 12),
			 "__kvm_vcpu_run");
	cr_assert_str_eq(trace_sys_hcall_name(TRACE_SYS_LINUX612, 25),
			 "__pkvm_teardown_vm");
	cr_assert_null(trace_sys_hcall_name(TRACE_SYS_LINUX612, 26));
	cr_assert_str_eq(trace_sys_hcall_name(TRACE_SYS_HYP, 4),
			 "hyp_donate_host");
	cr_assert_str_eq(trace_sys_boot_flag_name(TRACE_SYS_LINUX612, 3),
			 "s2fwb");
	cr_assert_str_eq(trace_tlbi_name(0x101 | 5u << 16), "vale2is");
	cr_assert_str_eq(trace_tlbi_name(0x1ff), "other");
	cr_assert_str_eq(trace_barrier_name(0x115), "dmb ishst");
	cr_assert_str_eq(trace_barrier_name(0x108), "dsb oshld");
	cr_assert_str_eq(trace_nondet_name(4), "free_page");
	cr_assert_str_eq(trace_mark_name(10), "vcpu_load");
	cr_assert_str_eq(trace_mark_name(11), "vcpu_put");
	cr_assert_str_eq(trace_mark_name(9), "page_zeroed");
	cr_assert_str_eq(trace_errno_name(-34), "ERANGE");
	cr_assert_str_eq(trace_region_name(15), "vgic_global_state");
	cr_assert_str_eq(trace_lock_role_name(PKVM_LOCK_ROLE_POOL |
					      1u << PKVM_LOCK_ROLE_ARG_SHIFT),
			 "pool");
	cr_assert_str_eq(trace_component_name(PKVM_COMP_GUEST_S2), "guest_s2");
}

/* One event rendered with the linux-6.12 tables. */
static void line_of(char *buf, size_t len, const struct pkvm_record *recs,
		    unsigned n)
{
	struct trace_fmt fmt = { 0 };

	fmt.system = TRACE_SYS_LINUX612;
	trace_format_event_at(buf, len, recs, n, &fmt);
}

Test(v41, dump_decodes_the_new_kinds_and_values)
{
	/* Property: dump names what 4.1 added, by the trace's system. */
	struct pkvm_record ev[16];
	char line[512];

	v41_events(ev);
	line_of(line, sizeof(line), &ev[0], 2);
	cr_assert_not_null(strstr(line, "region what=hyp_text base=0x40210000 "
					"size=0x5000 aux=0"),
			   "%s", line);
	line_of(line, sizeof(line), &ev[7], 1);
	cr_assert_not_null(
		strstr(line, "lock_info lock=0x4071e1d8@2 role=vm:3"), "%s",
		line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_LOCK_ACQUIRE, 0, 0x200004071e1d8ull,
			 11);
	line_of(line, sizeof(line), ev, 1);
	cr_assert_not_null(strstr(line, "lock=0x4071e1d8@2 ticket=11"), "%s",
			   line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_LOCK_INFO, 0, 0x4071e000ull,
			 PKVM_LOCK_ROLE_POOL |
				 PKVM_COMP_HOST_S2 << PKVM_LOCK_ROLE_ARG_SHIFT);
	line_of(line, sizeof(line), ev, 1);
	cr_assert_not_null(strstr(line, "role=pool:host_s2"), "%s", line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_TRAP_ENTRY, 0, 0x5a000000, 0x1000);
	ev[1] = rec_make(0, 2, 1, PKVM_EV_TRAP_ENTRY, 1, 0, 0);
	ev[2] = rec_make(0, 3, 1, PKVM_EV_TRAP_ENTRY, 2, 0xc6000017, 0);
	ev[3] = rec_make(0, 4, 1, PKVM_EV_TRAP_ENTRY, 3, 0, 0);
	line_of(line, sizeof(line), ev, 4);
	cr_assert_not_null(strstr(line, "x0=__pkvm_init_vm"), "%s", line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_NONDET, 0, PKVM_NONDET_FREE_PAGE,
			 0x41234000);
	ev[1] = rec_make(0, 2, 1, PKVM_EV_NONDET, 1, 0, PKVM_COMP_GUEST_S2);
	line_of(line, sizeof(line), ev, 2);
	cr_assert_not_null(strstr(line, "what=free_page value=0x41234000 "
					"addr=0 aux=guest_s2"),
			   "%s", line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_MARK, 0, PKVM_MARK_VCPU_LOAD,
			 1ull << 32 | 0x1000);
	line_of(line, sizeof(line), ev, 1);
	cr_assert_not_null(strstr(line, "what=vcpu_load arg=0x100001000"), "%s",
			   line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_TLBI, 0, 0x101 | 3u << 16, 0x12345);
	line_of(line, sizeof(line), ev, 1);
	cr_assert_not_null(strstr(line, "op=vale2is"), "%s", line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_BARRIER, 0, 0x115, 0);
	line_of(line, sizeof(line), ev, 1);
	cr_assert_not_null(strstr(line, "op=dmb ishst"), "%s", line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_TRAP_EXIT, 0, 0, (uint64_t)-34);
	ev[1] = rec_make(0, 2, 1, PKVM_EV_TRAP_EXIT, 1, 0, 0);
	ev[2] = rec_make(0, 3, 1, PKVM_EV_TRAP_EXIT, 2, 0, 0);
	ev[3] = rec_make(0, 4, 1, PKVM_EV_TRAP_EXIT, 3, 0, 0);
	line_of(line, sizeof(line), ev, 4);
	cr_assert_not_null(strstr(line, "x1=ERANGE"), "%s", line);
	ev[0] = rec_make(0, 1, 1, PKVM_EV_PANIC, 0, PKVM_PANIC_BUG, 0x8000);
	cr_assert_eq(ev[0].a, 4);
}

Test(v41, boot_flags_are_named_by_the_system)
{
	/* Property: BOOT's boot_flags read by the linux-6.12 table on its
	 * traces, and stay a number on our hyp's. */
	struct pkvm_record boot[7];
	struct trace_fmt hyp = { 0 };
	char line[1024];

	boot[0] = rec_make(0, 0, 1, PKVM_EV_BOOT, 0, 1ull | 2ull << 32, 1);
	for (unsigned c = 1; c <= 6; c++)
		boot[c] = rec_make(0, c, 1, PKVM_EV_BOOT, c, 0, 0);
	boot[6].b = PKVM_L612_BOOT_HVHE | PKVM_L612_BOOT_S2FWB;
	line_of(line, sizeof(line), boot, 7);
	cr_assert_not_null(strstr(line, "boot_flags=hvhe|s2fwb"), "%s", line);
	trace_format_event_at(line, sizeof(line), boot, 7, &hyp);
	cr_assert_not_null(strstr(line, "boot_flags=9"), "%s", line);
}
