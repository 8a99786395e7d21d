import { IllegalStateError } from '../../../shared/src/errors.js';
import type { RoundStatus } from '../store/coordinator-store.js';

/** Which round status may follow which (STYLE §14): anything else is a bug and throws. */
export const ALLOWED_ROUND_TRANSITIONS: Readonly<Record<RoundStatus, readonly RoundStatus[]>> = {
  waiting: ['fitting', 'failed', 'interrupted'],
  fitting: ['aggregating', 'failed', 'interrupted'],
  aggregating: ['evaluating', 'failed', 'interrupted'],
  evaluating: ['committed', 'failed', 'interrupted'],
  committed: [],
  failed: [],
  interrupted: [],
};

export function assertRoundTransition(from: RoundStatus, to: RoundStatus): void {
  if (!ALLOWED_ROUND_TRANSITIONS[from].includes(to)) {
    throw new IllegalStateError(`round cannot go from ${from} to ${to}`, { from, to });
  }
}
