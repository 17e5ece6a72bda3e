#!/bin/bash
# Recorder tests driven from meson (tests/tracer/meson.build).
#   recorder-tests.sh CASE PKVM_RECORD VERIFY_TRACE MAKE_DUMP [HYP WORKLOAD]
# CASE: from-dump, commit-stamp (no QEMU), cpus1, cpus4, stress-wait, drop,
# drop-accounting, kill, stop, save-dump, panic, salvage-early.
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
	# A dump of a machine still running (the fake's ring state RUNNING).
	expect_rc 0 "$verify" --cpus 3 --no-loss --complete --counters \
		--outcome running \
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
commit-stamp)
	# tools/commit-stamp, which stamps the hyp image (hyp_commit= in the
	# trace header): the commit, -dirty when a tracked file differs from
	# it (staged or not), untracked files and touched-only ones aside.
	stamp=$(cd "$(dirname "$0")/../.." && pwd)/tools/commit-stamp
	r=$dir/repo
	gr() { git -C "$r" -c user.name=t -c user.email=t@t "$@" >/dev/null; }
	mkdir -p "$r" && echo one >"$r/f" && gr init -q && gr add f &&
		gr commit -q -m one || fail "no git repository"
	c=$(git -C "$r" rev-parse HEAD)
	[ "$("$stamp" "$r")" = "$c" ] || fail "clean: $("$stamp" "$r")"
	echo new >"$r/untracked"
	touch "$r/f"
	[ "$("$stamp" "$r")" = "$c" ] || fail "untracked/touched: $("$stamp" "$r")"
	echo two >>"$r/f"
	[ "$("$stamp" "$r")" = "$c-dirty" ] || fail "edited: $("$stamp" "$r")"
	gr add f
	[ "$("$stamp" "$r")" = "$c-dirty" ] || fail "staged: $("$stamp" "$r")"
	gr commit -q -m two
	[ "$("$stamp" "$r")" = "$(git -C "$r" rev-parse HEAD)" ] ||
		fail "committed: $("$stamp" "$r")"
	mkdir -p "$dir/plain"
	[ "$(GIT_CEILING_DIRECTORIES=$dir "$stamp" "$dir/plain")" = unknown ] ||
		fail "outside a repository"
	;;
cpus1|cpus4)
	n=${case_name#cpus}
	expect_rc 0 record --cpus "$n" --ops 200 -o "$dir/t.zst"
	expect_rc 0 "$verify" --cpus "$n" --no-ring-loss --complete --counters \
		--lost 0 --outcome clean --kinds "$every_kinds" \
		--any-kinds "$some_kinds" "$dir/t.zst"
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
	expect_rc 0 "$verify" --loss --complete --counters --outcome clean \
		"$dir/t.zst"
	;;
drop-accounting)
	# Every record accounted for (tracer/README.md): over many DROP-mode
	# runs with the smallest rings, the workload's dropped= (the hyp's
	# own counters, read at the end of the run), the recorder's lost= and
	# the trace's loss (LOST counts, gaps and tail losses from the end
	# summary's producer counters) are the same number. Tail losses
	# (a CPU that ends with drops and no LOST record after them) occur in
	# about one run in five. PKVM_DROP_RUNS=225 is the long variant.
	runs=${PKVM_DROP_RUNS:-12} tails=0 total=0
	for seed in $(seq 1 "$runs"); do
		expect_rc 0 "$rec" --hyp "$hyp" --workload "$wl" --cpus 4 \
			--ops 1500 --ring-pages 1 --mode drop --seed "$seed" \
			-o "$dir/t.zst"
		line=$(grep '^pkvm-record: .*records=' "$dir/err")
		rec_lost=$(sed -n 's/.* lost=\([0-9]*\) .*/\1/p' <<<"$line")
		tail=$(sed -n 's/.*, tail \([0-9]*\),.*/\1/p' <<<"$line")
		wl_dropped=$(sed -n 's/^workload: hvcs=.* dropped=\([0-9]*\).*/\1/p' \
			"$dir/t.zst.console")
		[ -n "$rec_lost" ] && [ -n "$wl_dropped" ] ||
			fail "seed $seed: no counts: $line / $(grep dropped= "$dir/t.zst.console")"
		expect_rc 0 "$verify" --complete --counters --outcome clean \
			--lost "$wl_dropped" "$dir/t.zst"
		grep -q "^lost_total=$rec_lost dropped=$wl_dropped\$" "$dir/out" ||
			fail "seed $seed: recorder lost=$rec_lost, workload dropped=$wl_dropped, trace $(grep '^lost_total' "$dir/out")"
		[ "$tail" -gt 0 ] && tails=$((tails + 1))
		total=$((total + rec_lost))
	done
	echo "drop-accounting: runs=$runs lost=$total runs_with_tail_loss=$tails mismatches=0"
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
	expect_rc 0 "$verify" --complete --min-records 1000 --counters \
		--outcome timeout "$dir/t.zst"
	record_bg --cpus 2 --ops 1000000 --timeout 60 -o "$dir/i.zst"
	pid=$!
	sleep 3
	kill -INT "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" = 6 ] || fail "SIGINT: exit $rc, expected 6"
	expect_rc 0 "$verify" --complete --min-records 1000 --counters \
		--outcome interrupted "$dir/i.zst"
	;;
