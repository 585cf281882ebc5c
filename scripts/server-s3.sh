#!/bin/sh
# server-s3.sh start|stop - a local S3 for the tests: s3rver (npm, run by
# emulators/s3rver-server.js, which makes its object writes atomic) behind
# emulators/cond-proxy.js, which passes on only complete uploads, serializes
# the requests on each object and enforces the conditional writes s3rver
# ignores.  Bucket dh-test exists; path-style;
# s3rver checks the access key id (S3RVER) but not the signature.
set -eu
DH_NAME=server-s3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/emulators/lib.sh"

case "${1:-}" in
start) ;;
stop) emu_stop s3; exit 0 ;;
*) echo "usage: server-s3.sh start|stop" >&2; exit 2 ;;
esac

emu_start_begin s3
emu_node_modules
dir=$(mktemp -d "${TMPDIR:-/tmp}/dh-emu-s3.XXXXXX")
echo "$dir" >"$DH_SERVERS_RUN/s3.dir"
mkdir -p "$dir/data"
# s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node's
# OpenSSL 3 offers only through the legacy provider.
flags=
node --openssl-legacy-provider -e 0 >/dev/null 2>&1 && flags=--openssl-legacy-provider
nohup node $flags "$here/emulators/s3rver-server.js" --modules "$emu_modules" --directory "$dir/data" \
	--bucket dh-test >"$dir/s3rver.log" 2>&1 &
emu_record s3 $! "s3rver-server.js --modules $emu_modules --directory $dir/data"
port=$(emu_wait_line 30 "$dir/s3rver.log") || { tail -n 20 "$dir/s3rver.log" >&2; emu_stop s3; emu_die "s3rver did not start"; }
nohup node "$here/emulators/cond-proxy.js" --kind s3 --target "http://127.0.0.1:$port" \
	>"$dir/proxy.log" 2>&1 &
emu_record s3 $! "cond-proxy.js --kind s3 --target http://127.0.0.1:$port"
pport=$(emu_wait_line 30 "$dir/proxy.log") || { cat "$dir/proxy.log" >&2; emu_stop s3; emu_die "cond-proxy did not start"; }
emu_wait 20 curl -sf -o /dev/null "http://127.0.0.1:$pport/dh-test" || { emu_stop s3; emu_die "s3rver not answering"; }
emu_log "s3rver on 127.0.0.1:$port behind 127.0.0.1:$pport; data in $dir"
emu_emit s3 \
	"export DH_TEST_S3_ENDPOINT=http://127.0.0.1:$pport" \
	"export DH_TEST_S3_BUCKET=dh-test" \
	"export DH_TEST_S3_REGION=us-east-1" \
	"export DH_TEST_S3_ACCESS_KEY_ID=S3RVER" \
	"export DH_TEST_S3_SECRET_ACCESS_KEY=S3RVER"
