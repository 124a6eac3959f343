import type { Carrier } from './carrier.js'

/** A carrier's name and the E.164 prefixes (digits after the +) routed to it; one may be the default. */
export type Route = { name: string; prefixes: readonly string[]; default: boolean }

/**
 * Which carrier takes a receiver, by name: the one whose prefix is the longest start of the number,
 * else the default carrier; null when neither (the send is refused before anything is written). Pure,
 * built from the configuration alone, so the send path checks routes with the same table the
 * sending worker uses.
 */
export class RoutingTable {
  private readonly byPrefix: { prefix: string; name: string }[]
  private readonly fallback: string | null

  constructor(routes: readonly Route[]) {
    this.byPrefix = routes
      .flatMap((route) => route.prefixes.map((prefix) => ({ prefix, name: route.name })))
      .sort((a, b) => b.prefix.length - a.prefix.length)
    this.fallback = routes.find((route) => route.default)?.name ?? null
  }

  carrierFor(receiver: string): string | null {
    const digits = receiver.replace(/^\+/, '')
    return this.byPrefix.find((r) => digits.startsWith(r.prefix))?.name ?? this.fallback
  }
}

/** The carriers of this process, and which one takes each message (by the routing table). */
export class CarrierRouter {
  private readonly byName = new Map<string, Carrier>()

  constructor(
    private readonly table: RoutingTable,
    carriers: readonly Carrier[],
  ) {
    for (const carrier of carriers) {
      if (this.byName.has(carrier.name)) throw new Error(`two carriers are named ${carrier.name}`)
      this.byName.set(carrier.name, carrier)
    }
  }

  route(receiver: string): Carrier | null {
    const name = this.table.carrierFor(receiver)
    return name === null ? null : (this.byName.get(name) ?? null)
  }

  /** Every carrier, routed or not (an unrouted simulator still reports what it accepted before). */
  carriers(): Carrier[] {
    return [...this.byName.values()]
  }

  carrier(name: string): Carrier | undefined {
    return this.byName.get(name)
  }
}
