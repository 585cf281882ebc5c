#!/bin/sh
# Round trip across backends: export from a file store, import into a fresh
# LMDB store (and a mem store through a pipe), export again: the same
# datoms, compared by the manifests' semantic digests and byte for byte.
. "$(dirname "$0")/lib.sh"

test_expect_success 'a file-store database with every value type and history' '
	dh-create ./src &&
	cat >schema.edn <<-\EOS &&
	[{:db/ident :s :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	 {:db/ident :k :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
	 {:db/ident :sym :db/valueType :db.type/symbol :db/cardinality :db.cardinality/one}
	 {:db/ident :l :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
	 {:db/ident :d :db/valueType :db.type/double :db/cardinality :db.cardinality/one}
	 {:db/ident :b :db/valueType :db.type/boolean :db/cardinality :db.cardinality/one}
	 {:db/ident :i :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}
	 {:db/ident :u :db/valueType :db.type/uuid :db/cardinality :db.cardinality/one}
	 {:db/ident :r :db/valueType :db.type/ref :db/cardinality :db.cardinality/one :db/isComponent true}
	 {:db/ident :bi :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one}
	 {:db/ident :bd :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one :db/index true}
	 {:db/ident :t :db/valueType :db.type/tuple :db/tupleTypes [:db.type/long :db.type/string] :db/cardinality :db.cardinality/one}
	 {:db/ident :doc :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/doc "a \"quoted\" doc"}]
	EOS
	dh-transact -o none ./src schema.edn &&
	cat >data.edn <<-\EOD &&
	[{:db/id "a" :s "h\u00e9llo, w\u00f6rld" :k [:x :y/z] :sym foo/bar :l -9007199254740993 :d 0.1
	  :b true :i #inst "1969-12-31T23:59:59.999Z" :u #uuid "0f0e0d0c-0b0a-0908-0706-050403020100"
	  :bi -123456789012345678901234567890N :bd 3.14159M :t [42 "answer"]
	  :r {:s "child" :l 0}}]
	[[:db/add [:s "child"] :l 1] [:db/retract [:s "h\u00e9llo, w\u00f6rld"] :k :x]
	 {:db/id "datomic.tx" :doc "a tx with meta"}]
	[{:s "third" :d -0.0 :bi 7N :bd 1.50M}]
	EOD
	dh-transact -o none ./src data.edn &&
	dump-datoms ./src --history >src.history &&
	test $(wc -l <src.history) -gt 30
'

test_expect_success 'file -> lmdb -> export: the same digest, the same bytes' '
	dh-export -H ./src d1/ &&
	dh-import lmdb://$PWD/lm d1 &&
	dh-export -H lmdb://$PWD/lm d2/ &&
	grep :semantic-digest d1/manifest.edn >expect &&
	grep :semantic-digest d2/manifest.edn >actual &&
	test_cmp expect actual &&
	gzip -dc d1/datoms-*.cbor.gz >raw1 &&
	gzip -dc d2/datoms-*.cbor.gz >raw2 &&
	cmp raw1 raw2 &&
	dump-datoms lmdb://$PWD/lm --history >lm.history &&
	test_cmp src.history lm.history
'

test_expect_success 'the current state too' '
	dh-export ./src c1/ &&
	dh-import lmdb://$PWD/lmc c1 &&
	dh-export lmdb://$PWD/lmc c2/ &&
	grep :semantic-digest c1/manifest.edn >expect &&
	grep :semantic-digest c2/manifest.edn >actual &&
	test_cmp expect actual &&
	dump-datoms ./src >expect &&
	dump-datoms lmdb://$PWD/lmc >actual &&
	test_cmp expect actual
'

test_expect_success 'the sequence and the chunked dump hold the same records' '
	dh-export -H ./src all.cbor &&
	cmp all.cbor raw1
'

test_expect_success 'lmdb back to a file store through a pipe' '
	dh-export -H lmdb://$PWD/lm | dh-import ./back &&
	dh-export -H ./back back.cbor &&
	cmp all.cbor back.cbor
'

test_expect_success 'a Datahike config file works as URI on both sides' '
	printf "{:store {:backend :file :path \"%s/src\"}}\n" "$PWD" >src.edn &&
	printf "{:store {:backend :file :path \"%s/cfg\"}}\n" "$PWD" >dst.edn &&
	dh-export -H src.edn | dh-import dst.edn &&
	dh-export -H ./cfg cfg.cbor &&
	cmp all.cbor cfg.cbor
'

test_done
