import type { FederationClient } from '../../protos/gen/tessera/v1/Federation.js';
import type { SiteMessage } from '../../protos/gen/tessera/v1/SiteMessage.js';
import type { Task__Output } from '../../protos/gen/tessera/v1/Task.js';
import type { TaskResult } from '../../protos/gen/tessera/v1/TaskResult.js';
import type { PrivacySpend } from '../../protos/gen/tessera/v1/PrivacySpend.js';
import type { AgentConfig } from '../../shared/src/config/agent-config.js';
import type { SiteDataset } from './hospital/datasets/index.js';
import { createHash } from 'node:crypto';
import type { ReportLabeler } from './hospital/study-data/evaluate.js';
import { buildStudyDataset, parseStudyData, type StudyDataSource } from './hospital/study-data/study-source.js';
import { ConfigError, errorMessage, TesseraError } from '../../shared/src/errors.js';
import { checkStudyDataModel } from '../../shared/src/study/study-checks.js';
import { StudyDataError } from './hospital/study-data/errors.js';
import type { Logger } from '../../shared/src/logging.js';
import {
  decodeWeights,
  exchangedLayout,
  encodeWeights,
  getModelSpec,
  totalParams,
  weightLayout,
  type BackendName,
  type ModelSpec,
} from '../../shared/src/ml/index.js';
import { transferDigest } from '../../shared/src/transport/chunks.js';
import { isRetryable } from '../../shared/src/transport/grpc-errors.js';
import { scoreHistogramMetrics, VAL_EXAMPLES_KEY, VAL_PREFIX } from '../../shared/src/ml/metrics.js';
import { fetchModel, queryUpload, uploadUpdate } from './coordinator-client.js';
import { SecAggClient, type SiteIdentityPems, type SiteLevelSecAgg } from './secagg/secagg-client.js';
import { PrivacyRefusal, type PrivacyGuard } from './privacy/privacy-guard.js';
import type { LedgerEntry } from './privacy/privacy-ledger.js';
import { privatizeUpdate, type SiteLevelDp } from './privacy/site-level-update.js';
import { scoreMetrics, Trainer, type FitConfig } from './training/trainer.js';
import { fedBnStateFile, readFedBnState, writeFedBnState } from './training/fedbn-state.js';
import { balancedClassWeights } from './training/gradients.js';

export interface TaskRunnerDeps {
  client: FederationClient;
  siteId: string;
  datasets: ReadonlyMap<string, SiteDataset>;
  /** Records that study contracts (`Task.study_data`) are evaluated on, by dataset name. */
  studySources?: ReadonlyMap<string, StudyDataSource>;
  /** Labels report text for contracts whose label or cohort reads reports. */
  reportLabeler?: ReportLabeler;
  policy: AgentConfig['policy'];
  backend: BackendName;
  logger: Logger;
  /** The site's privacy policy and ε ledger; absent when the agent config has no `privacy` section. */
  privacy?: PrivacyGuard;
  /** Sends on the current control stream; false while disconnected. */
  send(message: SiteMessage): boolean;
  /** Observer of finished local training (site-side audit, tests); never called with data rows. */
  onFitDone?: (info: { taskId: string; round: number; weights: Float32Array; numExamples: number }) => void;
  /** The site's certificate, key and CA (PEM): secure aggregation signs and verifies keys with them. */
  identity: SiteIdentityPems;
  /** See `SecAggClientOptions.auditDir`. */
  secaggAuditDir?: string;
  /**
   * FedBN: the folder where each study's normalisation weights (and the last global model received) are kept
   * between tasks and across restarts (`training/fedbn-state.ts`). Without it they live in memory only.
   */
  fedBnStateDir?: string;
}

/** Thrown inside the runner when the site's own policy or data says no; becomes a TaskRefusal. */
class Refusal extends TesseraError {}

interface Done {
  result: TaskResult;
  /**
   * The update to upload. `bytes` is released (null) once the coordinator confirmed the whole upload: a task
   * re-sent after that only needs the confirmation again, and an agent must not keep one model-sized buffer
   * per cached task (16 × 4 MB at a million parameters).
   */
  /**
   * `sha256`: the update's transfer digest, undefined until the first upload computes it as it sends the
   * chunks (the result's `updateSha256` is filled in then); `chunkSha256`: its chunks' sha256, when computed
   * before a resumed upload (dropped with the bytes).
   */
  update?: { bytes: Buffer | null; sha256: Buffer | undefined; chunkSha256?: readonly Buffer[]; byteLength: number };
}

