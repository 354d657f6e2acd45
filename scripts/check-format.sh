#!/usr/bin/env bash
# Fails when a tracked C source or header is not formatted per .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ -n "$files" ] || exit 0
bad=()
for f in $files; do
	[ -f "$f" ] || continue
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "not clang-formatted (run: clang-format -i FILE):" >&2
	printf '  %s\n' "${bad[@]}" >&2
	exit 1
fi
echo "format check: $(echo "$files" | wc -l) files ok"
