import { describe, expect, it } from 'vitest';
import { ageInYears, shiftDicomDate, shiftIsoDate } from '../../../../site-agent/src/hospital/deid/date-shift.js';
import { RESTRICTED_ZIP3, safeHarborZip3 } from '../../../../site-agent/src/hospital/deid/zip3.js';

describe('date shifting', () => {
  it.each([
    ['2021-08-22T20:26:50-07:00', -10, '2021-08-12T20:26:50-07:00'],
    ['2021-03-01', -1, '2021-02-28'],
    ['2020-03-01', -1, '2020-02-29'],
    ['2021-01-05T00:00:00Z', -5, '2020-12-31T00:00:00Z'],
    ['2021-08', -40, '2021-06'],
    ['2021', -1, '2020'],
    ['0050-01-01', -1, '0049-12-31'],
  ])('%s shifted by %d is %s', (value, days, expected) => {
    expect(shiftIsoDate(value, days)).toBe(expected);
  });

  it('rejects what is not a date', () => {
    expect(shiftIsoDate('yesterday', -1)).toBeUndefined();
    expect(shiftIsoDate('2021-13-01', -1)).toBeUndefined();
    expect(shiftIsoDate('2021-01-01 garbage', -1)).toBeUndefined();
  });

  it('shifts DICOM DA values by the same days', () => {
    expect(shiftDicomDate('20210822', -10)).toBe('20210812');
    expect(shiftDicomDate('2021-08-22', -10)).toBeUndefined();
  });

  it('computes whole years of age, never understating a partial birth date', () => {
    expect(ageInYears('1932-03-05', '2022-03-04')).toBe(89);
    expect(ageInYears('1932-03-04', '2022-03-04')).toBe(90);
    expect(ageInYears('1932', '2021-06-30')).toBe(89);
  });
});

describe('Safe Harbor ZIP3', () => {
  it('keeps three digits, or 000 for the 17 restricted areas', () => {
    expect(RESTRICTED_ZIP3.size).toBe(17);
    expect(safeHarborZip3('93291')).toBe('932');
    expect(safeHarborZip3('93291-1234')).toBe('932');
    for (const z of RESTRICTED_ZIP3) expect(safeHarborZip3(`${z}42`)).toBe('000');
    expect(safeHarborZip3('9329')).toBeUndefined();
    expect(safeHarborZip3('K1A 0B1')).toBeUndefined();
  });
});
