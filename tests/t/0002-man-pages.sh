#!/bin/sh
# Man pages: lint clean, one per tool, and each tool's --help usage matches
# its page's SYNOPSIS.
. "$(dirname "$0")/lib.sh"

man=$DH_TOP/man

test_expect_success 'every man page passes mandoc -T lint' '
	for f in "$man"/*.[0-9]; do
		mandoc -T lint -W warning "$f" || exit 1
	done
'

# SYNOPSIS as rendered, one line per synopsis entry, spaces squeezed.
synopsis() {
	mandoc -T ascii "$1" | sed "s/.\x08//g" |
	sed -n "/^SYNOPSIS/,/^[A-Z]/p" | sed "1d;\$d" |
	awk '/^     [^ ]/ { if (line) print line; line = $0; next } /^ +[^ ]/ { line = line " " $0; next } END { if (line) print line }' |
	sed "s/^ *//; s/  */ /g; s/ \.\.\./.../g"
}

# the usage lines of --help: "usage: X" and indented continuation lines
usage() {
	"$1" --help | sed -n "/^usage: /,/^[^ ]/p" | sed "/^usage: /!{/^      */!d}" |
	sed "s/^usage: //; s/^ *//; s/  */ /g; s/ \.\.\./.../g"
}

for page in "$man"/dh-*.1; do
	[ -f "$page" ] || continue
	tool=$(basename "$page" .1)
	test_expect_success "$tool --help matches the SYNOPSIS of $tool(1)" "
		synopsis '$page' >expect &&
		usage '$tool' >actual &&
		test_cmp expect actual
	"
done

test_expect_success 'every tool has a man page' '
	for t in "$DH_BUILD"/cmd/dh-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		n=$(basename "$t")
		test -f "$man/$n.1" || { echo "no man page for $n"; exit 1; }
	done
'

test_expect_success 'every tool prints its version' '
	for t in "$DH_BUILD"/cmd/dh-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		"$t" --version | grep -q "(dh) " || { echo "$t --version"; exit 1; }
	done
'

test_done
