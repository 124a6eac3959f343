/** `YYYY-MM-DD HH:MM:SS` in UTC, the format of OVH's history exports. */
export function callbackDate(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ')
}

/**
 * The callback URL with our parameters appended to its own query string (kept as written),
 * URL-encoded; a fragment stays at the end.
 */
export function withParams(url: string, params: Record<string, string | number>): string {
  const hash = url.indexOf('#')
  const base = hash >= 0 ? url.slice(0, hash) : url
  const fragment = hash >= 0 ? url.slice(hash) : ''
  const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString()
  const separator = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?'
  return `${base}${separator}${query}${fragment}`
}
