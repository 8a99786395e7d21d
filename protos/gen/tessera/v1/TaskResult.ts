// Original file: protos/tessera/v1/federation.proto

import type { TaskKind as _tessera_v1_TaskKind, TaskKind__Output as _tessera_v1_TaskKind__Output } from '../../tessera/v1/TaskKind.js';
import type { PrivacySpend as _tessera_v1_PrivacySpend, PrivacySpend__Output as _tessera_v1_PrivacySpend__Output } from '../../tessera/v1/PrivacySpend.js';
import type { Long } from '@grpc/proto-loader';

export interface TaskResult {
  'taskId'?: (string);
  'studyId'?: (string);
  'round'?: (number);
  'kind'?: (_tessera_v1_TaskKind);
  'numExamples'?: (number);
  'metrics'?: ({[key: string]: number | string});
  'updateSha256'?: (string);
  'updateBytes'?: (number | string | Long);
  'durationMs'?: (number | string | Long);
  'privacy'?: (_tessera_v1_PrivacySpend | null);
}

export interface TaskResult__Output {
  'taskId': (string);
  'studyId': (string);
  'round': (number);
  'kind': (_tessera_v1_TaskKind__Output);
  'numExamples': (number);
  'metrics': ({[key: string]: number});
  'updateSha256': (string);
  'updateBytes': (number);
  'durationMs': (number);
  'privacy': (_tessera_v1_PrivacySpend__Output | null);
}
