#!/bin/sh
# Store backends loaded as plugins: the flatdir example through the real
# tools, the store conformance suite on it, and plugins that are refused.
. "$(dirname "$0")/lib.sh"

flatdir_dir=$DH_BUILD/examples/backend-flatdir
bad_dir=$DH_BUILD/tests/plugins/bad
DH_BACKEND_PATH=$flatdir_dir
export DH_BACKEND_PATH

test_tap_import test-store "flatdir://$TRASH/conformance"

test_expect_success 'a file store to copy' '
	dh-store -c ./src put format <<-\EOF &&
	dh 1
	EOF
	for i in 1 2 3 4 5; do echo "node $i" | dh-store ./src node-put; done >names &&
	dh-store ./src cas heads/db - $(tail -n 1 names) &&
	dh-store ./src cas heads/feature/x - $(head -n 1 names) &&
	dh-store ./src list | sort >src.keys &&
	test $(wc -l <src.keys) -eq 8
'

copy() {
	dh-store "$1" list | while read -r key; do
		dh-store "$1" get "$key" | dh-store -c "$2" put "$key" || exit 1
	done
}

test_expect_success 'file -> flatdir plugin -> file: same keys, same bytes' '
	copy ./src "flatdir://$TRASH/flat" &&
	copy "flatdir://$TRASH/flat" ./back &&
	dh-store ./back list | sort >back.keys &&
	test_cmp src.keys back.keys &&
	while read -r key; do
		dh-store ./src get "$key" >a && dh-store ./back get "$key" >b && cmp a b || exit 1
	done <src.keys
'

test_expect_success 'the plugin store lists, verifies nodes and reads heads' '
	dh-store "flatdir://$TRASH/flat" list | sort >flat.keys &&
	test_cmp src.keys flat.keys &&
	dh-store "flatdir://$TRASH/flat" list heads/ | sort >heads &&
	printf "heads/db\nheads/feature/x\n" >expect && test_cmp expect heads &&
	while read -r n; do dh-store "flatdir://$TRASH/flat" node-get "$n" >/dev/null || exit 1; done <names &&
	dh-store ./src heads | sort >expect &&
	dh-store "flatdir://$TRASH/flat" heads | sort >actual &&
	test_cmp expect actual
'

test_expect_success 'flatdir keeps one flat folder with encoded names' '
	test -z "$(find flat -mindepth 1 -type d)" &&
	test -f "flat/heads%2Ffeature%2Fx" &&
	n=$(head -n 1 names) &&
	test -f "flat/nodes%2F$(echo $n | cut -c1-2)%2F$(echo $n | cut -c3-)"
'

test_expect_success 'corruption in the plugin store is detected' '
	n=$(head -n 1 names) &&
	f="flat/nodes%2F$(echo $n | cut -c1-2)%2F$(echo $n | cut -c3-)" &&
	echo garbage >"$f" &&
	test_expect_code 1 dh-store "flatdir://$TRASH/flat" node-get $n 2>err &&
	grep corrupt err
'

test_expect_success 'head compare-and-swap through the plugin' '
	a=$(sed -n 2p names) && b=$(sed -n 3p names) &&
	dh-store "flatdir://$TRASH/flat" cas heads/t - $a &&
	test_expect_code 3 dh-store "flatdir://$TRASH/flat" cas heads/t - $b 2>err &&
	grep "compare-and-swap" err &&
	dh-store "flatdir://$TRASH/flat" cas heads/t $a $b &&
	echo $b >expect && dh-store "flatdir://$TRASH/flat" head t >actual && test_cmp expect actual
'

q='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'

test_expect_success 'a database to sync' '
	dh-create db &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" | dh-transact db >/dev/null &&
	awk "BEGIN { printf \"[\"; for (i = 1; i <= 300; i++) printf \"{:name \\\"p%d\\\" :age %d}\", i, i % 90; print \"]\" }" |
		dh-transact db >/dev/null &&
	echo "[[:db/retract [:name \"p7\"] :age 7]]" | dh-transact db >/dev/null &&
	dh-query -o tsv db "$q" | sort >db.out && test $(wc -l <db.out) -eq 299
'

