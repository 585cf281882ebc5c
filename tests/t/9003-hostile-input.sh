#!/bin/sh
# Hostile input: keys, branches and paths cannot escape the store; secrets in
# URIs and config files never reach a message; input that claims huge sizes
# or deep nesting is refused without allocating what it claims.
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup' '
	echo "[{:db/ident :k :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" >s.edn &&
	dh-create -f s.edn ./db &&
	echo "[{:k 1}]" | dh-transact -q ./db >/dev/null &&
	mkdir outside
'

test_expect_success 'keys cannot leave the store or replace its own files' '
	for k in ../outside/x /etc/x nodes/../../outside/x heads/../../outside/x a//b "a b" .lock heads/.lock nodes/.tmp-1-1 .x/y; do
		echo x | test_expect_code 2 dh-store ./db put "$k" 2>err || return 1
		grep "bad key" err || return 1
	done &&
	test ! -s db/.lock &&
	test -z "$(ls outside)" &&
	test_expect_code 2 dh-store ./db get ../db/format &&
	test_expect_code 2 dh-store ./db cas heads/../format - x
'

test_expect_success 'branch names from options cannot escape heads/' '
	for b in ../format ../../outside/x /abs a/../b .hidden x.lock a//b ""; do
		echo "[]" | test_expect_code 2 dh-transact -b "$b" ./db >/dev/null 2>err || return 1
		test_expect_code 2 dh-query -b "$b" ./db "[:find ?e :where [?e :k]]" 2>/dev/null || return 1
		test_expect_code 2 dh-sync -b "$b" ./db ./copy 2>/dev/null || return 1
		test_expect_code 2 dh-create -b "$b" ./db 2>/dev/null || return 1
	done &&
	test -z "$(ls outside)" && test ! -e copy
'

test_expect_success 'a NUL byte in a config path is refused, not truncated' '
	printf "{:store {:backend :file :path \"%s/db\\\\u0000/../outside\"}}\n" "$PWD" >nul.edn &&
	test_expect_code 2 dh-verify nul.edn 2>err &&
	grep "nul.edn: :store :backend :file needs a :path string without NUL bytes" err &&
	test_expect_code 2 dh-export nul.edn >/dev/null 2>err &&
	grep "without NUL bytes" err
'

secret=S3cretPassw0rd
uris="postgresql://u:$secret@127.0.0.1:1/db
redis://:$secret@127.0.0.1:1/0
redis://u:$secret@127.0.0.1:1/0?prefix=p
tiered:?front=file://$TRASH/front&back=postgresql://u:$secret@127.0.0.1:1/db
tiered:?front=file://$TRASH/front&back=tiered%3A%3Ffront%3Dmem%253A%252F%252Fa%26back%3Dredis%253A%252F%252F%253A$secret%2540127.0.0.1%253A1%252F0
redis:u:$secret@127.0.0.1"

# run every tool on URI ($1) with and without -v; collect stderr in all.err
run_tools() {
	for v in "" -v; do
		dh-store $v "$1" head
		dh-store $v "$1" list
		dh-create $v "$1"
		echo "[{:k 2}]" | dh-transact $v "$1"
		dh-query $v "$1" "[:find ?e :where [?e :k]]"
		dh-pull $v "$1" "[*]" 1
		dh-datoms $v "$1" eavt
		dh-export $v "$1" "$TRASH/dump"
		dh-import $v "$1" "$TRASH/dump.cbor"
		dh-sync $v "$1" ./db
		dh-sync $v ./db "$1"
		dh-verify $v "$1"
		dh-gc $v "$1"
	done >/dev/null 2>>all.err </dev/null
	return 0
}

test_expect_success 'passwords in URIs never appear in messages, with or without -v' '
	dh-export ./db >dump.cbor &&
	: >all.err &&
	echo "$uris" | while read -r u; do run_tools "$u"; done &&
	test -s all.err &&
	! grep "$secret" all.err &&
	grep -c "" all.err
'

