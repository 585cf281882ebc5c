#!/bin/sh
# The single writer is enforced by compare-and-swap of the head.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	echo "[{:db/ident :k :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]" >schema.edn &&
	dh-create -f schema.edn ./db
'

test_expect_success '--on the current head commits' '
	c0=$(dh-store ./db head) &&
	echo "[{:k \"a\"}]" | dh-transact --on $c0 ./db >out &&
	c1=$(dh-store ./db head) &&
	test "$c0" != "$c1" &&
	grep ":commit \"$c1\"" out
'

test_expect_success 'a writer that lost the race exits 3 and changes nothing' '
	c1=$(dh-store ./db head) &&
	echo "[{:k \"b\"}]" | dh-transact ./db >/dev/null &&
	c2=$(dh-store ./db head) &&
	echo "[{:k \"c\"}]" | test_expect_code 3 dh-transact --on $c1 ./db 2>err &&
	grep "dh-transact: .*moved" err &&
	test "$(dh-store ./db head)" = "$c2" &&
	dump-datoms ./db avet --a k --v "\"c\"" >out && test ! -s out
'

test_expect_success 'the new commit names its parent' '
	c2=$(dh-store ./db head) &&
	echo "[{:k \"d\"}]" | dh-transact ./db >/dev/null &&
	c3=$(dh-store ./db head) &&
	dh-store ./db node-get $c3 >commit &&
	od -An -tx1 commit | tr -d " \n" | grep $c2
'

test_expect_success 'concurrent writers all land (retrying on conflict)' '
	for w in 1 2 3 4; do
		( i=0; while test $i -lt 15; do echo "[{:k \"w$w-$i\"}]"; i=$((i+1)); done | dh-transact -o none ./db ) &
	done &&
	wait &&
	dump-datoms ./db avet --a k >all &&
	grep -c "\"w[1-4]-" all >n && echo 60 >expect && test_cmp expect n &&
	dump-datoms ./db --verify
'

test_done
