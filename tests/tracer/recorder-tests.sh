#!/bin/bash
# Recorder tests driven from meson (tests/tracer/meson.build).
#   recorder-tests.sh CASE PKVM_RECORD VERIFY_TRACE MAKE_DUMP [HYP WORKLOAD]
# CASE: from-dump (no QEMU), cpus1, cpus4, stress-wait, drop, kill, stop,
# save-dump, panic.
# Exit 0 pass, 1 fail, 77 skip (meson's convention).
set -u
case_name=$1 rec=$2 verify=$3 mkdump=$4 hyp=${5:-} wl=${6:-}
dir=$(mktemp -d "${TMPDIR:-/tmp}/recorder-test.XXXXXX")
trap 'rm -rf "$dir"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_rc WANT CMD...: run CMD, fail unless it exits with WANT.
expect_rc() {
	local want=$1; shift
	"$@" >"$dir/out" 2>"$dir/err"
	local rc=$?
	if [ "$rc" != "$want" ]; then
		cat "$dir/out" "$dir/err" >&2
		fail "exit $rc, expected $want: $*"
	fi
}

record() { "$rec" --hyp "$hyp" --workload "$wl" --quiet "$@"; }
# In the background, run pkvm-record itself (not a subshell) so that $!
# is its pid and the signals below reach it.
record_bg() { "$rec" --hyp "$hyp" --workload "$wl" --quiet "$@" & }

# Losses before TRACE_LOAD (the hyp's early buffer overflowing) are not the
# rings': WAIT mode promises only --no-ring-loss.
# The kinds every CPU emits in a stress run, and the ones only some do.
every_kinds=hcall_entry,hcall_entry_lock2,hcall_exit_unlock2,hcall_exit,trap_entry,pte_write,mark
some_kinds=boot,trap_exit,lock_acquire,lock_release,lock_acquire2,lock_release2,tlbi,barrier,sysreg_write,nondet

case $case_name in
from-dump)
	expect_rc 0 "$mkdump" -c 3 -e 50 "$dir/d.bin"
	expect_rc 0 "$rec" --from-dump "$dir/d.bin" -o "$dir/t.zst" --quiet
	expect_rc 0 "$verify" --cpus 3 --no-loss --complete \
		--kinds mark,pte_write,trap_entry,tlbi,trap_exit,nondet "$dir/t.zst"
	grep -q 'cpu2 records=[1-9]' "$dir/out" || fail "no cpu2 records"
	# A dump whose first 8 records were consumed starts inside an event
	# (records 7..10 are one trap_exit): its 3 continuations are skipped.
	expect_rc 0 "$mkdump" -c 1 -e 50 -s 8 "$dir/d2.bin"
	expect_rc 0 "$rec" --from-dump "$dir/d2.bin" -o "$dir/t2.zst"
	grep -q 'partial=3 ' "$dir/err" || fail "partial event: $(cat "$dir/err")"
	expect_rc 0 "$verify" --cpus 1 --complete "$dir/t2.zst"
	# A silent gap (no LOST record) must be caught by verify-trace.
	expect_rc 0 "$mkdump" -c 1 -e 50 -g "$dir/d3.bin"
	expect_rc 0 "$rec" --from-dump "$dir/d3.bin" -o "$dir/t3.zst" --quiet
	expect_rc 1 "$verify" "$dir/t3.zst"
	grep -q 'not explained by a LOST record' "$dir/err" ||
		fail "silent gap: $(cat "$dir/err")"
	# Bad input: clear error, documented exit code, no crash.
	head -c 5000 "$dir/d.bin" >"$dir/short.bin"
	expect_rc 5 "$rec" --from-dump "$dir/short.bin" -o "$dir/t3.zst"
	grep -q 'short.bin: offset' "$dir/err" || fail "no offset: $(cat "$dir/err")"
	expect_rc 5 "$rec" --from-dump "$dir/missing.bin" -o "$dir/t3.zst"
	expect_rc 2 "$rec" --cpus 0
	expect_rc 2 "$rec" --mode sometimes
	expect_rc 2 "$rec" --hyp "$dir/nope.elf" -o "$dir/t4.zst"
	grep -q 'nope.elf' "$dir/err" || fail "missing image not named"
	;;