panic)
	# Scenario 4: CPU0 calls TEST_PANIC once the rings are loaded (HYP is
	# the test image: hyp.elf has no TEST_PANIC).
	expect_rc 1 record --cpus 2 --ops 100 --scenario panic -o "$dir/t.zst"
	expect_rc 0 "$verify" --cpus 2 --complete --any-kinds panic --counters \
		--outcome hyp-panic "$dir/t.zst"
	grep -q 'hyp: PANIC' "$dir/t.zst.console" || fail "no panic line"
	# Without --hyp, --scenario panic takes the build tree's test image.
	expect_rc 1 "$rec" --workload "$wl" --quiet --cpus 1 --ops 10 \
		--scenario panic -o "$dir/d.zst"
	grep -q 'hyp: PANIC code=3' "$dir/d.zst.console" ||
		fail "default image for --scenario panic: no test_panic"
	;;
salvage-early)
	# Salvage (tracer/README.md): a hyp that never handed its records to
	# the rings still leaves them in the trace. 1: tracing never starts
	# (the workload's rings do not fit, it gives up and powers off): every
	# CPU's early buffer, BOOT first, comes from guest RAM afterwards.
	expect_rc 3 "$rec" --hyp "$hyp" --workload "$wl" --cpus 4 --ops 10 \
		--ring-pages 8192 -o "$dir/n.zst"
	grep -q 'salvaged=[1-9].*outcome=qemu-failed' "$dir/err" ||
		fail "never started: $(cat "$dir/err")"
	expect_rc 0 "$verify" --cpus 4 --complete --counters --lost 0 \
		--kinds mark --any-kinds boot --outcome qemu-failed "$dir/n.zst"
	# 2: the hyp panics while it hands the rings over (mutant 10, built
	# here from a copy of the tree: TRACE_LOAD accepts a ring the hyp
	# cannot write, and its first write there faults). With one CPU its
	# PANIC record faults too; the early buffer holds BOOT and the
	# TRACE_LOAD that should have been refused. With two, CPU0 writes its
	# PANIC record into its own ring and CPU1's early buffer is salvaged.
	src=$(cd "$(dirname "$0")/../.." && pwd)
	mkdir -p "$dir/src"
	if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$src" && git ls-files -z --cached --others --exclude-standard |
			tar --null -T - -cf - 2>/dev/null) | tar -xf - -C "$dir/src"
	else
		(cd "$src" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$dir/src"
	fi
	(cd "$dir/src" && git apply tests/mutants/10-trace-load-no-ring-ownership.patch) ||
		fail "mutant 10 does not apply"
	meson setup "$dir/b" "$dir/src" --cross-file "$dir/src/meson/aarch64-none-elf.ini" \
		--native-file "$dir/src/meson/native-clang.ini" >"$dir/setup.log" 2>&1 &&
		ninja -C "$dir/b" hyp/hyp.elf >>"$dir/setup.log" 2>&1 ||
		{ tail -20 "$dir/setup.log" >&2; fail "mutant 10 does not build"; }
	expect_rc 1 "$rec" --hyp "$dir/b/hyp/hyp.elf" --workload "$wl" --cpus 1 \
		--scenario 3 --mode drop --timeout 20 -o "$dir/m1.zst"
	grep -q 'salvaged=[1-9].*outcome=hyp-panic' "$dir/err" ||
		fail "mutant 10, 1 CPU: $(cat "$dir/err")"
	expect_rc 0 "$verify" --cpus 1 --complete --counters \
		--kinds boot,hcall_exit --outcome hyp-panic --print "$dir/m1.zst"
	grep -q 'hcall_exit.*x0=0 ' "$dir/out" ||
		fail "no salvaged TRACE_LOAD return"
	expect_rc 1 "$rec" --hyp "$dir/b/hyp/hyp.elf" --workload "$wl" --cpus 2 \
		--scenario 3 --mode drop --timeout 20 -o "$dir/m2.zst"
	grep -q 'salvaged=[1-9].*outcome=hyp-panic' "$dir/err" ||
		fail "mutant 10, 2 CPUs: $(cat "$dir/err")"
	expect_rc 0 "$verify" --cpus 2 --complete --counters --kinds mark \
		--any-kinds boot,panic --outcome hyp-panic "$dir/m2.zst"
	;;
save-dump)
	# A dump saved at the end of a live run converts back to a trace
	# holding the last ring's worth of every CPU.
	expect_rc 0 record --cpus 2 --ops 200 --ring-pages 1 -o "$dir/t.zst" \
		--save-dump "$dir/d.bin"
	[ "$(stat -c %s "$dir/d.bin")" = $((4096 + 2 * 4096)) ] ||
		fail "dump size $(stat -c %s "$dir/d.bin")"
	expect_rc 0 "$rec" --from-dump "$dir/d.bin" -o "$dir/d.zst" --quiet
	# The hyp stopped (STOPPED): clean; the records before the last ring's
	# worth are missing from the dump and counted as lost.
	expect_rc 0 "$verify" --cpus 2 --complete --min-records 200 \
		--counters --outcome clean "$dir/d.zst"
	grep -q '^lost_total=[1-9]' "$dir/out" ||
		fail "the dump's missing first records are not counted: $(cat "$dir/out")"
	;;
*)
	fail "unknown case $case_name"
	;;
esac
echo "ok: $case_name"
