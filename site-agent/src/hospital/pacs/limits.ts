/**
 * What keeps the agent gentle with a PACS: a token-bucket request rate limit and a bounded worker pool.
 */

/** Sleeps `ms` milliseconds (unref'd: never keeps the process alive on its own). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Token bucket: `take()` resolves when a request may start. Refills at `perSecond`, holds at most `burst`
 * tokens. Waiters are served in order.
 */
export class RateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  #queue: Promise<void> = Promise.resolve();
  readonly #now: () => number;

  constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError('requestsPerSecond must be a positive number');
    this.#perSecond = perSecond;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
    this.#now = now;
    this.#last = now();
  }

  /** Waits for `n` tokens (1 by default), in the order callers asked. */
  take(n = 1): Promise<void> {
    const turn = this.#queue.then(() => this.#wait(Math.min(n, this.#burst)));
    this.#queue = turn;
    return turn;
  }

  async #wait(n: number): Promise<void> {
    for (;;) {
      const now = this.#now();
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#perSecond);
      this.#last = now;
      if (this.#tokens >= n) {
        this.#tokens -= n;
        return;
      }
      await sleep(Math.ceil(((n - this.#tokens) / this.#perSecond) * 1000));
    }
  }
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight; resolves when all are done. `work` must not
 * throw (report per item instead); if it does, the pool stops taking new items and rethrows the first error.
 */
export async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        await work(items[i] as T, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
}
