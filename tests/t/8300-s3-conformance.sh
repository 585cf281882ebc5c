#!/bin/sh
# s3:// against the local S3 (scripts/server-s3.sh): the store conformance
# suite on a fresh prefix.  Needs DH_TEST_S3_*; fails when they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the S3 test server is configured' '
	test -n "${DH_TEST_S3_ENDPOINT:-}" ||
	{ echo "DH_TEST_S3_ENDPOINT is not set: start scripts/server-s3.sh (scripts/test does)"; false; }
'
export HOME="$TRASH" AWS_ACCESS_KEY_ID="${DH_TEST_S3_ACCESS_KEY_ID:-}" AWS_SECRET_ACCESS_KEY="${DH_TEST_S3_SECRET_ACCESS_KEY:-}"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
uri="s3://${DH_TEST_S3_BUCKET:-dh-test}/conformance-$$-$(date +%s)?endpoint=${DH_TEST_S3_ENDPOINT:-}&region=${DH_TEST_S3_REGION:-us-east-1}"

test_expect_success 'store conformance suite on s3://' '
	test-store "$uri" >out 2>&1 ||
	{ grep -A3 "^not ok" out; tail -n 5 out; false; } &&
	grep -c "^ok" out >n && test "$(cat n)" -ge 100
'

test_done
