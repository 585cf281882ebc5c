#!/bin/sh
# dh-export and dh-import: every format, pipes, history, ids and
# :db/txInstant kept, non-empty targets, --check.
. "$(dirname "$0")/lib.sh"

test_expect_success 'set up a database with history' '
	dh-create ./src &&
	cat >schema.edn <<-\EOS &&
	[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
	 {:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]
	EOS
	dh-transact -o none ./src schema.edn &&
	echo "[{:name \"Alice\" :age 30} {:name \"Bob\" :age 20}]" | dh-transact -o none ./src &&
	echo "[[:db/add [:name \"Bob\"] :age 21] [:db/add [:name \"Alice\"] :friend [:name \"Bob\"]]]" |
		dh-transact -o none ./src &&
	dump-datoms ./src log >src.log &&
	grep -c . src.log
'

test_expect_success 'export to a file is a CBOR sequence; import keeps ids and instants' '
	dh-export ./src cur.cbor &&
	test -s cur.cbor &&
	dh-import ./a cur.cbor &&
	dump-datoms ./src >expect &&
	dump-datoms ./a >actual &&
	test_cmp expect actual &&
	dump-datoms ./src --info | grep "^max-tx" >expect &&
	dump-datoms ./a --info | grep "^max-tx" >actual &&
	test_cmp expect actual
'

test_expect_success 'export to stdout pipes into dh-import, history and all' '
	dh-export -H ./src | dh-import ./b &&
	dump-datoms ./src --history >expect &&
	dump-datoms ./b --history >actual &&
	test_cmp expect actual &&
	grep " false\]$" actual
'

test_expect_success 'export to a directory writes the chunked format, manifest last' '
	dh-export -H -c 4 ./src dump/ &&
	test -f dump/manifest.edn &&
	test -f dump/datoms-000001.cbor.gz &&
	test -f dump/datoms-000002.cbor.gz &&
	grep ":datahike.migrate/format-version 1" dump/manifest.edn &&
	grep ":compression :gzip" dump/manifest.edn &&
	grep ":semantic-digest {:algo :xor64+sum64" dump/manifest.edn &&
	grep ":history? true" dump/manifest.edn &&
	grep ":keep-history? true" dump/manifest.edn &&
	grep ":name {:db/ident :name :db/valueType :db.type/string" dump/manifest.edn &&
	gzip -dc dump/datoms-000001.cbor.gz >raw1 &&
	sha=$(sha256sum raw1 | cut -d" " -f1) &&
	grep "datoms-000001.cbor.gz\" :count 4 .*:sha256 \"$sha\"" dump/manifest.edn
'

test_expect_success 'a chunked dump imports and exports the same digest' '
	dh-import ./c dump &&
	dump-datoms ./src --history >expect &&
	dump-datoms ./c --history >actual &&
	test_cmp expect actual &&
	dh-export -H ./c dump2/ &&
	grep :semantic-digest dump/manifest.edn >expect &&
	grep :semantic-digest dump2/manifest.edn >actual &&
	test_cmp expect actual
'

test_expect_success 'a manifest as Datahike prints it (commas, tags, extra keys) is read' '
	cp -r dump dhk &&
	{
		printf "{:datahike.migrate/format-version 1, :history? true, :serialization :cbor-seq, "
		printf ":datahike/meta {:datahike/version \"0.7.1625\", :datahike/id #uuid \"0f0e0d0c-0b0a-0908-0706-050403020100\", "
		printf ":datahike/created-at #inst \"2026-07-01T00:00:00.000-00:00\"}, "
		printf ":requires [:datahike.migrate/cbor-seq :datahike.migrate/history :db.type/long :db.type/ref :db.type/string], "
		printf ":source-config {:store-backend :file, :attribute-refs? false, :index :datahike.index/persistent-set, "
		printf ":keep-history? true, :schema-flexibility :write}, "
		printf ":schema {:name {:db/ident :name, :db/valueType :db.type/string, :db/id 1}}, :system-idents {}, "
		sed -n "s/^ \(:stats .*\)$/\1, /p; s/^ \(:semantic-digest .*\)$/\1, /p" dump/manifest.edn | tr -d "\n"
		printf ":store-refs nil, :future-key #future/tag [1 2], "
		sed -n "/^ :chunks/,/^ :compression/p" dump/manifest.edn | sed "s/}$/, }/"
	} >dhk/manifest.edn &&
	grep -c "," dhk/manifest.edn &&
	dh-import ./dhk-db dhk &&
	dump-datoms ./src --history >expect &&
	dump-datoms ./dhk-db --history >actual &&
	test_cmp expect actual
'

test_expect_success 'uncompressed chunks with --no-gzip' '
	dh-export -Z ./src plain/ &&
	test -f plain/datoms-000001.cbor &&
	grep ":compression :none" plain/manifest.edn &&
	dh-import -n plain >check &&
	grep ":format :chunked" check
'

test_expect_success 'gzip and legacy sequences import too' '
	dh-export -z -H ./src h.cbor.gz &&
	gzip -t h.cbor.gz &&
	dh-import ./d h.cbor.gz &&
	dh-export -f legacy -H ./src legacy.cbor &&
	dh-import -n legacy.cbor >check &&
	grep ":format :legacy" check &&
	dh-import ./e legacy.cbor &&
	dump-datoms ./src --history >expect &&
	dump-datoms ./d --history >actual1 &&
	dump-datoms ./e --history >actual2 &&
	test_cmp expect actual1 &&
	test_cmp expect actual2
'

test_expect_success 'exports are deterministic' '
	dh-export -H ./src one.cbor &&
	dh-export -H ./src two.cbor &&
	cmp one.cbor two.cbor
'

test_expect_success 'a non-empty target is refused and unchanged' '
	head1=$(dh-store ./a head) &&
	test_expect_code 1 dh-import ./a cur.cbor 2>err &&
	grep "not empty" err &&
	test "$(dh-store ./a head)" = "$head1"
'

test_expect_success '--merge still refuses transactions that would collide with the target ones' '
	dh-create ./m &&
	dh-transact -o none ./m schema.edn &&
	dh-export ./m m.cbor &&
	dh-create ./n &&
	test_expect_code 1 dh-import --merge ./src m.cbor 2>err &&
	grep "collide" err
'

test_expect_success 'an existing empty database of another configuration is refused' '
	dh-create -H off ./nohist &&
	test_expect_code 1 dh-import ./nohist dump 2>err &&
	grep "config mismatch" err
'

test_expect_success '--check prints a summary and writes nothing' '
	dh-import -n dump >check &&
	grep ":records 20" check &&
	grep ":chunks 5" check &&
	dh-import -n nowhere dump >check2 &&
	test ! -e nowhere
'

test_expect_success 'a chunked dump needs a directory; a directory needs --force to be replaced' '
	test_expect_code 2 dh-export -f chunked ./src >/dev/null &&
	test_expect_code 1 dh-export ./src dump 2>err &&
	grep "not empty" err &&
	dh-export -F ./src dump &&
	grep ":history? false" dump/manifest.edn
'

test_expect_success 'usage errors' '
	test_expect_code 2 dh-export &&
	test_expect_code 2 dh-import &&
	test_expect_code 2 dh-export -f nope ./src x &&
	test_expect_code 2 dh-import -s maybe ./x y
'

test_done
