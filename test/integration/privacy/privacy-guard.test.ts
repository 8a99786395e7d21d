import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrivacyPolicySchema, type PrivacyPolicy } from '../../../shared/src/config/privacy-policy.js';
import { parseConfigText } from '../../../shared/src/config/validate.js';
import { epsilonFor } from '../../../shared/src/dp/accountant.js';
import { ConfigError } from '../../../shared/src/errors.js';
import { PrivacyGuard, PrivacyRefusal, type DpRequest } from '../../../site-agent/src/privacy/privacy-guard.js';
import { PrivacyLedger } from '../../../site-agent/src/privacy/privacy-ledger.js';

const policyText = `
maxEpsilonPerStudy: 1
maxDeltaPerStudy: 1.0e-5
maxEpsilonTotal: 1.5
maxDeltaTotal: 1.0e-4
minNoiseMultiplier: 1
maxRounds: 50
allowedModels: [logreg, mlp-small]
accountant: rdp
`;

// σ = 8.104 at q = 0.3, 5 steps × 10 rounds is ε ≈ 1 (PLD); under RDP slightly more, so the
// tests below pick σ from the site's own accountant.
const base: DpRequest = { studyId: 'study-a', model: 'mlp-small', noiseMultiplier: 10, clipNorm: 1, samplingRate: 0.3, stepsPerRound: 5, plannedRounds: 10, delta: 1e-5 };

let dir: string;
let ledgerFile: string;
let policy: PrivacyPolicy;
const open: PrivacyLedger[] = [];

async function guard(over: Partial<PrivacyPolicy> = {}): Promise<PrivacyGuard> {
  const ledger = await PrivacyLedger.open(ledgerFile);
  open.push(ledger);
  return PrivacyGuard.create({ ...policy, ...over }, ledger, () => 1_700_000_000_000);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-ledger-'));
  ledgerFile = path.join(dir, 'privacy-ledger.sqlite');
  policy = parseConfigText(PrivacyPolicySchema, policyText, 'privacy-policy.yaml');
});
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('site privacy policy file', () => {
  it('fills defaults and rejects unknown keys and missing limits, naming the file and field', () => {
    expect(policy.requireDp).toBe(true);
    expect(() => parseConfigText(PrivacyPolicySchema, `${policyText}\nmaxEpsilon: 3\n`, 'p.yaml')).toThrow(ConfigError);
    expect(() => parseConfigText(PrivacyPolicySchema, `${policyText}\nmaxEpsilon: 3\n`, 'p.yaml')).toThrow(/p\.yaml: unknown key 'maxEpsilon'/);
    expect(() => parseConfigText(PrivacyPolicySchema, 'maxEpsilonPerStudy: 1\n', 'p.yaml')).toThrow(/maxDeltaPerStudy/);
  });
});

describe('PrivacyGuard with a SQLite ledger', () => {
  it('charges each round before training with the site accountant and keeps the ledger across restarts', async () => {
    const g = await guard();
    const first = await g.authorize(base);
    expect(first.rounds).toBe(1);
    expect(first.steps).toBe(5);
    expect(first.epsilon).toBeCloseTo(epsilonFor('rdp', { q: 0.3, sigma: 10, steps: 5 }, 1e-5), 12);
    await g.authorize(base);
    await open.pop()?.close();

    // Restart: a new guard over the same file sees the spend and continues from it.
    const again = await guard();
    expect(again.snapshot().map((e) => [e.studyId, e.rounds])).toEqual([['study-a', 2]]);
    const third = await again.authorize(base);
    expect(third.steps).toBe(15);
    expect(third.epsilon).toBeCloseTo(epsilonFor('rdp', { q: 0.3, sigma: 10, steps: 15 }, 1e-5), 12);
  });

  it('check() runs every limit of authorize() without recording: an attempt abandoned before its masked input costs nothing', async () => {
    const g = await guard();
    const would = await g.check(base);
    expect(would.entry.rounds).toBe(1);
    await g.check(base);
    expect(g.snapshot()).toEqual([]);
    const charged = await g.authorize(base);
    expect(charged).toEqual(would.entry);
    expect(g.snapshot().map((e) => [e.studyId, e.rounds])).toEqual([['study-a', 1]]);
    await expect(g.check({ ...base, noiseMultiplier: 0.9 })).rejects.toThrow(/below the site minimum 1/);
  });

  it('refuses, naming the limit, a study whose planned total would exceed the per-study ε', async () => {
    const g = await guard();
    const ask = { ...base, noiseMultiplier: 2 };
    await expect(g.authorize(ask)).rejects.toThrow(PrivacyRefusal);
    await expect(g.authorize(ask)).rejects.toThrow(/site allows 1 per study/);
    expect(g.snapshot()).toEqual([]); // nothing charged
  });

  it('refuses when the total over studies would exceed maxEpsilonTotal', async () => {
    const g = await guard();
    for (let r = 0; r < 10; r++) await g.authorize(base); // study-a spends about 0.8
    await expect(g.authorize({ ...base, studyId: 'study-b' })).rejects.toThrow(/ε over all studies would be .*site allows 1.5 in total/);
  });

  it('refuses noise below the minimum, too many rounds, a model outside the policy, a large δ, and non-DP training', async () => {
    const g = await guard();
    await expect(g.authorize({ ...base, noiseMultiplier: 0.9 })).rejects.toThrow(/below the site minimum 1/);
    await expect(g.authorize({ ...base, plannedRounds: 51 })).rejects.toThrow(/51 rounds; site privacy policy allows 50/);
    await expect(g.authorize({ ...base, model: 'cnn-small' })).rejects.toThrow(/does not allow model 'cnn-small'/);
    await expect(g.authorize({ ...base, delta: 1e-4 })).rejects.toThrow(/δ = 0\.0001; site allows 0\.00001 per study/);
    expect(() => g.checkNonPrivate('study-a')).toThrow(/requires differential privacy/);
    const lax = await guard({ requireDp: false });
    expect(() => lax.checkNonPrivate('study-a')).not.toThrow();
  });

  it('refuses the round that would cross the per-study budget once retries have used up the plan', async () => {
    const sigma = 10;
    const g = await guard();
    let refused = 0;
    for (let r = 0; r < 20 && refused === 0; r++) {
      try {
        await g.authorize({ ...base, noiseMultiplier: sigma });
      } catch (err) {
        expect(err).toBeInstanceOf(PrivacyRefusal);
        refused = r;
      }
    }
    expect(refused).toBeGreaterThan(10);
    const spent = g.snapshot()[0]?.epsilon ?? Infinity;
    expect(spent).toBeLessThanOrEqual(1);
  });

  it('refuses a study that changes σ after it started at this site', async () => {
    const g = await guard();
    await g.authorize(base);
    await expect(g.authorize({ ...base, noiseMultiplier: 12 })).rejects.toThrow(/changed its noise multiplier/);
  });
});