const TRANSFER_ATTEMPTS = 8;

/**
 * Runs tasks one at a time, in arrival order. Tasks are idempotent by id: a task re-sent after a
 * reconnect is answered from the cache (and its upload resumed from what the coordinator holds).
 */
export class TaskRunner {
  private queue: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<string>();
  private readonly done = new Map<string, Done>();
  private readonly trainers = new Map<string, Promise<Trainer>>();
  /** Training data of each study contract, by study, dataset and contract digest (evaluated once per study). */
  private readonly studyData = new Map<string, Promise<SiteDataset>>();
  private readonly secagg: SecAggClient;

  constructor(private readonly deps: TaskRunnerDeps) {
    this.secagg = new SecAggClient({
      siteId: deps.siteId,
      identity: deps.identity,
      policy: deps.policy.secureAggregation,
      logger: deps.logger,
      ...(deps.secaggAuditDir !== undefined ? { auditDir: deps.secaggAuditDir } : {}),
    });
  }

  submit(task: Task__Output): void {
    if (this.inFlight.has(task.taskId)) return;
    this.inFlight.add(task.taskId);
    this.queue = this.queue.then(() => this.handle(task)).finally(() => this.inFlight.delete(task.taskId));
  }

  private async handle(task: Task__Output): Promise<void> {
    const log = this.deps.logger.child({ taskId: task.taskId, round: task.round, kind: task.kind });
    try {
      let done = this.done.get(task.taskId);
      if (!done) {
        done = await this.execute(task, log);
        this.done.set(task.taskId, done);
        // Keep the cache small: only the latest few tasks can be re-sent.
        if (this.done.size > 16) this.done.delete(this.done.keys().next().value ?? '');
      }
      if (done.update) {
        const sha256 = await this.uploadWithResume(task, done.update, log);
        done.update.sha256 = sha256;
        done.result.updateSha256 = sha256.toString('hex');
        done.update.bytes = null;
        delete done.update.chunkSha256;
      }
      if (!this.deps.send({ result: done.result })) log.warn('result not sent: disconnected; will resend when the task comes again');
    } catch (err) {
      const code = err instanceof TesseraError ? err.code : 'TESSERA_AGENT_TASK_FAILED';
      const reason = errorMessage(err);
      const declined = err instanceof Refusal || err instanceof PrivacyRefusal || code.startsWith('TESSERA_STUDYDATA_');
      log.warn({ code, reason }, declined ? 'task refused by site policy or data' : 'task failed');
      this.deps.send({ refusal: { taskId: task.taskId, code, reason } });
    }
  }

  /**
   * The task's data: the named dataset as it is, or, when the task carries a study contract, that contract
   * evaluated on the named records (validated again here; the site declines an empty cohort or one class).
   */
  private dataFor(task: Task__Output): Promise<SiteDataset> {
    if (task.studyData === '') {
      const data = this.deps.datasets.get(task.dataset);
      if (!data) return Promise.reject(new Refusal('TESSERA_AGENT_NO_DATASET', `this site has no dataset '${task.dataset.slice(0, 64)}'`));
      return Promise.resolve(data);
    }
    const source = this.deps.studySources?.get(task.dataset);
    if (!source) {
      return Promise.reject(new Refusal('TESSERA_STUDYDATA_NO_SOURCE', `study ${task.studyId.slice(0, 64)} declares data:, but this site has no EMR or imaging dataset '${task.dataset.slice(0, 64)}' to evaluate it on`));
    }
    const key = `${task.studyId}\u0000${task.dataset}\u0000${createHash('sha256').update(task.studyData).digest('hex')}`;
    let built = this.studyData.get(key);
    if (!built) {
      const log = this.deps.logger.child({ studyId: task.studyId, dataset: task.dataset });
      built = (async () => {
        const contract = parseStudyData(task.studyData, task.studyId);
        const { dataset, result } = await buildStudyDataset(source, contract, task.studyId, this.deps.reportLabeler ? { reportLabeler: this.deps.reportLabeler } : {});
        // Counts of this site's own cohort, in its own log only.
        log.info({ patients: result.counts.patients, inCohort: result.counts.inCohort, rows: result.rows.length, train: dataset.train.n, val: dataset.val?.n ?? 0, test: dataset.test.n, features: dataset.train.d }, 'study data contract evaluated');
        return dataset;
      })();
      this.studyData.set(key, built);
      // A declined contract stays declined with the same reason for every task of the study: the records are
      // read once at start, so evaluating it again could not change the answer before a restart.
      built.catch(() => undefined);
    }
    return built;
  }

