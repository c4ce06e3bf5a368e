// The station's upload page (episodes/station/page.py says what it does and why).
//
// A report lives on the phone, in IndexedDB, from the moment "Send" is pressed until both of its
// files are on the station: the recording (a Blob) and the notes. A queue sends one report at a
// time, notes first, then the recording, with tus-js-client in chunks; each upload's URL is kept
// under a fingerprint of the report, so after a dropped connection, a reload or a night offline
// the upload resumes from the last byte the station holds. Once sent, the page asks the station
// how the report is doing until it is published or has failed.
'use strict'
;(function () {
  const settings = JSON.parse(document.getElementById('settings').textContent)
  const T = settings.text
  const KEY_STORE = 'fieldreports.key'
  const PREFS_STORE = 'fieldreports.prefs'
  const DB_NAME = 'fieldreports-station'
  const STORE = 'reports'
  const RETRY_DELAYS = [0, 1000, 3000, 6000]
  const RETRIED = ['station', 'transcribe']
  const $ = (id) => document.getElementById(id)

  function fmt (text, values) {
    return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : ''))
  }

  function size (bytes) {
    if (bytes >= 1024 * 1024 * 1024) return (bytes / 1024 / 1024 / 1024).toFixed(1) + ' GB'
    if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1) + ' MB'
    return Math.max(1, Math.round(bytes / 1024)) + ' KB'
  }

  function clock (seconds) {
    const s = Math.floor(seconds)
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0')
  }

  // -- the key -------------------------------------------------------------------------------

  function readKey () {
    const match = /(?:^|&)key=([^&]+)/.exec(window.location.hash.slice(1))
    if (match) {
      localStorage.setItem(KEY_STORE, decodeURIComponent(match[1]))
      // Out of the address bar: nobody reads it over a shoulder or in a shared screenshot.
      history.replaceState(null, '', window.location.pathname + window.location.search)
    }
    return localStorage.getItem(KEY_STORE) || ''
  }

  let key = readKey()
  let keyRefused = false // the station said 401: nothing is sent or asked until a new key

  function showKeyForm (message) {
    $('key-section').hidden = false
    $('key-message').textContent = message
  }

  function refuseKey () {
    keyRefused = true
    showKeyForm(T.key_wrong)
    records.forEach(render)
    $('key').focus()
  }

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const value = $('key').value.trim()
    if (!value) return
    key = value
    keyRefused = false
    localStorage.setItem(KEY_STORE, key)
    $('key').value = ''
    $('key-section').hidden = true
    pump()
    refreshAll()
  })

  function authHeaders () {
    return { Authorization: 'Bearer ' + key }
  }

  // -- the phone's store (IndexedDB) ---------------------------------------------------------

  let dbPromise = null
  function db () {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1)
        request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'id' })
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    }
    return dbPromise
  }

  async function store (mode, action) {
    const database = await db()
    return new Promise((resolve, reject) => {
      const tx = database.transaction(STORE, mode)
      const request = action(tx.objectStore(STORE))
      tx.oncomplete = () => resolve(request ? request.result : undefined)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error)
    })
  }

  const saveRecord = (record) => store('readwrite', (s) => s.put(record))
  const allRecords = () => store('readonly', (s) => s.getAll())
  const deleteRecord = (id) => store('readwrite', (s) => s.delete(id))

  // -- the notes file ------------------------------------------------------------------------

  // Characters YAML does not allow in a file (C0 and C1 controls but tab and newline, lone
  // surrogates, U+FFFE/U+FFFF) are dropped; the rest is written as a JSON string, which is a
  // double-quoted YAML scalar, so ": ", "#", quotes and any script round-trip exactly.
  function clean (text) {
    return text
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFFFE\uFFFF]/g, '')
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
  }

  function yamlText (text) {
    return JSON.stringify(clean(text).replace(/[\r\n]+/g, ' ').trim())
  }

  function localTime (date) {
    const pad = (n) => String(Math.abs(n)).padStart(2, '0')
    const offset = -date.getTimezoneOffset()
    return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) +
      'T' + pad(date.getHours()) + ':' + pad(date.getMinutes()) + ':' + pad(date.getSeconds()) +
      (offset >= 0 ? '+' : '-') + pad(Math.trunc(offset / 60)) + ':' + pad(offset % 60)
  }

  function notesFile (form) {
    const lines = ['---', 'title: ' + yamlText(form.title)]
    if (form.place) lines.push('place: ' + yamlText(form.place))
    if (form.journey) lines.push('journey: ' + yamlText(form.journey))
    if (form.language) lines.push('language: ' + yamlText(form.language))
    if (form.recordedAt) lines.push('recorded_at: ' + yamlText(form.recordedAt))
    lines.push('sensitive: ' + (form.sensitive ? 'true' : 'false'))
    lines.push('---')
    const body = clean(form.notes).replace(/\r\n?/g, '\n').trim()
    return lines.join('\n') + '\n' + (body ? body + '\n' : '')
  }

  // A file name the station keeps as it is (lower-case ASCII, digits and dashes), so the page
  // knows the report's id: the date, the title's words, and a few random letters.
  function slug (text) {
    return text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
      .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, '')
  }

  function newStem (title) {
    const now = new Date()
    const day = now.getFullYear() + '-' + String(now.getMonth() + 1).padStart(2, '0') + '-' +
      String(now.getDate()).padStart(2, '0')
    const random = Array.from(crypto.getRandomValues(new Uint8Array(3)))
      .map((b) => b.toString(16).padStart(2, '0')).join('')
    return [day, slug(title), random].filter(Boolean).join('-')
  }

  const SUFFIXES = {
    'audio/webm': '.webm', 'video/webm': '.webm', 'audio/ogg': '.ogg', 'audio/mp4': '.m4a',
    'video/mp4': '.mp4', 'audio/mpeg': '.mp3', 'audio/wav': '.wav', 'audio/x-wav': '.wav',
    'audio/wave': '.wav', 'audio/flac': '.flac', 'audio/aac': '.aac', 'audio/amr': '.amr',
    'audio/3gpp': '.3gp', 'audio/x-m4a': '.m4a'
  }

  function suffixFor (name, type) {
    const match = /\.([A-Za-z0-9]{1,8})$/.exec(name || '')
    if (match) return '.' + match[1].toLowerCase()
    return SUFFIXES[(type || '').split(';')[0].trim().toLowerCase()] || ''
  }

  // -- recording in the browser --------------------------------------------------------------

  let recorded = null // {blob, type, startedAt}
  let recorder = null
  let recordTimer = null

  function recordingSupported () {
    return Boolean(window.MediaRecorder && navigator.mediaDevices &&
      navigator.mediaDevices.getUserMedia)
  }

  async function startRecording () {
    let stream
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true })
    } catch (error) {
      $('record-status').textContent = T.microphone_refused
      return
    }
    const types = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4', 'audio/webm']
    const type = types.find((t) => MediaRecorder.isTypeSupported(t)) || ''
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined)
    const chunks = []
    const startedAt = new Date()
    recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data) }
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop())
      clearInterval(recordTimer)
      const blobType = recorder.mimeType || type || 'audio/webm'
      recorded = { blob: new Blob(chunks, { type: blobType }), type: blobType, startedAt }
      $('file').value = ''
      const preview = $('preview')
      preview.src = URL.createObjectURL(recorded.blob)
      preview.hidden = false
      $('record-status').textContent = fmt(T.recorded, { time: clock((Date.now() - startedAt) / 1000) })
      $('record').textContent = T.record
      $('record').setAttribute('aria-pressed', 'false')
      recorder = null
    }
    recorder.start(1000)
    $('record').textContent = T.stop
    $('record').setAttribute('aria-pressed', 'true')
    recordTimer = setInterval(() => {
      $('record-status').textContent = fmt(T.recording_now, { time: clock((Date.now() - startedAt) / 1000) })
    }, 1000)
  }

  $('record').addEventListener('click', () => {
    if (recorder) recorder.stop()
    else startRecording()
  })
  if (!recordingSupported()) {
    $('record').hidden = true
    $('record-status').textContent = T.no_microphone
  }

  $('file').addEventListener('change', () => {
    if ($('file').files.length) {
      recorded = null
      $('preview').hidden = true
      $('record-status').textContent = ''
    }
  })

  // -- the form ------------------------------------------------------------------------------

  function restorePrefs () {
    try {
      const prefs = JSON.parse(localStorage.getItem(PREFS_STORE) || '{}')
      if (prefs.journey) $('journey').value = prefs.journey
      if (prefs.language) $('language').value = prefs.language
    } catch (error) { /* a damaged preference is forgotten */ }
  }

  function formError (message, field) {
    $('form-error').textContent = message
    if (field) field.focus()
  }

  let submitting = false // a double tap makes one report, not two

  $('report-form').addEventListener('submit', async (event) => {
    event.preventDefault()
    if (submitting) return
    submitting = true
    $('send').disabled = true
    try {
      await submit()
    } finally {
      submitting = false
      $('send').disabled = false
    }
  })

  function formValues (recordedAt) {
    return {
      title: $('title').value.trim(),
      place: $('place').value.trim(),
      journey: $('journey').value.trim(),
      language: $('language').value,
      notes: $('notes').value,
      sensitive: $('sensitive').checked,
      recordedAt
    }
  }

  function resetForm () {
    $('report-form').reset()
    $('sensitive').checked = settings.sensitiveByDefault
    restorePrefs()
    recorded = null
    $('preview').hidden = true
    $('record-status').textContent = ''
  }

  // -- fixing the notes of a report that failed on them ---------------------------------------

  // The station replaces the notes when they come again under the report's name with `replace`;
  // the recording is there already and is not sent again.
  let fixing = null // the record whose notes are being fixed

  function startFix (record) {
    fixing = record
    const form = record.form
    for (const name of ['title', 'place', 'journey', 'language', 'notes']) $(name).value = form[name] || ''
    $('sensitive').checked = form.sensitive
    $('recording-fields').hidden = true
    $('fixing').hidden = false
    $('fixing').textContent = fmt(T.fixing, { title: form.title })
    $('send').textContent = T.send_fix
    $('cancel-fix').hidden = false
    $('title').focus()
  }

  function endFix () {
    const record = fixing
    fixing = null
    $('recording-fields').hidden = false
    $('fixing').hidden = true
    $('send').textContent = T.send
    $('cancel-fix').hidden = true
    resetForm()
    return record
  }

  $('cancel-fix').addEventListener('click', () => {
    const record = endFix()
    const heading = document.querySelector('#report-' + CSS.escape(record.id) + ' h3')
    if (heading) heading.focus()
  })

  async function submitFix () {
    const form = formValues(fixing.form.recordedAt || '')
    if (!form.title) return formError(T.need_title, $('title'))
    const notes = notesFile(form)
    if (new TextEncoder().encode(notes).length > settings.maxNotesBytes) {
      return formError(fmt(T.notes_too_long, { max: size(settings.maxNotesBytes) }), $('notes'))
    }
    const record = fixing
    Object.assign(record, { form, notes, title: form.title, notesFix: (record.notesFix || 0) + 1, local: 'saved' })
    try {
      await saveRecord(record)
    } catch (error) {
      return formError(T.no_room, $('send'))
    }
    endFix()
    render(record)
    const heading = document.querySelector('#report-' + CSS.escape(record.id) + ' h3')
    if (heading) heading.focus()
    pump()
  }

  async function submit () {
    formError('')
    if (fixing) return submitFix()
    const file = $('file').files[0]
    const recording = recorded ? recorded.blob : file
    if (!recording) return formError(T.need_recording, $('record').hidden ? $('file') : $('record'))
    const form = formValues(recorded ? localTime(recorded.startedAt) : '')
    const title = form.title
    if (!title) return formError(T.need_title, $('title'))
    if (recording.size > settings.maxSizeBytes) {
      return formError(fmt(T.too_big, { size: size(recording.size), max: size(settings.maxSizeBytes) }), $('file'))
    }
    const notes = notesFile(form)
    if (new TextEncoder().encode(notes).length > settings.maxNotesBytes) {
      return formError(fmt(T.notes_too_long, { max: size(settings.maxNotesBytes) }), $('notes'))
    }
    const stem = newStem(title)
    const type = recorded ? recorded.type : (file.type || '')
    const record = {
      id: stem,
      title,
      createdAt: Date.now(),
      form,
      notes,
      recording,
      recordingName: stem + suffixFor(recorded ? '' : file.name, type),
      recordingType: type.split(';')[0],
      notesSent: false,
      recordingSent: false,
      local: 'saved',
      server: null
    }
    try {
      await saveRecord(record)
    } catch (error) { // QuotaExceededError: the form keeps everything, nothing is lost
      return formError(T.no_room, $('send'))
    }
    localStorage.setItem(PREFS_STORE, JSON.stringify({ journey: form.journey, language: form.language }))
    resetForm()
    records.set(record.id, record)
    render(record)
    const heading = document.querySelector('#report-' + CSS.escape(record.id) + ' h3')
    if (heading) heading.focus()
    pump()
  }

  // -- sending -------------------------------------------------------------------------------

  const records = new Map() // id -> record (as in IndexedDB)
  let sending = false
  let retryTimer = null
  let retryDelay = 5000
  let current = null // the upload under way: {upload, reject}
  const progress = new Map() // id -> {kind, sent, total}

  function upload (record, kind, blob, name, type, extra) {
    return new Promise((resolve, reject) => {
      const options = {
        endpoint: new URL(settings.endpoint, window.location.href).href,
        chunkSize: settings.chunkSize,
        retryDelays: RETRY_DELAYS,
        headers: authHeaders(),
        metadata: { filename: name, filetype: type || (kind === 'notes' ? 'text/markdown' : ''), ...(extra || {}) },
        // One report's file, whatever the Blob object: it is read back from IndexedDB after a
        // reload. tus-js-client keeps the upload's URL under it in localStorage.
        fingerprint: () => Promise.resolve('fieldreports:' + record.id + ':' + kind + ':' + blob.size),
        removeFingerprintOnSuccess: true,
        onProgress: (sent, total) => {
          progress.set(record.id, { kind, sent, total })
          render(record)
        },
        onError: reject,
        onSuccess: resolve
      }
      const tusUpload = new tus.Upload(blob, options)
      current = { upload: tusUpload, reject }
      tusUpload.findPreviousUploads().then((previous) => {
        if (previous.length) tusUpload.resumeFromPreviousUpload(previous[0])
        tusUpload.start()
      }, reject)
    })
  }

  async function send (record) {
    if (record.notesFix) {
      const fix = record.notesFix
      record.local = 'sending'
      render(record)
      await upload(record, 'notes-fix-' + fix, new Blob([record.notes], { type: 'text/markdown' }),
        record.id + '.md', 'text/markdown', { replace: '1' })
      if (record.notesFix === fix) record.notesFix = 0 // not fixed again meanwhile
      record.local = 'sent'
      record.server = null // the station's word on the fixed notes comes next
      await saveRecord(record)
      render(record)
      return
    }
    if (!record.notesSent) {
      record.local = 'sending'
      render(record)
      await upload(record, 'notes', new Blob([record.notes], { type: 'text/markdown' }),
        record.id + '.md', 'text/markdown')
      record.notesSent = true
      await saveRecord(record)
    }
    if (!record.recordingSent) {
      record.local = 'sending'
      render(record)
      // A picked file is kept by reference: if the phone has moved or deleted it since, say so
      // now (NotFoundError) rather than let the upload wait at 0 % for ever.
      await record.recording.slice(0, 1).arrayBuffer()
      await upload(record, 'recording', record.recording, record.recordingName, record.recordingType)
      record.recordingSent = true
      record.recording = null // the station has it: the phone's copy goes
      record.local = 'sent'
      progress.delete(record.id)
      await saveRecord(record)
      render(record)
    }
  }

  function refusal (error) {
    const response = error && error.originalResponse
    const status = response ? response.getStatus() : 0
    // 4xx but a conflict of the moment: the station said no, and will say it again.
    if (status >= 400 && status < 500 && ![408, 409, 423, 429].includes(status)) {
      return { status, reason: (response.getBody() || '').trim() || 'HTTP ' + status }
    }
    return null
  }

  // What the station said when it answered but could not take the file now (507 disk full,
  // 503 busy): shown instead of "waiting for a connection", which would be wrong.
  function stationSaid (error) {
    const response = error && error.originalResponse
    return (response && response.getStatus() >= 500 && (response.getBody() || '').trim()) || ''
  }

  // The oldest report still to send, asked afresh after each one: a report sent meanwhile joins.
  function nextUnsent () {
    return [...records.values()]
      .filter((r) => (!r.recordingSent || r.notesFix) && !['refused', 'unreadable'].includes(r.local))
      .sort((a, b) => a.createdAt - b.createdAt)[0]
  }

  // The key is asked about before an upload starts: tus-js-client forgets an upload's URL when
  // its HEAD is refused, and the recording would start again from byte 0 under the new key.
  async function keyAccepted () {
    const response = await fetch(settings.api, { headers: authHeaders(), cache: 'no-store' })
    if (response.status === 401) { refuseKey(); return false }
    return true
  }

  function unreadable (error) {
    // The Blob kept in IndexedDB points at a file the phone has moved or deleted.
    const causes = [error, error && error.originalError, error && error.causingError]
    return causes.some((e) => e && /NotFoundError|NotReadableError/.test(String(e.name) + ' ' + String(e.message)))
  }

  async function pump () {
    if (sending || !key || keyRefused) return
    sending = true
    clearTimeout(retryTimer)
    try {
      let record
      while ((record = nextUnsent())) {
        if (!navigator.onLine) throw new Error('offline')
        if (!(await keyAccepted())) return
        await send(record)
        retryDelay = 5000
        poll(record)
      }
    } catch (error) {
      const refused = refusal(error)
      const record = [...records.values()].find((r) => r.local === 'sending')
      if (refused && refused.status === 401) {
        if (record) { record.local = 'saved' }
        refuseKey()
      } else if (record && unreadable(error)) {
        record.local = 'unreadable'
        await saveRecord(record)
        render(record)
        retryTimer = setTimeout(pump, 0)
      } else if (refused && record) {
        record.local = 'refused'
        record.refusal = refused.reason
        await saveRecord(record)
        render(record)
        retryTimer = setTimeout(pump, 0) // the reports queued behind it go on
      } else {
        if (record) {
          record.local = 'waiting'
          record.stationSaid = stationSaid(error) // for now, not kept: the next try tells anew
          render(record)
        }
        retryTimer = setTimeout(pump, retryDelay)
        retryDelay = Math.min(Math.max(retryDelay * 2, 5000), 60000)
      }
    } finally {
      current = null
      sending = false
    }
  }

  // Now, not at the next retry: the signal is back (the phone may not have noticed).
  async function retryNow () {
    retryDelay = 0
    const under = current
    if (under) {
      await under.upload.abort()
      under.reject(new Error('trying again now'))
    } else {
      pump()
    }
  }

  // -- the station's word on each report -----------------------------------------------------

  async function fetchState (id) {
    const response = await fetch(settings.api + '/' + encodeURIComponent(id), { headers: authHeaders(), cache: 'no-store' })
    if (response.status === 401) { refuseKey(); return null }
    if (!response.ok) return null
    return response.json()
  }

  async function poll (record) {
    try {
      const state = await fetchState(record.id)
      if (state && JSON.stringify(state) !== JSON.stringify(record.server)) {
        record.server = state
        await saveRecord(record)
        render(record)
      }
    } catch (error) { /* offline: asked again at the next round */ }
  }

  async function refreshAll () {
    if (!key) return
    try {
      const response = await fetch(settings.api, { headers: authHeaders(), cache: 'no-store' })
      if (response.status === 401) return refuseKey()
      if (!response.ok) return
      const listing = await response.json()
      for (const state of [...listing.reports].reverse()) { // newest ends on top
        let record = records.get(state.id)
        if (!record) {
          // Sent from another phone, or before this page kept a list.
          record = { id: state.id, title: state.title, createdAt: Date.parse(state.updated_at) || 0, notesSent: true, recordingSent: true, local: 'sent', server: null }
          records.set(record.id, record)
        }
        if (JSON.stringify(state) !== JSON.stringify(record.server)) {
          record.server = state
          if (record.recordingSent) await saveRecord(record)
          render(record)
        }
      }
    } catch (error) { /* offline */ }
  }

  // Published is final; so is a failure the reporter must act on. A failure the station
  // retries by itself (its own error, the transcription) is still worth asking about.
  function settled (server) {
    if (!server) return false
    if (server.state === 'published') return true
    return server.state === 'failed' && !RETRIED.includes(server.stage)
  }

  // One request for all of them, however many are under way: a phone following twenty reports
  // asks as often as one following one, well inside the station's rate limit.
  setInterval(() => {
    if (!key || keyRefused || !navigator.onLine) return
    const waiting = [...records.values()].some((r) => r.recordingSent && !settled(r.server))
    if (waiting) refreshAll()
  }, settings.pollSeconds * 1000)

  // -- showing it ----------------------------------------------------------------------------

  function el (tag, attributes, text) {
    const node = document.createElement(tag)
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value)
    if (text !== undefined) node.textContent = text
    return node
  }

  function localLine (record) {
    const sent = progress.get(record.id)
    if (record.local === 'refused') return fmt(T.local_refused, { reason: record.refusal || '' })
    if (record.local === 'unreadable') return T.local_unreadable
    const unsent = !record.recordingSent || record.notesFix
    if (keyRefused && unsent) return T.local_need_key
    if (record.local === 'waiting' && record.stationSaid && navigator.onLine) {
      return fmt(T.local_station_says, { reason: record.stationSaid })
    }
    if (record.local === 'waiting' || (!navigator.onLine && unsent)) return T.local_waiting
    if (record.local === 'sending' && sent && sent.kind === 'recording') {
      return fmt(T.local_sending, { percent: Math.floor((sent.sent / Math.max(1, sent.total)) * 4) * 25 })
    }
    if (record.local === 'sending') return T.local_sending_notes
    if (unsent) return T.local_saved
    return T.local_sent
  }

  function render (record) {
    $('no-reports').hidden = true
    const list = $('reports')
    const id = 'report-' + record.id
    let item = document.getElementById(id)
    if (!item) {
      item = el('li', { id, class: 'report' })
      // One live region for the state and, on a failure, why and what to do: a screen reader
      // hears all of it, not just "Failed". Links and the progress bar stay outside it.
      const status = el('div', { class: 'status', 'aria-live': 'polite' })
      status.append(el('p', { class: 'state' }), el('div', { class: 'why' }))
      item.append(el('h3', { tabindex: '-1' }), status, el('div', { class: 'detail' }))
      list.prepend(item)
    }
    item.querySelector('h3').textContent = (record.server && record.server.title) || record.title || record.id
    const server = record.recordingSent && !record.notesFix ? record.server : null
    const stateLine = item.querySelector('.state')
    const state = server ? server.state : 'local'
    const line = server ? (T['state_' + server.state] || server.state) : localLine(record)
    if (stateLine.textContent !== line) stateLine.textContent = line
    stateLine.className = 'state state-' + state
    const detail = item.querySelector('.detail')
    detail.replaceChildren()
    const sent = progress.get(record.id)
    if (!server && record.local === 'sending' && sent && sent.kind === 'recording') {
      detail.append(el('progress', { max: String(sent.total), value: String(sent.sent), 'aria-label': line }))
    }
    const why = []
    if (server && server.state === 'failed') {
      if (server.reason) why.push(el('p', { class: 'reason' }, fmt(T.reason, { reason: server.reason })))
      if (server.what_to_do) why.push(el('p', { class: 'what' }, fmt(T.what_to_do, { what: server.what_to_do })))
    }
    const whyBox = item.querySelector('.why')
    if (whyBox.textContent !== why.map((n) => n.textContent).join('')) whyBox.replaceChildren(...why)
    if (server) {
      if (server.message) detail.append(el('p', {}, server.message))
      if (server.place) detail.append(el('p', {}, fmt(T.place_published, { place: server.place })))
      if (server.links) {
        const links = el('ul', { class: 'links' })
        for (const [name, text] of [['episode', T.link_episode], ['page', T.link_page], ['map', T.link_map]]) {
          if (server.links[name]) {
            const li = el('li')
            li.append(el('a', { href: server.links[name], class: 'link-' + name }, text))
            links.append(li)
          }
        }
        detail.append(links)
      }
    }
    const aboutNotes = server && server.state === 'failed' && ['discover', 'locate'].includes(server.stage)
    if (aboutNotes && record.form && fixing !== record) {
      const fix = el('button', { type: 'button', class: 'secondary' }, T.fix_notes)
      fix.addEventListener('click', () => startFix(record))
      detail.append(fix)
    }
    const gone = ['refused', 'unreadable'].includes(record.local)
    if (!record.recordingSent && (record.local === 'waiting' || gone)) {
      const button = el('button', { type: 'button', class: 'secondary' }, gone ? T.remove : T.retry)
      button.addEventListener('click', async () => {
        if (gone) {
          // Focus moves on to the next report (or the list's heading), not to the page's top.
          const next = item.nextElementSibling || item.previousElementSibling
          records.delete(record.id)
          await deleteRecord(record.id)
          item.remove()
          const target = next ? next.querySelector('h3') : $('reports-heading')
          if (!next) $('reports-heading').setAttribute('tabindex', '-1')
          target.focus()
        } else {
          item.querySelector('h3').focus() // the button is about to be redrawn
          retryNow()
        }
      })
      detail.append(button)
    }
  }

  // -- connection ----------------------------------------------------------------------------

  function showConnection () {
    $('connection').textContent = navigator.onLine ? '' : T.offline
  }

  window.addEventListener('online', () => { showConnection(); retryNow(); refreshAll() })
  window.addEventListener('offline', () => { showConnection(); records.forEach(render) })

  // -- start ---------------------------------------------------------------------------------

  async function start () {
    $('sensitive').checked = settings.sensitiveByDefault
    restorePrefs()
    showConnection()
    if (!key) showKeyForm(T.key_missing)
    const kept = (await allRecords()).sort((a, b) => a.createdAt - b.createdAt)
    for (const record of kept) {
      if (record.local === 'sending') record.local = 'saved'
      records.set(record.id, record)
      render(record)
    }
    await refreshAll()
    pump()
  }

  start()
})()