test_expect_success 'dh-sync file -> flatdir plugin -> file: identical query results' '
	dh-sync -q db "flatdir://$TRASH/dbflat" &&
	dh-verify "flatdir://$TRASH/dbflat" &&
	dh-query -o tsv "flatdir://$TRASH/dbflat" "$q" | sort >flat.out &&
	test_cmp db.out flat.out &&
	dh-sync -q "flatdir://$TRASH/dbflat" back-db &&
	dh-query -o tsv back-db "$q" | sort >back.out &&
	test_cmp db.out back.out &&
	dh-store db head >h1 && dh-store back-db head >h2 && test_cmp h1 h2
'

test_expect_success 'transactions and queries run directly on the plugin store' '
	echo "[{:name \"flat\" :age 1}]" | dh-transact "flatdir://$TRASH/dbflat" >/dev/null &&
	dh-query "flatdir://$TRASH/dbflat" "[:find ?a . :where [?e :name \"flat\"] [?e :age ?a]]" >out &&
	echo 1 >expect && test_cmp expect out &&
	dh-sync -q "flatdir://$TRASH/dbflat" back-db &&
	dh-query back-db "[:find ?a . :where [?e :name \"flat\"] [?e :age ?a]]" >out &&
	test_cmp expect out
'

test_expect_success 'without DH_BACKEND_PATH the scheme is unknown' '
	test_expect_code 2 env -u DH_BACKEND_PATH dh-store "flatdir://$TRASH/flat" list 2>err &&
	grep "unknown store scheme .flatdir." err
'

test_expect_success 'empty and missing DH_BACKEND_PATH entries are skipped' '
	DH_BACKEND_PATH="::$TRASH/nowhere:$flatdir_dir:" dh-store "flatdir://$TRASH/flat" has format
'

with_bad() {
	DH_BACKEND_PATH="$bad_dir:$flatdir_dir" DH_TEST_MARK="$TRASH/mark" "$@"
}

test_expect_success 'a plugin for another API version is refused, naming the file' '
	test_expect_code 1 with_bad dh-store "badversion://$TRASH/x" list 2>err &&
	grep "^dh-store: cannot open .badversion://.*plugin .$bad_dir/badversion.so. refused: built for backend API version [0-9]*, this libdh speaks [0-9]*$" err &&
	test ! -e mark
'

test_expect_success 'a plugin without its entry point is refused' '
	test_expect_code 1 with_bad dh-store "nosym://$TRASH/x" list 2>err &&
	grep "plugin .$bad_dir/nosym.so. refused: no symbol .dh_plugin_backends." err
'

test_expect_success 'a plugin claiming a taken scheme is refused whole' '
	test_expect_code 1 with_bad dh-store "takenextra://$TRASH/x" list 2>err &&
	grep "plugin .$bad_dir/taken.so. refused: a backend for scheme .file. is already registered" err
'

test_expect_success 'a plugin with an unresolved symbol or a missing slot is refused' '
	test_expect_code 1 with_bad dh-store "unresolved://$TRASH/x" list 2>err &&
	grep "unresolved.so. refused: cannot load: .*dh_no_such_function" err &&
	test_expect_code 1 with_bad dh-store "badops://$TRASH/x" list 2>err &&
	grep "badops.so. refused: backend .badops. lacks the required operation cas()" err
'

test_expect_success 'a built-in backend module from another build of libdh is refused' '
	test_expect_code 1 with_bad dh-store "othermodule://$TRASH/x" list 2>err &&
	grep "module .$bad_dir/othermodule.so. refused: built for libdh 0.0.0-another-build, this is libdh " err
'

test_expect_success 'broken plugins do not stop other stores' '
	echo junk >"$TRASH/junk.so" &&
	with_bad dh-store "flatdir://$TRASH/flat" has format &&
	with_bad dh-store ./src has format &&
	DH_BACKEND_PATH="$TRASH:$bad_dir:$flatdir_dir" dh-store "flatdir://$TRASH/flat" has format &&
	with_bad dh-store -c "mem://x" list
'

test_expect_success 'an unknown scheme lists the loaded schemes and every refusal' '
	DH_BACKEND_PATH="$TRASH:$bad_dir:$flatdir_dir" test_expect_code 2 dh-store "nosuch://x" list 2>err &&
	grep "unknown store scheme .nosuch." err &&
	grep "known: .*flatdir" err &&
	grep "junk.so. refused: cannot load" err &&
	grep "badversion.so. refused" err &&
	grep "taken.so. refused" err
'

test_done
