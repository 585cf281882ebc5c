#!/bin/sh
# The same key space on every backend: a store copied key by key with
# dh-store from file:// to postgresql:// to redis:// to sqlite:// and back
# to file:// comes back byte for byte identical, nodes still verify and the
# head still names its commit.  (The dh-sync version of this round trip
# belongs to the sync tests.)
. "$(dirname "$0")/lib.sh"

if [ -z "${DH_TEST_PG_URL:-}" ] || [ -z "${DH_TEST_REDIS_URL:-}" ]; then
	echo "not ok 1 - DH_TEST_PG_URL or DH_TEST_REDIS_URL is not set: run scripts/servers start (scripts/test does)"
	echo "1..1"
	exit 1
fi
t=c_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
pg="$DH_TEST_PG_URL?table=$t"
hp=${DH_TEST_REDIS_URL#redis://}
hp=${hp%%/*}
rd="redis://$hp/2?prefix=$t/"
sq="sqlite://$TRASH/copy.db"
trap 'psql -X -q "$DH_TEST_PG_URL" -c "drop table if exists $t" >/dev/null 2>&1;
	redis-cli -h ${hp%:*} -p ${hp#*:} -n 2 --scan --pattern "$t/*" | xargs -r redis-cli -h ${hp%:*} -p ${hp#*:} -n 2 del >/dev/null 2>&1;
	cd /; [ -n "${DH_TEST_KEEP:-}" ] || rm -rf "$TRASH"' EXIT

# copy SRC DST: every key of SRC into DST (created)
copy() {
	dh-store -c "$2" list >/dev/null &&
	dh-store "$1" list >keys &&
	while read -r k; do
		dh-store "$1" get "$k" >value && dh-store "$2" put "$k" value || return 1
	done <keys
}

test_expect_success 'a file store with nodes of every size, a nested head and odd bytes' '
	echo "dh 1" | dh-store -c ./a put format &&
	: | dh-store ./a node-put >n0 &&
	printf "\000\001\377\n" | dh-store ./a node-put >n1 &&
	head -c 300000 /dev/urandom | dh-store ./a node-put >n2 &&
	dh-store ./a cas heads/db - $(cat n2) &&
	dh-store ./a cas heads/feature/x - $(cat n1) &&
	dh-store ./a list | sort >keys.a &&
	test $(wc -l <keys.a) -eq 6
'

test_expect_success 'file -> postgresql -> redis -> sqlite -> file' '
	copy ./a "$pg" && dh-store "$pg" list | sort >keys.pg && test_cmp keys.a keys.pg &&
	copy "$pg" "$rd" && dh-store "$rd" list | sort >keys.rd && test_cmp keys.a keys.rd &&
	copy "$rd" "$sq" && dh-store "$sq" list | sort >keys.sq && test_cmp keys.a keys.sq &&
	copy "$sq" ./b && dh-store ./b list | sort >keys.b && test_cmp keys.a keys.b
'

test_expect_success 'the copy is byte for byte the original' '
	diff -r -x .lock a b
'

test_expect_success 'nodes verify and heads resolve on every backend' '
	for s in "$pg" "$rd" "$sq" ./b; do
		dh-store "$s" heads >heads &&
		printf "%s db\n%s feature/x\n" $(cat n2) $(cat n1) | sort >expect &&
		sort heads >got && test_cmp expect got &&
		for n in n0 n1 n2; do dh-store "$s" node-get $(cat $n) >/dev/null || return 1; done
	done
'

test_done
