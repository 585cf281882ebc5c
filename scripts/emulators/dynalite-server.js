#!/usr/bin/env node
// dynalite-server.js - run dynalite (npm, a DynamoDB emulator on LevelDB)
// on an ephemeral port and say which: its own command line takes port 0 to
// mean 4567.
// Usage: node dynalite-server.js --modules DIR --path DIR [--host 127.0.0.1]
//                                [--port 0] [--table-ms 50]
// Prints "dynalite listening on HOST:PORT" when ready.
//
// dynalite throws from a request's 'error' handler when a client goes away
// mid-request (as the tests' killed writers do), which would end the
// process; such aborted requests are dropped here instead.
'use strict';
process.on('uncaughtException', (e) => {
  if (e && (e.code === 'ECONNRESET' || e.message === 'aborted')) return;
  console.error(e && e.stack || e);
  process.exit(1);
});
const path = require('path');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const dynalite = require(path.join(arg('modules', path.join(__dirname, '..', 'node_modules')), 'dynalite'));
const host = arg('host', '127.0.0.1');
const ms = Number(arg('table-ms', '50'));
const server = dynalite({ path: arg('path'), createTableMs: ms, deleteTableMs: ms, updateTableMs: ms });
server.listen(Number(arg('port', '0')), host, () => {
  console.log(`dynalite listening on ${host}:${server.address().port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
