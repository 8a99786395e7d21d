import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelRepository } from '../../../coordinator/src/store/blob-store.js';
import { SqliteCoordinatorStore } from '../../../coordinator/src/store/sqlite-store.js';
import { errorMessage, InputError, TesseraError } from '../../../shared/src/errors.js';
import { exportTfjsModel } from '../../../shared/src/ml/export-tfjs.js';
import { getModelSpec } from '../../../shared/src/ml/model-registry.js';
import { decodeWeights, mergeExchanged, weightLayout } from '../../../shared/src/ml/weights.js';
import { fedBnStateFile, readFedBnState, type FedBnSiteState } from '../../../site-agent/src/training/fedbn-state.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE =
  'usage: tessera export-model --data-dir DIR --study ID [--round N | --version SHA256] [--site-state DIR] --out DIR [--json]\n' +
  '       tessera export-model --site-state DIR --study ID --out DIR [--json]\n' +
  '  --data-dir   the coordinator\'s dataDir (coordinator.yaml; in a demo workdir: coordinator-data)\n' +
  '  --round N    the version committed by round N (default: the study\'s current model)\n' +
  '  --version    a model version id (sha256) of the study\n' +
  '  --site-state a site\'s FedBN state folder (agent.yaml fedBnState, default <kit>/fedbn): a FedBN study\'s\n' +
  '               global model has no batch normalisation; this adds that site\'s own. Without --data-dir\n' +
  '               the global model is the last one the site received (what a site exports on its own)\n' +
  '  --out DIR    writes model.json + weights.bin (TensorFlow.js layers format) and provenance.json';

/** What `export-model` wrote, also printed with `--json`. */
export interface ExportModelReport {
  studyId: string;
  round: number;
  modelVersion: string;
  model: string;
  inputDim: number;
  modelJson: { path: string; sha256: string };
  weightsBin: { path: string; sha256: string };
  /**
   * Whose batch normalisation the model carries: the global model's own (`global`; also for models without
   * batch normalisation), or, for a FedBN study, one site's (`site`: which site, saved after which round).
   */
  normalisation: { source: 'global' } | { source: 'site'; siteId: string; savedAfterRound: number };
  exportedAt: string;
}

/** The global weights to export and where they came from. */
interface Chosen {
  studyId: string;
  round: number;
  version: string;
  model: string;
  inputDim: number;
  fedBn: boolean;
  weights: Float32Array;
}

/**
 * `tessera export-model`: a global model version in the TensorFlow.js layers format (`tf.loadLayersModel`
 * reads it), with `provenance.json` naming the study, round and the version's sha256. The version file
 * is verified against its sha256 before export. Exit codes: 0 ok, 2 usage, 4 study/version/data-dir not
 * found, 1 anything else.
 */
