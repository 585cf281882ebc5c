#!/usr/bin/env node
// gcs-emulator.js - run the Cloud Storage emulator of firebase-tools (npm)
// for the tests, without Java: `firebase emulators:start` always starts a
// Java security-rules runtime, but the GCS JSON API routes (/storage/v1,
// /upload/storage/v1, /download/storage/v1) never consult the rules, so the
// runtime and the rules loader are replaced by no-ops here.
//
// Usage: node gcs-emulator.js --modules DIR [--host 127.0.0.1] [--port 0]
//                             [--project demo-dh]
// Prints "gcs emulator listening on HOST:PORT" when ready.  Object bytes go
// under $TMPDIR/firebase/storage; metadata lives in memory.
'use strict';
const net = require('net');
const path = require('path');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const host = arg('host', '127.0.0.1');
const fb = path.join(arg('modules', path.join(__dirname, '..', 'node_modules')), 'firebase-tools');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

(async () => {
  const { StorageEmulator } = require(path.join(fb, 'lib/emulator/storage/index.js'));
  const { EmulatorRegistry } = require(path.join(fb, 'lib/emulator/registry.js'));
  const port = Number(arg('port', '0')) || await freePort();
  const emu = new StorageEmulator({ projectId: arg('project', 'demo-dh'), host, port, rules: undefined,
    auto_download: false });
  const noop = async () => {};
  emu._rulesRuntime.start = noop;
  emu._rulesRuntime.stop = noop;
  emu._rulesManager.start = async () => [];
  emu._rulesManager.stop = noop;
  emu._rulesManager.getRuleset = () => undefined;
  await EmulatorRegistry.start(emu);
  console.log(`gcs emulator listening on ${host}:${port}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try { await EmulatorRegistry.stop(emu.getName()); } catch (e) { /* exiting anyway */ }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
