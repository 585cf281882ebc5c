#!/bin/sh
# dynamodb:// against the local DynamoDB (scripts/server-dynamodb.sh): the
# store conformance suite on a fresh table.  Needs DH_TEST_DYNAMODB_*;
# fails when they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the DynamoDB test server is configured' '
	test -n "${DH_TEST_DYNAMODB_ENDPOINT:-}" ||
	{ echo "DH_TEST_DYNAMODB_ENDPOINT is not set: start scripts/server-dynamodb.sh (scripts/test does)"; false; }
'
export HOME="$TRASH" AWS_ACCESS_KEY_ID="${DH_TEST_DYNAMODB_ACCESS_KEY_ID:-}" AWS_SECRET_ACCESS_KEY="${DH_TEST_DYNAMODB_SECRET_ACCESS_KEY:-}"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
uri="dynamodb://conformance-$$-$(date +%s)?endpoint=${DH_TEST_DYNAMODB_ENDPOINT:-}&region=${DH_TEST_DYNAMODB_REGION:-us-east-1}"

test_expect_success 'store conformance suite on dynamodb://' '
	test-store "$uri" >out 2>&1 ||
	{ grep -A3 "^not ok" out; tail -n 5 out; false; } &&
	grep -c "^ok" out >n && test "$(cat n)" -ge 100
'

test_done
