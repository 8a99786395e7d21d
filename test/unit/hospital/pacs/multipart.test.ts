import { describe, expect, it } from 'vitest';
import { InputError } from '../../../../shared/src/errors.js';
import { parseContentType, parseMultipart } from '../../../../site-agent/src/hospital/pacs/multipart.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cat = (...parts: (string | Uint8Array)[]): Uint8Array => Buffer.concat(parts.map((p) => (typeof p === 'string' ? enc(p) : p)));

describe('multipart/related (WADO-RS bodies)', () => {
  const ct = 'multipart/related; type="application/dicom"; boundary="b-1:x"';
  const binary = Uint8Array.from({ length: 300 }, (_, i) => i % 256);

  it('splits parts with CRLF, a preamble, binary bodies and a quoted boundary with a colon', () => {
    const body = cat('preamble\r\n--b-1:x\r\nContent-Type: application/dicom\r\n\r\n', binary, '\r\n--b-1:x\r\nContent-Type: application/dicom\r\n\r\nsecond\r\n--b-1:x--\r\n');
    const parts = parseMultipart(body, ct, 'test');
    expect(parts.map((p) => p.contentType)).toEqual(['application/dicom', 'application/dicom']);
    expect(Buffer.from(parts[0]?.body ?? []).equals(Buffer.from(binary))).toBe(true);
    expect(new TextDecoder().decode(parts[1]?.body)).toBe('second');
  });

  it('trusts a Content-Length over a boundary that happens to occur inside the binary data', () => {
    const tricky = cat('AB\r\n--b-1:x\r\nCD');
    const body = cat(`--b-1:x\r\nContent-Type: application/dicom\r\nContent-Length: ${tricky.length}\r\n\r\n`, tricky, '\r\n--b-1:x--');
    const parts = parseMultipart(body, ct, 'test');
    expect(parts).toHaveLength(1);
    expect(Buffer.from(parts[0]?.body ?? []).equals(Buffer.from(tricky))).toBe(true);
  });

  it('accepts LF-only line ends and an unquoted boundary', () => {
    const parts = parseMultipart(enc('--abc\nContent-Type: application/dicom\n\nxyz\n--abc--\n'), 'multipart/related; boundary=abc', 'test');
    expect(new TextDecoder().decode(parts[0]?.body)).toBe('xyz');
  });

  it('refuses a truncated body (no closing delimiter), naming the complete parts', () => {
    const whole = cat('--b-1:x\r\nContent-Type: application/dicom\r\n\r\n', binary, '\r\n--b-1:x\r\nContent-Type: application/dicom\r\n\r\n', binary, '\r\n--b-1:x--\r\n');
    const cut = whole.subarray(0, whole.length - 200);
    expect(() => parseMultipart(cut, ct, 'WADO-RS')).toThrow(/truncated \(no closing delimiter after 1 complete part/);
    expect(() => parseMultipart(whole.subarray(0, 20), ct, 'WADO-RS')).toThrow(InputError);
  });

  it('refuses a part shorter than its Content-Length, a body that is not multipart, and one with no boundary', () => {
    const short = cat('--b-1:x\r\nContent-Type: application/dicom\r\nContent-Length: 999\r\n\r\nabc\r\n--b-1:x--');
    expect(() => parseMultipart(short, ct, 'test')).toThrow(/truncated|declares 999 bytes/);
    expect(() => parseMultipart(enc('{}'), 'application/json', 'test')).toThrow(/not multipart with a boundary/);
    expect(() => parseMultipart(enc('hello'), ct, 'test')).toThrow(/no multipart boundary/);
  });

  it('parses Content-Type parameters with quotes and semicolons inside them', () => {
    const { type, params } = parseContentType('Multipart/Related; type="application/dicom; x=1"; boundary=q');
    expect(type).toBe('multipart/related');
    expect(params.get('type')).toBe('application/dicom; x=1');
    expect(params.get('boundary')).toBe('q');
  });
});
