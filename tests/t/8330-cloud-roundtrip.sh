#!/bin/sh
# One key space everywhere: a file store copied file -> s3 -> gs -> dynamodb
# -> file arrives byte for byte the same (heads, format, small nodes and a
# node over DynamoDB's item limit).  The copy is bench-store's put_many
# loop, standing in for dh-sync until it exists.  Needs the DH_TEST_S3_*,
# DH_TEST_GCS_* and DH_TEST_DYNAMODB_* servers; fails when they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the cloud test servers are configured' '
	test -n "${DH_TEST_S3_ENDPOINT:-}" && test -n "${DH_TEST_GCS_ENDPOINT:-}" &&
	test -n "${DH_TEST_DYNAMODB_ENDPOINT:-}" ||
	{ echo "DH_TEST_{S3,GCS,DYNAMODB}_ENDPOINT are not all set: start scripts/servers (scripts/test does)"; false; }
'
export HOME="$TRASH"
unset AWS_PROFILE AWS_SESSION_TOKEN GOOGLE_APPLICATION_CREDENTIALS STORAGE_EMULATOR_HOST
tag="roundtrip-$$-$(date +%s)"
s3="s3://${DH_TEST_S3_BUCKET:-dh-test}/$tag?endpoint=${DH_TEST_S3_ENDPOINT:-}"
gs="gs://${DH_TEST_GCS_BUCKET:-dh-test}/$tag?endpoint=${DH_TEST_GCS_ENDPOINT:-}"
ddb="dynamodb://$tag?endpoint=${DH_TEST_DYNAMODB_ENDPOINT:-}"
s3keys() { AWS_ACCESS_KEY_ID=${DH_TEST_S3_ACCESS_KEY_ID:-} AWS_SECRET_ACCESS_KEY=${DH_TEST_S3_SECRET_ACCESS_KEY:-} "$@"; }
ddbkeys() { AWS_ACCESS_KEY_ID=${DH_TEST_DYNAMODB_ACCESS_KEY_ID:-} AWS_SECRET_ACCESS_KEY=${DH_TEST_DYNAMODB_SECRET_ACCESS_KEY:-} "$@"; }

test_expect_success 'a file store with heads, small nodes and a 600 KB node' '
	echo "dh 1" | dh-store -c ./fs put format &&
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		printf "node %s" $i | dh-store ./fs node-put >last || return 1
	done &&
	head -c 600000 /dev/urandom | dh-store ./fs node-put >big &&
	dh-store ./fs cas heads/db - $(cat last) &&
	dh-store ./fs cas heads/feature/x - $(cat big)
'

test_expect_success 'file -> s3 -> gs -> dynamodb -> file' '
	s3keys bench-copy copy file://$PWD/fs "$s3" >/dev/null &&
	s3keys bench-copy copy "$s3" "$gs" >/dev/null &&
	ddbkeys bench-copy copy "$gs" "$ddb" >/dev/null &&
	ddbkeys bench-copy copy "$ddb" file://$PWD/back >/dev/null
'

test_expect_success '... arrives byte for byte' '
	rm -f fs/.lock &&
	diff -r fs back &&
	dh-store ./back heads | sort >out && dh-store ./fs heads | sort >expect && test_cmp expect out &&
	dh-store ./back node-get $(cat big) | cmp - fs/nodes/$(cut -c1-2 big)/$(cut -c3- big)
'

test_done
