#!/bin/sh
# dh-create: new databases, options, Datahike config files, existing databases.
. "$(dirname "$0")/lib.sh"

test_expect_success 'create an empty database on a file store' '
	dh-create ./db &&
	test -f db/format &&
	echo "dh-db 1" >expect && test_cmp expect db/format &&
	test -f db/heads/db &&
	dump-datoms ./db --info >info &&
	grep "^max-tx 536870912$" info &&
	grep "^max-eid 0$" info &&
	grep "^history 1$" info &&
	grep "^flexibility write$" info &&
	dump-datoms ./db >datoms && test ! -s datoms
'

test_expect_success 'an existing database is an error, and nothing changes' '
	head1=$(dh-store ./db head) &&
	test_expect_code 1 dh-create ./db 2>err &&
	grep "dh-create: .*database exists on branch .db." err &&
	test "$(dh-store ./db head)" = "$head1"
'

test_expect_success '--exist-ok accepts an existing database' '
	head1=$(dh-store ./db head) &&
	dh-create --exist-ok ./db &&
	test "$(dh-store ./db head)" = "$head1"
'

test_expect_success 'schema flexibility read and history off' '
	dh-create -s read -H off ./db2 &&
	dump-datoms ./db2 --info >info &&
	grep "^flexibility read$" info &&
	grep "^history 0$" info
'

test_expect_success 'an initial schema file is the first transaction' '
	cat >schema.edn <<-\EOF &&
	[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one
	  :db/unique :db.unique/identity}
	 {:db/ident :tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}]
	EOF
	dh-create -f schema.edn ./db3 &&
	dump-datoms ./db3 --schema >out &&
	cat >expect <<-\EOF &&
	:name db.type/string one identity tuple-attrs=0
	:tags db.type/keyword many tuple-attrs=0
	EOF
	test_cmp expect out &&
	dump-datoms ./db3 --info | grep "^max-tx 536870913$" &&
	dump-datoms ./db3 --e 1 >e1 &&
	grep "^\[1 :db/ident :name 536870913 true\]$" e1
'

test_expect_success 'a JSON schema file' '
	cat >schema.json <<-\EOF &&
	[{"db/ident": ":color", "db/valueType": ":db.type/string", "db/cardinality": ":db.cardinality/one"}]
	EOF
	dh-create -f schema.json ./db4 &&
	dump-datoms ./db4 --schema >out &&
	echo ":color db.type/string one tuple-attrs=0" >expect &&
	test_cmp expect out
'

test_expect_success 'a bad schema file creates nothing' '
	echo "[{:db/ident :x :db/valueType :db.type/nope :db/cardinality :db.cardinality/one}]" >bad.edn &&
	test_expect_code 1 dh-create -f bad.edn ./db5 2>err &&
	grep "unknown :db/valueType" err &&
	test_must_fail dh-store ./db5 head
'

test_expect_success 'a malformed schema file names the position' '
	printf "[{:db/ident :x\n  :db/valueType ]" >broken.edn &&
	test_expect_code 1 dh-create -f broken.edn ./db6 2>err &&
	grep "broken.edn:2:" err
'

test_expect_success 'a Datahike config file in place of the URI' '
	cat >config.edn <<-EOF &&
	{:store {:backend :file :path "$TRASH/db7"}
	 :schema-flexibility :read
	 :keep-history? false
	 :initial-tx [{:db/ident :email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]}
	EOF
	dh-create config.edn &&
	test -f db7/heads/db &&
	dump-datoms ./db7 --info >info &&
	grep "^flexibility read$" info &&
	grep "^history 0$" info &&
	dump-datoms config.edn --schema | grep "^:email db.type/string one identity"
'

test_expect_success 'other branches' '
	dh-create -b feature ./db &&
	test -f db/heads/feature &&
	dump-datoms ./db -b feature --info | grep "^max-tx 536870912$"
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 dh-create &&
	test_expect_code 2 dh-create -s sometimes ./x &&
	test_expect_code 2 dh-create -H maybe ./x &&
	test_expect_code 2 dh-create ./a ./b &&
	test_expect_code 2 dh-create -b ".bad" ./x
'

test_expect_success 'an LMDB store' '
	dh-create lmdb://$TRASH/lm &&
	dump-datoms lmdb://$TRASH/lm --info | grep "^max-tx 536870912$"
'

test_done