  private async check(task: Task__Output): Promise<{ spec: ModelSpec; data: SiteDataset }> {
    const data = await this.dataFor(task);
    let spec: ModelSpec;
    try {
      spec = getModelSpec(task.modelSpec);
    } catch {
      throw new Refusal('TESSERA_AGENT_MODEL_NOT_VETTED', `model '${task.modelSpec.slice(0, 64)}' is not in the vetted registry`);
    }
    const allowed = this.deps.policy.allowedModels;
    if (allowed.length > 0 && !allowed.includes(spec.name)) {
      throw new Refusal('TESSERA_AGENT_MODEL_NOT_ALLOWED', `site policy does not allow model '${spec.name}'`);
    }
    if (task.studyData !== '') {
      // The contract's EMR features need a place in the model (an image model's feature input); refused here, not mid-fit.
      try {
        checkStudyDataModel(parseStudyData(task.studyData, task.studyId), spec, data.train.d, `study ${task.studyId.slice(0, 64)}`);
      } catch (err) {
        if (err instanceof ConfigError) throw new StudyDataError('TESSERA_STUDYDATA_MODEL', err.message, err.context, { cause: err });
        throw err;
      }
    }
    // Under FedBN the task's model leaves out the batch-normalisation weights this site keeps for itself.
    const params = totalParams(exchangedLayout(weightLayout(spec, data.train.d), task.training?.fedBn === true));
    if (params > this.deps.policy.maxParams) throw new Refusal('TESSERA_AGENT_MODEL_TOO_LARGE', `model has ${params} parameters; policy allows ${this.deps.policy.maxParams}`);
    if (task.modelBytes !== params * 4) {
      throw new Refusal('TESSERA_AGENT_SHAPE_MISMATCH', `model '${spec.name}' on ${data.train.d} local features has ${params * 4} bytes, the task says ${task.modelBytes}`);
    }
    const epochs = task.training?.localEpochs ?? 1;
    if (epochs > this.deps.policy.maxLocalEpochs) throw new Refusal('TESSERA_AGENT_POLICY', `task asks ${epochs} local epochs; policy allows ${this.deps.policy.maxLocalEpochs}`);
    return { spec, data };
  }

  /**
   * The task's class weighting as this site's weights (from its own training labels, which never leave it).
   * @throws Refusal for an unknown weighting, a head that is not binary, or weighting under DP-SGD.
   */
  private classWeights(weighting: string, trainer: Trainer, y: Float32Array, dp: boolean): Pick<FitConfig, 'classWeights'> {
    if (weighting === '' || weighting === 'none') return {};
    if (weighting !== 'balanced') throw new Refusal('TESSERA_AGENT_POLICY', `unknown class weighting '${weighting.slice(0, 32)}'`);
    if (trainer.head.kind !== 'binary' || dp) throw new Refusal('TESSERA_AGENT_POLICY', 'class weighting applies to binary heads without DP-SGD only');
    return { classWeights: balancedClassWeights(y) };
  }

  /** One trainer per model and input size (and study, under FedBN: the trainer holds the site's normalisation weights). */
  private trainer(spec: ModelSpec, inputDim: number, fedBnStudy: string | undefined): Promise<Trainer> {
    // A FedBN trainer's normalisation weights belong to one study: key it by the study too.
    const fedBn = fedBnStudy !== undefined;
    const key = `${spec.name}/${inputDim}${fedBn ? `/fedbn/${fedBnStudy}` : ''}`;
    let t = this.trainers.get(key);
    if (!t) {
      t = Trainer.create({ spec, inputDim, prefer: this.deps.backend, logger: this.deps.logger, fedBn }).then(async (trainer) => {
        if (fedBnStudy !== undefined) await this.restoreFedBn(trainer, fedBnStudy);
        return trainer;
      });
      this.trainers.set(key, t);
    }
    return t;
  }

