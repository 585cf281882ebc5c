#!/bin/sh
# dh-verify: a sound store passes; missing, corrupt and foreign nodes and
# bad heads are each reported with their key.
. "$(dirname "$0")/lib.sh"

test_expect_success 'set up' '
	dh-create s &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]" | dh-transact s >/dev/null &&
	awk "BEGIN { printf \"[\"; for (i = 0; i < 2000; i++) printf \"{:name \\\"n%d\\\"}\", i; print \"]\" }" | dh-transact s >/dev/null &&
	echo "[{:name \"last\"}]" | dh-transact s >/dev/null
'

test_expect_success 'a sound store passes' '
	dh-verify -v s >out 2>err &&
	test ! -s out &&
	grep "0 problems" err
'

node_file() { echo "s/nodes/$(echo $1 | cut -c1-2)/$(echo $1 | cut -c3-)"; }

test_expect_success 'a flipped byte is reported with its key' '
	cp -r s s1 &&
	victim=$(dh-store s1 list nodes/ | head -1) &&
	f="s1/$victim" &&
	chmod u+w "$f" && printf "\001" | dd of="$f" bs=1 seek=3 conv=notrunc 2>/dev/null &&
	test_expect_code 4 dh-verify s1 >out &&
	grep "$victim" out && grep corrupt out
'

test_expect_success 'a missing node is reported, naming who refers to it' '
	cp -r s s2 &&
	h=$(dh-store s2 head) &&
	dh-store s2 node-get $h >/dev/null &&
	victim=$(dh-store s2 list nodes/ | grep -v "$(echo $h | cut -c3-)" | head -1) &&
	rm "s2/$victim" &&
	test_expect_code 4 dh-verify s2 >out &&
	grep "$victim. is missing" out
'

test_expect_success 'a head naming no commit is reported' '
	cp -r s s3 &&
	n=$(printf "not a node" | dh-store s3 node-put) &&
	dh-store s3 cas heads/db $(dh-store s3 head) $n &&
	test_expect_code 4 dh-verify s3 >out &&
	grep "not a dh node\|not a readable commit" out
'

test_expect_success 'quiet mode prints nothing' '
	test_expect_code 4 dh-verify -q s3 >out 2>err &&
	test ! -s out && test ! -s err
'

test_expect_success 'a missing store is a failure, not a verdict' '
	test_expect_code 1 dh-verify nosuch 2>err && grep nosuch err
'

test_done
