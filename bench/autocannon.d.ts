// The few parts of autocannon 9's programmatic API the benches use (the package ships no types).
declare module 'autocannon' {
  type Headers = Record<string, string>

  export type Request = {
    method?: string
    path?: string
    headers?: Headers
    body?: string
  }

  export type RequestSpec = Request & {
    setupRequest?: (request: Request, context: Record<string, unknown>) => Request
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Headers) => void
  }

  export type Options = {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    timeout?: number
    method?: string
    headers?: Headers
    body?: string
    requests?: RequestSpec[]
  }

  export type Histogram = {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }

  export type Result = {
    requests: Histogram
    latency: Histogram
    throughput: Histogram
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
  }

  export default function autocannon(options: Options): Promise<Result>
}
