import { describe, expect, it } from 'vitest';
import { peerAddress, RefusalAggregator } from '../../../coordinator/src/audit/refusal-aggregator.js';
import type { AuditEntryInput } from '../../../shared/src/audit/index.js';

function refusal(peer: string, code = 'TESSERA_IDENTITY_SITE_MISMATCH') {
  return { source: 'grpc' as const, peer, code, entry: { actor: 'site:site-1', kind: 'site.refused', siteId: 'site-1', details: { code } } };
}

describe('RefusalAggregator', () => {
  it('appends the first refusal per peer and code at once and one count per window, whatever the flood', () => {
    // Arrange
    const out: AuditEntryInput[] = [];
    let t = 1_000;
    const agg = new RefusalAggregator((e) => out.push(e), { now: () => t, windowMs: 60_000 });

    // Act
    for (let i = 0; i < 10_000; i++) {
      t++;
      agg.record(refusal('10.0.0.1'));
    }
    agg.record(refusal('10.0.0.2'));
    const immediate = out.length;
    agg.flush();
    agg.flush();
    agg.close();

    // Assert
    expect(immediate).toBe(2);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({ kind: 'site.refused', actor: 'site:site-1', details: { peer: '10.0.0.1', source: 'grpc', code: 'TESSERA_IDENTITY_SITE_MISMATCH' } });
    expect(out[2]).toMatchObject({ kind: 'site.refused', details: { aggregate: true, suppressed: 9_999, peer: '10.0.0.1', firstAt: new Date(1_001).toISOString(), lastAt: new Date(11_000).toISOString() } });
  });

  it('bounds the distinct keys of a window: peers beyond maxKeys count under *', () => {
    const out: AuditEntryInput[] = [];
    const agg = new RefusalAggregator((e) => out.push(e), { maxKeys: 4 });
    for (let i = 0; i < 1_000; i++) agg.record(refusal(`10.0.${i >> 8}.${i & 255}`));
    agg.close();
    // 4 peers by name, one '*' bucket taking the other 996 (its first at once, the rest as a count).
    expect(out).toHaveLength(6);
    expect(out.filter((e) => e.details?.['peer'] === '*').map((e) => e.details?.['suppressed'] ?? 0)).toEqual([0, 995]);
  });

  it('strips the port from grpc-js and socket peers', () => {
    expect(peerAddress('ipv4:127.0.0.1:53412')).toBe('127.0.0.1');
    expect(peerAddress('127.0.0.1:53412')).toBe('127.0.0.1');
    expect(peerAddress('ipv6:[::1]:53412')).toBe('::1');
    expect(peerAddress('no-port')).toBe('no-port');
  });
});
