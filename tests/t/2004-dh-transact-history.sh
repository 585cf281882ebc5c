#!/bin/sh
# Commits, the log tail and its absorption into the trees, as-of / since /
# history views, purge, and databases without history.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	cat >schema.edn <<-\EOF &&
	[{:db/ident :k :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	 {:db/ident :n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :secret :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]
	EOF
	dh-create -f schema.edn ./db &&
	echo "[{:k \"x\" :n 1}]" | dh-transact -o none ./db
'

test_expect_success 'a small transaction writes a log node and a commit, no tree nodes' '
	find db/nodes -type f | sort >before &&
	echo "[{:k \"x\" :n 2}]" | dh-transact -o none ./db &&
	find db/nodes -type f | sort >after &&
	comm -13 before after >new &&
	test $(wc -l <new) = 2
'

test_expect_success 'many transactions: the tail is absorbed and nothing is lost' '
	i=3; while test $i -le 80; do echo "[{:k \"x\" :n $i} {:k \"y$i\" :n $i}]"; i=$((i+1)); done | dh-transact -o none ./db &&
	x=$(dump-datoms ./db --entid "[:k \"x\"]") &&
	dump-datoms ./db --e $x --a n | grep -c . >c && echo 1 >expect && test_cmp expect c &&
	dump-datoms ./db avet --a n --v 80 | wc -l | tr -d " " >c && echo 2 >expect && test_cmp expect c &&
	dump-datoms ./db avet --a k | wc -l | tr -d " " >c && echo 79 >expect && test_cmp expect c &&
	dump-datoms ./db --verify
'

test_expect_success 'history holds every assertion and retraction' '
	x=$(dump-datoms ./db --entid "[:k \"x\"]") &&
	dump-datoms ./db --history --e $x --a n >h &&
	grep -c " true\]$" h >c && echo 80 >expect && test_cmp expect c &&
	grep -c " false\]$" h >c && echo 79 >expect && test_cmp expect c
'

test_expect_success 'as-of a transaction' '
	x=$(dump-datoms ./db --entid "[:k \"x\"]") &&
	dump-datoms ./db --as-of 536870915 --e $x --a n >out &&
	grep "^\[$x :n 2 536870915 true\]$" out && test $(wc -l <out) = 1 &&
	dump-datoms ./db --as-of 536870914 --e $x --a n | grep "^\[$x :n 1 " &&
	dump-datoms ./db --as-of 536870913 --e $x >out && test ! -s out
'

test_expect_success 'as-of an instant' '
	now=$(($(date +%s) * 1000 + 999999)) &&
	x=$(dump-datoms ./db --entid "[:k \"x\"]") &&
	dump-datoms ./db --as-of-inst $now --e $x --a n | grep ":n 80 " &&
	dump-datoms ./db --as-of-inst 1000 >out && test ! -s out
'

test_expect_success 'since a transaction' '
	dump-datoms ./db --since 536870990 >out &&
	! grep -v "53687099[1-9]\|5368709[2-9][0-9]" out &&
	grep ":n 80 " out
'

test_expect_success 'views see the tail and the trees the same way' '
	echo "[{:k \"x\" :n 1000}] [[:db/retract [:k \"y5\"] :n 5]]" | tr " " "\n" >/dev/null &&
	printf "[{:k \"x\" :n 1000}]\n[[:db/retract [:k \"y5\"] :n 5]]\n" | dh-transact -o none ./db &&
	y5=$(dump-datoms ./db --entid "[:k \"y5\"]") &&
	dump-datoms ./db --e $y5 --a n >out && test ! -s out &&
	dump-datoms ./db --history --e $y5 --a n >h &&
	test $(wc -l <h) = 2 &&
	x=$(dump-datoms ./db --entid "[:k \"x\"]") &&
	dump-datoms ./db --e $x --a n | grep ":n 1000 "
'

test_expect_success 'old commits stay readable' '
	c1=$(dh-store ./db head) &&
	echo "[{:k \"z\" :n 5}]" | dh-transact -o none ./db &&
	dump-datoms ./db -c $c1 avet --a k --v "\"z\"" >out && test ! -s out &&
	dump-datoms ./db avet --a k --v "\"z\"" | grep "\"z\""
'

test_expect_success 'the log order: by transaction, the tx entity first' '
	dump-datoms ./db log >log &&
	head -1 log | grep "^\[536870913 :db/txInstant INST 536870913 true\]$" &&
	awk "{print \$(NF-1)}" log >txs && sort -n txs >sorted && test_cmp sorted txs
'

test_expect_success 'purge removes a datom from current and history' '
	echo "[{:k \"p\" :secret \"s1\"}] [{:k \"p\" :secret \"s2\"}]" | dh-transact -o none ./db &&
	p=$(dump-datoms ./db --entid "[:k \"p\"]") &&
	dump-datoms ./db --history --e $p --a secret >h && test $(wc -l <h) = 3 &&
	echo "[[:db/purge $p :secret \"s1\"]]" | dh-transact -o none ./db &&
	dump-datoms ./db --history --e $p --a secret >h &&
	! grep "s1" h && grep "s2" h &&
	echo "[[:db.purge/attribute $p :secret]]" | dh-transact -o none ./db &&
	dump-datoms ./db --history --e $p --a secret >h && test ! -s h &&
	dump-datoms ./db --e $p | grep ":k \"p\"" &&
	echo "[[:db.purge/entity $p]]" | dh-transact -o none ./db &&
	dump-datoms ./db --history --e $p >h && test ! -s h &&
	dump-datoms ./db --verify
'

test_expect_success 'without history: retracted datoms are gone, views refused, purge refused' '
	dh-create -H off -f schema.edn ./nh &&
	printf "[{:k \"a\" :n 1}]\n[{:k \"a\" :n 2}]\n" | dh-transact -o none ./nh &&
	i=0; while test $i -lt 40; do echo "[{:k \"a\" :n $i}]"; i=$((i+1)); done | dh-transact -o none ./nh &&
	a=$(dump-datoms ./nh --entid "[:k \"a\"]") &&
	dump-datoms ./nh --e $a --a n | grep ":n 39 " &&
	test_must_fail dump-datoms ./nh --history 2>err &&
	grep "needs history" err &&
	echo "[[:db/purge $a :n 39]]" | test_expect_code 1 dh-transact ./nh 2>err &&
	grep "purge operations need history" err
'

test_expect_success 'corruption of a node is detected and named' '
	dh-create -f schema.edn ./cdb &&
	echo "[{:k \"q\"}]" | dh-transact -o none ./cdb &&
	c=$(dh-store ./cdb head) &&
	f=cdb/nodes/$(echo $c | cut -c1-2)/$(echo $c | cut -c3-) &&
	chmod u+w $f && printf x >>$f &&
	test_must_fail dump-datoms ./cdb 2>err &&
	grep "corrupt\|hash" err
'

test_done
