#!/bin/sh
# Corrupt, truncated, hostile and incomplete dumps: a clear error naming
# the position, no crash, and nothing written (the target is not created,
# or its head is unchanged).
. "$(dirname "$0")/lib.sh"

bin() { perl -e 'print pack("H*", join("", @ARGV))' "$@"; }

# [1 :x 0 536870913 true] and friends
rec1=8501d827623a78001a20000001f5
rec2=8502d827623a78011a20000001f5

# the import failed with status 1, said $2, and left store $1 absent
failed_clean() {
	grep "$2" err || { cat err; return 1; }
	test ! -e "$1" || { echo "target $1 was created"; return 1; }
}

test_expect_success 'set up a good chunked dump and an existing empty target' '
	dh-create ./src &&
	echo "[{:db/ident :x :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" |
		dh-transact -o none ./src &&
	echo "[{:x 1} {:x 2} {:x 3}]" | dh-transact -o none ./src &&
	dh-export -Z -c 2 ./src good/ &&
	dh-create ./empty &&
	dh-store ./empty head >empty.head
'

copy() { rm -rf "$1" && cp -r good "$1"; }

test_expect_success 'a truncated record: error with record and byte, target not created' '
	bin $rec1 $rec2 8503d827623a78 >trunc.cbor &&
	test_expect_code 1 dh-import ./t1 trunc.cbor 2>err &&
	failed_clean t1 "trunc.cbor: record 3 (byte 28): truncated record"
'

test_expect_success 'a truncated stream on stdin: the same, nothing written' '
	bin $rec1 8502 | test_expect_code 1 dh-import ./t2 2>err &&
	failed_clean t2 "<stdin>: record 2 (byte 14): truncated"
'

test_expect_success 'a huge declared length is refused without allocating it' '
	bin $rec1 8502d827623a787bfffffffffffff000 >huge.cbor &&
	test_expect_code 1 dh-import ./t3 huge.cbor 2>err &&
	failed_clean t3 "record 2 (byte 14): the record declares at least .* more than the limit" &&
	bin $rec1 8502d827623a789bfffffffffffff000 >hugearr.cbor &&
	test_expect_code 1 dh-import ./t3 hugearr.cbor 2>err &&
	failed_clean t3 "record 2"
'

test_expect_success 'deep nesting is refused' '
	{ bin 8501d827623a78; perl -e "print chr(0x81) x 5000"; } >deep.cbor &&
	test_expect_code 1 dh-import ./t4 deep.cbor 2>err &&
	failed_clean t4 "record 1 (byte 0): .*nesting deeper"
'

test_expect_success 'a malformed record shape is refused: op 1 instead of true' '
	bin $rec1 8502d827623a78011a2000000101 >op.cbor &&
	test_expect_code 1 dh-import ./t5 op.cbor 2>err &&
	failed_clean t5 "record 2 (byte 14): malformed record: added is not a boolean"
'

test_expect_success 'not a dump at all' '
	echo "hello, world" >text &&
	test_expect_code 1 dh-import ./t6 text 2>err &&
	failed_clean t6 "text: record 1"
'

test_expect_success 'a cut gzip stream' '
	dh-export -z ./src z.cbor.gz &&
	head -c 40 z.cbor.gz >cut.gz &&
	test_expect_code 1 dh-import ./t7 cut.gz 2>err &&
	failed_clean t7 "gzip"
'

test_expect_success 'a missing manifest: not a dump (an unfinished export)' '
	copy d1 && rm d1/manifest.edn &&
	test_expect_code 1 dh-import ./t8 d1 2>err &&
	failed_clean t8 "no manifest.edn"
'

test_expect_success 'a wrong checksum in the manifest' '
	copy d2 &&
	zero=0000000000000000000000000000000000000000000000000000000000000000 &&
	sed "0,/:sha256 \"[0-9a-f]*\"/s//:sha256 \"$zero\"/" good/manifest.edn >d2/manifest.edn &&
	grep -c "$zero" d2/manifest.edn &&
	test_expect_code 1 dh-import ./t9 d2 2>err &&
	failed_clean t9 "datoms-000001.cbor: checksum mismatch"