export async function exportModelCommand(argv: string[], io: CommandIo = processIo): Promise<number> {
  const values = parseCommandArgs(
    {
      args: argv,
      options: {
        'data-dir': { type: 'string' },
        study: { type: 'string' },
        round: { type: 'string' },
        version: { type: 'string' },
        out: { type: 'string' },
        'site-state': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    },
    USAGE,
    io,
  );
  if (typeof values === 'number') return values;
  const dataDir = values['data-dir'];
  const siteState = values['site-state'];
  const { study: studyId, out } = values;
  if ((dataDir === undefined && siteState === undefined) || studyId === undefined || out === undefined || (values.round !== undefined && values.version !== undefined)) {
    return usageError(io, '--study, --out and --data-dir or --site-state are required; --round and --version exclude each other', USAGE);
  }
  if (dataDir === undefined && (values.round !== undefined || values.version !== undefined)) {
    return usageError(io, '--round and --version choose among the coordinator\'s versions: they need --data-dir', USAGE);
  }
  const round = values.round === undefined ? undefined : Number(values.round);
  if (round !== undefined && (!Number.isSafeInteger(round) || round < 0)) {
    return usageError(io, '--round must be a non-negative integer', USAGE);
  }
  try {
    const state = siteState !== undefined ? await readSiteState(path.resolve(siteState), studyId) : undefined;
    const chosen = dataDir !== undefined ? await fromCoordinator(dataDir, studyId, round, values.version, io) : fromSite(state as FedBnSiteState, studyId);
    if (chosen === undefined) return ExitCode.InputMissing;
    if (chosen.fedBn && state === undefined) {
      return usageError(
        io,
        `study ${studyId} uses FedBN: its global model has no batch normalisation (each site keeps its own); give --site-state, a site's FedBN state folder, to export that site's model`,
        USAGE,
      );
    }
    const report = await exportChosen(chosen, state, path.resolve(out), io.now());
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else {
      io.out(`Exported study ${report.studyId} round ${report.round} (model version ${report.modelVersion})`);
      if (report.normalisation.source === 'site') {
        io.out(
          `  batch normalisation: site ${report.normalisation.siteId}'s own (FedBN, saved after round ${report.normalisation.savedAfterRound}): this model is for that site's data, not the consortium's`,
        );
      }
      io.out(`  ${report.modelJson.path}  sha256 ${report.modelJson.sha256}`);
      io.out(`  ${report.weightsBin.path}  sha256 ${report.weightsBin.sha256}`);
    }
    return ExitCode.Ok;
  } catch (err) {
    io.err(`export-model: ${err instanceof TesseraError ? `${err.code}: ` : ''}${errorMessage(err)}`);
    return err instanceof InputError ? ExitCode.InputMissing : ExitCode.Internal;
  }
}

/** The study's FedBN state in a site's state folder. */
async function readSiteState(dir: string, studyId: string): Promise<FedBnSiteState> {
  const file = fedBnStateFile(dir, studyId);
  const state = await readFedBnState(file, studyId);
  if (state === undefined) throw new InputError('TESSERA_INPUT_NOT_FOUND', `no FedBN state of study '${studyId.slice(0, 64)}' in ${dir} (expected ${path.basename(file)})`);
  return state;
}

/** The global model a site last received, from its own state folder. */
function fromSite(state: FedBnSiteState, studyId: string): Chosen {
  if (state.global === undefined) throw new InputError('TESSERA_INPUT_NOT_FOUND', `the FedBN state of study '${studyId.slice(0, 64)}' holds no global model yet`);
  return { studyId, round: state.global.round, version: state.global.version, model: state.model, inputDim: state.inputDim, fedBn: true, weights: state.global.weights };
}

/** A version from the coordinator's database; `undefined` (said on stderr) when there is no database. */
async function fromCoordinator(dataDir: string, studyId: string, round: number | undefined, version: string | undefined, io: CommandIo): Promise<Chosen | undefined> {
  const dbFile = path.join(dataDir, 'coordinator.sqlite');
  if (!existsSync(dbFile)) {
    io.err(`export-model: no coordinator database at ${dbFile} (is --data-dir the coordinator's dataDir?)`);
    return undefined;
  }
  const store = await SqliteCoordinatorStore.open(dbFile);
  try {
    return await exportVersion(store, dataDir, studyId, round, version);
  } finally {
    await store.close();
  }
}

async function exportVersion(store: SqliteCoordinatorStore, dataDir: string, studyId: string, round: number | undefined, version: string | undefined): Promise<Chosen> {
  const study = await store.getStudy(studyId);
  if (!study) throw new InputError('TESSERA_INPUT_NOT_FOUND', `no study '${studyId.slice(0, 64)}' in ${dataDir}`);
  const versions = await store.listModelVersions(studyId);
  const chosen =
    version !== undefined
      ? versions.find((v) => v.sha256 === version)
      : round !== undefined
        ? versions.find((v) => v.round === round)
        : versions.find((v) => v.sha256 === study.currentModel);
  if (!chosen) {
    const which = version !== undefined ? `version ${version.slice(0, 64)}` : round !== undefined ? `round ${round}` : 'current version';
    throw new InputError('TESSERA_INPUT_NOT_FOUND', `study '${studyId}' has no model for ${which} (rounds: ${versions.map((v) => v.round).join(', ')})`);
  }
  const bytes = await new ModelRepository(path.join(dataDir, 'models')).get(chosen.sha256);
  return {
    studyId,
    round: chosen.round,
    version: chosen.sha256,
    model: study.spec.model,
    inputDim: study.spec.inputDim,
    fedBn: study.spec.training.fedBn === true,
    weights: decodeWeights(bytes, chosen.numParams),
  };
}

/** Writes the TF.js model (with the site's normalisation merged in, for FedBN) and provenance.json. */
async function exportChosen(chosen: Chosen, state: FedBnSiteState | undefined, outDir: string, now: Date): Promise<ExportModelReport> {
  const spec = getModelSpec(chosen.model);
  let weights = chosen.weights;
  let normalisation: ExportModelReport['normalisation'] = { source: 'global' };
  if (chosen.fedBn && state !== undefined) {
    if (state.model !== chosen.model || state.inputDim !== chosen.inputDim) {
      throw new InputError('TESSERA_INPUT_FEDBN_STATE', `the site's FedBN state is for ${state.model} on ${state.inputDim} inputs, the study trains ${chosen.model} on ${chosen.inputDim}`);
    }
    weights = mergeExchanged(chosen.weights, state.local, weightLayout(spec, chosen.inputDim), true);
    normalisation = { source: 'site', siteId: state.siteId, savedAfterRound: state.round };
  }
  const result = await exportTfjsModel({ spec, inputDim: chosen.inputDim, weights, outDir });
  const report: ExportModelReport = {
    studyId: chosen.studyId,
    round: chosen.round,
    modelVersion: chosen.version,
    model: chosen.model,
    inputDim: chosen.inputDim,
    modelJson: { path: result.modelJsonPath, sha256: result.modelJsonSha256 },
    weightsBin: { path: result.weightsBinPath, sha256: result.weightsBinSha256 },
    normalisation,
    exportedAt: now.toISOString(),
  };
  await writeFile(path.join(outDir, 'provenance.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
