/**
 * Waits for a condition, checking it every `everyMs`; throws naming `what` once `timeoutMs` passed.
 * The default bound is generous on purpose (a busy 2-core machine): it only turns a hang into a
 * readable failure before tap's own file timeout, it never decides a test's outcome.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 60_000, everyMs = 20 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
