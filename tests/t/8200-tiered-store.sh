#!/bin/sh
# tiered: stores: the conformance suite on frontend/backend pairs, and a
# cold reader whose backend requests are counted (through the count
# plugin): each node is fetched from the backend once, later reads none.
# lmdb -> s3 is 8201.
. "$(dirname "$0")/lib.sh"

DH_BACKEND_PATH=$DH_BUILD/tests/plugins
export DH_BACKEND_PATH

# Percent-escape a URI for use as a query value of another.
uri_escape() {
	printf '%s' "$1" | sed -e 's/%/%25/g' -e 's/&/%26/g' -e 's/+/%2B/g' -e 's/=/%3D/g' \
		-e 's/?/%3F/g' -e 's/#/%23/g' -e 's/ /%20/g'
}

tiered() {
	# tiered FRONT BACK [extra query]
	echo "tiered:?front=$(uri_escape "$1")&back=$(uri_escape "$2")${3:+&$3}"
}

# mem -> file, file -> lmdb, and mem -> (file -> lmdb, write-behind) stacked
test_tap_import test-store \
	"$(tiered mem://conf-front "file://$TRASH/conf-file")" \
	"$(tiered "file://$TRASH/conf-front2" "lmdb://$TRASH/conf-lmdb")" \
	"$(tiered mem://conf-front3 "$(tiered "file://$TRASH/conf-mid" "lmdb://$TRASH/conf-bottom" write=behind)")"

test_expect_success 'a store of 20 nodes and a head' '
	dh-store -c ./src put format </dev/null &&
	for i in $(seq 1 20); do echo "node $i" | dh-store ./src node-put; done >names &&
	dh-store ./src cas heads/db - $(tail -n 1 names)
'

cold_reader() {
	# cold_reader BACK_URI FRONT_URI: read every node twice through a
	# tiered store whose backend is BACK_URI behind a counter
	counted="count:?store=$(uri_escape "$1")&log=$TRASH/log"
	t=$(tiered "$2" "$counted")
	: >log &&
	while read -r n; do
		dh-store "$t" node-get $n >/dev/null &&
		dh-store "$t" node-get $n >/dev/null || return 1
	done <names &&
	grep "^get nodes/" log | sort >gets &&
	test $(wc -l <gets) -eq 20 &&
	test -z "$(uniq -d gets)" &&
	test $(grep -c "^open " log) -eq 40 &&
	: >log &&
	while read -r n; do dh-store "$t" node-get $n >/dev/null || return 1; done <names &&
	test $(grep -c "^open " log) -eq 20 &&
	test $(grep -c "^get nodes/" log) -eq 0 &&
	dh-store "$t" head >head &&
	grep -q "^get heads/db" log &&
	dh-store "$1" head | test_cmp - head
}

test_expect_success 'cold reader over lmdb -> file: each node fetched once, then none' '
	cold_reader "file://$TRASH/src" "lmdb://$TRASH/cache"
'

test_expect_success 'the cache is an ordinary store holding exactly the nodes read' '
	dh-store "lmdb://$TRASH/cache" list nodes/ | sort >cached &&
	dh-store ./src list nodes/ | sort >all &&
	test_cmp all cached
'

test_expect_success 'write-through from the tools lands in both tiers' '
	t=$(tiered "lmdb://$TRASH/cache" "file://$TRASH/src") &&
	n=$(echo fresh | dh-store "$t" node-put) &&
	dh-store ./src node-get $n >out && echo fresh | test_cmp - out &&
	dh-store "lmdb://$TRASH/cache" node-get $n >out && echo fresh | test_cmp - out &&
	dh-store "$t" cas heads/db $(tail -n 1 names) $n &&
	dh-store ./src head >out && echo $n | test_cmp - out
'

