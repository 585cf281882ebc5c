#!/bin/sh
# gs:// from the tools: STORAGE_EMULATOR_HOST as Google's clients read it,
# objects exchanged with a plain JSON-API client (curl), clear errors.
# Needs DH_TEST_GCS_*; fails when they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the GCS test server is configured' '
	test -n "${DH_TEST_GCS_ENDPOINT:-}" ||
	{ echo "DH_TEST_GCS_ENDPOINT is not set: start scripts/server-gcs.sh (scripts/test does)"; false; }
'
ep=${DH_TEST_GCS_ENDPOINT:-http://127.0.0.1:1}
bucket=${DH_TEST_GCS_BUCKET:-dh-test}
prefix="tools-$$-$(date +%s)"
export HOME="$TRASH"
unset GOOGLE_APPLICATION_CREDENTIALS STORAGE_EMULATOR_HOST
api=$ep/storage/v1/b/$bucket/o
enc() { printf %s "$1" | sed 's|/|%2F|g'; }

test_expect_success 'STORAGE_EMULATOR_HOST (host:port) points gs:// at the emulator' '
	STORAGE_EMULATOR_HOST=${ep#http://} dh-store "gs://$bucket/$prefix" put format <<-\EOF &&
	dh 1
	EOF
	STORAGE_EMULATOR_HOST=$ep dh-store "gs://$bucket/$prefix" get format >out &&
	echo "dh 1" >expect && test_cmp expect out
'

test_expect_success 'a JSON API client fetches what dh wrote' '
	printf "node one" | dh-store "gs://$bucket/$prefix?endpoint=$ep" node-put >n1 &&
	k=$(dh-store "gs://$bucket/$prefix?endpoint=$ep" list nodes/) &&
	curl -sf "$api/$(enc "$prefix/$k")?alt=media" >got &&
	printf "node one" >expect && test_cmp expect got
'

test_expect_success 'dh reads objects uploaded by a JSON API client' '
	printf "node two" >two && h=$(sha256sum two | cut -c1-64) &&
	k="$prefix/nodes/$(echo $h | cut -c1-2)/$(echo $h | cut -c3-)" &&
	curl -sf -X POST --data-binary @two -H "Content-Type: application/octet-stream" \
		"$ep/upload/storage/v1/b/$bucket/o?uploadType=media&name=$(enc "$k")" >/dev/null &&
	dh-store "gs://$bucket/$prefix?endpoint=$ep" node-get $h >got && test_cmp two got &&
	dh-store "gs://$bucket/$prefix?endpoint=$ep" list nodes/ | wc -l >n && test $(cat n) -eq 2
'

test_expect_success 'heads: compare-and-swap, conflicts exit 3' '
	u="gs://$bucket/$prefix?endpoint=$ep" && h=$(sha256sum two | cut -c1-64) &&
	dh-store "$u" cas heads/db - $(cat n1) &&
	test_expect_code 3 dh-store "$u" cas heads/db - $(cat n1) &&
	test_expect_code 3 dh-store "$u" cas heads/db $h $(cat n1) &&
	dh-store "$u" cas heads/db $(cat n1) $h &&
	dh-store "$u" heads >out && echo "$h db" >expect && test_cmp expect out
'

test_expect_success 'a server that is down is named' '
	test_expect_code 1 dh-store "gs://$bucket/x?endpoint=http://127.0.0.1:1&retries=1" list 2>err &&
	grep "gs://$bucket/x" err && grep -i "connect" err
'

test_expect_success 'no credentials for Google itself: a clear message' '
	test_expect_code 1 dh-store "gs://$bucket/x" list 2>err &&
	grep "no Google credentials" err && grep "GOOGLE_APPLICATION_CREDENTIALS" err
'

test_expect_success 'a bad credentials file is named' '
	echo "{\"type\": \"external_account\"}" >key.json &&
	GOOGLE_APPLICATION_CREDENTIALS=$PWD/key.json test_expect_code 1 dh-store "gs://$bucket/x" list 2>err &&
	grep "key.json" err && grep "external_account" err
'

test_expect_success 'unknown parameters are usage errors' '
	test_expect_code 2 dh-store "gs://$bucket/x?endpoint=$ep&region=eu" list 2>err && grep "region" err
'

test_done
