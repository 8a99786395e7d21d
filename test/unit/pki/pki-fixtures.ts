import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/** A fixed issue time so every test reasons about the same clock. */
export const NOW = new Date('2026-03-01T12:00:00.000Z');

/** A day in milliseconds. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/** `days` after (or, negative, before) {@link NOW}. */
export function daysFromNow(days: number): Date {
  return new Date(NOW.getTime() + days * DAY_MS);
}

/** A fresh temporary directory removed after the file's tests. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `tessera-${prefix}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
