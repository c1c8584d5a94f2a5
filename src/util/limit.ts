/** A counting semaphore: at most `size` tasks run at once, the rest wait in FIFO order. */
export class Semaphore {
  private active = 0
  private readonly waiting: Array<() => void> = []
  readonly size: number
  constructor(size: number) {
    this.size = Math.max(1, Math.floor(size))
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.active++
    try {
      return await task()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }
}

/** Maps over items with at most `concurrency` promises in flight, keeping the input order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await fn(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker))
  return results
}

/** Resolves after `ms`, or rejects early with the signal's reason. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * The signal of one request: aborted after `ms` (a TimeoutError) or when `outer` aborts (with its reason). One
 * controller and a timer: AbortSignal.any() over AbortSignal.timeout() costs more than a request to a local
 * server. Call `done()` when the request and its body are finished.
 */
export function requestDeadline(
  ms: number,
  outer?: AbortSignal,
): { signal: AbortSignal; timedOut: () => boolean; done: () => void } {
  const controller = new AbortController()
  let expired = false
  const timer = setTimeout(() => {
    expired = true
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
  }, ms)
  timer.unref()
  const relay = () => controller.abort(outer?.reason)
  if (outer?.aborted) relay()
  else outer?.addEventListener('abort', relay, { once: true })
  return {
    signal: controller.signal,
    timedOut: () => expired,
    done() {
      clearTimeout(timer)
      outer?.removeEventListener('abort', relay)
    },
  }
}
