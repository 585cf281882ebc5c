#!/bin/sh
# dh-branch: list, create (from a branch or a commit), move, delete; the
# other branches stay as they were, and dh-gc takes a deleted branch's own
# nodes.
. "$(dirname "$0")/lib.sh"

schema='[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]'
count='[:find (count ?e) . :where [?e :name]]'

test_expect_success 'a new database has one branch, db, at a commit with no transaction' '
	dh-create s &&
	dh-branch s >out &&
	printf "db\t%s\t536870912\t\n" "$(dh-store s head)" | test_cmp - out
'

test_expect_success 'set up: two transactions' '
	echo "$schema" | dh-transact -o none s &&
	echo "[{:name \"a\"} {:name \"b\"}]" | dh-transact -o none s
'

test_expect_success 'a branch from db: its own transactions, db unchanged' '
	dh-branch -v s try 2>err &&
	grep "created at $(dh-store s head)" err &&
	echo "[{:name \"c\"}]" | dh-transact -o none -b try s &&
	test "$(dh-query -b try s "$count")" = 3 &&
	test "$(dh-query s "$count")" = 2 &&
	dh-branch s >out &&
	test $(wc -l <out) = 2 &&
	cut -f 1 out | tr "\n" " " | grep "^db try $" &&
	grep "^try	$(dh-store s head try)	536870915	20[0-9][0-9]-" out
'

test_expect_success 'branches are listed by name' '
	dh-branch s 0-first && dh-branch s zz && dh-branch s m/n &&
	dh-branch s | cut -f 1 | tr "\n" " " | grep "^0-first db m/n try zz $"
'

test_expect_success 'a branch at a commit dh-log printed' '
	c=$(dh-log -o tsv s | awk -F "\t" "\$2 == 536870913 { print \$1 }") &&
	dh-branch s old "$c" &&
	test "$(dh-store s head old)" = "$c" &&
	test "$(dh-query -b old s "$count")" = nil &&
	dh-log -b old s | test $(wc -l) = 2
'

test_expect_success 'an existing branch is only moved with -f' '
	test_expect_code 1 dh-branch s old try 2>err && grep "exists" err &&
	test "$(dh-store s head old)" != "$(dh-store s head try)" &&
	dh-branch -f -v s old try 2>err && grep "moved to $(dh-store s head try)" err &&
	test "$(dh-store s head old)" = "$(dh-store s head try)"
'

test_expect_success 'what START can be' '
	test_expect_code 1 dh-branch s x nosuch 2>err && grep "no branch .nosuch." err &&
	test_expect_code 1 dh-branch s x 0000000000000000000000000000000000000000000000000000000000000000 2>err &&
	grep "no commit" err &&
	test_expect_code 2 dh-branch s x "a b" 2>err && grep "neither a commit" err &&
	test_expect_code 2 dh-branch s "../x" 2>err &&
	! dh-branch s | grep "^x	"
'

test_expect_success 'delete a branch; db only with -f' '
	dh-branch -d -v s zz 2>err && grep "deleted branch .zz." err &&
	! dh-branch s | grep "^zz	" &&
	test_expect_code 1 dh-branch -d s zz 2>err && grep "no branch" err &&
	test_expect_code 2 dh-branch -d s db 2>err && grep -- "-f" err &&
	test_expect_code 2 dh-branch -d s &&
	dh-branch s | grep "^db	"
'

test_expect_success 'dh-gc takes the nodes only a deleted branch reached' '
	cp -r s g &&
	echo "[{:name \"only on try\"}]" | dh-transact -o none -b try g &&
	dh-branch -d g old && dh-branch -d g 0-first && dh-branch -d g m/n &&
	before=$(dh-store g list nodes/ | wc -l) &&
	dh-branch -d g try &&
	dh-gc -q --grace 0 g &&
	after=$(dh-store g list nodes/ | wc -l) &&
	test "$after" -lt "$before" &&
	dh-verify g &&
	test "$(dh-query g "$count")" = 2
'

test_expect_success 'the same on a SQLite store' '
	dh-sync -q s "sqlite://$PWD/s.db" &&
	dh-branch s >file.out && dh-branch "sqlite://$PWD/s.db" >sql.out &&
	test_cmp file.out sql.out &&
	dh-branch "sqlite://$PWD/s.db" copy try &&
	test "$(dh-store "sqlite://$PWD/s.db" head copy)" = "$(dh-store s head try)" &&
	dh-branch -d "sqlite://$PWD/s.db" copy &&
	dh-branch "sqlite://$PWD/s.db" | test_cmp file.out -
'

test_expect_success 'usage' '
	test_expect_code 2 dh-branch &&
	test_expect_code 2 dh-branch s a b c &&
	test_expect_code 1 dh-branch nosuchstore 2>err && grep nosuchstore err
'

test_done