  /** FedBN: puts back the normalisation weights this site saved for the study before a restart, when they fit. */
  private async restoreFedBn(trainer: Trainer, studyId: string): Promise<void> {
    const dir = this.deps.fedBnStateDir;
    if (dir === undefined) return;
    const log = this.deps.logger.child({ studyId });
    const file = fedBnStateFile(dir, studyId);
    try {
      const state = await readFedBnState(file, studyId);
      if (state === undefined) return;
      if (state.model !== trainer.spec.name || state.inputDim !== trainer.inputDim) {
        log.warn({ model: state.model, inputDim: state.inputDim }, 'FedBN state saved for another model or input size: normalisation starts afresh');
        return;
      }
      trainer.restoreLocalWeights(state.local);
      log.info({ round: state.round, values: state.local.length, sha256: digestOf(state.local) }, 'FedBN normalisation weights restored from the state folder');
    } catch (err) {
      // A damaged file is not trusted; the study's normalisation starts afresh and the file is rewritten after the next fit.
      log.warn({ code: err instanceof TesseraError ? err.code : undefined, reason: errorMessage(err) }, 'FedBN state not usable: normalisation starts afresh');
    }
  }

  /** FedBN: saves the study's normalisation weights and the global model this task used (atomic, 0600). */
  private async saveFedBn(trainer: Trainer, task: Task__Output, global: Float32Array, log: Logger): Promise<void> {
    const dir = this.deps.fedBnStateDir;
    if (dir === undefined || !trainer.fedBn) return;
    const local = trainer.localWeights();
    const file = fedBnStateFile(dir, task.studyId);
    try {
      await this.writeFedBn(file, trainer, task, global, local);
    } catch (err) {
      // The task goes on with the weights in memory; only a restart would lose them, as before the state folder.
      log.error({ code: (err as NodeJS.ErrnoException).code, reason: errorMessage(err), dir }, 'FedBN state not saved (is fedBnState writable?): this site\'s normalisation lives in memory only');
      return;
    }
    log.debug({ values: local.length, sha256: digestOf(local) }, 'FedBN normalisation weights saved');
  }

  private writeFedBn(file: string, trainer: Trainer, task: Task__Output, global: Float32Array, local: Float32Array): Promise<void> {
    return writeFedBnState(file, {
      siteId: this.deps.siteId,
      studyId: task.studyId,
      model: trainer.spec.name,
      inputDim: trainer.inputDim,
      round: task.round,
      savedAt: new Date().toISOString(),
      local,
      global: { version: task.modelVersion, round: task.round, weights: global },
    });
  }

