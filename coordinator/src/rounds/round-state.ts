/** The round state machine lives with the other tables in coordinator/src/store/states.ts. */
export { ALLOWED_ROUND_TRANSITIONS, assertRoundTransition } from '../store/states.js';
