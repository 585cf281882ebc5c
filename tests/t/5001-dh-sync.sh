#!/bin/sh
# dh-sync: full and incremental copies, dry runs, fast-forward only,
# corruption, interruption, and file -> lmdb -> file round trips.
. "$(dirname "$0")/lib.sh"

q='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'

# people N: tx-data for N people
people() {
	awk -v n="$1" -v off="${2:-0}" 'BEGIN { printf "["; for (i = 1; i <= n; i++) printf "{:name \"p%d\" :age %d}", i + off, (i + off) % 90; print "]" }'
}

test_expect_success 'set up a database with a few transactions' '
	dh-create a &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" | dh-transact a >/dev/null &&
	people 500 | dh-transact a >/dev/null &&
	people 300 1000 | dh-transact a >/dev/null &&
	echo "[[:db/retract [:name \"p7\"] :age 7]]" | dh-transact a >/dev/null &&
	dh-query a "$q" >a.out && test -s a.out
'

test_expect_success 'sync into a new file store copies everything' '
	dh-sync --stats a b 2>stats &&
	grep "nodes (.* bytes) copied, 0 already present" stats &&
	dh-store a head >ha && dh-store b head >hb && test_cmp ha hb &&
	dh-store a get format >fa && dh-store b get format >fb && test_cmp fa fb &&
	dh-verify b &&
	dh-query b "$q" >b.out && test_cmp a.out b.out
'

test_expect_success 'a second sync copies nothing' '
	dh-sync --stats a b 2>stats &&
	grep " 0 nodes (0 bytes) copied" stats &&
	grep "0 heads moved, 1 current" stats
'

test_expect_success 'after a small transaction only a few nodes move' '
	echo "[{:name \"new\" :age 1}]" | dh-transact a >/dev/null &&
	dh-sync --stats a b 2>stats &&
	n=$(sed -n "s/.*: \([0-9]*\) nodes (.*copied.*/\1/p" stats) &&
	test "$n" -ge 1 && test "$n" -le 16 &&
	dh-query a "$q" >a.out && dh-query b "$q" >b.out && test_cmp a.out b.out
'

test_expect_success 'dry run reports and writes nothing' '
	echo "[{:name \"dry\" :age 2}]" | dh-transact a >/dev/null &&
	dh-store b head >before &&
	dh-store b list nodes/ | sort >nodes.before &&
	dh-sync -n a b 2>out &&
	grep "would move" out && grep "would be copied" out &&
	dh-store b head >after && test_cmp before after &&
	dh-store b list nodes/ | sort >nodes.after && test_cmp nodes.before nodes.after
'

test_expect_success 'a diverged destination is refused unless forced' '
	dh-sync -q a b &&
	echo "[{:name \"only-in-b\" :age 3}]" | dh-transact b >/dev/null &&
	echo "[{:name \"only-in-a\" :age 4}]" | dh-transact a >/dev/null &&
	dh-store b head >before &&
	test_expect_code 3 dh-sync a b 2>err &&
	grep "not a fast-forward" err &&
	dh-store b head >after && test_cmp before after &&
	dh-sync -f a b &&
	dh-store a head >ha && dh-store b head >hb && test_cmp ha hb
'

test_expect_success 'file -> lmdb -> file gives identical results and sound stores' '
	dh-sync a "lmdb://$TRASH/l" &&
	dh-verify "lmdb://$TRASH/l" &&
	dh-sync "lmdb://$TRASH/l" c &&
	dh-verify c &&
	dh-query a "$q" >a.out &&
	dh-query "lmdb://$TRASH/l" "$q" >l.out &&
	dh-query c "$q" >c.out &&
	test_cmp a.out l.out && test_cmp a.out c.out
'

test_expect_success 'a corrupt source node stops the sync, destination untouched' '
	dh-sync -q a d &&
	echo "[{:name \"x1\" :age 5}]" | dh-transact a >/dev/null &&
	h=$(dh-store a head) &&
	f=a/nodes/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-) &&
	cp "$f" saved && chmod u+w "$f" && printf x >>"$f" &&
	dh-store d head >before &&
	test_expect_code 1 dh-sync a d 2>err &&
	grep "corrupt" err && grep "nodes/$(echo $h | cut -c1-2)/" err &&
	dh-store d head >after && test_cmp before after &&
	test_must_fail dh-store d has nodes/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-) &&
	cp saved "$f"
'

test_expect_success 'a killed sync leaves the destination valid; a rerun completes it' '
	people 3000 5000 | dh-transact a >/dev/null &&
	for i in 1 2 3 4 5; do
		timeout -s KILL 0.0$i dh-sync -q a e 2>/dev/null
		dh-verify -q e 2>/dev/null || { test_expect_code 1 dh-store e head >/dev/null 2>&1 || exit 1; }
	done &&
	dh-sync -q a e &&
	dh-verify e &&
	dh-query a "$q" >a.out && dh-query e "$q" >e.out && test_cmp a.out e.out
'

test_expect_success 'one branch at a time' '
	dh-store a heads >heads &&
	dh-sync -q -b db a f &&
	dh-store f heads >fheads && test_cmp heads fheads &&
	test_expect_code 1 dh-sync -b nosuch a f 2>err &&
	grep "nosuch" err
'

test_expect_success 'usage errors' '
	test_expect_code 2 dh-sync a 2>err && grep "^usage: dh-sync" err &&
	test_expect_code 2 dh-sync -b ../x a f 2>err && grep "branch" err &&
	test_expect_code 2 dh-sync a bogus://x 2>err && grep "unknown store scheme" err
'

test_done
