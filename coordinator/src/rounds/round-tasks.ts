import { roundLearningRate, type StudySpec } from '../../../shared/src/study/study-spec.js';
import { strategyTrainingOverrides } from '../strategies/index.js';
import type { DpPlan, SiteTask } from './site-task.js';

/** Where one attempt at one round stands: its ids, which every task id is built from. */
export interface RoundRef {
  studyId: string;
  round: number;
  attempt: number;
}

/** The model version a round's tasks point at: its id, transfer digest and size. */
export interface ModelRef {
  version: string;
  digest: string;
  bytes: number;
}

/** Builds the tasks of one round attempt (ids, training settings, deadlines). */
export class RoundTasks {
  constructor(
    private readonly spec: StudySpec,
    readonly ref: RoundRef,
    private readonly now: () => number,
    /** What fit tasks carry for DP (see dp-plan.ts); undefined without DP. */
    private readonly dp: DpPlan | undefined,
  ) {}

  /** `<study>/r<round>/a<attempt>/<phase>/<site>`: unique per site, phase and attempt. */
  taskId(phase: string, siteId: string): string {
    return `${this.ref.studyId}/r${this.ref.round}/a${this.ref.attempt}/${phase}/${siteId}`;
  }

  /** A fit or evaluate task for `siteId` on the model version `model`. */
  make(kind: 'fit' | 'evaluate', siteId: string, model: ModelRef): SiteTask {
    const spec = this.spec;
    const overrides = strategyTrainingOverrides(spec.strategy, spec.strategyOptions);
    const timeout = kind === 'fit' ? spec.timeouts.fitMs : spec.timeouts.evaluateMs;
    return {
      taskId: this.taskId(kind, siteId),
      kind,
      studyId: spec.id,
      round: this.ref.round,
      modelVersion: model.version,
      modelDigest: model.digest,
      modelBytes: model.bytes,
      modelSpec: spec.model,
      dataset: spec.dataset,
      studyData: spec.data !== undefined ? JSON.stringify(spec.data) : '',
      training: {
        localEpochs: spec.training.localEpochs,
        batchSize: spec.training.batchSize,
        learningRate: roundLearningRate(spec.training, this.ref.round),
        optimizer: spec.training.optimizer,
        proximalMu: overrides.proximalMu,
        seed: (spec.seed + this.ref.round * 7919) >>> 0,
        ...(spec.training.fedBn === true ? { fedBn: true } : {}),
        ...(spec.training.classWeighting === 'balanced' ? { classWeighting: 'balanced' as const } : {}),
        ...(kind === 'fit' && this.dp ? { dp: this.dp } : {}),
      },
      deadlineMs: this.now() + timeout,
    };
  }
}
