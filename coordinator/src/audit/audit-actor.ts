import { AsyncLocalStorage } from 'node:async_hooks';

const actorStorage = new AsyncLocalStorage<string>();

/**
 * Runs `fn` with `actor` (e.g. `operator:alice`) as the actor of every audit entry that the coordinator
 * appends while it runs, including in awaited calls: the REST API wraps a request's handler in it so that
 * "study created" names the operator who asked rather than the coordinator.
 */
export function runAsAuditActor<T>(actor: string, fn: () => T): T {
  return actorStorage.run(actor, fn);
}

/** The actor set by {@link runAsAuditActor}, or `fallback`. */
export function currentAuditActor(fallback: string): string {
  return actorStorage.getStore() ?? fallback;
}
