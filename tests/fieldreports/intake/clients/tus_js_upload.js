// Upload one file with tus-js-client (the browser client, run in node) and print the outcome as
// JSON. Options come as one JSON argument: {file, endpoint, token, chunkSize, parallelUploads,
// uploadDataDuringCreation, overridePatchMethod, metadata, urlStorage, killAtFraction}.
// killAtFraction: SIGKILL this process once that share of the file has gone out, mid-request,
// as a phone losing power would; a second run with the same urlStorage resumes the upload.
'use strict'
const fs = require('fs')
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
  onProgress (sent, total) {
    if (opts.killAtFraction && sent >= total * opts.killAtFraction) {
      process.kill(process.pid, 'SIGKILL')
    }
  },
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
if (opts.urlStorage) {
  options.urlStorage = new tus.FileUrlStorage(opts.urlStorage)
  options.fingerprint = async () => `fieldreports-test-${opts.file}`
}
const upload = new tus.Upload(fs.createReadStream(opts.file), options)
upload.findPreviousUploads().then((previous) => {
  if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0])
  upload.start()
})
