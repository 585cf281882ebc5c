#!/bin/sh
# dh-transact: schema-on-write and -read, every value type, schema changes, tuples.
. "$(dirname "$0")/lib.sh"

ent() {
	dump-datoms ./db --e "$1" | sed "s/ [0-9]* true\]$/]/"
}

test_expect_success 'setup: an attribute of every value type' '
	for t in string keyword symbol long double float boolean instant uuid ref bigint bigdec bytes; do
		echo "{:db/ident :v/$t :db/valueType :db.type/$t :db/cardinality :db.cardinality/one}"
	done >attrs &&
	{ echo "["; cat attrs; echo "]"; } >schema.edn &&
	dh-create -f schema.edn ./db
'

test_expect_success 'values of every type are stored and read back' '
	cat >tx.edn <<-\EOF &&
	[{:db/id -1 :v/string "s" :v/keyword :k/w :v/symbol foo/bar :v/long 42 :v/double 1.5
	  :v/float 2.5 :v/boolean false :v/instant #inst "2021-02-03T04:05:06.789-00:00"
	  :v/uuid #uuid "11111111-2222-3333-4444-555555555555" :v/ref 1
	  :v/bigint 123456789012345678901234567890N :v/bigdec 1.25M}]
	EOF
	dh-transact ./db tx.edn >out &&
	grep ":added 13," out &&
	e=$(sed -n "s/.*{-1 \([0-9]*\),.*/\1/p" out) &&
	ent $e >got &&
	grep ":v/string \"s\"\]" got &&
	grep ":v/keyword :k/w\]" got &&
	grep ":v/symbol foo/bar\]" got &&
	grep ":v/long 42\]" got &&
	grep ":v/double 1.5\]" got &&
	grep ":v/float 2.5\]" got &&
	grep ":v/boolean false\]" got &&
	grep ":v/instant #inst \"2021-02-03T04:05:06.789-00:00\"\]" got &&
	grep ":v/uuid #uuid \"11111111-2222-3333-4444-555555555555\"\]" got &&
	grep ":v/ref 1\]" got &&
	grep ":v/bigint 123456789012345678901234567890N\]" got &&
	grep ":v/bigdec 1.25M\]" got
'

for case in 'string 1' 'keyword "k"' 'symbol :k' 'long 1.5' 'long "1"' 'double 1' 'boolean nil' 'boolean "true"' \
	'instant 12' 'uuid "x"' 'bigdec 1.5' 'ref "x" ' 'bytes "x"'; do
	set -- $case
	test_expect_success "a wrong value for :db.type/$1 ($2) aborts" "
		head=\$(dh-store ./db head) &&
		echo '[[:db/add 1 :v/$1 $2]]' | test_expect_code 1 dh-transact ./db 2>err &&
		cat err &&
		test \"\$(dh-store ./db head)\" = \"\$head\"
	"
done

