#!/bin/sh
# dh-sync file -> s3 -> gs -> dynamodb -> file: the same query answers at
# every stop, and the database that comes back verifies.  Needs the
# DH_TEST_S3_*, DH_TEST_GCS_* and DH_TEST_DYNAMODB_* servers; fails when
# they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the cloud test servers are configured' '
	test -n "${DH_TEST_S3_ENDPOINT:-}" && test -n "${DH_TEST_GCS_ENDPOINT:-}" &&
	test -n "${DH_TEST_DYNAMODB_ENDPOINT:-}" ||
	{ echo "DH_TEST_{S3,GCS,DYNAMODB}_ENDPOINT are not all set: start scripts/servers (scripts/test does)"; false; }
'
export HOME="$TRASH"
unset AWS_PROFILE AWS_SESSION_TOKEN GOOGLE_APPLICATION_CREDENTIALS STORAGE_EMULATOR_HOST
tag="dhsync-$$-$(date +%s)"
s3="s3://${DH_TEST_S3_BUCKET:-dh-test}/$tag?endpoint=${DH_TEST_S3_ENDPOINT:-}"
gs="gs://${DH_TEST_GCS_BUCKET:-dh-test}/$tag?endpoint=${DH_TEST_GCS_ENDPOINT:-}"
ddb="dynamodb://$tag?endpoint=${DH_TEST_DYNAMODB_ENDPOINT:-}"
# s3rver and dynalite take any well-formed key; both get their own
s3env() { AWS_ACCESS_KEY_ID=${DH_TEST_S3_ACCESS_KEY_ID:-} AWS_SECRET_ACCESS_KEY=${DH_TEST_S3_SECRET_ACCESS_KEY:-} "$@"; }
ddbenv() { AWS_ACCESS_KEY_ID=${DH_TEST_DYNAMODB_ACCESS_KEY_ID:-} AWS_SECRET_ACCESS_KEY=${DH_TEST_DYNAMODB_SECRET_ACCESS_KEY:-} "$@"; }
q='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'

test_expect_success 'a database in a file store' '
	dh-create a &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" | dh-transact a >/dev/null &&
	awk "BEGIN { printf \"[\"; for (i = 1; i <= 300; i++) printf \"{:name \\\"p%d\\\" :age %d}\", i, i % 90; print \"]\" }" |
		dh-transact a >/dev/null &&
	echo "[[:db/retract [:name \"p7\"] :age 7]]" | dh-transact a >/dev/null &&
	dh-query a "$q" >a.out && grep "\"p300\" 30" a.out && ! grep "\"p7\"" a.out
'

test_expect_success 'dh-sync file -> s3: same answers' '
	s3env dh-sync -q a "$s3" &&
	s3env dh-query "$s3" "$q" >s3.out && test_cmp a.out s3.out
'

test_expect_success 'dh-sync s3 -> gs: same answers' '
	s3env dh-sync -q "$s3" "$gs" &&
	dh-query "$gs" "$q" >gs.out && test_cmp a.out gs.out
'

test_expect_success 'dh-sync gs -> dynamodb: same answers' '
	ddbenv dh-sync -q "$gs" "$ddb" &&
	ddbenv dh-query "$ddb" "$q" >ddb.out && test_cmp a.out ddb.out
'

test_expect_success 'dh-sync dynamodb -> file: same answers, same head, verifies' '
	ddbenv dh-sync -q "$ddb" back &&
	dh-query back "$q" >back.out && test_cmp a.out back.out &&
	dh-store a head >ha && dh-store back head >hb && test_cmp ha hb &&
	dh-verify back
'

test_expect_success 'an incremental sync after one transaction moves only new nodes' '
	echo "[{:name \"new\" :age 1}]" | dh-transact a >/dev/null &&
	s3env dh-sync --stats a "$s3" 2>stats && cat stats &&
	grep "1 head moved" stats &&
	s3env dh-query "$s3" "$q" >s3.out && dh-query a "$q" >a.out && test_cmp a.out s3.out
'

test_expect_success 'a cold point query costs at most tree depth + 2 HTTP requests on each backend' '
	people_db p 20000 &&
	depth=$(dump-datoms p --info | sed -n "s/^depth eavt \([0-9]*\) .*/\1/p") &&
	test "$depth" -ge 2 &&
	id=$(dh-query -o tsv p "[:find ?e . :where [?e :name \"p10007\"]]") &&
	for u in "$(echo "$s3" | sed "s|?|-p?|")" "$(echo "$gs" | sed "s|?|-p?|")" "$(echo "$ddb" | sed "s|?|-p?|")"; do
		case $u in dynamodb:*) e=ddbenv ;; *) e=s3env ;; esac &&
		$e dh-sync -q p "$u" &&
		$e bench-copy query "$u" "[:find ?a :where [$id :age ?a]]" >out &&
		n=$(sed -n "s/^1 rows, \([0-9]*\) HTTP requests.*/\1/p" out) &&
		echo "# ${u%%:*}: $n HTTP requests, depth $depth" &&
		test -n "$n" && test "$n" -le $((depth + 2)) || return 1
	done
'

test_done
