#!/bin/sh
# dh-query, dh-pull and dh-datoms as shell tools: output formats, inputs,
# time views, error positions and exit statuses.
. "$(dirname "$0")/lib.sh"

test_expect_success 'set up a database' '
	dh-create ./db &&
	cat >schema.edn <<-\EOF &&
	[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]
	EOF
	dh-transact -o none ./db schema.edn &&
	echo "[{:db/id \"a\" :name \"Ann\" :age 30} {:name \"Bob\" :age 25 :friend [\"a\"]} {:name \"Cy, Jr.\" :age 41}]" |
		dh-transact -o none ./db &&
	echo "[{:name \"Ann\" :age 31}]" | dh-transact -o none ./db
'

test_expect_success 'edn output of a relation is a set' '
	dh-query ./db "[:find ?n ?a :where [?e :name ?n] [?e :age ?a] [(< ?a 40)]]" >out &&
	dh-query ./db "[:find ?n :where [?e :name ?n] [?e :age 31]]" >one &&
	echo "#{[\"Ann\"]}" >expect &&
	test_cmp expect one &&
	grep -q "^#{" out && grep -q "\[\"Bob\" 25\]" out && grep -q "\[\"Ann\" 31\]" out
'

test_expect_success 'scalar, tuple and collection outputs' '
	dh-query ./db "[:find ?a . :where [?e :name \"Bob\"] [?e :age ?a]]" >out &&
	echo 25 >expect && test_cmp expect out &&
	dh-query ./db "[:find [?n ?a] :where [?e :name ?n] [?e :age ?a] [(= ?a 25)]]" >out &&
	echo "[\"Bob\" 25]" >expect && test_cmp expect out &&
	dh-query ./db "[:find ?a . :where [?e :name \"Nobody\"] [?e :age ?a]]" >out &&
	echo nil >expect && test_cmp expect out &&
	dh-query ./db "[:find [?a ...] :where [_ :age ?a] [(> ?a 40)]]" >out &&
	echo "[41]" >expect && test_cmp expect out
'

test_expect_success 'tsv rows sort and cut' '
	dh-query -o tsv ./db "[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]" | sort >out &&
	printf "Ann\t31\nBob\t25\nCy, Jr.\t41\n" >expect &&
	test_cmp expect out
'

test_expect_success 'csv quotes fields with commas, header names columns' '
	dh-query -H -o csv ./db "[:find ?n ?a :where [?e :name ?n] [?e :age ?a] [(> ?a 40)]]" >out &&
	printf "?n,?a\n\"Cy, Jr.\",41\n" >expect &&
	test_cmp expect out
'

test_expect_success 'json and jsonl' '
	dh-query -o json ./db "[:find ?n ?a :where [?e :name ?n] [?e :age ?a] [(= ?a 25)]]" >out &&
	echo "[[\"Bob\",25]]" >expect && test_cmp expect out &&
	dh-query -o jsonl ./db "[:find ?n ?a :keys name age :where [?e :name ?n] [?e :age ?a] [(= ?a 25)]]" >out &&
	echo "{\"name\":\"Bob\",\"age\":25}" >expect && test_cmp expect out
'

test_expect_success '-0 ends rows with NUL' '
	dh-query -0 -o tsv ./db "[:find [?n ...] :where [_ :name ?n]]" | tr "\0" "\n" | sort >out &&
	printf "Ann\nBob\nCy, Jr.\n" >expect &&
	test_cmp expect out
'

test_expect_success 'query from a file and from stdin' '
	echo "[:find ?a . :in \$ ?n :where [?e :name ?n] [?e :age ?a]]" >q.edn &&
	dh-query -f q.edn ./db "\"Ann\"" >out &&
	echo 31 >expect && test_cmp expect out &&
	dh-query -f - ./db "\"Bob\"" <q.edn >out &&
	echo 25 >expect && test_cmp expect out
'

test_expect_success 'inputs from edn: and json: files' '
	echo "[\"Ann\" \"Bob\"]" >names.edn &&
	dh-query ./db "[:find [?a ...] :in \$ [?n ...] :where [?e :name ?n] [?e :age ?a]]" edn:names.edn >out &&
	grep -q 31 out && grep -q 25 out &&
	echo "[\"Bob\"]" >names.json &&
	dh-query ./db "[:find [?a ...] :in \$ [?n ...] :where [?e :name ?n] [?e :age ?a]]" json:names.json >out &&
	echo "[25]" >expect && test_cmp expect out
'

test_expect_success 'rules as input and a second database' '
	dh-create ./db2 &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]" | dh-transact -o none ./db2 &&
	echo "[{:name \"Bob\"}]" | dh-transact -o none ./db2 &&
	dh-query ./db "[:find ?a . :in \$ \$2 :where [\$2 _ :name ?n] [?e :name ?n] [?e :age ?a]]" db:./db2 >out &&
	echo 25 >expect && test_cmp expect out &&
	dh-query ./db "[:find [?n ...] :in \$ % :where (knows ?e) [?e :name ?n]]" "[[(knows ?e) [?e :friend _]]]" >out &&
	echo "[\"Bob\"]" >expect && test_cmp expect out