test_expect_success 'write-behind from the tools: the backend has the node when the tool exits' '
	t=$(tiered mem://wb "file://$TRASH/src" write=behind) &&
	n=$(echo behind | dh-store "$t" node-put) &&
	dh-store ./src node-get $n >out && echo behind | test_cmp - out
'

test_expect_success 'read=frontend-only never asks the backend' '
	counted="count:?store=$(uri_escape "file://$TRASH/src")&log=$TRASH/log" &&
	t=$(tiered "file://$TRASH/empty-cache" "$counted" read=frontend-only) &&
	: >log &&
	test_expect_code 4 dh-store "$t" node-get $(head -n 1 names) 2>err &&
	grep "missing from store" err &&
	! grep "^get " log
'

test_expect_success 'bad tiered URIs are usage errors' '
	test_expect_code 2 dh-store "tiered:?front=mem://a" list 2>err &&
	grep "needs front=URI and back=URI" err &&
	test_expect_code 2 dh-store "tiered:?front=mem://a&back=mem://b&write=later" list 2>err &&
	grep "unknown write policy .later." err
'

q='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'
schema='[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	{:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]'

test_expect_success 'a database in a tiered store from a Datahike config map' '
	cat >tiered.edn <<-EOF &&
	{:store {:backend :tiered
	         :frontend-config {:backend :lmdb :path "$TRASH/db-cache"}
	         :backend-config {:backend :file :path "$TRASH/db-back"}
	         :write-policy :write-behind
	         :read-policy :frontend-first}
	 :schema-flexibility :write}
	EOF
	dh-create tiered.edn &&
	echo "$schema" | dh-transact tiered.edn >/dev/null &&
	echo "[{:name \"a\" :age 1} {:name \"b\" :age 2}]" | dh-transact tiered.edn >/dev/null &&
	dh-query -o tsv tiered.edn "$q" | sort >via-tiered &&
	printf "a\t1\nb\t2\n" >expect && test_cmp expect via-tiered &&
	dh-verify db-back &&
	dh-query -o tsv db-back "$q" | sort >via-back && test_cmp expect via-back &&
	dh-store db-back head >h1 && dh-store "lmdb://$TRASH/db-cache" head >h2 && test_cmp h1 h2
'

test_expect_success 'a config map with a bad tiered store says what is wrong' '
	echo "{:store {:backend :tiered :frontend-config {:backend :mem}}}" >bad.edn &&
	test_expect_code 2 dh-query bad.edn "$q" 2>err &&
	grep "bad.edn: :store :backend :tiered needs :frontend-config and :backend-config" err &&
	echo "{:store {:backend :tiered :frontend-config {:backend :mem} :backend-config {:backend :mem} :write-policy :later}}" >bad.edn &&
	test_expect_code 2 dh-query bad.edn "$q" 2>err &&
	grep "unknown write policy .later." err
'

test_expect_success 'queries through a cold LMDB cache in front of a counted backend' '
	counted="count:?store=$(uri_escape "file://$TRASH/db-back")&log=$TRASH/log" &&
	t=$(tiered "lmdb://$TRASH/cold-cache" "$counted") &&
	: >log &&
	dh-query -o tsv "$t" "$q" | sort >cold && test_cmp expect cold &&
	test $(grep -c "^get nodes/" log) -gt 0 &&
	test -z "$(grep "^get nodes/" log | sort | uniq -d)" &&
	: >log &&
	dh-query -o tsv "$t" "$q" | sort >warm && test_cmp expect warm &&
	test $(grep -c "^get nodes/" log) -eq 0
'

test_expect_success 'the dh-store(5) fragments pass mandoc -T lint' '
	for f in "$DH_TOP"/man/dh-store-*.fragment; do
		{
			printf ".Dd November 25, 2026\n.Dt DH-STORE 5\n.Os\n.Sh NAME\n.Nm dh-store\n.Nd x\n"
			printf ".Sh DESCRIPTION\nx\n.Sh BACKENDS\n"
			cat "$f"
			printf ".Sh SEE ALSO\n.Xr dh-backend 3\n"
		} >page.5 &&
		mandoc -T lint -W warning page.5 || exit 1
	done
'

test_done
