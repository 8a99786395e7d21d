/**
 * `npm run bench -- imaging`: the imaging suite. Cases: `pipeline` (bench/imaging-pipeline.ts: CT slices
 * through the image pipeline against pydicom + numpy) and `training` (bench/imaging-training.ts:
 * resnet-small at 128×128 on wasm against cpu). The PACS ingest case joins here (bench/imaging-pacs.ts).
 */
import { runPipelineBench, type PipelineBenchResult } from './imaging-pipeline.js';
import { runTrainingBench, type TrainingBenchResult } from './imaging-training.js';

export interface ImagingSuiteOptions {
  quick?: boolean;
}

/** Runs every imaging case; `quick` shrinks each to a smoke run. */
export async function runImagingSuite(opts: ImagingSuiteOptions = {}): Promise<{ pipeline: PipelineBenchResult[]; training: TrainingBenchResult[] }> {
  // 128: the training case's input (a whole factor of 512); 224: the largest input, a fractional factor.
  const pipeline: PipelineBenchResult[] = [];
  for (const size of [128, 224]) pipeline.push(...(await runPipelineBench(opts.quick === true ? { size, slices: 20, runs: 1 } : { size })));
  const training = await runTrainingBench(opts.quick === true ? { side: 64, images: { wasm: 8, cpu: 2 }, batchSize: 2, runs: 1 } : {});
  return { pipeline, training };
}
