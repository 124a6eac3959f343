import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import { invalid } from '../errors.js'

/** Up to `max` distinct IPv4/IPv6 addresses, returned in canonical form. */
export function ipAddressList(field: string, values: string[], max: number): string[] {
  if (values.length > max) throw invalid(field, `at most ${max} IP addresses, got ${values.length}`)
  const seen = new Set<string>()
  for (const value of values) {
    // node:net is strict (dotted quad only, no zone id); ipaddr.js then gives the canonical spelling.
    if (isIP(value) === 0 || value.includes('%')) {
      throw invalid(field, `valid IPv4 or IPv6 addresses, "${value}" is not one`)
    }
    const canonical = ipaddr.parse(value).toString()
    if (seen.has(canonical)) throw invalid(field, `distinct IP addresses, "${value}" appears twice`)
    seen.add(canonical)
  }
  return [...seen]
}

/** True when the address is one of the blocks (addresses or CIDR ranges); IPv4-mapped IPv6 counts as IPv4. */
export function ipAllowed(ip: string, blocks: readonly string[]): boolean {
  let address: ipaddr.IPv4 | ipaddr.IPv6
  try {
    address = ipaddr.process(ip)
  } catch {
    return false
  }
  return blocks.some((block) => {
    try {
      const [range, bits] = block.includes('/') ? ipaddr.parseCIDR(block) : [ipaddr.process(block), -1]
      const candidate = range.kind() === address.kind() ? address : null
      if (!candidate) return false
      return bits === -1 ? candidate.toString() === range.toString() : candidate.match(range, bits)
    } catch {
      return false
    }
  })
}
