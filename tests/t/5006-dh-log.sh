#!/bin/sh
# dh-log: a branch's commits newest first, in every output format; history
# cut by dh-gc ends the log quietly, a missing parent is an error naming
# its key; merged lines of history come interleaved, each commit once.
. "$(dirname "$0")/lib.sh"

schema='[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]'

test_expect_success 'set up: a schema and three transactions' '
	dh-create s &&
	echo "$schema" | dh-transact -o none s &&
	echo "[{:name \"a\"} {:name \"b\"}]" | dh-transact -o none s &&
	echo "[{:name \"c\"}]" | dh-transact -o none s &&
	echo "[[:db/retract 2 :name \"a\"]]" | dh-transact -o json s >report &&
	last=$(jq .tx report) && test -n "$last" && echo "$last" >last
'

test_expect_success 'one line per commit, newest first, down to the first commit' '
	dh-log s >out &&
	test $(wc -l <out) = 5 &&
	head -1 out | grep "^$(dh-store s head)  " &&
	head -1 out | grep "  tx $(cat last)  " &&
	tail -1 out | grep "  -  *tx 536870912  datoms 0$"
'

test_expect_success 'each line says how the datom count changed' '
	# the retraction removes one datom and adds its :db/txInstant
	sed -n 1p out | grep "datoms 9 (+0)$" &&
	sed -n 2p out | grep "datoms 9 (+2)$" &&
	sed -n 3p out | grep "datoms 7 (+3)$" &&
	sed -n 4p out | grep "datoms 4 (+4)$"
'

test_expect_success 'tx ids descend by one, instants do not increase' '
	dh-log -o tsv s >tsv &&
	awk -F "\t" "NR > 1 && \$2 != prev - 1 { exit 1 } { prev = \$2 }" tsv &&
	awk -F "\t" "NR > 1 && \$3 != \"\" && \$3 > prev { exit 1 } { prev = \$3 }" tsv
'

test_expect_success '-n limits the count' '
	test $(dh-log -n 2 s | wc -l) = 2 &&
	test $(dh-log -n 0 s | wc -l) = 0
'

test_expect_success 'edn: one map per line, read back by dh-query' '
	dh-log -o edn -n 2 s >edn &&
	test $(wc -l <edn) = 2 &&
	head -1 edn | grep "^{:commit \"$(dh-store s head)\", :tx $(cat last), :instant #inst \"" &&
	dh-query s "[:find ?d . :in \$ ?m :where [(get ?m :delta) ?d]]" "$(head -1 edn)" >d &&
	test "$(cat d)" = 0 &&
	dh-log -o edn s | tail -1 | grep ":instant nil, :datoms 0, :delta nil, :parents \[\]}$"
'

test_expect_success 'json is one array, jsonl one object per line' '
	dh-log -o json s >json &&
	test "$(jq length json)" = 5 &&
	test "$(jq -r ".[0].commit" json)" = "$(dh-store s head)" &&
	jq -r ".[0].instant" json | grep -E "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$" &&
	test "$(jq ".[4].instant" json)" = null &&
	dh-log -o jsonl s >jsonl &&
	test $(wc -l <jsonl) = 5 &&
	test "$(jq -s "map(.delta) | .[0:4]" -c jsonl)" = "[0,2,3,4]" &&
	test "$(jq -r "select(.tx == 536870913) | .parents[0]" jsonl)" = "$(jq -r ".[4].commit" json)"
'

test_expect_success 'tsv and csv with a header; -0 ends rows with NUL' '
	dh-log -o csv -H -n 1 s >csv &&
	test "$(head -1 csv)" = "commit,tx,instant,datoms,delta,parents" &&
	test $(wc -l <csv) = 2 &&
	dh-log -o tsv -0 s | tr "\0" "\n" | test $(wc -l) = 5 &&
	tail -1 tsv | awk -F "\t" "NF == 6 && \$3 == \"\" && \$5 == \"\" && \$6 == \"\" { ok = 1 } END { exit !ok }"
'

test_expect_success '--commit starts from an older commit' '
	c=$(sed -n 3p out | cut -c1-64) &&
	dh-log -c "$c" s >older &&
	test $(wc -l <older) = 3 &&
	sed -n 3,5p out | test_cmp - older
'

