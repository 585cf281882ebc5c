#!/usr/bin/env node
// s3rver-server.js - run s3rver (npm) for the tests, with one fix: s3rver
// writes an object in place and answers before the bytes are on disk, so a
// read right after a write can see the old bytes, or part of the new ones,
// under the new ETag.  Here an object is written to a temporary file that
// is renamed into place once complete, before its metadata and the answer.
//
// Usage: node s3rver-server.js --modules DIR --directory DIR [--host 127.0.0.1]
//                              [--port 0] [--bucket dh-test]
// Prints "s3rver listening on HOST:PORT" when ready.
'use strict';
const crypto = require('crypto');
const fsp = require('fs').promises;
const path = require('path');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const modules = arg('modules', path.join(__dirname, '..', 'node_modules'));
const S3rver = require(path.join(modules, 's3rver'));
const FilesystemStore = require(path.join(modules, 's3rver', 'lib', 'stores', 'filesystem'));

let seq = 0;
FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await fsp.mkdir(path.dirname(objectPath), { recursive: true });
  let content = object.content;
  if (!Buffer.isBuffer(content)) {
    const chunks = [];
    for await (const c of content) chunks.push(c);
    content = Buffer.concat(chunks);
  }
  const md5 = crypto.createHash('md5').update(content).digest('hex');
  const tmp = `${objectPath}.tmp-${process.pid}-${++seq}`;
  await fsp.writeFile(tmp, content);
  await fsp.rename(tmp, objectPath);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: content.length, md5 };
};

const host = arg('host', '127.0.0.1');
const server = new S3rver({
  address: host,
  port: Number(arg('port', '0')),
  directory: arg('directory'),
  silent: true,
  configureBuckets: [{ name: arg('bucket', 'dh-test'), configs: [] }],
});
server.run().then((addr) => {
  console.log(`s3rver listening on ${host}:${addr.port}`);
}, (e) => { console.error(e && e.stack || e); process.exit(1); });
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
