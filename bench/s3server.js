// The S3 test server of tests/s3server, started for the benchmark with one difference:
// allowMismatchedSignatures. restic 0.14 (minio-go) signs bucket-level requests (HEAD and
// list on "/<bucket>/") in a way s3rver 4.0.4 computes differently, so every such request
// fails with SignatureDoesNotMatch; the access key is still checked. Seshat's requests
// verify either way. Prints "PORT <n>" once it listens.
//   node bench/s3server.js <data-dir> [port] [bucket...]
'use strict';
const path = require('path');
const S3rver = require(path.join(__dirname, '..', 'tests', 's3server', 'node_modules', '@20minutes', 's3rver'));

const [dir, port, ...buckets] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node s3server.js <data-dir> [port] [bucket...]');
  process.exit(2);
}
new S3rver({
  address: '127.0.0.1',
  port: Number(port || 0),
  directory: dir,
  silent: true,
  allowMismatchedSignatures: true,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
})
  .run()
  .then(({ port: p }) => console.log(`PORT ${p}`))
  .catch((e) => {
    console.error(`s3 test server failed: ${e.message}`);
    process.exit(1);
  });
process.on('SIGTERM', () => process.exit(0));
