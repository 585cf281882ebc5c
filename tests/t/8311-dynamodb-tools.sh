#!/bin/sh
# dynamodb:// from the tools and the AWS CLI: tables created on demand,
# values over the 400 KB item limit split into chunk items, items readable
# by `aws dynamodb`, clear errors for a missing table or a server that is
# down.  Needs DH_TEST_DYNAMODB_*; fails when they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the DynamoDB test server is configured' '
	test -n "${DH_TEST_DYNAMODB_ENDPOINT:-}" ||
	{ echo "DH_TEST_DYNAMODB_ENDPOINT is not set: start scripts/server-dynamodb.sh (scripts/test does)"; false; }
'
ep=${DH_TEST_DYNAMODB_ENDPOINT:-http://127.0.0.1:1}
export HOME="$TRASH" AWS_ACCESS_KEY_ID="${DH_TEST_DYNAMODB_ACCESS_KEY_ID:-}" AWS_SECRET_ACCESS_KEY="${DH_TEST_DYNAMODB_SECRET_ACCESS_KEY:-}"
export AWS_DEFAULT_REGION=${DH_TEST_DYNAMODB_REGION:-us-east-1} AWS_PAGER=
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE AWS_REGION
table="tools-$$-$(date +%s)"
uri="dynamodb://$table?endpoint=$ep"
aws() { /usr/bin/aws --endpoint-url "$ep" "$@"; }

test_expect_success 'a missing table is an error naming it, unless created' '
	test_expect_code 1 dh-store "$uri" list 2>err &&
	grep "no DynamoDB table .$table." err &&
	dh-store -c "$uri" put format <<-\EOF &&
	dh 1
	EOF
	dh-store "$uri" get format >out && echo "dh 1" >expect && test_cmp expect out
'

test_expect_success 'aws dynamodb reads what dh wrote' '
	aws dynamodb get-item --table-name "$table" --key "{\"k\":{\"S\":\"format\"}}" \
		--query Item.v.B --output text >b64 &&
	base64 -d b64 >out && echo "dh 1" >expect && test_cmp expect out
'

test_expect_success 'a 1 MB node is split into chunk items and read back whole' '
	head -c 1000000 /dev/urandom >big &&
	name=$(dh-store "$uri" node-put big) &&
	dh-store "$uri" node-get $name >out && cmp big out &&
	aws dynamodb scan --table-name "$table" --select COUNT --query Count --output text >n &&
	test "$(cat n)" -eq 5 &&
	dh-store "$uri" list >keys && test $(wc -l <keys) -eq 2
'

test_expect_success 'deleting a large value deletes its chunks' '
	head -c 900000 /dev/urandom >big2 &&
	dh-store "$uri" put k/big big2 &&
	dh-store "$uri" put k/big big && dh-store "$uri" get k/big >out && cmp big out &&
	dh-store "$uri" del k/big &&
	aws dynamodb scan --table-name "$table" --select COUNT --query Count --output text >n &&
	test "$(cat n)" -eq 5
'

test_expect_success 'heads: compare-and-swap, conflicts exit 3' '
	h1=$(printf one | dh-store "$uri" node-put) && h2=$(printf two | dh-store "$uri" node-put) &&
	dh-store "$uri" cas heads/db - $h1 &&
	test_expect_code 3 dh-store "$uri" cas heads/db - $h2 &&
	dh-store "$uri" cas heads/db $h1 $h2 &&
	test_expect_code 3 dh-store "$uri" cas heads/db $h1 $h2 &&
	dh-store "$uri" head db >out && echo $h2 >expect && test_cmp expect out
'

test_expect_success 'a server that is down is named' '
	test_expect_code 1 dh-store "dynamodb://$table?endpoint=http://127.0.0.1:1&retries=1" list 2>err &&
	grep "dynamodb://$table" err && grep -i "connect" err
'

test_expect_success 'unknown parameters and paths are usage errors' '
	test_expect_code 2 dh-store "dynamodb://$table?endpoint=$ep&prefix=x" list 2>err && grep "prefix" err &&
	test_expect_code 2 dh-store "dynamodb://$table/sub?endpoint=$ep" list
'

test_expect_success 'a table with another key schema is refused' '
	aws dynamodb create-table --table-name "other-$table" --billing-mode PAY_PER_REQUEST \
		--attribute-definitions AttributeName=id,AttributeType=S --key-schema AttributeName=id,KeyType=HASH >/dev/null &&
	sleep 0.3 &&
	test_expect_code 2 dh-store "dynamodb://other-$table?endpoint=$ep" list 2>err &&
	grep "not a dh store" err
'

test_done
