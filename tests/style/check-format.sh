#!/usr/bin/env bash
# Fails when a tracked C file is not formatted per the root .clang-format.
set -euo pipefail
cd "$1"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	mapfile -t files < <(git ls-files '*.c' '*.h')
else
	mapfile -t files < <(find . -path ./build\* -prune -o \( -name '*.c' -o -name '*.h' \) -print)
fi
[ ${#files[@]} -gt 0 ] || { echo "no C files found" >&2; exit 1; }
bad=0
for f in "${files[@]}"; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not formatted: $f (run: clang-format -i $f)"
		bad=1
	fi
done
echo "checked ${#files[@]} files"
exit $bad
