import { beforeAll, describe, expect, it } from 'vitest';
import { createConsortiumCa, issueCertificate, type CaMaterial } from '../../../coordinator/src/pki/index.js';
import { defaultDegree } from '../../../shared/src/secagg/index.js';
import { config, inputsFor, now, plainSum, runSession } from '../../helpers/secagg-session.js';

// The SecAgg+ graph past the complete-graph limit: 34 sites, each with an RSA certificate of its own, which
// makes this the protocol's one slow case (the rest is in test/unit/secagg/protocol.test.ts).
describe('SecAgg protocol on a SecAgg+ cohort (in memory, real crypto)', () => {
  let ca: CaMaterial;
  beforeAll(() => {
    ca = createConsortiumCa({ name: 'C', validityDays: 365, now });
  }, 120_000);

  it('SecAgg+ on 34 sites (k-regular) with dropouts is bit-exact', () => {
    const ca40 = ca;
    const many = Array.from({ length: 34 }, (_, i) => {
      const id = `s${String(i).padStart(2, '0')}`;
      return { id, cert: issueCertificate({ ca: ca40, role: 'site', id, validityDays: 30, now }) };
    });
    const ids = many.map((s) => s.id);
    const degree = defaultDegree(34);
    const cfg = config(ids, Math.floor((degree + 1) / 2) + 1, degree);
    const inputs = inputsFor(ids, 100);
    const drops = new Map<string, 'masked-input' | 'share-keys'>([['s03', 'masked-input'], ['s11', 'masked-input'], ['s17', 'share-keys'], ['s29', 'masked-input'], ['s33', 'masked-input']]);
    const { survivors, result } = runSession(many, ca, cfg, inputs, drops);
    expect(survivors).toHaveLength(29);
    expect(Buffer.from(result().buffer).equals(Buffer.from(plainSum(inputs, survivors, 100).buffer))).toBe(true);
  }, 240_000);
});
