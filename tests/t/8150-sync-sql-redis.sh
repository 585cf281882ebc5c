#!/bin/sh
# dh-sync file -> postgresql -> redis -> sqlite -> file: identical query
# results and a sound store at every step; incremental syncs copy only
# what changed; the database tools work directly on each backend.
. "$(dirname "$0")/lib.sh"

if [ -z "${DH_TEST_PG_URL:-}" ] || [ -z "${DH_TEST_REDIS_URL:-}" ]; then
	echo "not ok 1 - DH_TEST_PG_URL or DH_TEST_REDIS_URL is not set: run scripts/servers start (scripts/test does)"
	echo "1..1"
	exit 1
fi
t=s_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
hp=${DH_TEST_REDIS_URL#redis://}
hp=${hp%%/*}
pg="$DH_TEST_PG_URL?table=$t"
rd="redis://$hp/3?prefix=$t/"
sq="sqlite://$TRASH/s.db"
trap 'psql -X -q "$DH_TEST_PG_URL" -c "drop table if exists $t, ${t}_direct" >/dev/null 2>&1;
	redis-cli -h ${hp%:*} -p ${hp#*:} -n 3 --scan --pattern "$t*" | xargs -r redis-cli -h ${hp%:*} -p ${hp#*:} -n 3 del >/dev/null 2>&1;
	cd /; [ -n "${DH_TEST_KEEP:-}" ] || rm -rf "$TRASH"' EXIT

q='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'
people() {
	awk -v n="$1" -v off="${2:-0}" 'BEGIN { printf "["; for (i = 1; i <= n; i++) printf "{:name \"p%d\" :age %d}", i + off, (i + off) % 90; print "]" }'
}

test_expect_success 'a file database with a few transactions' '
	dh-create a &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" | dh-transact a >/dev/null &&
	people 3000 | dh-transact a >/dev/null &&
	people 500 5000 | dh-transact a >/dev/null &&
	echo "[[:db/retract [:name \"p7\"] :age 7]]" | dh-transact a >/dev/null &&
	dh-query -o tsv a "$q" | sort >a.out && test $(wc -l <a.out) -eq 3499
'

test_expect_success 'file -> postgresql -> redis -> sqlite -> file: same answers, sound stores' '
	prev=a &&
	for s in "$pg" "$rd" "$sq" ./b; do
		dh-sync -q "$prev" "$s" &&
		dh-verify -q "$s" &&
		dh-query -o tsv "$s" "$q" | sort >out && test_cmp a.out out &&
		dh-store "$s" head >h && dh-store a head >ha && test_cmp ha h || return 1
		prev=$s
	done
'

test_expect_success 'history views agree on every backend' '
	dh-query -o tsv --history a "[:find ?a ?added :where [?e :name \"p7\"] [?e :age ?a _ ?added]]" | sort >hist.a && test $(wc -l <hist.a) -eq 2 &&
	for s in "$pg" "$rd" "$sq"; do
		dh-query -o tsv --history "$s" "[:find ?a ?added :where [?e :name \"p7\"] [?e :age ?a _ ?added]]" | sort >hist &&
		test_cmp hist.a hist || return 1
	done
'

test_expect_success 'a small transaction syncs a few nodes along the chain' '
	echo "[{:name \"new\" :age 1}]" | dh-transact a >/dev/null &&
	dh-query -o tsv a "$q" | sort >a.out &&
	prev=a &&
	for s in "$pg" "$rd" "$sq"; do
		dh-sync --stats "$prev" "$s" 2>stats &&
		n=$(sed -n "s/.*: \([0-9]*\) nodes (.*copied.*/\1/p" stats) &&
		test "$n" -ge 1 && test "$n" -le 16 &&
		dh-query -o tsv "$s" "$q" | sort >out && test_cmp a.out out || return 1
		prev=$s
	done
'

test_expect_success 'the database tools work directly on postgresql, redis and sqlite stores' '
	for s in "$DH_TEST_PG_URL?table=${t}_direct" "redis://$hp/3?prefix=${t}_direct/" "sqlite://$TRASH/direct.db"; do
		dh-create -q "$s" &&
		echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]" |
			dh-transact -o none "$s" &&
		echo "[{:name \"x\"} {:name \"y\"}]" | dh-transact -o none "$s" &&
		dh-query -o tsv "$s" "[:find ?n :where [_ :name ?n]]" | sort >out &&
		printf "x\ny\n" >expect && test_cmp expect out &&
		test_expect_code 1 dh-create -q "$s" 2>/dev/null || return 1
	done
'

test_done
