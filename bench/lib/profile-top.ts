/**
 * The top of a V8 CPU profile (`node --cpu-prof`): self time by function and by package, so the
 * summaries in bench/README.md can be reproduced. Usage: tsx bench/lib/profile-top.ts FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs'

type Node = {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const file = process.argv[2]
if (!file) throw new Error('usage: profile-top.ts FILE.cpuprofile [N]')
const top = Number(process.argv[3] ?? 15)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const self = new Map<number, number>()
for (const [i, id] of profile.samples.entries()) {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
}
const total = [...self.values()].reduce((a, b) => a + b, 0)

const where = (url: string) => {
  if (url === '') return '(native)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1] as string
  if (url.startsWith('node:')) return 'node core'
  const src = /\/(src|bench)\/(.*)$/.exec(url)
  return src ? `${src[1]}/${src[2]}` : url
}
const byFunction = new Map<string, number>()
const byPackage = new Map<string, number>()
for (const [id, time] of self) {
  const node = byId.get(id) as Node
  const { functionName, url, lineNumber } = node.callFrame
  const place = where(url)
  const key = `${functionName || '(anonymous)'} ${place}${url ? `:${lineNumber + 1}` : ''}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + time)
  const group =
    place.startsWith('src/') || place.startsWith('bench/') ? place.split('/').slice(0, 2).join('/') : place
  byPackage.set(group, (byPackage.get(group) ?? 0) + time)
}
const print = (title: string, map: Map<string, number>) => {
  console.log(title)
  for (const [key, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * time) / total).toFixed(1).padStart(5)} %  ${key}`)
  }
}
// Inclusive time: a sample counts for every function on its stack (once each), to see which of our
// steps the self time above is spent under.
const parent = new Map<number, number>()
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
const inclusive = new Map<string, number>()
for (const [id, time] of self) {
  const seen = new Set<string>()
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, url } = (byId.get(at) as Node).callFrame
    const place = where(url)
    if (!functionName || !(place.startsWith('src/') || place.startsWith('bench/'))) continue
    const key = `${functionName} ${place}`
    if (!seen.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + time)
    seen.add(key)
  }
}
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`)
print('self time by function', byFunction)
print('self time by package or folder', byPackage)
print('total time (self and callees) by function of src/ and bench/', inclusive)
