import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CoordinatorMessage } from '../../../protos/gen/tessera/v1/CoordinatorMessage.js';
import type { TaskResult__Output } from '../../../protos/gen/tessera/v1/TaskResult.js';
import { GrpcSiteChannel } from '../../../coordinator/src/grpc/grpc-site-channel.js';
import { fromWireResult, toWireTask } from '../../../coordinator/src/grpc/wire-convert.js';
import type { SiteTask } from '../../../coordinator/src/rounds/site-task.js';
import { SiteSessions } from '../../../coordinator/src/sessions/site-sessions.js';

const keys = { siteId: 'h2', cipherPublicKey: Buffer.alloc(32, 1), maskPublicKey: Buffer.alloc(32, 2), signature: Buffer.alloc(64, 3), certificatePem: 'PEM' };

function task(over: Partial<SiteTask> = {}): SiteTask {
  return {
    taskId: 's/r1/a1/fit/h1',
    kind: 'fit',
    studyId: 's',
    round: 1,
    modelVersion: 'a'.repeat(64),
    modelDigest: 'b'.repeat(64),
    modelBytes: 16,
    modelSpec: 'logreg',
    dataset: 'toy',
    studyData: '',
    training: { localEpochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 7 },
    deadlineMs: 1000,
    ...over,
  };
}

function wireResult(over: Partial<TaskResult__Output> = {}): TaskResult__Output {
  return { taskId: 's/r1/a1/fit/h1', studyId: 's', round: 1, kind: 'TASK_KIND_FIT', numExamples: 12, metrics: { loss: 0.5 }, updateSha256: 'c'.repeat(64), updateBytes: 16, durationMs: 3, privacy: null, secagg: null, ...over };
}

describe('wire conversion at the gRPC edge', () => {
  it('writes a fit task as the wire Task the agents read', () => {
    expect(toWireTask(task())).toEqual({
      taskId: 's/r1/a1/fit/h1',
      kind: 'TASK_KIND_FIT',
      studyId: 's',
      round: 1,
      modelVersion: 'a'.repeat(64),
      modelDigest: 'b'.repeat(64),
      modelBytes: 16,
      modelSpec: 'logreg',
      dataset: 'toy',
      // The study's data: contract as JSON ('' for a study that declares none).
      studyData: '',
      training: { localEpochs: 1, batchSize: 8, learningRate: 0.1, optimizer: 'sgd', proximalMu: 0, seed: 7 },
      deadlineMs: 1000,
    });
  });

  it('carries each SecAgg stage as before: advertise inside its parameters, the other stages with the attempt', () => {
    const params = { threshold: 2, cohort: ['h1', 'h2'], degree: 1, graphSeed: Buffer.alloc(32), clip: 8, maxWeight: 16, weightBucket: 1, attempt: 3 };
    expect(toWireTask(task({ secagg: { attempt: 3, request: { stage: 'advertise', params } } })).secagg).toEqual({ advertise: params });
    expect(toWireTask(task({ kind: 'secagg', training: null, secagg: { attempt: 3, request: { stage: 'share-keys', keys: [keys] } } }))).toMatchObject({ kind: 'TASK_KIND_SECAGG', training: null, secagg: { shareKeys: { keys: [keys] }, attempt: 3 } });
    expect(toWireTask(task({ kind: 'secagg', secagg: { attempt: 3, request: { stage: 'masked-input', shares: [{ from: 'h2', to: 'h1', ciphertext: Buffer.from([9]) }] } } })).secagg).toEqual({
      maskedInput: { shares: [{ fromSite: 'h2', toSite: 'h1', ciphertext: Buffer.from([9]) }] },
      attempt: 3,
    });
    expect(toWireTask(task({ kind: 'secagg', secagg: { attempt: 3, request: { stage: 'unmask', survivors: ['h1'], dropped: ['h2'] } } })).secagg).toEqual({ unmask: { survivors: ['h1'], dropped: ['h2'] }, attempt: 3 });
  });

  it('reads a result into the round core’s types, SecAgg replies and privacy ledger included', () => {
    const r = fromWireResult(
      wireResult({
        privacy: { studyId: 's', epsilon: 1.5, delta: 1e-5, accountant: 'pld', rounds: 2, noiseMultiplier: 1 },
        secagg: {
          keys,
          shares: { shares: [{ fromSite: 'h1', toSite: 'h2', ciphertext: Buffer.from([1]) }] },
          reveal: { selfMaskShares: [{ ownerSite: 'h1', share: Buffer.from([2]) }], maskKeyShares: [] },
        },
      }),
      'fit',
    );
    expect(r).toMatchObject({ kind: 'fit', numExamples: 12, updateSha256: 'c'.repeat(64), privacy: { epsilon: 1.5, delta: 1e-5, accountant: 'pld', rounds: 2 } });
    expect(r.secagg).toEqual({ keys, shares: [{ from: 'h1', to: 'h2', ciphertext: Buffer.from([1]) }], reveal: { selfMaskShares: [{ owner: 'h1', share: Buffer.from([2]) }], maskKeyShares: [] } });
    expect(fromWireResult(wireResult(), 'evaluate')).not.toHaveProperty('secagg');
  });
});

describe('GrpcSiteChannel over SiteSessions (no network)', () => {
  it('sends the wire task down the site stream, checks and returns the result in domain types', async () => {
    const sessions = new SiteSessions(pino({ level: 'silent' }));
    const inbox: CoordinatorMessage[] = [];
    sessions.register({ siteId: 'h1', backend: 'wasm', agentVersion: 't', connectedAt: Date.now(), lastSeen: Date.now(), send: (m) => (inbox.push(m), true), close: () => undefined });
    const channel = new GrpcSiteChannel(sessions);
    expect(channel.connectedSites()).toEqual(['h1']);
    const seen: number[] = [];
    const outcome = channel.dispatch('h1', task(), 5000, (r) => (seen.push(r.numExamples), null));
    expect(inbox[0]?.task).toEqual(toWireTask(task()));
    expect(sessions.acceptResult('h1', wireResult())).toBeNull();
    expect(await outcome).toMatchObject({ ok: true, result: { kind: 'fit', numExamples: 12, metrics: { loss: 0.5 } } });
    expect(seen).toEqual([12]);
    // A check that finds a problem makes the outcome invalid.
    const refused = channel.dispatch('h1', task({ taskId: 's/r1/a1/fit/h1#2' }), 5000, () => 'update upload is not complete');
    sessions.acceptResult('h1', wireResult({ taskId: 's/r1/a1/fit/h1#2' }));
    expect(await refused).toMatchObject({ ok: false, outcome: 'invalid', reason: 'update upload is not complete' });
  });
});
