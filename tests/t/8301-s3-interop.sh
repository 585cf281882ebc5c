#!/bin/sh
# s3:// and the AWS CLI: a file store uploaded with `aws s3 sync` is a valid
# s3:// store, what dh writes is listed and fetched by `aws s3`; errors name
# the store; credentials from the environment and from ~/.aws files, never
# printed.  Needs DH_TEST_S3_*; fails when they are unset.
. "$(dirname "$0")/lib.sh"

test_expect_success 'the S3 test server is configured' '
	test -n "${DH_TEST_S3_ENDPOINT:-}" ||
	{ echo "DH_TEST_S3_ENDPOINT is not set: start scripts/server-s3.sh (scripts/test does)"; false; }
'
ep=${DH_TEST_S3_ENDPOINT:-http://127.0.0.1:1}
bucket=${DH_TEST_S3_BUCKET:-dh-test}
prefix="interop-$$-$(date +%s)"
export HOME="$TRASH" AWS_ACCESS_KEY_ID="${DH_TEST_S3_ACCESS_KEY_ID:-}" AWS_SECRET_ACCESS_KEY="${DH_TEST_S3_SECRET_ACCESS_KEY:-}"
export AWS_DEFAULT_REGION=${DH_TEST_S3_REGION:-us-east-1} AWS_PAGER=
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE AWS_REGION
uri="s3://$bucket/$prefix?endpoint=$ep"
aws() { /usr/bin/aws --endpoint-url "$ep" "$@"; }

test_expect_success 'a file store uploaded with aws s3 sync' '
	dh-store -c ./fs put format <<-\EOF &&
	dh 1
	EOF
	printf "node one" | dh-store ./fs node-put >n1 &&
	printf "node two" | dh-store ./fs node-put >n2 &&
	dh-store ./fs cas heads/db - $(cat n2) &&
	aws s3 sync --only-show-errors ./fs "s3://$bucket/$prefix/" &&
	aws s3 ls --recursive "s3://$bucket/$prefix/" >ls && grep "/heads/db$" ls && grep "/format$" ls
'

test_expect_success '... is opened by dh as s3:// and read (the uploaded .lock is no key)' '
	grep "/\.lock$" ls &&
	dh-store "$uri" get format >out && echo "dh 1" >expect && test_cmp expect out &&
	dh-store "$uri" node-get $(cat n1) >out && printf "node one" >expect && test_cmp expect out &&
	dh-store "$uri" head db >out && test_cmp n2 out &&
	dh-store "$uri" heads >out && echo "$(cat n2) db" >expect && test_cmp expect out &&
	dh-store "$uri" list | sort >out && dh-store ./fs list | sort >expect && test_cmp expect out
'

test_expect_success 'objects written by dh are listed and fetched by aws s3' '
	printf "node three" | dh-store "$uri" node-put >n3 &&
	dh-store "$uri" cas heads/db $(cat n2) $(cat n3) &&
	aws s3 ls --recursive "s3://$bucket/$prefix/" | awk "{print \$4}" | grep -v "/\.lock$" | sort >out &&
	dh-store "$uri" list | sed "s|^|$prefix/|" | sort >expect && test_cmp expect out &&
	k=$(dh-store "$uri" list nodes/ | grep "$(cut -c3- n3)") &&
	aws s3 cp --only-show-errors "s3://$bucket/$prefix/$k" got &&
	printf "node three" >expect && test_cmp expect got &&
	aws s3 cp --only-show-errors "s3://$bucket/$prefix/heads/db" head && echo "$(cat head)" >head.nl &&
	test_cmp n3 head.nl
'

test_expect_success 'aws s3 sync back down gives a file store dh reads' '
	aws s3 sync --only-show-errors "s3://$bucket/$prefix/" ./back &&
	dh-store ./back node-get $(cat n3) >out && printf "node three" >expect && test_cmp expect out &&
	dh-store ./back head db >out && test_cmp n3 out
'

test_expect_success 'a stale head swap is a conflict (exit 3)' '
	test_expect_code 3 dh-store "$uri" cas heads/db $(cat n2) $(cat n1) 2>err &&
	grep "compare-and-swap" err &&
	dh-store "$uri" head db >out && test_cmp n3 out
'

test_expect_success 'a missing bucket is named' '
	test_expect_code 1 dh-store "s3://no-such-bucket-dh/x?endpoint=$ep" list 2>err &&
	grep "bucket .no-such-bucket-dh. does not exist" err && grep "s3://no-such-bucket-dh/x" err
'

test_expect_success 'a server that is down is named' '
	test_expect_code 1 dh-store "s3://$bucket/x?endpoint=http://127.0.0.1:1&retries=1" list 2>err &&
	grep "s3://$bucket/x" err && grep -i "connect" err
'

test_expect_success 'unknown URI parameters are usage errors' '
	test_expect_code 2 dh-store "s3://$bucket/x?endpoint=$ep&colour=blue" list 2>err &&
	grep "colour" err
'

test_expect_success 'refused credentials: an auth error that prints no secret, even with -v' '
	AWS_ACCESS_KEY_ID=AKIDWRONG AWS_SECRET_ACCESS_KEY=very/secret+Key123 \
		test_expect_code 1 dh-store -v "$uri" get format 2>err >out &&
	cat err &&
	! grep "very/secret" err && ! grep -i "signature=" err && ! grep "AWS4-HMAC" err
'

test_expect_success 'no credentials: a clear message' '
	(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY &&
	 test_expect_code 1 dh-store "$uri" list 2>err) &&
	grep "no AWS credentials" err && grep "$bucket/$prefix" err
'

test_expect_success 'credentials from a profile in ~/.aws/credentials and region from ~/.aws/config' '
	mkdir -p .aws &&
	cat >.aws/credentials <<-EOF &&
	[default]
	aws_access_key_id = AKIDDEFAULTWRONG
	aws_secret_access_key = nope
	# a comment
	[dhtest]
	aws_access_key_id = $AWS_ACCESS_KEY_ID
	aws_secret_access_key = $AWS_SECRET_ACCESS_KEY
	EOF
	cat >.aws/config <<-\EOF &&
	[profile dhtest]
	region = us-east-1
	s3 =
	  max_concurrent_requests = 20
	EOF
	(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION &&
	 AWS_PROFILE=dhtest dh-store "$uri" get format >out) &&
	echo "dh 1" >expect && test_cmp expect out &&
	(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY &&
	 AWS_PROFILE=nosuch test_expect_code 1 dh-store "$uri" list 2>err) &&
	grep "profile .nosuch. not found" err
'

test_expect_success 'a profile that needs role_arn is refused clearly' '
	cat >.aws/config <<-\EOF &&
	[profile role]
	role_arn = arn:aws:iam::123456789012:role/x
	source_profile = dhtest
	EOF
	(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY &&
	 AWS_PROFILE=role test_expect_code 1 dh-store "$uri" list 2>err) &&
	grep "role_arn" err
'

test_done
