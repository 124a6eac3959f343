import type { Carrier } from './carrier.js'

/** A carrier and the E.164 prefixes (digits after the +) routed to it. */
export type CarrierRoute = { carrier: Carrier; prefixes: readonly string[] }

/**
 * Which carrier takes a message: the route with the longest prefix of the receiver, else the default
 * carrier; null when neither (the send is refused before anything is written).
 */
export class CarrierRouter {
  private readonly byPrefix: { prefix: string; carrier: Carrier }[]

  constructor(
    routes: readonly CarrierRoute[],
    private readonly fallback: Carrier | null,
  ) {
    this.byPrefix = routes
      .flatMap((route) => route.prefixes.map((prefix) => ({ prefix, carrier: route.carrier })))
      .sort((a, b) => b.prefix.length - a.prefix.length)
    const names = new Set<string>()
    for (const carrier of this.carriers()) {
      if (names.has(carrier.name)) throw new Error(`two carriers are named ${carrier.name}`)
      names.add(carrier.name)
    }
  }

  route(receiver: string): Carrier | null {
    const digits = receiver.replace(/^\+/, '')
    return this.byPrefix.find((r) => digits.startsWith(r.prefix))?.carrier ?? this.fallback
  }

  carriers(): Carrier[] {
    const all = [...this.byPrefix.map((r) => r.carrier), ...(this.fallback ? [this.fallback] : [])]
    return [...new Set(all)]
  }

  byName(name: string): Carrier | undefined {
    return this.carriers().find((c) => c.name === name)
  }
}
