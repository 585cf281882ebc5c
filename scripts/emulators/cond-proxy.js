#!/usr/bin/env node
// cond-proxy.js - a front for the local S3 and GCS emulators that gives them
// two properties of the real services which dh's conformance tests rely on
// and the emulators lack:
//
//  * atomic uploads: every request body is received in full before it is
//    passed on, so a client killed mid-upload never leaves half an object
//    (s3rver writes objects in place while they arrive);
//  * one request at a time on each object, so a read never meets a write
//    half-way;
//  * conditional writes: S3's If-None-Match: * and If-Match: <etag> on PUT
//    and DELETE, and GCS's ifGenerationMatch=<n> on uploads and deletes, are
//    checked against the object's current ETag or generation, one request
//    per object at a time, and answered with 412 when they do not hold
//    (s3rver and the firebase storage emulator ignore them).
//
// Everything else is passed through unchanged.  Test-only: no TLS, no auth.
//
// Usage: node cond-proxy.js --kind s3|gcs --target http://127.0.0.1:PORT
//                           [--host 127.0.0.1] [--port 0]
// Prints "cond-proxy listening on HOST:PORT" when ready.
'use strict';
const http = require('http');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const kind = arg('kind', 's3');
const target = new URL(arg('target', 'http://127.0.0.1:4568'));
const host = arg('host', '127.0.0.1');
const port = Number(arg('port', '0'));
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// one chain of promises per object: conditional writes run one at a time
const locks = new Map();
function withLock(key, fn) {
  const prev = locks.get(key) || Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.then(() => {}, () => {});
  locks.set(key, tail);
  tail.then(() => { if (locks.get(key) === tail) locks.delete(key); });
  return run;
}

function upstream(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const h = Object.assign({}, headers, { host: target.host });
    if (body) h['content-length'] = String(body.length);
    const r = http.request({ host: target.hostname, port: target.port, method, path, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body || undefined);
  });
}

function reply(res, up) {
  const h = Object.assign({}, up.headers);
  delete h['transfer-encoding'];
  delete h.connection;
  h['content-length'] = String(up.body.length);
  res.writeHead(up.status, h);
  res.end(up.body);
}

function failed(res, kind) {
  if (kind === 's3') {
    const b = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
      '<Message>At least one of the pre-conditions you specified did not hold</Message></Error>');
    res.writeHead(412, { 'content-type': 'application/xml', 'content-length': String(b.length) });
    res.end(b);
  } else {
    const b = Buffer.from(JSON.stringify({ error: { code: 412, message: 'conditionNotMet',
      errors: [{ domain: 'global', reason: 'conditionNotMet', message: 'Precondition Failed' }] } }));
    res.writeHead(412, { 'content-type': 'application/json', 'content-length': String(b.length) });
    res.end(b);
  }
}

const unq = (s) => (s || '').replace(/^W\//, '').replace(/"/g, '');

// The object a request is about ("bucket/name"), or null for bucket-level
// requests (listings).  Requests on one object run one at a time, so no
// read sees an object half-way through a write.
function objectOf(req, url) {
  if (kind === 's3') {
    const m = url.pathname.match(/^\/([^/]+)\/(.+)$/);
    return m ? m[1] + '/' + decodeURIComponent(m[2]) : null;
  }
  let m = url.pathname.match(/^\/upload\/storage\/v1\/b\/([^/]+)\/o$/);
  if (m && url.searchParams.get('name') !== null) return m[1] + '/' + url.searchParams.get('name');
  m = url.pathname.match(/^\/(?:download\/)?storage\/v1\/b\/([^/]+)\/o\/(.+)$/);
  return m ? m[1] + '/' + decodeURIComponent(m[2]) : null;
}

// The condition of a request on object `obj`, or null: current() resolves
// to the object's ETag or generation (null when absent), holds(current)
// says whether the write may go ahead.
function condition(req, url, obj) {
  if (kind === 's3') {
    if (req.method !== 'PUT' && req.method !== 'DELETE') return null;
    const im = req.headers['if-match'], inm = req.headers['if-none-match'];
    if (im === undefined && inm === undefined) return null;
    return {
      current: async () => {
        const h = Object.assign({}, req.headers);
        delete h['if-match']; delete h['if-none-match']; delete h['content-length']; delete h['content-type'];
        const r = await upstream('HEAD', url.pathname, h, null);
        return r.status === 200 ? unq(r.headers.etag) : null;
      },
      holds: (cur) => (inm !== undefined ? cur === null : cur !== null && unq(im) === cur),
    };
  }
  const g = url.searchParams.get('ifGenerationMatch');
  if (g === null || (req.method !== 'POST' && req.method !== 'DELETE')) return null;
  const slash = obj.indexOf('/');
  const bucket = obj.slice(0, slash), name = obj.slice(slash + 1);
  return {
    current: async () => {
      const r = await upstream('GET', `/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`, {}, null);
      if (r.status !== 200) return null;
      return String(JSON.parse(r.body.toString()).generation);
    },
    holds: (cur) => (g === '0' ? cur === null : cur !== null && cur === g),
  };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('aborted', () => { chunks.length = 0; });
  req.on('end', async () => {
    if (req.aborted) return;
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, 'http://x');
    const hasBody = body.length > 0 || req.method === 'PUT' || req.method === 'POST';
    try {
      const obj = objectOf(req, url);
      if (obj === null) {
        reply(res, await upstream(req.method, req.url, req.headers, hasBody ? body : null));
        return;
      }
      await withLock(obj, async () => {
        const c = condition(req, url, obj);
        const h = Object.assign({}, req.headers);
        if (c) {
          if (!c.holds(await c.current())) { failed(res, kind); return; }
          delete h['if-match']; delete h['if-none-match'];
        }
        const up = await upstream(req.method, req.url, h, hasBody ? body : null);
        reply(res, up);
        // The GCS emulator's generations are millisecond clock readings: let
        // the clock move on before the next write on this object, so two
        // versions never share a generation.
        if (kind === 'gcs' && req.method !== 'GET' && req.method !== 'HEAD')
          await new Promise((r) => setTimeout(r, 2));
      });
    } catch (e) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('cond-proxy: ' + e.message);
    }
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, host, () => {
  console.log(`cond-proxy listening on ${host}:${server.address().port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
