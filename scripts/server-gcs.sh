#!/bin/sh
# server-gcs.sh start|stop - a local Google Cloud Storage (JSON API) for the
# tests: firebase-tools' storage emulator (npm, run without Java by
# emulators/gcs-emulator.js) behind emulators/cond-proxy.js, which passes on
# only complete uploads, serializes the requests on each object and
# enforces the ifGenerationMatch conditions the emulator ignores.  No auth;
# buckets appear on first use.
set -eu
DH_NAME=server-gcs
here=$(cd "$(dirname "$0")" && pwd)
. "$here/emulators/lib.sh"

case "${1:-}" in
start) ;;
stop) emu_stop gcs; exit 0 ;;
*) echo "usage: server-gcs.sh start|stop" >&2; exit 2 ;;
esac

emu_start_begin gcs
emu_node_modules
dir=$(mktemp -d "${TMPDIR:-/tmp}/dh-emu-gcs.XXXXXX")
echo "$dir" >"$DH_SERVERS_RUN/gcs.dir"
TMPDIR="$dir" nohup node "$here/emulators/gcs-emulator.js" --modules "$emu_modules" --project demo-dh \
	>"$dir/gcs.log" 2>&1 &
emu_record gcs $! "gcs-emulator.js --modules $emu_modules"
port=$(emu_wait_line 60 "$dir/gcs.log") || { tail -n 20 "$dir/gcs.log" >&2; emu_stop gcs; emu_die "the GCS emulator did not start"; }
nohup node "$here/emulators/cond-proxy.js" --kind gcs --target "http://127.0.0.1:$port" \
	>"$dir/proxy.log" 2>&1 &
emu_record gcs $! "cond-proxy.js --kind gcs --target http://127.0.0.1:$port"
pport=$(emu_wait_line 30 "$dir/proxy.log") || { cat "$dir/proxy.log" >&2; emu_stop gcs; emu_die "cond-proxy did not start"; }
emu_wait 20 curl -sf -o /dev/null "http://127.0.0.1:$pport/storage/v1/b/dh-test/o" ||
	{ emu_stop gcs; emu_die "the GCS emulator is not answering"; }
emu_log "GCS emulator on 127.0.0.1:$port behind 127.0.0.1:$pport; data in $dir"
emu_emit gcs \
	"export DH_TEST_GCS_ENDPOINT=http://127.0.0.1:$pport" \
	"export DH_TEST_GCS_BUCKET=dh-test" \
	"export DH_TEST_GCS_PROJECT=demo-dh"