test_expect_success 'passwords in config files never appear in messages' '
	: >all.err &&
	echo "{:store {:backend :jdbc :uri \"postgresql://u:$secret@127.0.0.1:1/db\"}}" >pg.edn &&
	echo "{:store {:uri \"redis://:$secret@127.0.0.1:1/0\"}}" >redis.edn &&
	echo "{:store {:backend :jdbc :password \"$secret\" :dbtype \"postgresql\"}}" >jdbc.edn &&
	echo "{:store {:backend :file :path \"$secret" >broken.edn &&
	for f in pg.edn redis.edn jdbc.edn broken.edn; do run_tools "$PWD/$f"; done &&
	test -s all.err &&
	! grep "$secret" all.err
'

test_expect_success 'deeply nested EDN and JSON are refused, not a stack overflow' '
	awk "BEGIN { for (i = 0; i < 1000000; i++) printf \"[\"; print \"\" }" >deep.edn &&
	test_expect_code 1 dh-transact ./db deep.edn 2>err &&
	grep "deep.edn:1:.*nest" err &&
	awk "BEGIN { for (i = 0; i < 1000000; i++) printf \"[\"; print \"\" }" >deep.json &&
	test_expect_code 1 dh-transact -i json ./db deep.json 2>err &&
	grep "deep.json:1:.*\(nest\|depth\)" err &&
	awk "BEGIN { printf \"[:find ?e :where \"; for (i = 0; i < 1000000; i++) printf \"(\"; print \"\" }" >deepq.edn &&
	test_expect_code 1 dh-query -f deepq.edn ./db 2>err &&
	grep "nest" err
'

# limit_vm KB: cap virtual memory, except under ASan or valgrind (which
# reserve far more address space than they use)
limit_vm() {
	[ -n "${DH_TEST_VALGRIND:-}" ] && return 0
	ldd "$DH_BUILD/libdh.so" 2>/dev/null | grep -q libasan && return 0
	ulimit -v "$1"
}

# cbor HEX...: write bytes given in hex to stdout
cbor() {
	printf "%s" "$*" | tr -d " " | sed "s/../\\\\x&/g" | xargs -0 printf
}

test_expect_success 'a dump record claiming huge sizes is refused without allocating them' '
	limit_vm 1000000 &&
	for rec in "9b 7f ff ff ff ff ff ff ff" "85 01 5b 7f ff ff ff ff ff ff ff" \
		   "85 01 7b 00 00 00 ff ff ff ff ff 61" "85 01 bb 00 ff ff ff ff ff ff ff" \
		   "9a ff ff ff ff 01" "85 01 d8 27 7b 7f ff ff ff ff ff ff ff"; do
		cbor "$rec" >huge.cbor &&
		rm -rf im && test_expect_code 1 dh-import ./im huge.cbor 2>err &&
		cat err && test ! -e im/heads/db || return 1
	done
'

test_expect_success 'a record claiming 60 MiB in 7 bytes allocates nothing like it' '
	printf "\205\001\132\003\300\000\000" >claim.cbor &&
	dh-import -n ./cl dump.cbor >/dev/null &&
	(limit_vm 60000 && test_expect_code 1 dh-import -n ./cl claim.cbor) 2>err &&
	grep "truncated record: 7 bytes left, it needs 62914567" err
'

test_expect_success 'a truncated gzip dump is refused, not read forever' '
	gzip -c dump.cbor | head -c 60 >trunc.cbor.gz &&
	test_expect_code 1 timeout 60 dh-import -n ./tr trunc.cbor.gz 2>err &&
	grep "truncated gzip stream" err &&
	test_expect_code 1 timeout 60 dh-import ./tr trunc.cbor.gz 2>err &&
	test ! -e tr/heads/db
'

test_expect_success 'a node claiming huge sizes is refused without allocating them' '
	limit_vm 1000000 &&
	for node in "9b 7f ff ff ff ff ff ff ff" "bb 7f ff ff ff ff ff ff ff" "a1 61 63 5b 7f ff ff ff ff ff ff ff" \
		    "d8 27 9b 00 ff ff ff ff ff ff ff"; do
		rm -rf n && cp -r db n &&
		cbor "$node" >node.bin &&
		h=$(dh-store ./n node-put node.bin) &&
		dh-store ./n cas heads/db "$(dh-store ./n head)" "$h" &&
		test_must_fail dh-verify ./n >out 2>err &&
		test_expect_code 1 dh-query ./n "[:find ?e :where [?e :k]]" 2>err &&
		cat err out || return 1
	done
'

test_done
