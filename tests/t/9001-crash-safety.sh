#!/bin/sh
# Crash safety: a failing write, short write, ENOSPC, failed fsync or
# rename and a SIGKILL at every write point of a small transaction (the file
# backend's DH_FAULT hook), a few sampled points of dh-import and dh-sync, and
# random SIGKILLs of dh-transact, dh-import and dh-sync on file, LMDB and
# SQLite stores (scripts/crash-test; its long run is the benchmark).
. "$(dirname "$0")/lib.sh"
mkdir -p "$DH_BUILD/reliability"

test_expect_success 'the fault hook fails a write and the tool says so' '
	echo "[{:db/ident :k :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]" >s.edn &&
	dh-create -f s.edn ./db &&
	h=$(dh-store ./db head) &&
	echo "[{:k 1}]" | DH_FAULT=write:1 test_expect_code 1 dh-transact ./db 2>err &&
	grep "dh-transact: .*cannot write .*Input/output error" err &&
	echo "[{:k 1}]" | DH_FAULT=enospc:1 test_expect_code 1 dh-transact ./db 2>err &&
	grep "No space left on device" err &&
	echo "[{:k 1}]" | DH_FAULT=fsync:1 test_expect_code 1 dh-transact ./db 2>err &&
	grep "cannot sync" err &&
	test "$(dh-store ./db head)" = "$h" &&
	echo "[{:k 1}]" | DH_FAULT=kill:1 test_expect_code 137 dh-transact ./db &&
	test "$(dh-store ./db head)" = "$h"
'

test_expect_success 'a fault at every write point of a transaction' '
	crash-test -m sweep-transact -d $PWD/w1 -r "$DH_BUILD/reliability/results.txt" >out 2>err || { cat out err; false; } &&
	cat out && grep "anomalies 0" out
'

test_expect_success 'sampled fault points of dh-import and dh-sync' '
	crash-test -m "sweep-import sweep-sync" -s 61 -d $PWD/w2 -r "$DH_BUILD/reliability/results.txt" >out 2>err || { cat out err; false; } &&
	cat out && grep "anomalies 0" out
'

test_expect_success 'random SIGKILLs on file, LMDB and SQLite' '
	crash-test -m kill -k 9 -d $PWD/w3 -r "$DH_BUILD/reliability/results.txt" >out 2>err || { cat out err; false; } &&
	cat out && grep "anomalies 0" out &&
	# a kill that a run beats (a loaded machine, a sanitizer build) is
	# retried, up to ten times: most of the nine must land, and all survive
	n=$(sed -n "s/.*injected \([0-9]*\) survived \([0-9]*\) anomalies 0.*/\1 \2/p" out) &&
	set -- $n && test "$1" -ge 6 && test "$1" = "$2"
'

test_done
