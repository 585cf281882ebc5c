#!/bin/sh
# dh-transact: Datahike's transaction semantics, checked through the indices.
. "$(dirname "$0")/lib.sh"

# the current datoms of entity $2 without tx ids
ent() {
	dump-datoms ./db --e "$1" | sed "s/ [0-9]* true\]$/]/"
}
eid() {
	dump-datoms ./db --entid "$1"
}

test_expect_success 'setup' '
	cat >schema.edn <<-\EOF &&
	[{:db/ident :email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	 {:db/ident :ssn :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}
	 {:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
	 {:db/ident :nick :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
	 {:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
	 {:db/ident :spouse :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
	 {:db/ident :address :db/valueType :db.type/ref :db/cardinality :db.cardinality/one :db/isComponent true}
	 {:db/ident :phones :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}
	 {:db/ident :street :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :number :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :source :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
	 {:db/ident :balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]
	EOF
	dh-create -f schema.edn ./db
'

test_expect_success 'cardinality one replaces the value, reporting the retraction' '
	echo "[{:db/id -1 :email \"a@x\" :name \"A\" :age 1}]" | dh-transact ./db >out &&
	a=$(eid "[:email \"a@x\"]") &&
	echo "[[:db/add $a :age 2]]" | dh-transact -d ./db >out &&
	grep ":added 2, :retracted 1" out &&
	grep "\[$a :age 1 [0-9]* false\]" out &&
	ent $a | grep -c ":age" >n && echo 1 >expect && test_cmp expect n &&
	ent $a | grep "\[$a :age 2\]"
'

test_expect_success 'redundant assertions are dropped' '
	a=$(eid "[:email \"a@x\"]") &&
	echo "[[:db/add $a :age 2] [:db/add $a :name \"A\"]]" | dh-transact ./db >out &&
	grep ":added 1, :retracted 0" out
'

test_expect_success 'cardinality many is a set' '
	a=$(eid "[:email \"a@x\"]") &&
	echo "[{:db/id $a :nick [\"x\" \"y\" \"x\"]}]" | dh-transact ./db >out &&
	grep ":added 3," out &&
	echo "[{:db/id $a :nick #{\"y\" \"z\"}}]" | dh-transact ./db >out &&
	grep ":added 2," out &&
	ent $a | grep -c ":nick" >n && echo 3 >expect && test_cmp expect n
'

test_expect_success ':db/retract of a value and of a whole attribute' '
	a=$(eid "[:email \"a@x\"]") &&
	echo "[[:db/retract $a :nick \"x\"]]" | dh-transact ./db >out &&
	grep ":retracted 1" out &&
	echo "[[:db/retract $a :nick \"nothing\"]]" | dh-transact ./db >out &&
	grep ":retracted 0" out &&
	echo "[[:db/retract $a :nick]]" | dh-transact ./db >out &&
	grep ":retracted 2" out &&
	! ent $a | grep ":nick"
'

test_expect_success ':db.fn/retractAttribute' '
	a=$(eid "[:email \"a@x\"]") &&
	echo "[[:db.fn/retractAttribute $a :age]]" | dh-transact ./db >out &&
	grep ":retracted 1" out &&
	! ent $a | grep ":age"
'

test_expect_success 'upsert through a unique identity resolves the tempid' '
	a=$(eid "[:email \"a@x\"]") &&
	echo "[{:db/id \"t\" :email \"a@x\" :age 50}]" | dh-transact ./db >out &&
	grep "\"t\" $a," out &&
	ent $a | grep "\[$a :age 50\]"
'

test_expect_success 'upsert without :db/id' '
	a=$(eid "[:email \"a@x\"]") &&
	echo "[{:email \"a@x\" :age 51}]" | dh-transact ./db >out &&
	ent $a | grep "\[$a :age 51\]" &&
	dump-datoms ./db avet --a email --v "\"a@x\"" | wc -l >n && echo 1 >expect && test_cmp expect n
'

test_expect_success 'tempids sharing a new identity value become one entity' '
	echo "[{:db/id -1 :email \"b@x\" :name \"B\"} {:db/id -2 :email \"b@x\" :age 7}]" | dh-transact ./db >out &&
	b=$(eid "[:email \"b@x\"]") &&
	grep "{-1 $b, -2 $b," out &&
	ent $b | grep ":age 7" && ent $b | grep ":name \"B\""
'

test_expect_success 'conflicting upserts abort the transaction' '
	head=$(dh-store ./db head) &&
	echo "[{:db/id -1 :email \"a@x\"} [:db/add -1 :email \"b@x\"]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "conflict" err &&
	test "$(dh-store ./db head)" = "$head"
'

test_expect_success 'unique value conflicts abort the transaction, naming the datom' '
	a=$(eid "[:email \"a@x\"]") && b=$(eid "[:email \"b@x\"]") &&
	echo "[[:db/add $a :ssn \"123\"]]" | dh-transact ./db &&
	head=$(dh-store ./db head) &&
	echo "[[:db/add $b :name \"ok\"] [:db/add $b :ssn \"123\"]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "unique constraint.*:ssn \"123\".*\[:db/add $b :ssn \"123\"\]" err &&
	test "$(dh-store ./db head)" = "$head" &&
	! ent $b | grep "\"ok\""
'

test_expect_success 'an explicit id asserting another entity identity conflicts' '
	b=$(eid "[:email \"b@x\"]") &&
	echo "[[:db/add $b :email \"a@x\"]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "unique constraint" err
'

test_expect_success 'lookup refs in entity and value positions' '
	echo "[[:db/add [:email \"a@x\"] :friend [:email \"b@x\"]] {:db/id [:email \"b@x\"] :spouse [:email \"a@x\"]}]" | dh-transact ./db &&
	a=$(eid "[:email \"a@x\"]") && b=$(eid "[:email \"b@x\"]") &&
	ent $a | grep "\[$a :friend $b\]" &&
	ent $b | grep "\[$b :spouse $a\]"
'

test_expect_success 'a lookup ref to nothing aborts' '
	echo "[[:db/add [:email \"nobody\"] :age 1]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "nothing found for lookup ref \[:email \"nobody\"\]" err &&
	echo "[[:db/add [:name \"A\"] :age 1]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "not unique" err
'

test_expect_success 'nested maps become entities, components included' '
	echo "[{:email \"c@x\" :address {:street \"Main\"} :friend [{:email \"d@x\"} {:name \"anon\"}]}]" | dh-transact -d ./db >out &&
	c=$(eid "[:email \"c@x\"]") && d=$(eid "[:email \"d@x\"]") &&
	ent $c | grep "\[$c :friend $d\]" &&
	addr=$(ent $c | sed -n "s/^\[$c :address \([0-9]*\)\]$/\1/p") &&
	ent $addr | grep "\[$addr :street \"Main\"\]" &&
	ent $c | grep -c ":friend" >n && echo 2 >expect && test_cmp expect n
'

test_expect_success 'reverse references' '
	echo "[{:db/id -1 :email \"e@x\" :_friend [[:email \"a@x\"] [:email \"c@x\"]]}]" | dh-transact ./db &&
	e=$(eid "[:email \"e@x\"]") && a=$(eid "[:email \"a@x\"]") && c=$(eid "[:email \"c@x\"]") &&
	ent $a | grep "\[$a :friend $e\]" &&
	ent $c | grep "\[$c :friend $e\]"
'

test_expect_success 'a reverse reference on a non-ref attribute is an error' '
	echo "[{:db/id -1 :_name \"x\"}]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "reverse attribute" err
'

test_expect_success ':db/retractEntity retracts the entity, references to it and its components' '
	echo "[{:email \"f@x\" :address {:street \"Side\" :number \"9\"} :phones [{:number \"1\"} {:number \"2\"}]} {:email \"g@x\" :friend [[:email \"f@x\"]]}]" | dh-transact ./db &&
	f=$(eid "[:email \"f@x\"]") && g=$(eid "[:email \"g@x\"]") &&
	addr=$(ent $f | sed -n "s/^\[$f :address \([0-9]*\)\]$/\1/p") &&
	echo "[[:db/retractEntity [:email \"f@x\"]]]" | dh-transact ./db >out &&
	grep ":retracted 9" out &&
	test -z "$(ent $f)" && test -z "$(ent $addr)" &&
	! ent $g | grep ":friend" &&
	dump-datoms ./db avet --a number >nums && test ! -s nums
'

test_expect_success ':db/cas succeeds on the expected value and fails otherwise' '
	echo "[{:email \"h@x\" :balance 100}]" | dh-transact ./db &&
	h=$(eid "[:email \"h@x\"]") &&
	echo "[[:db/cas $h :balance 100 90]]" | dh-transact ./db &&
	ent $h | grep ":balance 90" &&
	head=$(dh-store ./db head) &&
	echo "[[:db/cas $h :balance 100 80]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "cas failed on datom \[$h :balance 90\], expected 100" err &&
	test "$(dh-store ./db head)" = "$head" &&
	echo "[[:db.fn/cas $h :age nil 3]]" | dh-transact ./db &&
	ent $h | grep ":age 3"
'

test_expect_success 'transaction metadata on the tx entity' '
	echo "[{:email \"i@x\"} {:db/id \"datomic.tx\" :source \"import\"}]" | dh-transact ./db >out &&
	tx=$(sed -n "s/^{:tx \([0-9]*\),.*/\1/p" out) &&
	ent $tx | grep "\[$tx :source \"import\"\]" &&
	echo "[{:email \"j@x\"} [:db/add :db/current-tx :source \"cli\"]]" | dh-transact ./db >out &&
	tx=$(sed -n "s/^{:tx \([0-9]*\),.*/\1/p" out) &&
	ent $tx | grep "\[$tx :source \"cli\"\]"
'

test_expect_success 'a supplied :db/txInstant is kept' '
	echo "[{:email \"k@x\"} {:db/id \"datomic.tx\" :db/txInstant #inst \"2020-01-01T00:00:00.000-00:00\"}]" | dh-transact -d ./db >out &&
	grep "#inst \"2020-01-01T00:00:00.000-00:00\"" out
'

test_expect_success 'idents as entity ids and as ref values' '
	echo "[{:db/ident :color/red} {:db/ident :color/blue}]" | dh-transact ./db &&
	echo "[{:db/ident :fav :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]" | dh-transact ./db &&
	echo "[{:email \"l@x\" :fav :color/red} [:db/add :color/blue :name \"Blue\"]]" | dh-transact ./db &&
	l=$(eid "[:email \"l@x\"]") && red=$(eid ":color/red") && blue=$(eid ":color/blue") &&
	ent $l | grep "\[$l :fav $red\]" &&
	ent $blue | grep ":name \"Blue\""
'

test_expect_success 'a tempid used only as a value is an error' '
	a=$(eid "[:email \"a@x\"]") &&
	echo "[[:db/add $a :friend -99]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "tempid -99 is used only as a value" err
'

test_expect_success 'an unknown operation is an error' '
	echo "[[:db/frobnicate 1 :name \"x\"]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "unknown operation \[:db/frobnicate" err &&
	echo "[[:db/add 1 :name]]" | test_expect_code 1 dh-transact ./db 2>err &&
	grep "wrong number of arguments" err
'

test_expect_success '300,000 values of one card-many attribute on one entity, in one transaction' '
	# the values of one (e a) must not pile up in one probe run of the
	# index of the transaction: that was quadratic (11 s for 100,000)
	dh-create ./many &&
	echo "[{:db/ident :tag :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]" | dh-transact -o none ./many &&
	{ printf "[{:db/id \"t\" :tag ["; seq 0 299999 | tr "\n" " "; echo "]}]"; } >many.edn &&
	timeout 60 dh-transact -o none ./many many.edn &&
	dh-query -o tsv ./many "[:find (count ?v) . :where [_ :tag ?v]]" >out &&
	echo 300000 >expect && test_cmp expect out
'

test_expect_success 'the store verifies after all of this' '
	dump-datoms ./db --verify
'

test_done
