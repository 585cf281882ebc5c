#!/bin/sh
# dh-gc --before: history older than a cutoff goes, the heads and every view
# of the database stay, and the cut is recorded so that verify, gc and sync
# of the store (and of copies of it) still tell a missing parent from a
# dropped one.  A purge followed by a cut erases the purged value.
. "$(dirname "$0")/lib.sh"

cur='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'
hist='[:find ?n ?a ?t ?op :where [?e :name ?n] [?e :age ?a ?t ?op]]'
TX0=536870912

# txs N: N transactions, one a vector, the i-th at 2020-MM-DD (28 days a
# month from January 1st) with tx id TX0 + 1 + i: a new person, and an age
# change of one of five people (a retraction each).
txs() {
	awk -v n="$1" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "[{:name \"n%d\" :age %d} {:name \"p%d\" :age %d} {:db/id \"datomic.tx\" :db/txInstant #inst \"2020-%02d-%02dT00:00:00Z\"}]\n",
				i, i, i % 5, i, 1 + int((i - 1) / 28), 1 + (i - 1) % 28
	}'
}

# parent_of URI COMMIT: the first parent of COMMIT, or nothing for a root
parent_of() {
	dh-store "$1" node-get "$2" | od -An -v -tx1 -j12 -N35 | tr -d " \n" | sed -n "s/^815820//p"
}

# has_node URI NAME: the store holds node NAME
has_node() {
	dh-store "$1" has "nodes/$(echo $2 | cut -c1-2)/$(echo $2 | cut -c3-)"
}

# chain URI: the commits from the head back along first parents, newest first
chain() {
	c=$(dh-store "$1" head) &&
	while [ -n "$c" ] && has_node "$1" $c; do
		echo $c
		c=$(parent_of "$1" $c)
	done
}

# views URI: the answers of the current db and of time views, in files URI.*
views() {
	dh-query "$1" "$cur" >"$1.cur" &&
	dh-query --history "$1" "$hist" >"$1.hist" &&
	dh-query --as-of 2020-01-15T00:00:00Z "$1" "$cur" >"$1.asof-inst" &&
	dh-query --as-of $((TX0 + 40)) "$1" "$cur" >"$1.asof-tx" &&
	dh-query --since 2020-02-10T00:00:00Z "$1" "$cur" >"$1.since" &&
	test -s "$1.asof-inst" && test -s "$1.since"
}

same_views() {
	for v in cur hist asof-inst asof-tx since; do
		test_cmp "$1.$v" "$2.$v" || return 1
	done
}

keys() { dh-store "$1" list nodes/ | sort; }

