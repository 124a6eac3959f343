// The browser side of Swagger UI at /docs: a plugin that keeps a handle on Swagger UI's state, and a
// request interceptor that signs every request carrying X-Ovh-Application and X-Ovh-Consumer with the
// application secret typed into the Authorize dialog (scheme OVH_SECRET_SCHEME). The secret is in no
// security requirement, so Swagger UI never puts it on a request; it only feeds the signature:
//   X-Ovh-Timestamp = server time (GET …/auth/time once, the offset to the browser clock kept)
//   X-Ovh-Signature = "$1$" + sha1_hex(AS+"+"+CK+"+"+METHOD+"+"+URL+"+"+BODY+"+"+TIMESTAMP)
// URL is the absolute URL the browser calls (src/auth/signature.ts accepts http:// + host with port).
// SHA-1 by crypto.subtle in a secure context (https, 127.0.0.1, localhost), else by the small fallback.
//
// Kept as plain JavaScript text (served as a theme script), not compiled functions: a bundler's helpers
// (keepNames' __name) must not end up in code that runs in the browser.

/** The security scheme whose Authorize field holds the application secret. */
export const OVH_SECRET_SCHEME = 'ovhApplicationSecret'

export const SIGNING_SCRIPT = `(function () {
  'use strict'
  var SECRET_SCHEME = ${JSON.stringify(OVH_SECRET_SCHEME)}
  var state = { system: null, offsets: {} }

  function plugin(system) {
    state.system = system
    return {}
  }

  function headerName(headers, wanted) {
    var lower = wanted.toLowerCase()
    for (var name in headers) if (name.toLowerCase() === lower) return name
    return null
  }
  function headerValue(headers, wanted) {
    var name = headerName(headers, wanted)
    return name === null ? '' : String(headers[name])
  }
  function setHeader(headers, wanted, value) {
    var name = headerName(headers, wanted)
    if (name !== null && name !== wanted) delete headers[name]
    headers[wanted] = value
  }

  function secret() {
    var system = state.system
    if (!system || !system.authSelectors) return ''
    var authorized = system.authSelectors.authorized()
    var value = authorized && authorized.getIn ? authorized.getIn([SECRET_SCHEME, 'value']) : ''
    return value ? String(value) : ''
  }

  // SHA-1 of the UTF-8 bytes of text, hex (FIPS 180-4), for pages that are not a secure context.
  function sha1Fallback(text) {
    var bytes = new TextEncoder().encode(text)
    var bitLength = bytes.length * 8
    var total = ((bytes.length + 9 + 63) >> 6) << 6
    var data = new Uint8Array(total)
    data.set(bytes)
    data[bytes.length] = 0x80
    var view = new DataView(data.buffer)
    view.setUint32(total - 8, Math.floor(bitLength / 0x100000000))
    view.setUint32(total - 4, bitLength >>> 0)
    var h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0
    var w = new Uint32Array(80)
    for (var offset = 0; offset < total; offset += 64) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4)
      for (i = 16; i < 80; i++) {
        var x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
        w[i] = (x << 1) | (x >>> 31)
      }
      var a = h0, b = h1, c = h2, d = h3, e = h4
      for (i = 0; i < 80; i++) {
        var f, k
        if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999 }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1 }
        else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc }
        else { f = b ^ c ^ d; k = 0xca62c1d6 }
        var t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) >>> 0
        e = d; d = c; c = (b << 30) | (b >>> 2); b = a; a = t
      }
      h0 = (h0 + a) >>> 0; h1 = (h1 + b) >>> 0; h2 = (h2 + c) >>> 0; h3 = (h3 + d) >>> 0; h4 = (h4 + e) >>> 0
    }
    return [h0, h1, h2, h3, h4].map(function (h) { return (h >>> 0).toString(16).padStart(8, '0') }).join('')
  }

  function sha1Hex(text) {
    if (window.isSecureContext && window.crypto && window.crypto.subtle) {
      return window.crypto.subtle.digest('SHA-1', new TextEncoder().encode(text)).then(function (digest) {
        return Array.from(new Uint8Array(digest)).map(function (b) { return b.toString(16).padStart(2, '0') }).join('')
      })
    }
    return Promise.resolve(sha1Fallback(text))
  }

  // GET /1.0/auth/time (or /v1/auth/time, under the same prefix as the call) once; the offset is kept.
  function serverTime(url) {
    var match = /^(.*?\\/(?:1\\.0|v1))\\//.exec(url)
    var timeUrl = match ? match[1] + '/auth/time' : new URL('/1.0/auth/time', url).href
    var known = state.offsets[timeUrl]
    var now = function () { return Math.floor(Date.now() / 1000) }
    if (known !== undefined) return Promise.resolve(now() + known)
    return fetch(timeUrl, { headers: { accept: 'application/json' } })
      .then(function (answer) {
        if (!answer.ok) throw new Error(timeUrl + ' answered ' + answer.status)
        return answer.json()
      })
      .then(function (seconds) {
        state.offsets[timeUrl] = Number(seconds) - now()
        return now() + state.offsets[timeUrl]
      })
  }

  function sign(request) {
    var headers = request.headers || (request.headers = {})
    var applicationKey = headerValue(headers, 'X-Ovh-Application')
    var consumerKey = headerValue(headers, 'X-Ovh-Consumer')
    var applicationSecret = secret()
    if (!applicationKey || !consumerKey || !applicationSecret) return request
    var url = new URL(request.url, window.location.href).href
    var body = request.body
    if (body === undefined || body === null) body = ''
    else if (typeof body !== 'string') {
      body = JSON.stringify(body)
      request.body = body
    }
    var method = String(request.method || 'GET').toUpperCase()
    return serverTime(url).then(function (timestamp) {
      var ts = String(timestamp)
      return sha1Hex([applicationSecret, consumerKey, method, url, body, ts].join('+')).then(function (hex) {
        request.url = url
        setHeader(headers, 'X-Ovh-Timestamp', ts)
        setHeader(headers, 'X-Ovh-Signature', '$1$' + hex)
        return request
      })
    })
  }

  window.smsMirrorDocs = { plugin: plugin, sign: sign, sha1Fallback: sha1Fallback, sha1Hex: sha1Hex }
})()
`

/**
 * A value @fastify/swagger-ui's serializer writes as this JavaScript source (it serializes functions
 * with toString()), so that uiConfig can name the script's functions without compiling them here.
 */
export function browserCode(source: string): () => void {
  return Object.assign(() => undefined, { toString: () => source })
}
