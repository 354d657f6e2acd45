#!/usr/bin/env bash
# Fails when an #include goes against the layering of scripts/layers.txt (an include
# from a module to one it may not reach, a file in no module, a quoted include that names
# no file) or when the includes between modules form a circle. Reads every tracked C
# source and header; #include "x" is looked up as the compiler does (beside the file,
# then in the include roots daemon/, lib/ and tests/unit/), <lota/x> in include/.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=scripts/layers.txt
fail=0
err() {
	echo "check-layers: $*" >&2
	fail=1
}
circle() { # "A B" edges on stdin -> the modules of a circle ("" when there is none)
	tsort 2>&1 >/dev/null | grep -v 'input contains a loop' | sed 's/^tsort: //' | paste -sd' ' ||
		true
}

# --- the declared modules and arrows
declare -A arrows=() # module -> the modules it may include directly
modules=()
while IFS= read -r line; do
	line=${line%%#*}
	[[ $line == *:* ]] || continue
	mod=${line%%:*}
	mod=${mod//[[:space:]]/}
	read -ra to <<<"${line#*:}"
	[[ -v arrows[$mod] ]] && err "$layers: $mod is listed twice"
	arrows[$mod]="${to[*]}"
	modules+=("$mod")
done <"$layers"
for m in "${modules[@]}"; do
	for to in ${arrows[$m]}; do
		[[ -v arrows[$to] ]] || err "$layers: $m -> $to: no module $to"
	done
done
loop=$(for m in "${modules[@]}"; do for to in ${arrows[$m]}; do echo "$m $to"; done; done | circle)
[[ -z $loop ]] || err "$layers: the arrows form a circle: $loop"

# --- what each module may include: the modules its arrows reach
declare -A allowed=() # "A B" set when A may include B
for m in "${modules[@]}"; do
	read -ra todo <<<"${arrows[$m]}"
	while ((${#todo[@]})); do
		to=${todo[-1]}
		unset 'todo[-1]'
		[[ -v allowed["$m $to"] ]] && continue
		allowed["$m $to"]=1
		read -ra more <<<"${arrows[$to]:-}"
		todo+=("${more[@]}")
	done
done

module_of() { # path -> the longest module prefix naming it ("" for none)
	local best="" m
	for m in "${modules[@]}"; do
		[[ $1 == "$m"/* || $1 == "$m".* ]] && ((${#m} > ${#best})) && best=$m
	done
	echo "$best"
}

resolve() { # including file, included name -> the repository path ("" when none)
	local c
	for c in "$(dirname "$1")/$2" "daemon/$2" "lib/$2" "tests/unit/$2"; do
		[[ -f $c ]] && realpath -m --relative-to=. "$c" && return
	done
	echo ""
}

# --- every include of every file
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for f in $files; do
	f=${f#./}
	from=$(module_of "$f")
	if [[ -z $from ]]; then
		err "$f: in no module of $layers"
		continue
	fi
	while IFS= read -r inc; do
		case $inc in
		'"'*) target=$(resolve "$f" "${inc:1:-1}") ;;
		'<lota/'*) target=include/${inc:1:-1} ;;
		*) continue ;; # a system header
		esac
		if [[ -z $target || ! -f $target ]]; then
			err "$f: #include $inc: no such file"
			continue
		fi
		to=$(module_of "$target")
		[[ -z $to || $to == "$from" ]] && continue
		echo "$from $to" >>"$edges"
		[[ -v allowed["$from $to"] ]] ||
			err "$f: #include $inc: $from may not include $to ($layers)"
	done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\(["<][^">]*[">]\).*/\1/p' "$f")
done
loop=$(sort -u "$edges" | circle)
[[ -z $loop ]] || err "the includes between modules form a circle: $loop"

[[ $fail == 0 ]] || exit 1
echo "layer check: $(echo "$files" | wc -l) files, $(sort -u "$edges" | wc -l) module arrows ok"