test_expect_success 'set up 80 transactions over three months' '
	dh-create s &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
	       {:db/id \"datomic.tx\" :db/txInstant #inst \"2019-12-31T00:00:00Z\"}]" | dh-transact s >/dev/null &&
	txs 80 | dh-transact -o none s &&
	dh-verify s &&
	chain s >chain.all && test $(wc -l <chain.all) = 82 &&
	cp -r s orig && views orig && keys s >keys.all
'

# 2020-03-03: transactions 59 (March 3rd) to 80 stay
test_expect_success 'a dry run says what it would cut and delete, and changes nothing' '
	dh-gc -n -g 0 --before 2020-03-03T00:00:00Z s >out 2>err &&
	grep "^would cut heads/db $(head -1 chain.all) -> [0-9a-f]*, keeping 22 commits$" out &&
	grep "history would be cut" err &&
	sed -n "s/^would delete //p" out | sort >would &&
	test -s would &&
	keys s >now && test_cmp keys.all now &&
	test "$(dh-store s head)" = "$(head -1 chain.all)" &&
	test_must_fail dh-store s has gc/pending
'

test_expect_success 'the cut drops the old commits and what only they reach' '
	dh-gc -v -g 0 --before 2020-03-03T00:00:00Z s >out 2>err &&
	grep "^cut heads/db $(head -1 chain.all) -> " out &&
	sed -n "s/^deleted //p" out | sort >deleted &&
	test_cmp would deleted &&
	h=$(dh-store s head) &&
	test "$(parent_of s $h)" = "$(head -1 chain.all)" &&
	head -22 chain.all >kept && sed 1,22d chain.all >dropped &&
	for c in $(cat kept); do has_node s $c || exit 1; done &&
	for c in $(cat dropped); do grep -q "$(echo $c | cut -c3-)" deleted || exit 1; done &&
	keys s >keys.cut && comm -23 keys.all keys.cut >gone && test_cmp deleted gone &&
	grep -v "$(cut -c3- dropped | head -1)" deleted | grep . >/dev/null
'

test_expect_success 'the cut store verifies and answers every view as before' '
	dh-verify -v s 2>err && grep " 23 commits, .* 0 problems" err &&
	views s && same_views orig s
'

test_expect_success 'cutting again at the same time changes nothing' '
	h=$(dh-store s head) && keys s >before &&
	dh-gc -v -g 0 --before 2020-03-03T00:00:00Z s >out 2>err &&
	test ! -s out && grep "no history to cut" err &&
	test "$(dh-store s head)" = "$h" && keys s >after && test_cmp before after
'

test_expect_success 'later transactions keep the cut; plain gc and verify respect it' '
	echo "[{:name \"late\" :age 1}]" | dh-transact -o none s &&
	dh-verify s &&
	dh-gc -v -g 0 s >out 2>err && grep " 0 deleted" err &&
	dh-gc -v -g 0 --before 2020-01-01T00:00:00Z s >out 2>err && grep "no history to cut, .* 0 deleted" err
'

test_expect_success 'dh-verify still reports a missing parent that was not cut away' '
	cp -r s broken &&
	c=$(sed -n 5p kept) &&
	rm broken/nodes/$(echo $c | cut -c1-2)/$(echo $c | cut -c3-) &&
	test_expect_code 4 dh-verify broken >out &&
	grep "$(echo $c | cut -c3-). is missing (named by .nodes/$(sed -n 4p kept | cut -c1-2)/" out &&
	test $(wc -l <out) = 1 &&
	test_expect_code 1 dh-gc -g 0 broken 2>err && grep "cannot be collected" err &&
	test_expect_code 1 dh-gc -g 0 --before 2020-03-20T00:00:00Z broken 2>err && grep "cannot be collected" err
'

test_expect_success 'the cut is in the nodes: sync to file and lmdb stores verifies' '
	dh-sync s f && dh-verify -v f 2>err && grep " 24 commits, .* 0 problems" err &&
	dh-sync s "lmdb://$TRASH/l" && dh-verify "lmdb://$TRASH/l" &&
	dh-sync "lmdb://$TRASH/l" f2 && dh-verify f2 &&
	keys s >ks && keys f >kf && test_cmp ks kf &&
	dh-query s "$cur" >s.cur && dh-query "lmdb://$TRASH/l" "$cur" >l.cur && test_cmp s.cur l.cur
'

test_expect_success 'rsync and git copies of the cut store verify' '
	rsync -a s/ r/ && dh-verify r &&
	cp -r s gs && (cd gs && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm cut) &&
	git clone -q gs gc && dh-verify gc &&
	dh-query gc "$cur" >gc.cur && test_cmp s.cur gc.cur
'

test_expect_success 'a copy with the old history fast-forwards, and its own gc drops it' '
	cp -r orig o2 &&
	dh-sync o2 o3 && dh-sync s o3 && dh-verify o3 &&
	dh-gc -g 0 o3 && keys s >ks && keys o3 >ko && test_cmp ks ko && dh-verify o3
'

test_expect_success 'a tx id cuts too; the head is always kept' '
	cp -r orig t &&
	dh-gc -v -g 0 --before $((TX0 + 1 + 71)) t >out &&
	grep "keeping 10 commits" out &&
	dh-verify -v t 2>err && grep " 11 commits" err &&
	views t && same_views orig t &&
	dh-gc -v -g 0 --before now t >out &&
	grep "keeping 0 commits" out &&
	dh-verify -v t 2>err && grep " 1 commits" err &&
	views t && same_views orig t
'

test_expect_success 'a dry run of an old head counts it as deleted, as the real run deletes it' '
	cp -r orig n &&
	dh-gc -n -g 0 --before 30d n >out &&
	sed -n "s/^would delete //p" out | sort >would &&
	grep "$(head -1 chain.all | cut -c3-)" would &&
	dh-gc -v -g 0 --before 30d n >out &&
	sed -n "s/^deleted //p" out | sort >deleted && test_cmp would deleted &&
	views n && same_views orig n
'

test_expect_success 'every branch is cut, each keeping its own recent commits' '
	cp -r orig b &&
	dh-store b cas heads/dev - $(sed -n 30p chain.all) &&
	txs 3 | sed "s/2020-01-/2020-04-/" | dh-transact -b dev -o none b &&
	dh-query -b dev b "$cur" >dev.before &&
	dh-gc -v -g 0 --before 2020-03-03T00:00:00Z b >out &&
	grep "^cut heads/db .*keeping 22 commits" out &&
	grep "^cut heads/dev .*keeping 3 commits" out &&
	dh-verify -v b 2>err && grep "2 heads, 27 commits" err &&
	dh-query -b dev b "$cur" >dev.after && test_cmp dev.before dev.after &&
	views b && same_views orig b
'

test_expect_success 'the grace period still holds: the old history goes a period later' '
	cp -r orig g &&
	dh-gc -v --before 2020-03-03T00:00:00Z g >out 2>err &&
	grep "^cut heads/db" out && grep " 0 deleted" err &&
	keys g | comm -23 - keys.all | wc -l | grep -x 1 &&
	dh-store g get gc/pending | sed "2,\$s/^[0-9]*/1000/" | dh-store g put gc/pending &&
	dh-gc -v g >out 2>err &&
	keys g >kg && test_cmp keys.cut kg &&
	dh-verify g
'

# many entities, so that the purged values sit in leaves and branches of
# every index (:secret is in AVET), and some of them in log nodes
test_expect_success 'a purge then a cut leaves the purged value in no node' '
	dh-create p &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :secret :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/index true}]" | dh-transact -o none p &&
	awk "BEGIN { printf \"[\"; for (i = 0; i < 3000; i++) printf \"{:name \\\"u%d\\\" :secret \\\"%s%d\\\"}\", i, i % 100 ? \"plain\" : \"XYZZY\", i; print \"]\" }" | dh-transact -o none p &&
	echo "[{:name \"u7\" :secret \"XYZZY-late\"}]" | dh-transact -o none p &&
	echo "[{:name \"u8\" :secret \"plain-late\"}]" | dh-transact -o none p &&
	grep -rl XYZZY p/nodes >before && test $(wc -l <before) -gt 3 &&
	awk "BEGIN { printf \"[\"; for (i = 0; i < 3000; i += 100) printf \"[:db.purge/attribute [:name \\\"u%d\\\"] :secret]\", i; print \"[:db/purge [:name \\\"u7\\\"] :secret \\\"XYZZY-late\\\"]]\" }" |
	dh-transact -o none p &&
	dh-query --history p "[:find ?s :where [_ :secret ?s]]" >h && ! grep XYZZY h &&
	grep -rl XYZZY p/nodes >/dev/null &&
	dh-gc -q -g 0 --before now p &&
	! grep -rl XYZZY p &&
	dh-verify p &&
	dh-query p "[:find (count ?s) :where [_ :secret ?s]]" >count && grep -x "#{\[2969\]}" count
'

test_expect_success 'bad times are usage errors' '
	test_expect_code 2 dh-gc --before yesterday s 2>err && grep "bad time" err &&
	test_expect_code 2 dh-gc --before 5x s &&
	test_expect_code 2 dh-gc --before "" s
'

test_done
