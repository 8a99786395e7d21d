// Original file: protos/tessera/v1/federation.proto

import type { TaskKind as _tessera_v1_TaskKind, TaskKind__Output as _tessera_v1_TaskKind__Output } from '../../tessera/v1/TaskKind.js';
import type { TrainingConfig as _tessera_v1_TrainingConfig, TrainingConfig__Output as _tessera_v1_TrainingConfig__Output } from '../../tessera/v1/TrainingConfig.js';
import type { SecAggTask as _tessera_v1_SecAggTask, SecAggTask__Output as _tessera_v1_SecAggTask__Output } from '../../tessera/v1/SecAggTask.js';
import type { Long } from '@grpc/proto-loader';

export interface Task {
  'taskId'?: (string);
  'kind'?: (_tessera_v1_TaskKind);
  'studyId'?: (string);
  'round'?: (number);
  'modelVersion'?: (string);
  'modelBytes'?: (number | string | Long);
  'modelSpec'?: (string);
  'dataset'?: (string);
  'training'?: (_tessera_v1_TrainingConfig | null);
  'deadlineMs'?: (number | string | Long);
  'secagg'?: (_tessera_v1_SecAggTask | null);
  'modelDigest'?: (string);
  'studyData'?: (string);
}

export interface Task__Output {
  'taskId': (string);
  'kind': (_tessera_v1_TaskKind__Output);
  'studyId': (string);
  'round': (number);
  'modelVersion': (string);
  'modelBytes': (number);
  'modelSpec': (string);
  'dataset': (string);
  'training': (_tessera_v1_TrainingConfig__Output | null);
  'deadlineMs': (number);
  'secagg': (_tessera_v1_SecAggTask__Output | null);
  'modelDigest': (string);
  'studyData': (string);
}