test_expect_success 'the messages name the datom and the expected type' '
	echo "[{:db/id 1 :v/long \"x\"}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "dh-transact: <stdin>:1:1: bad value for :v/long, expected :db.type/long: \[:db/add 1 :v/long \"x\"\]" err
'

test_expect_success 'schema-on-write refuses undeclared attributes' '
	echo "[{:db/id -1 :undeclared 1}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "bad entity attribute :undeclared.*not defined in current schema" err
'

test_expect_success 'schema-on-read accepts any attribute and value' '
	dh-create -s read ./rdb &&
	echo "[{:db/id -1 :anything 1 :other \"x\"} [:db/add -2 :anything \"now a string\"]]" | dh-transact ./rdb >out &&
	grep ":added 4," out &&
	dump-datoms ./rdb --schema | grep "^:anything any one undeclared"
'

test_expect_success 'schema-on-read: a nested map under an undeclared attribute says it needs a ref' '
	head=$(dh-store ./rdb head) &&
	echo "[{:name \"Ada\" :friend {:name \"Bob\"}}]" | test_expect_code 1 dh-transact ./rdb 2>err &&
	grep "bad value for :friend: a map, set, list or tagged value is not a datom value (a nested entity needs :db/valueType :db.type/ref)" err &&
	! grep null err &&
	test "$(dh-store ./rdb head)" = "$head"
'

test_expect_success 'schema-on-read still checks declared attributes' '
	echo "[{:db/ident :n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" | dh-transact ./rdb &&
	echo "[{:db/id -1 :n \"x\"}]" | test_expect_code 1 dh-transact ./rdb 2>err &&
	grep "expected :db.type/long" err
'

test_expect_success 'an attribute defined and used in one transaction' '
	echo "[{:db/ident :late :db/valueType :db.type/string :db/cardinality :db.cardinality/one} {:db/id -1 :late \"x\"}]" | dh-transact ./db >out &&
	grep ":added 5," out
'

test_expect_success 'a schema entity built from separate :db/add operations' '
	echo "[[:db/add -1 :db/ident :parts] [:db/add -1 :db/valueType :db.type/long] [:db/add -1 :db/cardinality :db.cardinality/one] {:db/id -2 :parts 3}]" | dh-transact ./db >out &&
	grep ":added 5," out &&
	dump-datoms ./db --schema | grep "^:parts db.type/long one"
'

test_expect_success 'incomplete schema entities are refused' '
	echo "[{:db/ident :half :db/valueType :db.type/string}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "incomplete schema transaction attributes" err &&
	echo "[{:db/ident :c :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/isComponent true}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "isComponent" err &&
	echo "[{:db/ident :u :db/valueType :db.type/long :db/cardinality :db.cardinality/sometimes}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "bad :db/cardinality" err
'

test_expect_success 'cardinality one to many is allowed, many to one is not' '
	echo "[{:db/ident :v/string :db/cardinality :db.cardinality/many}]" | dh-transact ./db &&
	dump-datoms ./db --schema | grep "^:v/string db.type/string many" &&
	echo "[{:db/ident :v/string :db/cardinality :db.cardinality/one}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "update not supported for schema attribute :db/cardinality of :v/string" err
'

test_expect_success 'changing the value type is refused' '
	echo "[{:db/ident :v/long :db/valueType :db.type/string}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "update not supported for schema attribute :db/valueType of :v/long" err
'

test_expect_success 'adding :db/unique to an attribute without values is allowed' '
	echo "[{:db/ident :fresh :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]" | dh-transact ./db &&
	echo "[{:db/ident :fresh :db/unique :db.unique/identity}]" | dh-transact ./db &&
	dump-datoms ./db --schema | grep "^:fresh db.type/string one identity"
'

test_expect_success 'system attributes cannot be redefined' '
	echo "[{:db/ident :db/ident :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "system attribute" err
'

test_expect_success 'composite tuples are kept up to date' '
	cat >t.edn <<-\EOF &&
	[{:db/ident :a :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
	 {:db/ident :b :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :a+b :db/valueType :db.type/tuple :db/tupleAttrs [:a :b] :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]
	EOF
	dh-transact ./db t.edn &&
	echo "[{:db/id -1 :a 1}]" | dh-transact ./db >out &&
	e=$(sed -n "s/.*{-1 \([0-9]*\),.*/\1/p" out) &&
	ent $e | grep "\[$e :a+b \[1 nil\]\]" &&
	echo "[[:db/add $e :b \"x\"]]" | dh-transact ./db &&
	ent $e | grep "\[$e :a+b \[1 \"x\"\]\]" &&
	echo "[[:db/retract $e :a 1]]" | dh-transact ./db &&
	ent $e | grep "\[$e :a+b \[nil \"x\"\]\]" &&
	echo "[[:db/retract $e :b \"x\"]]" | dh-transact ./db &&
	! ent $e | grep ":a+b"
'

test_expect_success 'composite tuples cannot be asserted directly, and are unique' '
	echo "[[:db/add 1 :a+b [1 \"y\"]]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "cannot modify tuple attrs directly" err &&
	echo "[{:db/id -1 :a 5 :b \"z\"}]" | dh-transact ./db &&
	echo "[{:db/id -1 :a 5 :b \"z\"}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "unique constraint.*:a+b" err
'

test_expect_success 'heterogeneous and homogeneous tuples are type-checked' '
	cat >t2.edn <<-\EOF &&
	[{:db/ident :pt :db/valueType :db.type/tuple :db/tupleTypes [:db.type/long :db.type/string] :db/cardinality :db.cardinality/one}
	 {:db/ident :xs :db/valueType :db.type/tuple :db/tupleType :db.type/long :db/cardinality :db.cardinality/one}]
	EOF
	dh-transact ./db t2.edn &&
	echo "[{:db/id -1 :pt [1 \"a\"] :xs [1 2 3]}]" | dh-transact ./db &&
	echo "[{:db/id -1 :pt [1 2]}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "tuple element has the wrong type" err &&
	echo "[{:db/id -1 :pt [1]}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "wrong number of elements" err &&
	echo "[{:db/id -1 :xs [1 \"b\"]}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "tuple element has the wrong type" err
'

test_expect_success 'docs and indexed attributes' '
	echo "[{:db/ident :indexed :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true :db/doc \"an index\"}]" | dh-transact ./db &&
	dump-datoms ./db --schema | grep "^:indexed db.type/long one index" &&
	echo "[{:db/id -1 :indexed 3} {:db/id -2 :indexed 1}]" | dh-transact ./db &&
	dump-datoms ./db avet --a indexed >out &&
	test $(wc -l <out) = 2 &&
	head -1 out | grep ":indexed 1 "
'

test_done
