// Original file: protos/tessera/v1/federation.proto

export const TaskKind = {
  TASK_KIND_UNSPECIFIED: 'TASK_KIND_UNSPECIFIED',
  TASK_KIND_FIT: 'TASK_KIND_FIT',
  TASK_KIND_EVALUATE: 'TASK_KIND_EVALUATE',
  TASK_KIND_SECAGG: 'TASK_KIND_SECAGG',
} as const;

export type TaskKind =
  | 'TASK_KIND_UNSPECIFIED'
  | 0
  | 'TASK_KIND_FIT'
  | 1
  | 'TASK_KIND_EVALUATE'
  | 2
  | 'TASK_KIND_SECAGG'
  | 3

export type TaskKind__Output = typeof TaskKind[keyof typeof TaskKind]
