// A database outage injected into the background workers' tests: a kysely plugin on the same
// database that refuses the statements a predicate picks, as a PostgreSQL going away would, and a
// watch on rejections nobody handled (Node, through close-with-grace, ends the server on each).
import type {
  KyselyPlugin,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import type { Teardown } from './teardown.js'

export const OUTAGE_ERROR = 'Connection terminated unexpectedly'

/** The SQL text of a raw statement (`sql\`…\``), else ''. */
export function rawText(node: RootOperationNode): string {
  const raw = node as { kind: string; sqlFragments?: readonly string[] }
  return raw.kind === 'RawNode' ? (raw.sqlFragments?.join('') ?? '') : ''
}

/** Refuses every statement `refuse` picks; `onResult` sees (and may delay) the others' results. */
export function refusing(
  refuse: (node: RootOperationNode) => boolean,
  onResult: (node: PluginTransformResultArgs) => Promise<void> | void = () => {},
): KyselyPlugin {
  return {
    transformQuery: (args) => {
      if (refuse(args.node)) throw new Error(OUTAGE_ERROR)
      return args.node
    },
    transformResult: async (args): Promise<QueryResult<UnknownRow>> => {
      await onResult(args)
      return args.result
    },
  }
}

/** Rejections nobody handled while the test runs. */
export function watchUnhandled(t: Teardown): unknown[] {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => process.off('unhandledRejection', onUnhandled))
  return unhandled
}
