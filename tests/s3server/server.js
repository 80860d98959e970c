// Starts the S3-compatible test server on 127.0.0.1 (a free port unless one is given) and
// prints "PORT <n>" once it listens. Credentials: S3RVER / S3RVER. Buckets named on the
// command line are created at start. S3RVER_RELAXED_SIGNATURES=1 (the benchmark sets it)
// accepts requests whose signature s3rver computes differently (restic 0.14 signs bucket-level
// requests in a way s3rver 4.0.4 disagrees with); the access key is still checked.
//   node server.js <data-dir> [port] [bucket...]
//
// s3rver streams a request body straight into the object's file, so a PUT whose client dies
// half-way leaves a truncated object, which real S3 never does. This file therefore puts a
// front in front of it that behaves like S3 where the tests depend on it: it reads the whole
// body of a request first, and refuses (storing nothing) one that
//   - ends before its Content-Length (the client went away): no answer, nothing stored;
//   - does not match its signed x-amz-content-sha256 (XAmzContentSHA256Mismatch);
//   - does not match its Content-MD5 (BadDigest).
// Only a complete, intact request is passed on to s3rver (listening on another port of
// 127.0.0.1), and its answer is passed back unchanged.
//
// s3rver also rewrites an object's file in place, so a GET that comes while a PUT of the
// same key is being stored can read a half-written object; on S3 a reader sees the old
// object or the new one. The front therefore keeps, per object, writes (PUT, completing a
// multipart upload, DELETE) apart from each other and from reads (GET, HEAD), which may run
// together.
'use strict';
const crypto = require('crypto');
const http = require('http');
const S3rver = require('@20minutes/s3rver');
const FilesystemStore = require('@20minutes/s3rver/lib/stores/filesystem');
const fs = require('fs');
const { pipeline, Readable, Transform } = require('stream');

// s3rver writes an object's content straight into its file (and answers before a Buffer
// body is even flushed), so a server killed mid-write leaves a truncated object, which
// real S3 never shows: a PUT is all or nothing. Contents (objects and parts) are written to
// a temporary beside the file, flushed, then renamed over it.
FilesystemStore.prototype.putContent = function putContent(objectPath, content) {
  const tmp = `${objectPath}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  return new Promise((resolve, reject) => {
    const md5 = crypto.createHash('md5');
    let length = 0;
    pipeline(
      Buffer.isBuffer(content) ? Readable.from([content]) : content,
      new Transform({
        transform(chunk, encoding, callback) {
          md5.update(chunk, encoding);
          length += chunk.length;
          callback(null, chunk);
        },
      }),
      fs.createWriteStream(tmp),
      (err) => {
        if (err) {
          fs.rm(tmp, { force: true }, () => reject(err));
          return;
        }
        fs.rename(tmp, objectPath, (e) => (e ? reject(e) : resolve([length, md5.digest('hex')])));
      },
    );
  });
};

const [dir, port, ...buckets] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node server.js <data-dir> [port] [bucket...]');
  process.exit(2);
}

function s3Error(res, status, code, message) {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// Why the body does not match its headers, or null.
function problem(req, body) {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) !== body.length)
    return [400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header'];
  const sha = req.headers['x-amz-content-sha256'];
  if (sha && /^[0-9a-f]{64}$/.test(sha) && crypto.createHash('sha256').update(body).digest('hex') !== sha)
    return [400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."];
  const md5 = req.headers['content-md5'];
  if (md5 && crypto.createHash('md5').update(body).digest('base64') !== md5)
    return [400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.'];
  return null;
}

// A readers-writer lock per object key, released when the answer has been sent.
const locks = new Map();
function objectKey(req) {
  const [path, query = ''] = req.url.split('?');
  const parts = path.split('/').filter((p) => p.length > 0);
  if (parts.length < 2) return null; // the bucket itself (listings)
  const q = new URLSearchParams(query);
  if (req.method === 'PUT' && q.has('partNumber')) return null; // a part is not the object
  if (req.method === 'POST' && q.has('uploads')) return null;   // starting an upload
  if (req.method === 'DELETE' && q.has('uploadId')) return null; // aborting one
  return path;
}
function acquire(key, exclusive) {
  return new Promise((resolve) => {
    let l = locks.get(key);
    if (!l) locks.set(key, (l = { readers: 0, writer: false, queue: [] }));
    l.queue.push({ exclusive, resolve });
    pump(key);
  });
}
function pump(key) {
  const l = locks.get(key);
  while (l.queue.length > 0) {
    const next = l.queue[0];
    if (next.exclusive ? l.writer || l.readers > 0 : l.writer) break;
    l.queue.shift();
    if (next.exclusive) l.writer = true;
    else l.readers += 1;
    next.resolve(() => {
      if (next.exclusive) l.writer = false;
      else l.readers -= 1;
      if (!l.writer && l.readers === 0 && l.queue.length === 0) locks.delete(key);
      else pump(key);
    });
  }
}

async function main() {
  const backend = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory: dir,
    silent: true,
    allowMismatchedSignatures: process.env.S3RVER_RELAXED_SIGNATURES === '1',
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const { port: backendPort } = await backend.run();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const front = http.createServer((req, res) => {
    const chunks = [];
    let complete = false;
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      complete = true;
      const body = Buffer.concat(chunks);
      const bad = problem(req, body);
      if (bad) return s3Error(res, ...bad);
      const key = objectKey(req);
      const exclusive = !(req.method === 'GET' || req.method === 'HEAD');
      const locked = key ? acquire(key, exclusive) : Promise.resolve(() => {});
      locked.then((release) => {
        let released = false;
        const done = () => {
          if (!released) {
            released = true;
            release();
          }
        };
        res.on('finish', done);
        res.on('close', done);
        // Everything as the client sent it (the signature covers the host header and the path).
        const up = http.request(
          { host: '127.0.0.1', port: backendPort, method: req.method, path: req.url, headers: req.headers, agent },
          (ur) => {
            res.writeHead(ur.statusCode, ur.headers);
            ur.pipe(res);
          },
        );
        up.on('error', (e) => {
          if (!res.headersSent) s3Error(res, 500, 'InternalError', `test server: ${e.message}`);
          else res.destroy();
        });
        up.end(body);
      });
    });
    // The client went away before its body was complete: like S3, store nothing.
    req.on('close', () => {
      if (!complete) chunks.length = 0;
    });
  });
  front.keepAliveTimeout = 60000;
  front.headersTimeout = 65000;
  front.requestTimeout = 0;
  await new Promise((resolve, reject) => {
    front.once('error', reject);
    front.listen(Number(port || 0), '127.0.0.1', resolve);
  });
  console.log(`PORT ${front.address().port}`);
}

main().catch((e) => {
  console.error(`s3 test server failed: ${e.message}`);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
