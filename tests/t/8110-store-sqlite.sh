#!/bin/sh
# sqlite:// stores: the conformance suite, the sqlite3 shell sees the same
# keys, and clear errors for missing files, tables and bad URIs.
. "$(dirname "$0")/lib.sh"

db=$TRASH/s.db

test_expect_success 'conformance suite on a fresh database (two processes race 1000 CAS each)' '
	test-store "sqlite://$TRASH/conf.db" >log 2>&1 || { cat log; false; } &&
	! grep "^not ok" log &&
	test $(grep -c "^ok" log) -ge 100
'

test_expect_success 'dh-store -c creates the file and the table, in WAL mode' '
	dh-store -c "sqlite://$db" put format <<-\EOF &&
	dh 1
	EOF
	test -f "$db" &&
	sqlite3 "$db" "pragma journal_mode" >mode && echo wal >expect && test_cmp expect mode &&
	sqlite3 "$db" ".schema dh_store" >schema && grep "key TEXT PRIMARY KEY" schema
'

test_expect_success 'sqlite3 lists the same keys as dh-store' '
	printf one | dh-store "sqlite://$db" node-put >n1 &&
	printf two | dh-store "sqlite://$db" node-put >n2 &&
	dh-store "sqlite://$db" cas heads/db - $(cat n2) &&
	sqlite3 "$db" "select key from dh_store order by key" >sql &&
	dh-store "sqlite://$db" list | sort >ours &&
	test_cmp sql ours &&
	test $(wc -l <ours) -eq 4 &&
	grep "^nodes/$(cut -c1-2 n1)/$(cut -c3- n1)\$" sql
'

test_expect_success 'a value written by sqlite3 is read by dh-store, bytes intact' '
	sqlite3 "$db" "insert into dh_store values ($(printf "%s" "'"'"'k/x'"'"'"), x'"'"'00ff0a'"'"')" &&
	dh-store "sqlite://$db" get k/x | od -An -tx1 | tr -d " " >got &&
	echo 00ff0a >expect && test_cmp expect got
'

test_expect_success 'another table name with ?table=' '
	dh-store -c "sqlite://$db?table=other" put a/b </dev/null &&
	sqlite3 "$db" "select key from other" >keys && echo a/b >expect && test_cmp expect keys
'

test_expect_success 'a missing file is an error without -c and is not created' '
	test_expect_code 1 dh-store "sqlite://$TRASH/none.db" list 2>err &&
	grep "no database file .*none.db" err &&
	test ! -e "$TRASH/none.db"
'

test_expect_success 'a missing table is an error naming it, and is not created' '
	sqlite3 "$TRASH/empty.db" "create table unrelated(x)" &&
	test_expect_code 1 dh-store "sqlite://$TRASH/empty.db" list 2>err &&
	grep "no table .dh_store. in store .sqlite://$TRASH/empty.db." err &&
	sqlite3 "$TRASH/empty.db" "select count(*) from sqlite_master where name = '"'"'dh_store'"'"'" >n &&
	echo 0 >expect && test_cmp expect n
'

test_expect_success 'a file that is not a database' '
	echo garbage >"$TRASH/junk.db" &&
	test_expect_code 1 dh-store "sqlite://$TRASH/junk.db" list 2>err &&
	grep "not a database" err
'

test_expect_success 'bad URIs and parameters are usage errors' '
	test_expect_code 2 dh-store "sqlite://relative/x.db" list 2>err &&
	grep "sqlite:///abs/file.db" err &&
	test_expect_code 2 dh-store "sqlite://$db?tabel=x" list 2>err &&
	grep "unknown parameter .tabel." err &&
	test_expect_code 2 dh-store "sqlite://$db?table=a;drop" list 2>err &&
	grep "bad table name" err
'

test_expect_success 'a head CAS conflict exits 3 and changes nothing' '
	test_expect_code 3 dh-store "sqlite://$db" cas heads/db $(cat n1) $(cat n1) 2>err &&
	dh-store "sqlite://$db" head >h && test_cmp n2 h
'

test_done