cpus1|cpus4)
	n=${case_name#cpus}
	expect_rc 0 record --cpus "$n" --ops 200 -o "$dir/t.zst"
	expect_rc 0 "$verify" --cpus "$n" --no-ring-loss --complete \
		--kinds "$every_kinds" --any-kinds "$some_kinds" "$dir/t.zst"
	if command -v zstd >/dev/null; then
		zstd -q -t "$dir/t.zst" || fail "zstd -t rejects the trace"
	fi
	;;
stress-wait)
	# The smallest ring the hyp accepts (1 page, 128 records): WAIT mode
	# must still lose nothing.
	expect_rc 0 record --cpus 4 --ops 300 --ring-pages 1 -o "$dir/t.zst"
	expect_rc 0 "$verify" --no-ring-loss --complete "$dir/t.zst"
	;;
drop)
	expect_rc 0 record --cpus 4 --ops 400 --ring-pages 1 --mode drop \
		-o "$dir/t.zst"
	# verify-trace checks that LOST records explain every gap exactly.
	expect_rc 0 "$verify" --loss --complete "$dir/t.zst"
	;;
kill)
	record_bg --cpus 4 --ops 1000000 --timeout 60 -o "$dir/t.zst"
	pid=$!
	for _ in $(seq 1 300); do
		size=$(stat -c %s "$dir/t.zst" 2>/dev/null || echo 0)
		[ "$size" -gt 200000 ] && break
		sleep 0.1
	done
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	sleep 0.5
	size2=$(stat -c %s "$dir/t.zst")
	sleep 0.5
	[ "$size2" = "$(stat -c %s "$dir/t.zst")" ] || fail "trace still growing"
	[ "${size:-0}" -gt 200000 ] || fail "trace never grew (size ${size:-0})"
	expect_rc 0 "$verify" --truncated --min-records 1000 "$dir/t.zst"
	;;
stop)
	# A timeout and a SIGINT both stop QEMU and still close the trace.
	expect_rc 4 record --cpus 2 --ops 1000000 --timeout 3 -o "$dir/t.zst"
	expect_rc 0 "$verify" --complete --min-records 1000 "$dir/t.zst"
	record_bg --cpus 2 --ops 1000000 --timeout 60 -o "$dir/i.zst"
	pid=$!
	sleep 3
	kill -INT "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" = 6 ] || fail "SIGINT: exit $rc, expected 6"
	expect_rc 0 "$verify" --complete --min-records 1000 "$dir/i.zst"
	;;
panic)
	# Scenario 4: CPU0 calls TEST_PANIC once the rings are loaded (HYP is
	# the test image: hyp.elf has no TEST_PANIC).
	expect_rc 1 record --cpus 2 --ops 100 --scenario panic -o "$dir/t.zst"
	expect_rc 0 "$verify" --cpus 2 --complete --any-kinds panic \
		"$dir/t.zst"
	grep -q 'hyp: PANIC' "$dir/t.zst.console" || fail "no panic line"
	# Without --hyp, --scenario panic takes the build tree's test image.
	expect_rc 1 "$rec" --workload "$wl" --quiet --cpus 1 --ops 10 \
		--scenario panic -o "$dir/d.zst"
	grep -q 'hyp: PANIC code=3' "$dir/d.zst.console" ||
		fail "default image for --scenario panic: no test_panic"
	;;
save-dump)
	# A dump saved at the end of a live run converts back to a trace
	# holding the last ring's worth of every CPU.
	expect_rc 0 record --cpus 2 --ops 200 --ring-pages 1 -o "$dir/t.zst" \
		--save-dump "$dir/d.bin"
	[ "$(stat -c %s "$dir/d.bin")" = $((4096 + 2 * 4096)) ] ||
		fail "dump size $(stat -c %s "$dir/d.bin")"
	expect_rc 0 "$rec" --from-dump "$dir/d.bin" -o "$dir/d.zst" --quiet
	expect_rc 0 "$verify" --cpus 2 --complete --min-records 200 "$dir/d.zst"
	;;
*)
	fail "unknown case $case_name"
	;;
esac
echo "ok: $case_name"