  private async execute(task: Task__Output, log: Logger): Promise<Done> {
    const started = Date.now();
    if (task.kind === 'TASK_KIND_SECAGG') return this.secaggStage(task, started);
    const { spec, data } = await this.check(task);
    const modelBytes = await this.fetchWithResume(task.modelVersion, task.modelDigest, log);
    const fetchMs = Date.now() - started;
    const global = decodeWeights(modelBytes, modelBytes.byteLength / 4);
    const trainer = await this.trainer(spec, data.train.d, task.training?.fedBn === true ? task.studyId : undefined);
    const base = { taskId: task.taskId, studyId: task.studyId, round: task.round, kind: task.kind };
    if (task.kind === 'TASK_KIND_EVALUATE' && trainer.head.kind !== 'binary') {
      // Multi-class and multi-label heads: macro and per-class AUC (and balanced accuracy), no pooled histograms.
      const ev = trainer.evaluate(global, data.test);
      const finite = (key: string, v: number | undefined): Record<string, number> => (v !== undefined && Number.isFinite(v) ? { [key]: v } : {});
      const metrics: Record<string, number> = { loss: ev.loss, accuracy: ev.accuracy, ...finite('auc', ev.auc), ...finite('balancedAccuracy', ev.balancedAccuracy) };
      (ev.perClassAuc ?? []).forEach((a, c) => Object.assign(metrics, finite(`auc.class.${c}`, a)));
      await this.saveFedBn(trainer, task, global, log);
      log.info({ loss: ev.loss, accuracy: ev.accuracy, auc: ev.auc, examples: ev.numExamples, head: trainer.head.kind }, 'evaluated global model on held-out split');
      return { result: { ...base, numExamples: ev.numExamples, metrics, durationMs: Date.now() - started } };
    }
    if (task.kind === 'TASK_KIND_EVALUATE') {
      const scores = trainer.predict(global, data.test);
      const ev = scoreMetrics(scores, data.test.y);
      log.info({ loss: ev.loss, accuracy: ev.accuracy, auc: ev.auc, examples: ev.numExamples }, 'evaluated global model on held-out split');
      // AUC only where both classes are present; the per-class score histograms let the coordinator
      // compute the pooled AUC over all sites (counts per bin, never a score or a row).
      const metrics = { loss: ev.loss, accuracy: ev.accuracy, ...(Number.isFinite(ev.auc) ? { auc: ev.auc } : {}), ...scoreHistogramMetrics(scores, data.test.y) };
      // The validation split (when the dataset has one) reports its own histograms under `val.`, so the
      // coordinator can pick a round by validation AUC without looking at the test split.
      if (data.val !== undefined && data.val.n > 0) {
        Object.assign(metrics, scoreHistogramMetrics(trainer.predict(global, data.val), data.val.y, VAL_PREFIX), { [VAL_EXAMPLES_KEY]: data.val.n });
      }
      await this.saveFedBn(trainer, task, global, log);
      return {
        result: { ...base, numExamples: ev.numExamples, metrics, durationMs: Date.now() - started },
      };
    }
    if (task.kind !== 'TASK_KIND_FIT') throw new Refusal('TESSERA_AGENT_UNKNOWN_TASK', `unknown task kind ${String(task.kind)}`);
    const t = task.training;
    const cfg: FitConfig = {
      epochs: t?.localEpochs ?? 1,
      batchSize: t?.batchSize ?? 32,
      learningRate: t?.learningRate ?? 0.05,
      optimizer: t?.optimizer === 'adam' ? 'adam' : 'sgd',
      proximalMu: t?.proximalMu ?? 0,
      seed: Number(t?.seed ?? 0) >>> 0,
      ...this.classWeights(t?.classWeighting ?? '', trainer, data.train.y, t?.dp?.mode === 'record'),
    };
    const advertise = task.secagg?.advertise;
    // Refuse a round this site's secure-aggregation policy rejects before training or spending ε on it.
    if (advertise) this.secagg.precheck({ studyId: task.studyId, round: task.round, attempt: advertise.attempt }, advertise);
    let spend: LedgerEntry | undefined;
    let siteLevel: SiteLevelDp | undefined;
    let siteLevelSecure: SiteLevelSecAgg | undefined;
    let charge: (() => Promise<PrivacySpend>) | undefined;
    const dp = t?.dp;
    if (dp) {
      if (dp.mode !== 'record' && dp.mode !== 'site') throw new Refusal('TESSERA_AGENT_POLICY', `unknown privacy mode '${dp.mode.slice(0, 32)}'`);
      const finite = [dp.noiseMultiplier, dp.clipNorm, dp.samplingRate, dp.delta, dp.quantizationScale].every(Number.isFinite);
      const recordOk = dp.mode !== 'record' || (dp.samplingRate > 0 && dp.samplingRate <= 1 && dp.stepsPerRound >= 1);
      const siteOk = dp.mode !== 'site' || (dp.noiseShares >= 1 && dp.quantizationScale > 0);
      if (!finite || !(dp.clipNorm > 0) || !(dp.delta > 0 && dp.delta < 1) || dp.plannedRounds < 1 || !recordOk || !siteOk) {
        throw new Refusal('TESSERA_AGENT_POLICY', 'DP settings out of range (noise, clip norm, sampling rate, δ, steps, rounds, shares or scale)');
      }
      // Site level: one Gaussian release of the update per round. Without secure aggregation the
      // coordinator sees this site's update with only its share of the noise, and the site accounts so;
      // the site believes what the task *does* (a secure-aggregation stage), not what it claims.
      const secure = task.secagg?.advertise != null;
      if (dp.mode === 'site' && dp.secureAggregation !== secure) {
        throw new Refusal('TESSERA_AGENT_POLICY', `site-level DP task says secure aggregation is ${dp.secureAggregation ? 'on' : 'off'} but the task ${secure ? 'runs' : 'does not run'} it`);
      }
      if (dp.mode === 'site' && secure && !(dp.countNoise >= 0 && Number.isFinite(dp.countNoise))) throw new Refusal('TESSERA_AGENT_POLICY', 'DP count noise out of range');
      if (dp.mode === 'site' && !secure && dp.countNoise > 0) throw new Refusal('TESSERA_AGENT_POLICY', 'adaptive clipping needs secure aggregation');
      const zEff = dp.mode === 'site' && !secure ? dp.noiseMultiplier / Math.sqrt(dp.noiseShares) : dp.noiseMultiplier;
      const guard = this.deps.privacy;
      if (guard) {
        const request = {
          studyId: task.studyId,
          model: spec.name,
          noiseMultiplier: zEff,
          clipNorm: dp.clipNorm,
          samplingRate: dp.mode === 'site' ? 1 : dp.samplingRate,
          stepsPerRound: dp.mode === 'site' ? 1 : dp.stepsPerRound,
          plannedRounds: dp.plannedRounds,
          delta: dp.delta,
        };
        const charged = (entry: LedgerEntry): LedgerEntry => {
          log.info({ mode: dp.mode, epsilonSpent: entry.epsilon, delta: entry.delta, accountant: entry.accountant, rounds: entry.rounds }, 'privacy budget charged');
          return entry;
        };
        if (secure) {
          // Nothing derived from the records leaves before the masked input: check now, charge then
          // (so an attempt abandoned before that stage costs no ε; a crash after it can only over-count).
          await guard.check(request);
          charge = async () => toPrivacySpend(charged(await guard.authorize(request)));
        } else {
          spend = charged(await guard.authorize(request));
        }
      }
      if (dp.mode === 'record') cfg.dp = { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, samplingRate: dp.samplingRate, steps: dp.stepsPerRound };
      else if (secure) siteLevelSecure = { clip: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, noiseShares: dp.noiseShares, scale: dp.quantizationScale, ...(dp.countNoise > 0 ? { countNoise: dp.countNoise } : {}) };
      else siteLevel = { clipNorm: dp.clipNorm, noiseMultiplier: dp.noiseMultiplier, noiseShares: dp.noiseShares, quantizationScale: dp.quantizationScale };
    } else {
      this.deps.privacy?.checkNonPrivate(task.studyId);
    }
    const trainStarted = Date.now();
    const fit = await trainer.fit(global, data.train, cfg);
    const trainMs = Date.now() - trainStarted;
    // Before anything leaves: a restart from here on carries on with the normalisation this fit produced.
    await this.saveFedBn(trainer, task, global, log);
    if (siteLevel) {
      const p = privatizeUpdate(global, fit.weights, siteLevel);
      fit.weights = p.weights;
      log.info({ sigmaPerSite: Number(p.sigmaPerSite.toPrecision(4)) }, 'site-level DP: update clipped, quantised and noised');
    }
    this.deps.onFitDone?.({ taskId: task.taskId, round: task.round, weights: fit.weights, numExamples: fit.numExamples });
    if (advertise) {
      // Secure aggregation: nothing is uploaded now; the quantized update waits, in memory, to be masked.
      const ctx = { studyId: task.studyId, round: task.round, attempt: advertise.attempt };
      const secagg = this.secagg.advertise(ctx, advertise, global, fit.weights, fit.numExamples, siteLevelSecure, charge);
      log.info({ loss: fit.metrics.loss, accuracy: fit.metrics.accuracy, ms: Date.now() - started, fetchMs, trainMs }, 'local training done (secure aggregation)');
      // num_examples stays 0: the example count is aggregated under the masks, never sent in the clear.
      // Under DP the train-set metrics would be a non-private function of the records: not sent. Otherwise they
      // are sent only where the site's policy says so (they are per-site facts the masked sum hides).
      const shareMetrics = !dp && this.deps.policy.secureAggregation.shareTrainMetrics;
      return {
        result: {
          ...base,
          numExamples: 0,
          metrics: shareMetrics ? { loss: fit.metrics.loss, accuracy: fit.metrics.accuracy } : {},
          secagg,
          durationMs: Date.now() - started,
        },
      };
    }
    this.secagg.checkPlaintextAllowed();
    const bytes = encodeWeights(fit.weights);
    log.info({ examples: fit.numExamples, loss: fit.metrics.loss, accuracy: fit.metrics.accuracy, ms: Date.now() - started, fetchMs, trainMs }, 'local training done');
    return {
      result: {
        ...base,
        numExamples: fit.numExamples,
        // Under DP the train-set metrics would be a non-private function of the records: not sent.
        metrics: dp ? {} : { loss: fit.metrics.loss, accuracy: fit.metrics.accuracy },
        // updateSha256: filled in by the upload, which computes the transfer digest as it sends.
        updateBytes: bytes.byteLength,
        durationMs: Date.now() - started,
        ...(spend ? { privacy: toPrivacySpend(spend) } : {}),
      },
      update: { bytes, sha256: undefined, byteLength: bytes.byteLength },
    };
  }

