#!/bin/sh
# tiered: LMDB in front of S3 (the local S3 of scripts/server-s3.sh): the
# conformance suite, and a cold reader whose S3 requests are counted
# (through the count plugin): a first query fetches each node it needs
# from S3 once, a second query none.  Skipped without DH_TEST_S3_ENDPOINT.
. "$(dirname "$0")/lib.sh"

if [ -z "${DH_TEST_S3_ENDPOINT:-}" ]; then
	echo "ok 1 # skip lmdb -> s3 (DH_TEST_S3_ENDPOINT is not set: scripts/server-s3.sh start)"
	echo "1..1"
	exit 0
fi

DH_BACKEND_PATH=$DH_BUILD/tests/plugins
export DH_BACKEND_PATH HOME="$TRASH" AWS_ACCESS_KEY_ID="${DH_TEST_S3_ACCESS_KEY_ID:-}" \
	AWS_SECRET_ACCESS_KEY="${DH_TEST_S3_SECRET_ACCESS_KEY:-}"
s3="s3://${DH_TEST_S3_BUCKET:-dh-test}/tiered-$$-$(date +%s)"
s3q="endpoint=${DH_TEST_S3_ENDPOINT}&region=${DH_TEST_S3_REGION:-us-east-1}"

uri_escape() {
	printf '%s' "$1" | sed -e 's/%/%25/g' -e 's/&/%26/g' -e 's/+/%2B/g' -e 's/=/%3D/g' \
		-e 's/?/%3F/g' -e 's/#/%23/g' -e 's/ /%20/g'
}

tiered() {
	echo "tiered:?front=$(uri_escape "$1")&back=$(uri_escape "$2")${3:+&$3}"
}

test_tap_import test-store "$(tiered "lmdb://$TRASH/conf-front" "$s3-conf?$s3q")"

q='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'

test_expect_success 'a database in S3' '
	dh-create "$s3-db?$s3q" &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" |
		dh-transact "$s3-db?$s3q" >/dev/null &&
	awk "BEGIN { printf \"[\"; for (i = 1; i <= 200; i++) printf \"{:name \\\"p%d\\\" :age %d}\", i, i % 90; print \"]\" }" |
		dh-transact "$s3-db?$s3q" >/dev/null &&
	dh-query -o tsv "$s3-db?$s3q" "$q" | sort >expect &&
	test $(wc -l <expect) -eq 200
'

test_expect_success 'a cold reader over lmdb -> s3 fetches each node from S3 once, a second query none' '
	counted="count:?store=$(uri_escape "$s3-db?$s3q")&log=$TRASH/log" &&
	t=$(tiered "lmdb://$TRASH/cache" "$counted") &&
	: >log &&
	dh-query -o tsv "$t" "$q" | sort >cold && test_cmp expect cold &&
	grep "^get nodes/" log | sort >gets &&
	test -s gets && test -z "$(uniq -d gets)" &&
	: >log &&
	dh-query -o tsv "$t" "$q" | sort >warm && test_cmp expect warm &&
	test $(grep -c "^get nodes/" log) -eq 0 &&
	grep -q "^get heads/db" log
'

test_done
