#!/bin/sh
# server-dynamodb.sh start|stop - a local DynamoDB for the tests: dynalite
# (npm) on LevelDB in a temporary directory.  It wants a SigV4
# Authorization header but does not check it; conditional writes work.
# Tables become ACTIVE 50 ms after CreateTable.
set -eu
DH_NAME=server-dynamodb
here=$(cd "$(dirname "$0")" && pwd)
. "$here/emulators/lib.sh"

case "${1:-}" in
start) ;;
stop) emu_stop dynamodb; exit 0 ;;
*) echo "usage: server-dynamodb.sh start|stop" >&2; exit 2 ;;
esac

emu_start_begin dynamodb
emu_node_modules
dir=$(mktemp -d "${TMPDIR:-/tmp}/dh-emu-dynamodb.XXXXXX")
echo "$dir" >"$DH_SERVERS_RUN/dynamodb.dir"
nohup node "$here/emulators/dynalite-server.js" --modules "$emu_modules" --path "$dir/data" \
	>"$dir/dynalite.log" 2>&1 &
emu_record dynamodb $! "dynalite-server.js --modules $emu_modules --path $dir/data"
port=$(emu_wait_line 30 "$dir/dynalite.log") || { tail -n 20 "$dir/dynalite.log" >&2; emu_stop dynamodb; emu_die "dynalite did not start"; }
# unsigned, it answers 400 MissingAuthenticationToken: alive
emu_wait 20 sh -c "curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
	-H 'Content-Type: application/x-amz-json-1.0' -d '{}' http://127.0.0.1:$port/ | grep -q 400" ||
	{ emu_stop dynamodb; emu_die "dynalite not answering on 127.0.0.1:$port"; }
emu_log "dynalite on 127.0.0.1:$port; data in $dir"
emu_emit dynamodb \
	"export DH_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port" \
	"export DH_TEST_DYNAMODB_REGION=us-east-1" \
	"export DH_TEST_DYNAMODB_ACCESS_KEY_ID=dummy" \
	"export DH_TEST_DYNAMODB_SECRET_ACCESS_KEY=dummy"
