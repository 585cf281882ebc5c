#!/bin/sh
# Readers never see a torn transaction and writers never lose one, with
# several writers and many readers on one store (scripts/concurrency-test).
. "$(dirname "$0")/lib.sh"
mkdir -p "$DH_BUILD/reliability"

for b in file lmdb sqlite; do
	test_expect_success "$b: 6 readers, 3 writers, 20 transactions each" "
		concurrency-test -b $b -R 6 -W 3 -t 20 -d \$PWD/$b -r \"\$DH_BUILD/reliability/results.txt\" >out 2>err ||
			{ cat out err; false; } &&
		grep 'transactions 60 .* anomalies 0' out
	"
done

test_expect_success 'the checks see a torn batch' '
	DH_CONC_SELFTEST=1 test_expect_code 1 concurrency-test -b file -R 2 -W 2 -t 3 -d $PWD/self >out 2>err &&
	grep "torn batch \"w1-t1\": 6 entities" err &&
	grep "w1-t1.*batches at the end\|: 6 entities" err
'

test_done
