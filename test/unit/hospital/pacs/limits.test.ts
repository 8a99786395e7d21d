import { describe, expect, it } from 'vitest';
import { RateLimiter, runPool } from '../../../../site-agent/src/hospital/pacs/limits.js';

/** Lets every pending microtask and immediate run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('PACS limits', () => {
  it('the rate limiter hands out its burst at once, then one token per 1/rate of (injected) time, in order', async () => {
    let now = 0;
    const limiter = new RateLimiter(1000, 2, () => now);
    const done: number[] = [];
    for (let i = 0; i < 4; i++) void limiter.take().then(() => done.push(i));
    await settle();
    expect(done).toEqual([0, 1]);
    // The clock does not move: the third waits however long it sleeps.
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toEqual([0, 1]);
    now += 1; // one token's worth (1 ms at 1000/s)
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toEqual([0, 1, 2]);
    now += 5; // refills up to the burst only
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toEqual([0, 1, 2, 3]);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new RateLimiter(0, 1)).toThrow(/requestsPerSecond/);
    expect(() => new RateLimiter(Number.NaN, 1)).toThrow(/requestsPerSecond/);
  });

  it('the pool never runs more than its concurrency at once and visits every item once', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await runPool([...Array(20).keys()], 3, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 1 + (item % 3)));
      seen.push(item);
      inFlight--;
    });
    expect(most).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });
});