'

test_expect_success 'a changed byte in a chunk, into an existing database: head unchanged' '
	copy d3 &&
	perl -pi -e "s/:x/:y/" d3/datoms-000002.cbor &&
	! cmp good/datoms-000002.cbor d3/datoms-000002.cbor &&
	test_expect_code 1 dh-import ./empty d3 2>err &&
	grep "datoms-000002.cbor: checksum mismatch" err &&
	dh-store ./empty head >head && test_cmp empty.head head
'

test_expect_success 'an unknown format version' '
	copy d4 &&
	sed -i "s/format-version 1/format-version 2/" d4/manifest.edn &&
	test_expect_code 1 dh-import ./t10 d4 2>err &&
	failed_clean t10 "dump format version 2 is not one this dh reads"
'

test_expect_success 'no format version: not a datahike dump' '
	copy d5 &&
	sed -i "s/:datahike.migrate.format-version 1//" d5/manifest.edn &&
	test_expect_code 1 dh-import ./t11 d5 2>err &&
	failed_clean t11 "not a datahike dump"
'

test_expect_success 'an unknown compression' '
	copy d6 &&
	sed -i "s/:compression :none/:compression :zstd/" d6/manifest.edn &&
	test_expect_code 1 dh-import ./t12 d6 2>err &&
	failed_clean t12 "compression :zstd is not supported"
'

test_expect_success 'a chunk path outside the dump' '
	copy d7 &&
	sed -i "s|\"datoms-000001.cbor\"|\"../datoms-000001.cbor\"|" d7/manifest.edn &&
	test_expect_code 1 dh-import ./t13 d7 2>err &&
	failed_clean t13 "not a chunk name"
'

test_expect_success 'a chunk without :sha256' '
	copy d8 &&
	sed -i "0,/ :sha256 \"[0-9a-f]*\"/s/ :sha256 \"[0-9a-f]*\"//" d8/manifest.edn &&
	test_expect_code 1 dh-import ./t14 d8 2>err &&
	failed_clean t14 "has no :sha256"
'

test_expect_success 'a missing chunk file' '
	copy d9 && rm d9/datoms-000002.cbor &&
	test_expect_code 1 dh-import ./t15 d9 2>err &&
	failed_clean t15 "datoms-000002.cbor: cannot open chunk"
'

test_expect_success 'a semantic digest that does not match' '
	copy d10 &&
	sed -i "s/:xor \"[0-9a-f]*\"/:xor \"0123456789abcdef\"/" d10/manifest.edn &&
	! cmp good/manifest.edn d10/manifest.edn &&
	test_expect_code 1 dh-import ./t16 d10 2>err &&
	failed_clean t16 "semantic digest mismatch"
'

test_expect_success 'an incomplete dump: fewer records than the source held' '
	copy d11 &&
	sed -i "s/:source-datom-count [0-9]*/:source-datom-count 999/" d11/manifest.edn &&
	test_expect_code 1 dh-import ./t17 d11 2>err &&
	failed_clean t17 "incomplete dump"
'

test_expect_success 'a malformed manifest names its position' '
	copy d12 &&
	echo "{:a [1 2" >d12/manifest.edn &&
	test_expect_code 1 dh-import ./t18 d12 2>err &&
	failed_clean t18 "manifest.edn:"
'

test_expect_success 'records the database refuses: the created database is removed again' '
	bin 8501d827673a6e6f70652f61001a20000001f5 >undeclared.cbor &&
	test_expect_code 1 dh-import ./t19 undeclared.cbor 2>err &&
	grep ":nope/a" err &&
	test_must_fail dh-store ./t19 head &&
	test_must_fail dh-store ./t19 get format
'

test_expect_success 'the good dump still imports' '
	dh-import ./empty good &&
	dh-import -n good >check &&
	grep ":records" check
'

test_done
