import type { AccessRule } from '../db/schema.js'

export const ACCESS_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const

/**
 * OVH access rules: the method must match and the path must equal the rule's path, where `*`
 * matches any run of characters (so `/sms/*` covers every path under /sms). Checked against
 * `routedPath`, never against the request target as sent.
 */
export function isGranted(rules: readonly AccessRule[], method: string, path: string): boolean {
  return rules.some((rule) => rule.method === method && pathMatches(rule.path, path))
}

const compiled = new Map<string, RegExp>()

function pathMatches(pattern: string, path: string): boolean {
  if (!pattern.includes('*')) return pattern === path
  let regex = compiled.get(pattern)
  if (!regex) {
    const source = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')
    regex = new RegExp(`^${source}$`)
    if (compiled.size > 10_000) compiled.clear()
    compiled.set(pattern, regex)
  }
  return regex.test(path)
}

/**
 * The path access rules are checked against: the route the router chose (without the /1.0 or /v1
 * prefix) with each `:param` replaced by the value the handler will receive, percent-encoded again.
 * Built from the router's own result, a rule can only ever grant the operation that runs: whatever
 * the request target carried (a trailing slash, `%2F`, `%73` for `s`, a fragment) is either part of a
 * parameter, re-encoded here, or was not routed at all.
 */
export function routedPath(routeUrl: string, params: Readonly<Record<string, string | undefined>>): string {
  return routeUrl.replace(/:(\w+)|\*/g, (placeholder, name: string | undefined) =>
    encodeSegment(params[name ?? placeholder] ?? ''),
  )
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
/** Characters RFC 3986 allows as they are in a path segment, which encodeURIComponent escapes. */
const SEGMENT_SAFE = /%(2[46BC]|3[ABD]|40)/g

/**
 * A parameter as it would appear in a path segment: `/`, `?`, `#`, `%` and everything outside
 * RFC 3986's pchar are percent-encoded (so a decoded `%2F` can never act as a separator a `*` could
 * span); `+ : @ = , ; $ &` stay as they are, as a rule such as `/sms/x/blacklists/+33*` writes them.
 */
function encodeSegment(value: string): string {
  return encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD')).replace(SEGMENT_SAFE, (percentEscape) =>
    decodeURIComponent(percentEscape),
  )
}
