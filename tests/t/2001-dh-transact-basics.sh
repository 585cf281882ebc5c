#!/bin/sh
# dh-transact: entity maps, tempids, reports, streams of tx vectors, JSON.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	cat >schema.edn <<-\EOF &&
	[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
	 {:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
	 {:db/ident :tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}]
	EOF
	dh-create -f schema.edn ./db
'

test_expect_success 'entity ids continue after the schema entities, tx ids from 536870914' '
	echo "[{:db/id -1 :name \"Alice\" :age 30} {:db/id \"bob\" :name \"Bob\"}]" | dh-transact ./db >out &&
	grep "^{:tx 536870914, " out &&
	grep ":tempids {-1 5, \"bob\" 6, :db/current-tx 536870914}" out &&
	grep ":added 4, :retracted 0" out
'

test_expect_success 'the datoms are in the indices' '
	dump-datoms ./db --e 5 >out &&
	cat >expect <<-\EOF &&
	[5 :age 30 536870914 true]
	[5 :name "Alice" 536870914 true]
	EOF
	test_cmp expect out &&
	dump-datoms ./db --e 536870914 >out &&
	echo "[536870914 :db/txInstant INST 536870914 true]" >expect &&
	test_cmp expect out
'

test_expect_success 'a stream of tx vectors commits one transaction each' '
	printf "[{:name \"C\"}]\n[{:name \"D\"}]\n[{:name \"E\"}]\n" | dh-transact ./db >out &&
	test $(wc -l <out) = 3 &&
	grep -c "^{:tx 53687091[567], " out >n && echo 3 >expect && test_cmp expect n &&
	dump-datoms ./db --info | grep "^max-tx 536870917$"
'

test_expect_success 'transactions are committed as they arrive' '
	mkfifo fifo &&
	(dh-transact ./db fifo >out &) &&
	exec 7>fifo &&
	echo "[{:name \"F1\"}]" >&7 &&
	i=0; while ! grep -q "^{:tx" out 2>/dev/null && test $i -lt 100; do sleep 0.05; i=$((i+1)); done &&
	dump-datoms ./db avet --a name --v "\"F1\"" >got &&
	test -s got &&
	echo "[{:name \"F2\"}]" >&7 &&
	exec 7>&- &&
	i=0; while test $(wc -l <out) -lt 2 && test $i -lt 100; do sleep 0.05; i=$((i+1)); done &&
	test $(wc -l <out) = 2
'

test_expect_success '--group commits several vectors as one transaction' '
	printf "[{:name \"G1\"}]\n[{:name \"G2\"}]\n[{:name \"G3\"}]\n" | dh-transact -g 0 ./db >out &&
	test $(wc -l <out) = 1 &&
	grep ":added 4," out &&
	printf "[{:name \"H1\"}]\n[{:name \"H2\"}]\n[{:name \"H3\"}]\n" | dh-transact -g 2 ./db >out &&
	test $(wc -l <out) = 2
'

test_expect_success 'several files in order, and - for stdin' '
	echo "[{:name \"I1\"}]" >a.edn &&
	echo "[{:name \"I2\"}]" >b.edn &&
	echo "[{:name \"I3\"}]" | dh-transact ./db a.edn - b.edn >out &&
	test $(wc -l <out) = 3 &&
	dump-datoms ./db avet --a name --v "\"I3\"" | grep "\"I3\""
'

test_expect_success 'JSON input with the keyword convention' '
	cat >tx.json <<-\EOF &&
	[{"name": "Jason", "age": 40, "tags": [":a", ":b"]}]
	EOF
	dh-transact ./db tx.json >out &&
	e=$(dump-datoms ./db --entid "[:name \"Jason\"]") &&
	dump-datoms ./db --e $e >got &&
	grep ":tags :a " got && grep ":tags :b " got && grep ":age 40 " got &&
	cat >colon.txt <<-\EOF &&
	[{"name": "\\:colon"}]
	EOF
	dh-transact -i json ./db colon.txt &&
	dump-datoms ./db avet --a name --v "\":colon\"" | grep "\":colon\""
'

test_expect_success 'JSON report' '
	echo "[{:db/id -7 :name \"K\"}]" | dh-transact -o json ./db >out &&
	grep "\"tx\": *53687" out &&
	grep "\"tempids\"" out
'

test_expect_success '--datoms adds the tx-data to the report, txInstant first' '
	echo "[[:db/add -1 :name \"L\"]]" | dh-transact -d ./db >out &&
	grep ":tx-data \[\[53687[0-9]* :db/txInstant #inst" out &&
	grep ":name \"L\" 53687[0-9]* true\]\]" out
'

test_expect_success '-o none prints nothing' '
	echo "[{:name \"M\"}]" | dh-transact -o none ./db >out &&
	test ! -s out
'

test_expect_success 'an empty transaction still commits its txInstant' '
	before=$(dump-datoms ./db --info | sed -n "s/^max-tx //p") &&
	echo "[]" | dh-transact ./db >out &&
	grep ":added 1," out &&
	after=$(dump-datoms ./db --info | sed -n "s/^max-tx //p") &&
	test $after = $((before + 1))
'

test_expect_success 'txInstant is strictly increasing' '
	for i in 1 2 3 4 5 6; do echo "[]"; done | dh-transact -o none ./db &&
	dump-datoms ./db avet --a db/txInstant >insts &&
	awk "{print \$1}" insts | tr -d "[" >order &&
	sort -n order >sorted && test_cmp sorted order
'

test_expect_success 'a malformed input stops with its position, earlier vectors stay committed' '
	before=$(dump-datoms ./db --info | sed -n "s/^max-tx //p") &&
	printf "[{:name \"N1\"}]\n[{:name \"N2\" }\n" >bad.edn &&
	test_expect_code 1 dh-transact ./db bad.edn >out 2>err &&
	grep "dh-transact: bad.edn:2:" err &&
	after=$(dump-datoms ./db --info | sed -n "s/^max-tx //p") &&
	test $after = $((before + 1))
'

test_expect_success 'top-level values must be vectors' '
	echo "{:name \"X\"}" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "tx-data must be a vector" err
'

test_expect_success 'a missing database' '
	test_expect_code 1 dh-transact ./nodb </dev/null 2>err &&
	grep "dh-transact: " err
'

test_expect_success 'a store of another format is refused' '
	dh-create ./other &&
	echo "dh-db 99" >other/format &&
	echo "[]" | test_expect_code 1 dh-transact ./other 2>err &&
	grep "format.*dh-db 99" err
'

test_expect_success 'a reader that cannot open a store of another format names the format' '
	dh-create ./other2 &&
	echo "dh-db 99" >other2/format &&
	rm other2/heads/db &&
	test_expect_code 1 dh-query ./other2 "[:find ?e :where [?e :db/ident]]" 2>err &&
	grep "format.*dh-db 99" err
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 dh-transact &&
	test_expect_code 2 dh-transact -o yaml ./db &&
	test_expect_code 2 dh-transact -g x ./db &&
	test_expect_code 2 dh-transact --on abc ./db
'

test_done
