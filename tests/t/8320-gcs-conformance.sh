#!/bin/sh
# gs:// against the local GCS emulator (scripts/server-gcs.sh): the store
# conformance suite on a fresh prefix.  Needs DH_TEST_GCS_*; fails when
# they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the GCS test server is configured' '
	test -n "${DH_TEST_GCS_ENDPOINT:-}" ||
	{ echo "DH_TEST_GCS_ENDPOINT is not set: start scripts/server-gcs.sh (scripts/test does)"; false; }
'
export HOME="$TRASH"
unset GOOGLE_APPLICATION_CREDENTIALS STORAGE_EMULATOR_HOST
uri="gs://${DH_TEST_GCS_BUCKET:-dh-test}/conformance-$$-$(date +%s)?endpoint=${DH_TEST_GCS_ENDPOINT:-}"

test_expect_success 'store conformance suite on gs://' '
	test-store "$uri" >out 2>&1 ||
	{ grep -A3 "^not ok" out; tail -n 5 out; false; } &&
	grep -c "^ok" out >n && test "$(cat n)" -ge 100
'

test_done
