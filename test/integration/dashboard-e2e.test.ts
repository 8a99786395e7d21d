import { existsSync, mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStudy } from '../helpers/federation-fixture.js';
import { type RestFederation, startRestFederation } from '../helpers/rest-fixture.js';

// Debian's chromium (installed by .ci/run); TESSERA_CHROMIUM points elsewhere. Without a browser the test is
// skipped with the reason, never faked.
const CHROMIUM = [process.env['TESSERA_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p !== undefined && p !== '' && existsSync(p));
if (CHROMIUM === undefined) console.warn('dashboard e2e skipped: no chromium (apt-get install chromium, or set TESSERA_CHROMIUM)');

describe.skipIf(CHROMIUM === undefined)('dashboard end to end in headless Chromium', () => {
  let fed: RestFederation;
  let browser: Browser;
  let url = '';

  beforeAll(async () => {
    fed = await startRestFederation({ sites: 2 });
    await fed.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = fed.app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    await fed.startAgent(0);
    await fed.startAgent(1);
    const inputDim = fed.agents[0]!.datasets.get('synthetic-cohort')!.train.d;
    const created = await fed.app.inject({ method: 'POST', url: '/api/v1/studies', headers: fed.auth('olga'), payload: makeStudy({ inputDim, id: 'e2e-study', name: 'dashboard e2e', rounds: 3, secureAggregation: false /* two sites: below the secure minimum of three */ }) });
    expect(created.statusCode).toBe(201);
    browser = await chromium.launch({ executablePath: CHROMIUM ?? '', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    await fed?.close();
  });

  it('signs in, starts a study, watches it complete live, shows the curves and the verified audit ledger', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${url}/`);

    // A wrong token is refused and explained.
    await page.fill('#signin-token', 'not-a-real-token-0123456789');
    await page.click('#signin-button');
    await page.waitForSelector('#signin-error:not(:empty)');
    expect(await page.textContent('#signin-error')).toContain('unknown or revoked token');
    pageErrors.length = 0; // the 401 above logs a console error by design

    await page.fill('#signin-token', fed.tokens['olga']!);
    await page.click('#signin-button');
    await page.waitForSelector('#app:not([hidden])');
    expect(await page.textContent('#who')).toContain('olga · operator');
    await page.waitForSelector('#live.on');
    await page.waitForSelector('tr[data-study="e2e-study"][data-status="created"]');

    await page.click('button[data-action="start"][data-study="e2e-study"]');
    // Live progress arrives over SSE while it runs; then the study completes.
    await page.locator('#events li', { hasText: /round 1 committed/ }).first().waitFor({ timeout: 180_000 });
    await page.waitForSelector('#study-status[data-status="completed"]', { timeout: 180_000 });

    // Curves: one point per committed round, drawn by uPlot on a canvas.
    await page.waitForSelector('#chart-loss[data-points="3"] canvas');
    await page.waitForSelector('#chart-accuracy[data-points="3"] canvas');
    const lastLoss = Number(await page.getAttribute('#chart-loss', 'data-last'));
    const stored = (await fed.coordinator.store.listRounds('e2e-study')).filter((r) => r.status === 'committed');
    expect(lastLoss).toBeCloseTo(stored.at(-1)!.metrics!.loss, 6);
    expect(await page.locator('#rounds tbody tr').count()).toBe(3);
    expect(await page.textContent('#progress-text')).toContain('3 of 3 rounds');

    // Sites and privacy budgets.
    expect(await page.locator('#sites tbody tr').count()).toBe(2);
    expect(await page.locator('#budgets tbody tr[data-site="site-1"]').count()).toBe(1);

    // Audit viewer: verification result and the study's entries.
    await page.waitForSelector('#audit-verify[data-ok="true"]');
    expect(await page.textContent('#audit-verify')).toMatch(/verified: \d+ entries/);
    await page.fill('#audit-study', 'e2e-study');
    await page.click('#audit-filter button[type="submit"]');
    await page.waitForSelector('#audit tbody tr[data-kind="model.committed"]');
    expect(await page.locator('#audit tbody tr[data-kind="model.committed"]').count()).toBe(3);
    expect(await page.locator('#audit tbody tr[data-kind="study.created"]').count()).toBe(1);

    // The operator is named for what they asked; the rounds are the coordinator's.
    const entries = (await fed.coordinator.audit.list({ studyId: 'e2e-study' }, { limit: 1000 })).entries;
    expect(entries.find((e) => e.kind === 'study.status' && e.details['requested'] === 'start')?.actor).toBe('operator:olga');
    expect(new Set(entries.filter((e) => e.kind === 'model.committed').map((e) => e.actor))).toEqual(new Set(['coordinator:coordinator']));

    const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-dashboard-'));
    const shot = path.join(dir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    console.log(`dashboard screenshot: ${shot}`);
    expect(pageErrors).toEqual([]);
  });

  it('shows a site-admin only its own site and no audit viewer', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await page.fill('#signin-token', fed.tokens['sam']!);
    await page.click('#signin-button');
    await page.waitForSelector('#app:not([hidden])');
    await page.waitForSelector('#sites tbody tr');
    const rows = page.locator('#sites tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-site')).toBe('site-1');
    expect(await page.isHidden('#audit-card')).toBe(true);
    expect(await page.locator('button[data-action]').count()).toBe(0);
  });
});
