#!/bin/sh
# A file store is a directory of immutable files plus small head files, so
# rsync and git copy it, and incremental copies move only the new files.
# Incremental rsync uses --checksum: a head rewritten within the same second
# keeps its size and (whole-second) mtime, which rsync's quick check trusts.
. "$(dirname "$0")/lib.sh"

q='[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]'

test_expect_success 'set up a database' '
	dh-create s &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
	       {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" | dh-transact s >/dev/null &&
	awk "BEGIN { printf \"[\"; for (i = 0; i < 3000; i++) printf \"{:name \\\"p%d\\\" :age %d}\", i, i % 77; print \"]\" }" | dh-transact s >/dev/null &&
	dh-query s "$q" >s.out
'

test_expect_success 'rsync -a of a file store is a store with the same answers' '
	rsync -a s/ r/ &&
	dh-verify r &&
	dh-query r "$q" >r.out && test_cmp s.out r.out
'

test_expect_success 'after a small transaction rsync transfers only the new files' '
	find s -type f ! -name ".*" | sort >files.before &&
	echo "[{:name \"new\" :age 1}]" | dh-transact s >/dev/null &&
	find s -type f ! -name ".*" | sort >files.after &&
	comm -13 files.before files.after >new &&
	test -s new &&
	rsync -a --checksum --itemize-changes --exclude=".lock" s/ r/ >changes &&
	grep "^>f" changes | sed "s/^[^ ]* //" | sort >sent &&
	sed "s,^s/,," new >expect.new &&
	grep -v "^heads/" sent >sent.nodes &&
	grep -v "^heads/" expect.new >expect.nodes &&
	test_cmp expect.nodes sent.nodes &&
	test $(wc -l <sent.nodes) -le 16 &&
	dh-query s "$q" >s.out && dh-query r "$q" >r.out && test_cmp s.out r.out
'

test_expect_success 'git add/commit/clone of a store directory gives a working store' '
	(cd s && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm one) &&
	git clone -q s g &&
	dh-verify g &&
	dh-query g "$q" >g.out && test_cmp s.out g.out
'

test_expect_success 'after a small transaction git commits only new files and the head' '
	echo "[{:name \"newer\" :age 2}]" | dh-transact s >/dev/null &&
	(cd s && git add -A && git status --porcelain) >status &&
	! grep -v "^A  \|^M  heads/" status &&
	grep "^M  heads/db" status &&
	test $(grep -c "^A  nodes/" status) -ge 1 &&
	test $(grep -c "^A  nodes/" status) -le 16 &&
	(cd s && git -c user.name=t -c user.email=t@t commit -qm two) &&
	(cd g && git pull -q) &&
	dh-query s "$q" >s.out && dh-query g "$q" >g.out && test_cmp s.out g.out
'

test_done
