import type { PrivacyPolicy } from '../../../shared/src/config/privacy-policy.js';
import { epsilonFor } from '../../../shared/src/dp/accountant.js';
import { TesseraError } from '../../../shared/src/errors.js';
import type { PrivacyLedger, LedgerEntry } from './privacy-ledger.js';

/** The DP settings a FIT task asks for (from the wire, already range-checked by the caller). */
export interface DpRequest {
  studyId: string;
  model: string;
  noiseMultiplier: number;
  clipNorm: number;
  samplingRate: number;
  stepsPerRound: number;
  plannedRounds: number;
  delta: number;
}

/** Thrown when a task would break the site's privacy policy or budget; the message says which limit. */
export class PrivacyRefusal extends TesseraError {
  constructor(message: string, context: Record<string, string | number | boolean> = {}) {
    super('TESSERA_AGENT_PRIVACY_BUDGET', message, context);
  }
}

const fmt = (x: number): string => (x >= 0.01 ? x.toFixed(3) : x.toExponential(2));

/**
 * Enforces a site's {@link PrivacyPolicy} against its {@link PrivacyLedger}: decides whether a DP
 * task may run and records its spend before it runs. ε is computed by the site's own accountant from
 * the task's σ, q and steps; the coordinator's target is never trusted.
 */
export class PrivacyGuard {
  #snapshot: LedgerEntry[] = [];

  private constructor(
    readonly policy: PrivacyPolicy,
    private readonly ledger: PrivacyLedger,
    private readonly now: () => number,
  ) {}

  /** A guard over `ledger` (loads its entries for {@link snapshot}). */
  static async create(policy: PrivacyPolicy, ledger: PrivacyLedger, now: () => number = Date.now): Promise<PrivacyGuard> {
    const guard = new PrivacyGuard(policy, ledger, now);
    guard.#snapshot = await ledger.entries();
    return guard;
  }

  /** The ledger as last read or written (synchronous, for the hello message). */
  snapshot(): readonly LedgerEntry[] {
    return this.#snapshot;
  }

  private epsilon(req: DpRequest, steps: number): number {
    return epsilonFor(this.policy.accountant, { q: req.samplingRate, sigma: req.noiseMultiplier, steps }, req.delta);
  }

  /** Refuses a non-DP FIT when the policy requires DP. */
  checkNonPrivate(studyId: string): void {
    if (this.policy.requireDp) {
      throw new PrivacyRefusal(`site privacy policy requires differential privacy; study '${studyId.slice(0, 64)}' trains without it`, { study: studyId.slice(0, 64) });
    }
  }

  /**
   * Checks the task against every limit — the whole planned study must fit, and so must this round
   * after what the study already spent — then records the spend of this round and returns the entry.
   * @throws PrivacyRefusal naming the limit that would be exceeded.
   */
  async authorize(req: DpRequest): Promise<LedgerEntry> {
    const { entry, others } = await this.check(req);
    await this.ledger.record(entry);
    this.#snapshot = [...others, entry].sort((a, b) => a.studyId.localeCompare(b.studyId));
    return entry;
  }

  /**
   * The checks of {@link authorize} without recording anything: what this round would spend. Under
   * secure aggregation the site checks before training and charges only when it sends its masked input
   * (nothing derived from its records leaves it before), so an attempt abandoned earlier costs no ε.
   * @throws PrivacyRefusal naming the limit that would be exceeded.
   */
  async check(req: DpRequest): Promise<{ entry: LedgerEntry; others: LedgerEntry[] }> {
    const p = this.policy;
    const study = req.studyId.slice(0, 64);
    const refuse = (msg: string): never => {
      throw new PrivacyRefusal(msg, { study });
    };
    if (p.allowedModels.length > 0 && !p.allowedModels.includes(req.model)) refuse(`site privacy policy does not allow model '${req.model.slice(0, 64)}'`);
    if (req.noiseMultiplier < p.minNoiseMultiplier) refuse(`noise multiplier ${fmt(req.noiseMultiplier)} is below the site minimum ${p.minNoiseMultiplier}`);
    if (req.plannedRounds > p.maxRounds) refuse(`study plans ${req.plannedRounds} rounds; site privacy policy allows ${p.maxRounds}`);
    if (req.delta > p.maxDeltaPerStudy) refuse(`study asks δ = ${req.delta}; site allows ${p.maxDeltaPerStudy} per study`);
    if (req.noiseMultiplier <= 0) refuse('DP task without noise');
    const all = await this.ledger.entries();
    const prior = all.find((e) => e.studyId === req.studyId);
    if (prior && (prior.noiseMultiplier !== req.noiseMultiplier || prior.samplingRate !== req.samplingRate || prior.delta !== req.delta)) {
      refuse('study changed its noise multiplier, sampling rate or δ after it started at this site');
    }
    const others = all.filter((e) => e.studyId !== req.studyId);
    const otherEps = others.reduce((a, e) => a + e.epsilon, 0);
    const otherDelta = others.reduce((a, e) => a + e.delta, 0);
    if (otherDelta + req.delta > p.maxDeltaTotal) refuse(`δ over all studies would be ${fmt(otherDelta + req.delta)}; site allows ${p.maxDeltaTotal} in total`);
    const stepsDone = prior?.steps ?? 0;
    const roundsDone = prior?.rounds ?? 0;
    // The whole study as planned (rounds not yet run included) must fit, so a site never joins a
    // study it would have to abandon half way.
    const remainingRounds = Math.max(1, req.plannedRounds - roundsDone);
    const plannedEps = this.epsilon(req, stepsDone + remainingRounds * req.stepsPerRound);
    const afterEps = this.epsilon(req, stepsDone + req.stepsPerRound);
    const worst = Math.max(plannedEps, afterEps);
    if (worst > p.maxEpsilonPerStudy) {
      refuse(`study would spend ε = ${fmt(worst)} on this site's records; site allows ${p.maxEpsilonPerStudy} per study (already spent ${fmt(prior?.epsilon ?? 0)})`);
    }
    if (otherEps + worst > p.maxEpsilonTotal) {
      refuse(`ε over all studies would be ${fmt(otherEps + worst)}; site allows ${p.maxEpsilonTotal} in total (other studies spent ${fmt(otherEps)})`);
    }
    const entry: LedgerEntry = {
      studyId: req.studyId,
      epsilon: afterEps,
      delta: req.delta,
      accountant: p.accountant,
      noiseMultiplier: req.noiseMultiplier,
      samplingRate: req.samplingRate,
      steps: stepsDone + req.stepsPerRound,
      rounds: roundsDone + 1,
      updatedAt: this.now(),
    };
    return { entry, others };
  }
}
