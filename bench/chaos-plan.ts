import { createRng } from '../shared/src/rng.js';

/**
 * The fault schedule of a chaos run, drawn once from a seed before anything starts: the same seed and sizes
 * give the same plan (which round, which site, kill or cut, at which phase, how long down). Only the moments
 * the phases arrive depend on the machine.
 */

/** Round phases the coordinator announces (IPC `round-started`, `round-phase`, `round-committed`), in order. */
export const ROUND_PHASES = ['waiting', 'fit', 'secagg-share-keys', 'secagg-masked-input', 'secagg-unmask', 'evaluate', 'committed'] as const;
export type RoundPhase = (typeof ROUND_PHASES)[number];

/** Phases at which an agent fault may strike: while its round runs. */
const AGENT_PHASES: readonly RoundPhase[] = ['fit', 'secagg-share-keys', 'secagg-masked-input', 'secagg-unmask', 'evaluate'];
/**
 * Phases at which the coordinator may be killed: while it waits for its cohort, while the sites fit, at each
 * secure-aggregation stage (unmasking included), while evaluating (the candidate model written, the commit
 * next), and right after a commit (before the next round).
 */
const COORDINATOR_PHASES: readonly RoundPhase[] = ['waiting', 'fit', 'secagg-share-keys', 'secagg-masked-input', 'secagg-unmask', 'evaluate', 'committed'];

/** `kill`: SIGKILL of the agent process, started again later. `cut`: its TCP proxy cuts and refuses connections, then lets them through again. */
export type AgentFaultKind = 'kill' | 'cut';

export interface AgentFault {
  kind: AgentFaultKind;
  /** Index into the site list; the next live site in order when this one is down or not started yet. */
  site: number;
  phase: RoundPhase;
  /** After the phase is announced, ms. */
  delayMs: number;
  /** How long the site stays away (killed or cut) before it is started again / let through, ms. */
  downMs: number;
}

export interface CoordinatorFault {
  phase: RoundPhase;
  delayMs: number;
  /** How long the coordinator stays dead before it is started again, ms. */
  downMs: number;
}

export interface RoundFaults {
  round: number;
  agent: AgentFault | null;
  coordinator: CoordinatorFault | null;
}

export interface ChaosPlan {
  seed: number;
  sites: number;
  rounds: number;
  /** Index of the site that starts late. */
  lateSite: number;
  /** The late site is started when this round starts. */
  lateAtRound: number;
  faults: RoundFaults[];
}

/** Options of {@link chaosPlan}. */
export interface ChaosPlanOptions {
  seed: number;
  sites: number;
  rounds: number;
  /** An agent fault every round. @default true */
  agentFaultEveryRound?: boolean;
  /** Which agent faults, in order, where a short run wants each kind once; otherwise drawn at random. */
  agentKinds?: readonly AgentFaultKind[];
  /** Rounds whose agent fault is left out (the rest of an `agentKinds` list). @default none */
  agentFaultRounds?: readonly number[];
  /**
   * The coordinator is killed every this many rounds, mid-way through each block of them (k = 10: rounds 5,
   * 15, 25, …), so the last round's kill never lands after the study ended. @default 10
   */
  coordinatorEvery?: number;
  /** Kill the coordinator in exactly these rounds instead. */
  coordinatorRounds?: readonly number[];
  /** Agents stay away this long, ms: [min, max]. @default [2000, 5000] */
  agentDownMs?: readonly [number, number];
  /** The coordinator stays dead this long, ms: [min, max]. @default [1000, 3000] */
  coordinatorDownMs?: readonly [number, number];
  /** The late site starts with one of these rounds: [min, max]. @default [2, 4] */
  lateAtRound?: readonly [number, number];
}

/** The fault plan of a chaos run (pure: the same options give the same plan). */
export function chaosPlan(o: ChaosPlanOptions): ChaosPlan {
  if (o.sites < 3) throw new Error(`a chaos run needs at least 3 sites, got ${o.sites}`);
  if (o.rounds < 1) throw new Error(`a chaos run needs at least 1 round, got ${o.rounds}`);
  const rng = createRng(o.seed);
  const between = ([lo, hi]: readonly [number, number]): number => lo + rng.int(hi - lo + 1);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)] as T;
  const lateSite = o.sites - 1;
  const [lateLo, lateHi] = o.lateAtRound ?? [2, 4];
  const lateAtRound = Math.min(o.rounds, between([lateLo, lateHi]));
  const every = o.coordinatorEvery ?? 10;
  const agentRounds = o.agentFaultRounds ? new Set(o.agentFaultRounds) : null;
  let kindIndex = 0;
  const faults: RoundFaults[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    let agent: AgentFault | null = null;
    const wanted = agentRounds ? agentRounds.has(round) : o.agentFaultEveryRound !== false;
    if (wanted) {
      const kind: AgentFaultKind = o.agentKinds ? (o.agentKinds[kindIndex++ % o.agentKinds.length] as AgentFaultKind) : rng.next() < 0.5 ? 'kill' : 'cut';
      agent = { kind, site: rng.int(o.sites), phase: pick(AGENT_PHASES), delayMs: rng.int(300), downMs: between(o.agentDownMs ?? [2000, 5000]) };
    }
    const killRound = o.coordinatorRounds ? o.coordinatorRounds.includes(round) : every > 0 && round % every === Math.ceil(every / 2) % every;
    const coordinator: CoordinatorFault | null =
      killRound ? { phase: pick(COORDINATOR_PHASES), delayMs: rng.int(200), downMs: between(o.coordinatorDownMs ?? [1000, 3000]) } : null;
    faults.push({ round, agent, coordinator });
  }
  return { seed: o.seed, sites: o.sites, rounds: o.rounds, lateSite, lateAtRound, faults };
}