  /** Stages 2–4 of secure aggregation; the masked input is uploaded like a plain update. */
  private async secaggStage(task: Task__Output, started: number): Promise<Done> {
    if (!task.secagg) throw new Refusal('TESSERA_SECAGG_STAGE', 'secure-aggregation task carries no stage');
    const ctx = { studyId: task.studyId, round: task.round, attempt: task.secagg.attempt };
    const { result, upload, privacy } = await this.secagg.stage(ctx, task.secagg);
    const base = { taskId: task.taskId, studyId: task.studyId, round: task.round, kind: task.kind, numExamples: 0, metrics: {}, secagg: result, ...(privacy ? { privacy } : {}) };
    if (!upload) return { result: { ...base, durationMs: Date.now() - started } };
    return {
      result: { ...base, updateBytes: upload.byteLength, durationMs: Date.now() - started },
      update: { bytes: upload, sha256: undefined, byteLength: upload.byteLength },
    };
  }

  private async retrying<T>(what: string, log: Logger, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (attempt + 1 >= TRANSFER_ATTEMPTS || (typeof code === 'number' && !isRetryable(code))) throw err;
        const delay = Math.min(5000, 200 * 2 ** attempt);
        log.info({ what, attempt, delayMs: delay, reason: errorMessage(err) }, 'transfer interrupted; resuming');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private fetchWithResume(modelVersion: string, modelDigest: string, log: Logger): Promise<Buffer> {
    const progress = { buffer: null as Buffer | null, received: 0 };
    return this.retrying('model download', log, () => fetchModel(this.deps.client, modelVersion, modelDigest, progress));
  }

  /**
   * Uploads the update, resuming from what the coordinator holds after an interruption; resolves with the
   * update's transfer digest. The first attempt sends the digest last (computed from the chunks as they go
   * out); a retry computes it first, since a resume is matched by it.
   */
  private async uploadWithResume(task: Task__Output, update: NonNullable<Done['update']>, log: Logger): Promise<Buffer> {
    const bytes = update.bytes;
    const header = { taskId: task.taskId, studyId: task.studyId, round: task.round, siteId: this.deps.siteId };
    if (bytes === null) {
      const sha256 = update.sha256;
      if (sha256 === undefined) throw new TesseraError('TESSERA_AGENT_TASK_FAILED', 'update released before its upload finished');
      const offset = await this.retrying('upload check', log, () => queryUpload(this.deps.client, task.taskId, sha256));
      if (offset !== update.byteLength) throw new TesseraError('TESSERA_AGENT_TASK_FAILED', 'the coordinator no longer holds this update, which it had confirmed; the site released it');
      return sha256;
    }
    if (update.sha256 === undefined) {
      try {
        const receipt = await uploadUpdate(this.deps.client, { ...header, bytes, offset: 0 });
        if (receipt.complete) return receipt.sha256;
        log.info({ receivedBytes: receipt.receivedBytes }, 'upload not confirmed complete; resuming');
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number' && !isRetryable(code)) throw err;
        log.info({ what: 'update upload', reason: errorMessage(err) }, 'transfer interrupted; resuming');
      }
      const { digest, chunkSha256 } = transferDigest(bytes);
      update.sha256 = digest;
      update.chunkSha256 = chunkSha256;
    }
    const sha256 = update.sha256;
    await this.retrying('update upload', log, async () => {
      const offset = await queryUpload(this.deps.client, task.taskId, sha256);
      if (offset === update.byteLength) return;
      const receipt = await uploadUpdate(this.deps.client, {
        ...header,
        bytes,
        sha256,
        ...(update.chunkSha256 ? { chunkSha256: update.chunkSha256 } : {}),
        offset,
      });
      if (!receipt.complete) throw new Error(`upload incomplete at ${receipt.receivedBytes} bytes`);
    });
    return sha256;
  }
}

/** A ledger entry as the wire's `PrivacySpend`. */
export function toPrivacySpend(e: LedgerEntry): { studyId: string; epsilon: number; delta: number; accountant: string; rounds: number; noiseMultiplier: number } {
  return { studyId: e.studyId, epsilon: e.epsilon, delta: e.delta, accountant: e.accountant, rounds: e.rounds, noiseMultiplier: e.noiseMultiplier };
}

/** sha256 of a weight vector's bytes (log lines name weights by digest, never by value). */
function digestOf(w: Float32Array): string {
  return createHash('sha256').update(encodeWeights(w)).digest('hex');
}
