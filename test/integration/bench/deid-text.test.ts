import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEV_MAX_PATIENT, UNSEEN_MIN_PATIENT, loadPhysionetDeid, scoreNotes } from '../../../bench/deid-text.js';
import { TextScrubber } from '../../../site-agent/src/hospital/deid/text-scrubber.js';
import { sharedDataDir } from '../../../cli/src/public-data.js';

// Smoke test of the deid-text benchmark: corpus loading and the score shapes. The figures themselves are
// measured by `npm run bench -- deid-text` and reported in docs/explanation/safe-harbor.md.
describe('deid-text benchmark', () => {
  const notes = loadPhysionetDeid(path.join(sharedDataDir(), 'deid-text', 'physionet-deid-1.1'));

  it('loads the 2,434 notes and 1,779 gold PHI spans with offsets that land on the PHI text', () => {
    expect(notes).toHaveLength(2434);
    expect(notes.reduce((a, n) => a + n.gold.length, 0)).toBe(1779);
    const first = notes.find((n) => n.patient === 1 && n.note === 1)!;
    expect(first.gold.map((g) => first.text.slice(g.start, g.end))).toEqual(['CALVERT', 'CALVERT', '1992', '7/22', 'CALVERT', '7/23', 'CALVERT', 'GH']);
    expect(notes.some((n) => n.patient > DEV_MAX_PATIENT)).toBe(true);
    // The unseen part lies inside the held-out half and holds notes with PHI.
    expect(UNSEEN_MIN_PATIENT).toBeGreaterThan(DEV_MAX_PATIENT);
    expect(notes.filter((n) => n.patient >= UNSEEN_MIN_PATIENT).reduce((a, n) => a + n.gold.length, 0)).toBeGreaterThan(100);
  });

  it('scores a sample with ratios in [0, 1] and a recall per PHI type', () => {
    const sample = notes.slice(0, 150);
    const scores = scoreNotes(new TextScrubber(), sample, 'dev');
    expect(scores.notes).toBe(150);
    for (const v of [scores.instanceRecall, scores.instancePrecision, scores.tokenRecall, scores.tokenPrecision]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(Object.keys(scores.recallByType)).toContain('Date');
    // Dates are pattern-matched: on any sample the scrubber finds most of them.
    expect(scores.recallByType['Date']).toBeGreaterThan(0.8);
  });

  it('scores an empty scrubber at zero recall', () => {
    const sample = notes.slice(0, 50).map((n) => ({ ...n }));
    const nothing = { find: () => [] } as unknown as TextScrubber;
    const scores = scoreNotes(nothing, sample, 'dev');
    expect(scores.instanceRecall).toBe(sample.some((n) => n.gold.length > 0) ? 0 : 1);
    expect(scores.tokenRecall).toBe(0);
  });
});
