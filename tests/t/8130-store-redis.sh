#!/bin/sh
# redis:// stores against a real server (scripts/server-redis.sh, which
# prints DH_TEST_REDIS_URL): the conformance suite, redis-cli sees the same
# keys under the prefix, prefixes are literal (not globs), ACL credentials,
# and clear errors for a server that is down, a refused password, a missing
# database and a connection dropped mid-operation.
. "$(dirname "$0")/lib.sh"

if [ -z "${DH_TEST_REDIS_URL:-}" ]; then
	echo "not ok 1 - DH_TEST_REDIS_URL is not set: run eval \"\$(scripts/server-redis.sh start)\" (scripts/test does)"
	echo "1..1"
	exit 1
fi
hostport=${DH_TEST_REDIS_URL#redis://}
hostport=${hostport#*@}
hostport=${hostport%%/*}
host=${hostport%:*}
port=${hostport#*:}
# a fresh database number and prefix per run: the conformance suite needs an empty store
n=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 15 + 1 ))
p=t$$-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')/
url="redis://$hostport/$n?prefix=$p"
rcli() { redis-cli -h "$host" -p "$port" -n "$n" "$@"; }
cleanup() {
	rcli --scan --pattern "t$$-*" | while read -r k; do rcli del "$k" >/dev/null; done
	redis-cli -h "$host" -p "$port" acl deluser "dht$$" >/dev/null
}
trap 'cleanup >/dev/null 2>&1; cd /; [ -n "${DH_TEST_KEEP:-}" ] || rm -rf "$TRASH"' EXIT

test_expect_success 'conformance suite on a fresh prefix (two processes race 1000 CAS each)' '
	test-store "redis://$hostport/$n?prefix=${p%/}-conf/" >log 2>&1 || { cat log; false; } &&
	! grep "^not ok" log &&
	test $(grep -c "^ok" log) -ge 100
'

test_expect_success 'redis-cli --scan lists the same keys under the prefix' '
	dh-store "$url" put format <<-\EOF &&
	dh 1
	EOF
	printf one | dh-store "$url" node-put >n1 &&
	printf two | dh-store "$url" node-put >n2 &&
	dh-store "$url" cas heads/db - $(cat n2) &&
	rcli --scan --pattern "$p*" | sed "s|^$p||" | sort >cli &&
	dh-store "$url" list | sort >ours &&
	test_cmp cli ours &&
	test $(wc -l <ours) -eq 4 &&
	rcli get "${p}heads/db" >v && test_cmp n2 v
'

test_expect_success 'a value written by redis-cli is read by dh-store' '
	printf "\000\377\n" | rcli -x set "${p}k/x" >/dev/null &&
	dh-store "$url" get k/x | od -An -tx1 | tr -d " " >got &&
	echo 00ff0a >expect && test_cmp expect got
'

test_expect_success 'the prefix is literal: glob characters in it match only themselves' '
	dh-store "redis://$hostport/$n?prefix=t$$-g*/" put a </dev/null &&
	dh-store "redis://$hostport/$n?prefix=t$$-gX/" put b </dev/null &&
	dh-store "redis://$hostport/$n?prefix=t$$-g%5Bx%5D/" put c </dev/null &&
	dh-store "redis://$hostport/$n?prefix=t$$-g*/" list >l1 && echo a >expect && test_cmp expect l1 &&
	dh-store "redis://$hostport/$n?prefix=t$$-g%5Bx%5D/" list >l2 && echo c >expect && test_cmp expect l2
'

test_expect_success 'ACL user and password from the URI or REDISCLI_AUTH; a refused one never shown' '
	redis-cli -h "$host" -p "$port" acl setuser "dht$$" on ">S3cret$$" "~*" "&*" "+@all" >/dev/null &&
	dh-store "redis://dht$$:S3cret$$@$hostport/$n?prefix=$p" has format &&
	REDISCLI_AUTH=S3cret$$ dh-store "redis://dht$$@$hostport/$n?prefix=$p" has format &&
	test_expect_code 1 dh-store "redis://dht$$:Wr0ng@$hostport/$n?prefix=$p" list 2>err &&
	grep "cannot authenticate to store .redis://dht$$:\*\*\*@$hostport/$n?prefix=$p.: WRONGPASS" err &&
	! grep Wr0ng err
'

test_expect_success 'a server that is down: clear error naming the store, exit 1' '
	test_expect_code 1 dh-store "redis://127.0.0.1:1/0" list 2>err &&
	grep "^dh-store: redis: cannot connect to store .redis://127.0.0.1:1/0.: Connection refused" err
'

test_expect_success 'a database the server does not have' '
	test_expect_code 1 dh-store "redis://$hostport/999" list 2>err &&
	grep "no database 999" err
'

test_expect_success 'bad paths and parameters are usage errors' '
	test_expect_code 2 dh-store "redis://$hostport/x" list 2>err &&
	grep "database number" err &&
	test_expect_code 2 dh-store "redis://$hostport/0?pfx=a" list 2>err &&
	grep "unknown parameter .pfx." err
'

test_expect_success 'a connection dropped mid-operation: clear error, nothing written, head unmoved' '
	mkfifo in &&
	# a name of its own: tests running beside this one have dh-store clients too
	ln -s "$DH_BUILD/cmd/dh-store" dh-store-drop$$ &&
	{ if ./dh-store-drop$$ "$url" put k/dropped in 2>err; then echo 0; else echo $?; fi >rc; } &
	i=0; while [ $i -lt 100 ] && ! redis-cli -h "$host" -p "$port" client list | grep -q "name=dh-store-drop$$ "; do
		sleep 0.1; i=$((i + 1)); done &&
	id=$(redis-cli -h "$host" -p "$port" client list | sed -n "s/^id=\([0-9]*\) .*name=dh-store-drop$$ .*/\1/p") &&
	test -n "$id" &&
	redis-cli -h "$host" -p "$port" client kill id $id >/dev/null &&
	echo data >in &&
	wait &&
	echo 1 >expect && test_cmp expect rc &&
	grep "cannot write .k/dropped. in store .$url.: " err &&
	test_expect_code 4 dh-store "$url" has k/dropped &&
	dh-store "$url" head >h && test_cmp n2 h
'

test_expect_success 'a program that keeps SIGPIPE is not killed when the server hangs up mid-write' '
	mkfifo go
	{ if store-put-later "$url" k/big 16777216 <go >ready 2>err2; then echo 0; else echo $?; fi >rc2; } &
	exec 9>go &&
	i=0; while [ $i -lt 100 ] && ! grep -q ready ready; do sleep 0.1; i=$((i + 1)); done &&
	id=$(redis-cli -h "$host" -p "$port" client list | sed -n "s/^id=\([0-9]*\) .*name=store-put-later .*/\1/p") &&
	test -n "$id" &&
	redis-cli -h "$host" -p "$port" client kill id $id >/dev/null &&
	echo go >&9 && exec 9>&- &&
	wait &&
	echo 1 >expect && test_cmp expect rc2 &&
	grep "cannot write .k/big. in store" err2
'

test_expect_success 'a head CAS conflict exits 3 and changes nothing' '
	test_expect_code 3 dh-store "$url" cas heads/db $(cat n1) $(cat n1) 2>err &&
	grep "compare-and-swap" err &&
	dh-store "$url" head >h && test_cmp n2 h
'

test_done
