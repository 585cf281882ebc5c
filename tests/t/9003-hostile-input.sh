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
	test_must_fail dh-query nul.edn "[:find ?e :where [?e :k]]" 2>err &&
	grep -i "nul" err
'

test_done
