# lib.sh - helpers for the shell tests, sourced by tests/t/NNNN-*.sh.
#
# Each script runs in a fresh trash directory (removed at the end unless
# DH_TEST_KEEP is set) with the built tools first on PATH, and prints TAP.
#
#   test_expect_success 'what it checks' 'commands'
#   test_must_fail CMD...         CMD must exit non-zero (and not by a signal)
#   test_expect_code N CMD...     CMD must exit with status N
#   test_cmp EXPECTED ACTUAL      files must be equal (diff shown otherwise)
#   test_tap_import CMD...        run a TAP-printing CMD (e.g. test-store URI)
#                                 and count each of its checks as one of ours
#   test_done                     print the plan, exit non-zero on failure
: "${DH_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${DH_BUILD:=$DH_TOP/build}"
PATH="${DH_TEST_WRAPPERS:+$DH_TEST_WRAPPERS:}$DH_BUILD/cmd:$DH_BUILD/tests:$DH_TOP/scripts:$PATH"
export PATH DH_TOP DH_BUILD
LC_ALL=C
export LC_ALL

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/dh-t.XXXXXX")
trap 'cd /; [ -n "${DH_TEST_KEEP:-}" ] || rm -rf "$TRASH"' EXIT
cd "$TRASH" || exit 1
test_count=0
test_failures=0

test_expect_success() {
	test_count=$((test_count + 1))
	if (set -e; eval "$2") >"$TRASH/.out" 2>&1; then
		echo "ok $test_count - $1"
	else
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $1"
		sed 's/^/#   /' "$TRASH/.out" | tail -n 30
	fi
}

test_must_fail() {
	"$@"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif [ "$rc" -gt 128 ] && [ "$rc" -ne 255 ]; then
		echo "test_must_fail: command died of signal $((rc - 128)): $*" >&2
		return 1
	fi
	return 0
}

# (its variables are prefixed: a test's own "want" or "rc" must survive it)
test_expect_code() {
	_tec_want=$1
	shift
	"$@"
	_tec_rc=$?
	if [ "$_tec_rc" -ne "$_tec_want" ]; then
		echo "test_expect_code: exit $_tec_rc, want $_tec_want: $*" >&2
		return 1
	fi
	return 0
}

test_cmp() {
	diff -u "$1" "$2"
}

test_tap_import() {
	"$@" >"$TRASH/.tap" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*)
			test_count=$((test_count + 1))
			echo "ok $test_count -${line#ok [0-9]* -}";;
		"not ok "*)
			test_count=$((test_count + 1))
			test_failures=$((test_failures + 1))
			echo "not ok $test_count -${line#not ok [0-9]* -}";;
		"#"*)
			echo "$line";;
		esac
	done <"$TRASH/.tap"
	if [ "$rc" -ne 0 ]; then
		test_count=$((test_count + 1))
		test_failures=$((test_failures + 1))
		echo "not ok $test_count - $* exited $rc"
		tail -n 5 "$TRASH/.tap" | sed 's/^/#   /'
	fi
}

test_done() {
	echo "1..$test_count"
	[ "$test_failures" -eq 0 ]
}

# people_db DIR N: a database of N people (:name, unique identity; :age)
# transacted 1,000 at a time, so its nodes are of the usual size (one bulk
# transaction cuts larger ones, and the trees would be shallower)
people_db() {
	dh-create "$1" &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" | dh-transact -o none "$1" &&
	awk -v n="$2" 'BEGIN { for (i = 1; i <= n; i++) { if (i % 1000 == 1) printf "[";
		printf "{:name \"p%d\" :age %d}", i, i % 90; if (i % 1000 == 0 || i == n) print "]" } }' |
		dh-transact -o none "$1"
}
