import { checkStudyData, studyFeatureColumns } from '../../shared/src/study/study-data-spec.js';
import type { StudySpec } from '../../shared/src/study/study-spec.js';
import { ConfigError } from '../../shared/src/errors.js';
import { getModelSpec } from '../../shared/src/ml/model-registry.js';
import { checkStudyDataModel } from '../../shared/src/study/study-checks.js';

/**
 * The coordinator's check of a study's `data:` section when the study is created (REST or study file):
 * the contract's own rules ({@link checkStudyData}), and for an EMR study that `inputDim` is the number of
 * feature columns the contract makes, which every site builds the same way; for an imaging study that its
 * EMR features have a place in the model ({@link checkStudyDataModel}).
 * @throws ConfigError naming the field.
 */
export function checkStudyDataContract(spec: StudySpec): void {
  const data = spec.data;
  if (data === undefined) return;
  const source = `study ${spec.id}`;
  checkStudyData(data, source);
  if (data.kind === 'emr') {
    const columns = studyFeatureColumns(data);
    if (spec.inputDim !== columns.length) {
      throw new ConfigError(`${source}: 'inputDim' is ${spec.inputDim} but 'data.features' makes ${columns.length} columns (${columns.join(', ')})`, { source, field: 'inputDim' });
    }
  } else checkStudyDataModel(data, getModelSpec(spec.model), spec.inputDim, source);
}
