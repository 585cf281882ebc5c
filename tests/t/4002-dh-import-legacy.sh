#!/bin/sh
# A real Datahike 0.7 export (legacy format, 44 records): it imports, its
# data is there and queryable afterwards, and it exports back.
. "$(dirname "$0")/lib.sh"

fixture=$DH_TOP/tests/data/datahike/legacy-dump-0.7.cbor

test_expect_success 'the fixture is recognised as a legacy dump' '
	dh-import -n "$fixture" >check &&
	grep ":format :legacy" check &&
	grep ":records 44" check &&
	grep ":min-tx 536870913 :max-tx 536870916" check
'

test_expect_success 'it imports, keeping ids and :db/txInstant' '
	dh-import -v ./db "$fixture" 2>err &&
	grep "44 datoms in 4 transactions" err &&
	dump-datoms ./db --info >info &&
	grep "^max-tx 536870916$" info &&
	dh-export ./db out.cbor &&
	for t in 2026-08-12T10:23:06.728Z 2026-08-12T10:23:06.808Z 2026-08-12T10:23:06.829Z \
		2026-08-12T10:23:06.843Z; do
		grep -a -q "$t" out.cbor || exit 1
	done &&
	dump-datoms ./db --as-of-inst 1786530186829 --e 9 >asof &&
	grep "^\[9 :age 30 536870914 true\]$" asof &&
	dump-datoms ./db --as-of-inst 1786530186843 --e 9 >asof2 &&
	grep "^\[9 :age 31 536870916 true\]$" asof2
'

test_expect_success 'its schema is installed' '
	dump-datoms ./db --schema >schema &&
	grep "^:name db.type/string one identity" schema &&
	grep "^:tags db.type/keyword many" schema &&
	grep "^:born db.type/instant one" schema
'

test_expect_success 'its data is there, with history' '
	dump-datoms ./db --e 8 >alice &&
	grep "^\[8 :name \"Alice\" 536870914 true\]$" alice &&
	grep "^\[8 :age 25 536870914 true\]$" alice &&
	grep "^\[8 :score 1.5 536870914 true\]$" alice &&
	grep "^\[8 :tags :a 536870914 true\]$" alice &&
	! grep ":tags :b" alice &&
	grep "^\[8 :uid #uuid \"11111111-2222-3333-4444-555555555555\" 536870914 true\]$" alice &&
	dump-datoms ./db --e 9 >bob &&
	grep "^\[9 :age 31 536870916 true\]$" bob &&
	dump-datoms ./db --history --e 9 >bobh &&
	grep "^\[9 :age 30 536870916 false\]$" bobh &&
	dump-datoms ./db --entid "[:name \"Bob\"]" >eid &&
	grep "^9$" eid
'

test_expect_success 'its data is queryable with dh-query, history included' '
	dh-query ./db "[:find ?n ?a ?t :where [?e :name ?n] [?e :age ?a] [?e :tags ?t]]" >out &&
	grep -F "[\"Alice\" 25 :a]" out && grep -F "[\"Bob\" 31 :c]" out &&
	test $(grep -o "\[" out | wc -l) -eq 2 &&
	dh-query ./db "[:find ?b :where [?e :name \"Bob\"] [?e :born ?b]]" >out &&
	grep "2001-12-31T23:59:59.999" out &&
	dh-query --history ./db "[:find ?a ?op :where [?e :name \"Bob\"] [?e :age ?a ?tx ?op]]" >out &&
	grep -F "[30 true]" out && grep -F "[30 false]" out && grep -F "[31 true]" out &&
	test $(grep -o "\[" out | wc -l) -eq 3
'

test_expect_success 'it exports back, in the legacy format byte for byte but instants' '
	dh-export -H -f legacy ./db back.cbor &&
	dh-import -n back.cbor >check &&
	grep ":records 44" check &&
	grep ":format :legacy" check &&
	dh-export -H ./db current.cbor &&
	dh-import ./db2 current.cbor &&
	dump-datoms ./db --history >expect &&
	dump-datoms ./db2 --history >actual &&
	test_cmp expect actual
'

test_done
