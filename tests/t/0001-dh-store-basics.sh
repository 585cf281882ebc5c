#!/bin/sh
# dh-store: raw keys, heads and nodes from the shell, on a file store.
. "$(dirname "$0")/lib.sh"

test_expect_success 'put and get a key' '
	dh-store -c ./s put format <<-\EOF &&
	dh 1
	EOF
	dh-store ./s get format >out &&
	echo "dh 1" >expect &&
	test_cmp expect out
'

test_expect_success 'the store is plain files' '
	test -f s/format
'

test_expect_success 'node-put names a node by its SHA-256' '
	printf hello | dh-store ./s node-put >name &&
	echo 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 >expect &&
	test_cmp expect name &&
	test -f s/nodes/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
'

test_expect_success 'node-get verifies and returns the bytes' '
	dh-store ./s node-get $(cat name) >out &&
	printf hello >expect &&
	test_cmp expect out
'

test_expect_success 'a flipped byte is reported as corruption with the key' '
	printf hellp >s/nodes/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 &&
	test_expect_code 1 dh-store ./s node-get $(cat name) >out 2>err &&
	test ! -s out &&
	grep "dh-store: node .nodes/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824. .*corrupt" err
'

test_expect_success 'head compare-and-swap from the shell' '
	h1=$(printf one | dh-store ./s node-put) &&
	h2=$(printf two | dh-store ./s node-put) &&
	dh-store ./s cas heads/db - $h1 &&
	dh-store ./s head >out && echo $h1 >expect && test_cmp expect out &&
	test_expect_code 3 dh-store ./s cas heads/db - $h2 2>err &&
	grep "compare-and-swap" err &&
	dh-store ./s cas heads/db $h1 $h2 &&
	dh-store ./s heads >out && echo "$h2 db" >expect && test_cmp expect out
'

test_expect_success 'list by prefix' '
	dh-store ./s list heads/ >out &&
	echo heads/db >expect && test_cmp expect out &&
	dh-store ./s list nodes/ | wc -l >n && test $(cat n) -eq 3
'

test_expect_success 'has and missing keys' '
	dh-store ./s has format &&
	test_expect_code 4 dh-store ./s has nope &&
	test_expect_code 4 dh-store ./s get nope 2>err &&
	grep "not found" err
'

test_expect_success 'keys cannot escape the store' '
	test_expect_code 2 dh-store ./s put ../escape </dev/null 2>err &&
	grep "bad key" err &&
	test ! -e escape &&
	test_expect_code 2 dh-store ./s get /etc/passwd
'

test_expect_success 'usage errors exit 2 with a hint' '
	test_expect_code 2 dh-store 2>err &&
	grep "^usage: dh-store" err &&
	grep "Try .dh-store --help." err &&
	test_expect_code 2 dh-store ./s frobnicate 2>err &&
	grep "unknown command" err
'

test_expect_success 'unknown scheme lists the compiled-in schemes' '
	test_expect_code 2 dh-store nosuch://x list 2>err &&
	grep "unknown store scheme .nosuch." err &&
	grep "file" err && grep "mem" err
'

test_expect_success 'a missing store is an error unless created' '
	test_must_fail dh-store ./missing list 2>err &&
	grep "missing" err &&
	test ! -e missing
'

test_expect_success 'a write to a closed pipe or full disk fails' '
	test_expect_code 1 dh-store ./s get format >/dev/full 2>err &&
	grep "write error" err
'

test_done
