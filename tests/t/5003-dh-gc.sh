#!/bin/sh
# dh-gc: unreachable nodes go, reachable ones stay, the grace period holds.
. "$(dirname "$0")/lib.sh"

q='[:find ?n :where [_ :name ?n]]'

test_expect_success 'set up a store with garbage' '
	dh-create s &&
	echo "[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]" | dh-transact s >/dev/null &&
	echo "[{:name \"kept\"}]" | dh-transact s >/dev/null &&
	dh-create other &&
	echo "[{:db/ident :junk :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]" | dh-transact other >/dev/null &&
	echo "[{:junk \"gone\"}]" | dh-transact other >/dev/null &&
	cp -rn other/nodes/. s/nodes/ &&
	printf "a stray blob" | dh-store s node-put >/dev/null &&
	dh-store s list nodes/ | sort >all &&
	dh-query s "$q" >before.out &&
	dh-verify s
'

test_expect_success 'dry run lists garbage and deletes nothing' '
	dh-gc -n -g 0 s >out 2>err &&
	grep "would delete nodes/" out &&
	dh-store s list nodes/ | sort >now && test_cmp all now
'

test_expect_success 'the grace period keeps fresh garbage' '
	dh-gc -v s >out 2>err &&
	grep " 0 deleted" err &&
	dh-store s get gc/pending | grep "^dh-gc 1" &&
	dh-store s list nodes/ | sort >now && test_cmp all now
'

test_expect_success 'garbage seen long enough ago is deleted, the rest stays' '
	dh-store s get gc/pending | sed "2,\$s/^[0-9]*/1000/" | dh-store s put gc/pending &&
	dh-gc -v s >out 2>err &&
	grep "^deleted nodes/" out >deleted &&
	test -s deleted &&
	dh-verify s &&
	dh-query s "$q" >after.out && test_cmp before.out after.out &&
	test_must_fail dh-store s has gc/pending
'

test_expect_success 'grace 0 on a clean store deletes nothing' '
	dh-gc -v -g 0 s >out 2>err && grep " 0 deleted" err
'

test_expect_success 'a store with a missing reachable node is not collected' '
	h=$(dh-store s head) &&
	victim=$(dh-store s list nodes/ | grep -v "$(echo $h | cut -c3-)" | head -1) &&
	mv "s/$victim" saved &&
	printf junk | dh-store s node-put >/dev/null &&
	dh-store s list nodes/ | sort >before &&
	test_expect_code 1 dh-gc -g 0 s 2>err &&
	grep "cannot be collected" err &&
	dh-store s list nodes/ | sort >after && test_cmp before after &&
	mv saved "s/$victim"
'

test_expect_success 'bad durations are usage errors' '
	test_expect_code 2 dh-gc -g 5x s 2>err && grep "bad duration" err &&
	test_expect_code 2 dh-gc -g -1 s
'

test_done