test_expect_success 'the tx before the latest is the as-of view before it' '
	tx=$(dh-log -o tsv -n 1 s | cut -f 2) &&
	test "$(dh-query --as-of $((tx - 1)) s "[:find (count ?e) . :where [?e :name]]")" = 3 &&
	test "$(dh-query s "[:find (count ?e) . :where [?e :name]]")" = 2
'

test_expect_success 'after dh-gc --before the log ends at the cut, quietly' '
	cp -r s g &&
	cut_tx=$(sed -n 3p out | sed "s/.*  tx \([0-9]*\) .*/\1/") &&
	dh-gc -q --grace 0 --before "$cut_tx" g &&
	dh-log g >cut &&
	test $(wc -l <cut) = 4 &&
	tail -1 cut | grep "  tx $cut_tx  datoms 7$" &&
	dh-verify g
'

test_expect_success 'a branch of its own' '
	dh-store s cas heads/side - "$(sed -n 3p out | cut -c1-64)" &&
	echo "[{:name \"side\"}]" | dh-transact -o none -b side s &&
	dh-log -b side s >side &&
	test $(wc -l <side) = 4 &&
	sed -n 2,4p side | test_cmp - older
'

# A merge commit, as Datahike's merge! makes them: the head's commit with
# the two heads as its parents (dh writes none itself, but reads them).
cat >merge.py <<'EOF'
import sys
main, side, parent = (bytes.fromhex(h) for h in sys.argv[1:4])
raw = sys.stdin.buffer.read()
one = b"\x81\x58\x20" + parent
assert raw.count(one) == 1
sys.stdout.buffer.write(raw.replace(one, b"\x82\x58\x20" + main + b"\x58\x20" + side))
EOF

test_expect_success 'a merge: both lines by transaction, each commit once' '
	main=$(dh-store s head) && side=$(dh-store s head side) &&
	dh-store s node-get "$main" | python3 merge.py "$main" "$side" "$(sed -n 2p out | cut -c1-64)" >merge.bin &&
	m=$(dh-store s node-put merge.bin) &&
	dh-store s cas heads/db "$main" "$m" &&
	dh-verify s &&
	dh-log s >merged &&
	test $(wc -l <merged) = 7 &&
	test $(cut -c1-64 merged | sort -u | wc -l) = 7 &&
	head -1 merged | grep "^$m .*  datoms 9 (+0)  merge $main $side$" &&
	sed -n 2p merged | grep "^$main " &&
	sed -n 3p merged | grep "^$side " &&
	sed -n 4,7p merged | cut -c1-64 >rest &&
	sed -n 2,5p out | cut -c1-64 | test_cmp - rest &&
	dh-log -o jsonl -n 1 s | jq -e ".parents == [\"$main\", \"$side\"]"
'

test_expect_success 'a missing parent is an error naming its key' '
	cp -r s m &&
	c=$(sed -n 2p out | cut -c1-64) &&
	key=nodes/$(echo "$c" | cut -c1-2)/$(echo "$c" | cut -c3-) &&
	rm "m/$key" &&
	test_expect_code 1 dh-log m >partial 2>err &&
	grep "$key" err && grep missing err &&
	test $(wc -l <partial) = 1
'

test_expect_success 'usage errors and missing things' '
	test_expect_code 2 dh-log -n many s 2>err && grep "count" err &&
	test_expect_code 2 dh-log -b db -c "$(dh-store s head)" s &&
	test_expect_code 2 dh-log -o yaml s &&
	test_expect_code 2 dh-log -0 s &&
	test_expect_code 2 dh-log -c nothex s 2>err && grep "64 hex" err &&
	test_expect_code 1 dh-log -b nosuch s 2>err && grep "no branch .nosuch." err &&
	test_expect_code 1 dh-log -c 0000000000000000000000000000000000000000000000000000000000000000 s 2>err &&
	grep "not in store" err &&
	test_expect_code 2 dh-log &&
	test_expect_code 1 dh-log nosuchstore 2>err && grep nosuchstore err
'

test_expect_success 'the same log from an LMDB copy' '
	dh-sync -q s "lmdb://$PWD/l" &&
	dh-log s >sout &&
	dh-log "lmdb://$PWD/l" >lout &&
	test_cmp sout lout
'

test_done