'

test_expect_success 'time views: --as-of, --history, asof: input' '
	tx=$(dh-query ./db "[:find ?tx . :where [?e :name \"Bob\"] [?e :age _ ?tx]]") &&
	dh-query --as-of "$tx" ./db "[:find ?a . :where [?e :name \"Ann\"] [?e :age ?a]]" >out &&
	echo 30 >expect && test_cmp expect out &&
	dh-query --history ./db "[:find [?a ...] :where [?e :name \"Ann\"] [?e :age ?a _ false]]" >out &&
	echo "[30]" >expect && test_cmp expect out &&
	dh-query ./db "[:find ?a . :in \$ \$old :where [\$old ?e :name \"Ann\"] [\$old ?e :age ?a]]" "asof:$tx:./db" >out &&
	echo 30 >expect && test_cmp expect out
'

test_expect_success '--limit and --offset' '
	dh-query --limit 2 -o tsv ./db "[:find ?n :where [_ :name ?n]]" >out &&
	test $(wc -l <out) -eq 2 &&
	dh-query --offset 2 -o tsv ./db "[:find ?n :where [_ :name ?n]]" >out &&
	test $(wc -l <out) -eq 1
'

test_expect_success 'a malformed query names the position and exits 1' '
	test_expect_code 1 dh-query ./db "[:find ?x
 :where [?e :name ?n]]" 2>err &&
	grep -q "^dh-query: <query>:1:8: unknown variable ?x in :find" err
'

test_expect_success 'unbound variable in a predicate' '
	test_expect_code 1 dh-query ./db "[:find ?n :where [?e :name ?n] [(> ?age 3)]]" 2>err &&
	grep -q "insufficient bindings: ?age unbound in predicate" err
'

test_expect_success 'unreadable query text gives line and column' '
	test_expect_code 1 dh-query ./db "[:find ?n :where [?e :name ?n]" 2>err &&
	grep -q "<query>:1:" err
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 dh-query ./db &&
	test_expect_code 2 dh-query -o xml ./db "[:find ?e :where [?e :name _]]" &&
	test_expect_code 2 dh-query ./db "[:find ?e :in \$ ?x :where [?e :name ?x]]" &&
	test_expect_code 2 dh-query ./db "[:find ?e :where [?e :name _]]" extra
'

test_expect_success 'a missing database fails' '
	test_expect_code 1 dh-query ./nodb "[:find ?e :where [?e :name _]]" 2>err &&
	grep -q "dh-query: " err
'

test_expect_success 'a closed pipe is not a crash' '
	dh-query -o tsv ./db "[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]" | head -1 >/dev/null
'

test_expect_success 'dh-pull with a pattern and a lookup ref' '
	dh-pull ./db "[:name {:friend [:name]}]" "[:name \"Bob\"]" >out &&
	echo "{:name \"Bob\", :friend [{:name \"Ann\"}]}" >expect &&
	test_cmp expect out
'

test_expect_success 'dh-pull -e pulls everything, entities from stdin' '
	dh-query -o tsv ./db "[:find ?e :where [?e :age 25]]" | dh-pull -e ./db >out &&
	grep -q ":name \"Bob\"" out && grep -q ":db/id" out
'

test_expect_success 'dh-pull of an unknown entity fails' '
	test_expect_code 1 dh-pull ./db "[:name]" "[:name \"Zed\"]" 2>err &&
	grep -q "no entity" err
'

test_expect_success 'dh-pull json output' '
	dh-pull -o json ./db "[:age]" "[:name \"Cy, Jr.\"]" >out &&
	echo "{\"age\":41}" >expect && test_cmp expect out
'

test_expect_success 'dh-datoms eavt of one entity' '
	dh-datoms ./db eavt "[:name \"Bob\"]" >out &&
	test $(wc -l <out) -eq 3 &&
	grep -q ":age 25" out
'

test_expect_success 'dh-datoms avet range' '
	dh-datoms -o tsv --range ./db avet :age 26 40 | cut -f3 >out &&
	echo 31 >expect && test_cmp expect out
'

test_expect_success 'dh-datoms seek and limit' '
	dh-datoms --seek --limit 1 -o tsv ./db avet :age 26 | cut -f3 >out &&
	echo 31 >expect && test_cmp expect out
'

test_expect_success 'dh-datoms history shows retractions' '
	dh-datoms --history -o tsv ./db aevt :age | grep -c false >out &&
	echo 1 >expect && test_cmp expect out
'

test_expect_success 'dh-datoms unknown attribute gives nothing, bad index is usage' '
	dh-datoms ./db aevt :nope >out &&
	test ! -s out &&
	test_expect_code 2 dh-datoms ./db vaet
'

test_done
