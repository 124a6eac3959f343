import type { AccessRule } from '../db/schema.js'

export const ACCESS_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const

/**
 * OVH access rules: the method must match and the path must equal the rule's path, where `*`
 * matches any run of characters (so `/sms/*` covers every path under /sms). Checked against the
 * path without the /1.0 or /v1 prefix and without the query string.
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
