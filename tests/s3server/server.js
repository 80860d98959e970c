// Starts the S3-compatible test server on 127.0.0.1 (a free port unless one is given) and
// prints "PORT <n>" once it listens. Credentials: S3RVER / S3RVER. Buckets named on the
// command line are created at start. S3RVER_RELAXED_SIGNATURES=1 (the benchmark sets it)
// accepts requests whose signature s3rver computes differently (restic 0.14 signs bucket-level
// requests in a way s3rver 4.0.4 disagrees with); the access key is still checked.
//   node server.js <data-dir> [port] [bucket...]
'use strict';
const S3rver = require('@20minutes/s3rver');

const [dir, port, ...buckets] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node server.js <data-dir> [port] [bucket...]');
  process.exit(2);
}
new S3rver({
  address: '127.0.0.1',
  port: Number(port || 0),
  directory: dir,
  silent: true,
  allowMismatchedSignatures: process.env.S3RVER_RELAXED_SIGNATURES === '1',
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
})
  .run()
  .then(({ port: p }) => console.log(`PORT ${p}`))
  .catch((e) => {
    console.error(`s3 test server failed: ${e.message}`);
    process.exit(1);
  });
process.on('SIGTERM', () => process.exit(0));
