import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelRepository } from '../../../coordinator/src/store/blob-store.js';
import { SqliteCoordinatorStore } from '../../../coordinator/src/store/sqlite-store.js';
import { errorMessage, InputError, TesseraError } from '../../../shared/src/errors.js';
import { exportTfjsModel } from '../../../shared/src/ml/export-tfjs.js';
import { getModelSpec } from '../../../shared/src/ml/model-registry.js';
import { decodeWeights } from '../../../shared/src/ml/weights.js';
import { ExitCode } from '../exit-codes.js';
import { type CommandIo, parseCommandArgs, processIo, usageError } from './command-io.js';

const USAGE =
  'usage: tessera export-model --data-dir DIR --study ID [--round N | --version SHA256] --out DIR [--json]\n' +
  '  --data-dir   the coordinator\'s dataDir (coordinator.yaml; in a demo workdir: coordinator-data)\n' +
  '  --round N    the version committed by round N (default: the study\'s current model)\n' +
  '  --version    a model version id (sha256) of the study\n' +
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
  exportedAt: string;
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
  const { study: studyId, out } = values;
  if (dataDir === undefined || studyId === undefined || out === undefined || (values.round !== undefined && values.version !== undefined)) {
    return usageError(io, '--data-dir, --study and --out are required; --round and --version exclude each other', USAGE);
  }
  const round = values.round === undefined ? undefined : Number(values.round);
  if (round !== undefined && (!Number.isSafeInteger(round) || round < 0)) {
    return usageError(io, '--round must be a non-negative integer', USAGE);
  }
  const dbFile = path.join(dataDir, 'coordinator.sqlite');
  if (!existsSync(dbFile)) {
    io.err(`export-model: no coordinator database at ${dbFile} (is --data-dir the coordinator's dataDir?)`);
    return ExitCode.InputMissing;
  }
  const store = await SqliteCoordinatorStore.open(dbFile);
  try {
    const report = await exportVersion(store, dataDir, studyId, round, values.version, path.resolve(out), io.now());
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else {
      io.out(`Exported study ${report.studyId} round ${report.round} (model version ${report.modelVersion})`);
      io.out(`  ${report.modelJson.path}  sha256 ${report.modelJson.sha256}`);
      io.out(`  ${report.weightsBin.path}  sha256 ${report.weightsBin.sha256}`);
    }
    return ExitCode.Ok;
  } catch (err) {
    io.err(`export-model: ${err instanceof TesseraError ? `${err.code}: ` : ''}${errorMessage(err)}`);
    return err instanceof InputError ? ExitCode.InputMissing : ExitCode.Internal;
  } finally {
    await store.close();
  }
}

async function exportVersion(
  store: SqliteCoordinatorStore,
  dataDir: string,
  studyId: string,
  round: number | undefined,
  version: string | undefined,
  outDir: string,
  now: Date,
): Promise<ExportModelReport> {
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
  const weights = decodeWeights(bytes, chosen.numParams);
  const result = await exportTfjsModel({ spec: getModelSpec(study.spec.model), inputDim: study.spec.inputDim, weights, outDir });
  const report: ExportModelReport = {
    studyId,
    round: chosen.round,
    modelVersion: chosen.sha256,
    model: study.spec.model,
    inputDim: study.spec.inputDim,
    modelJson: { path: result.modelJsonPath, sha256: result.modelJsonSha256 },
    weightsBin: { path: result.weightsBinPath, sha256: result.weightsBinSha256 },
    exportedAt: now.toISOString(),
  };
  await writeFile(path.join(outDir, 'provenance.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
