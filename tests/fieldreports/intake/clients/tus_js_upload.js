// Upload one file with tus-js-client (the browser client, run in node) and print the outcome as
// JSON. Options come as one JSON argument: {file, endpoint, token, chunkSize, parallelUploads,
// uploadDataDuringCreation, overridePatchMethod, metadata, urlStorage, killAtFraction}.
// killAtFraction: SIGKILL this process once that share of the file has gone out, mid-request,
// as a phone losing power would; a second run with the same urlStorage resumes the upload.
'use strict'
const fs = require('fs')
const http = require('http')
const tus = require('tus-js-client')

const opts = JSON.parse(process.argv[2])
const options = {
  endpoint: opts.endpoint,
  chunkSize: opts.chunkSize || Infinity,
  parallelUploads: opts.parallelUploads || 1,
  uploadDataDuringCreation: Boolean(opts.uploadDataDuringCreation),
  overridePatchMethod: Boolean(opts.overridePatchMethod),
  metadata: opts.metadata || {},
  headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
  retryDelays: [100, 300],
  removeFingerprintOnSuccess: false,
  onError (error) {
    const res = error.originalResponse
    console.log(JSON.stringify({
      ok: false,
      status: res ? res.getStatus() : null,
      body: res ? res.getBody() : null,
      error: String(error.message).split('\n')[0]
    }))
    process.exit(1)
  },
  onSuccess () {
    console.log(JSON.stringify({ ok: true, url: upload.url }))
  }
}
if (opts.killAtFraction) {
  // Counted where the bytes are written to the request, not in onProgress: tus-js-client calls
  // that at most every 100 ms, and a fast machine sends a whole file in less.
  const limit = fs.statSync(opts.file).size * opts.killAtFraction
  const write = http.OutgoingMessage.prototype.write
  let written = 0
  http.OutgoingMessage.prototype.write = function (chunk, ...rest) {
    written += chunk.length
    if (written >= limit) process.kill(process.pid, 'SIGKILL')
    return write.call(this, chunk, ...rest)
  }
}
if (opts.urlStorage) {
  options.urlStorage = new tus.FileUrlStorage(opts.urlStorage)
  options.fingerprint = async () => `fieldreports-test-${opts.file}`
}
const upload = new tus.Upload(fs.createReadStream(opts.file), options)
upload.findPreviousUploads().then((previous) => {
  if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0])
  upload.start()
})
