// Original file: protos/tessera/v1/federation.proto

import type { Welcome as _tessera_v1_Welcome, Welcome__Output as _tessera_v1_Welcome__Output } from '../../tessera/v1/Welcome.js';
import type { Task as _tessera_v1_Task, Task__Output as _tessera_v1_Task__Output } from '../../tessera/v1/Task.js';
import type { Heartbeat as _tessera_v1_Heartbeat, Heartbeat__Output as _tessera_v1_Heartbeat__Output } from '../../tessera/v1/Heartbeat.js';
import type { Goodbye as _tessera_v1_Goodbye, Goodbye__Output as _tessera_v1_Goodbye__Output } from '../../tessera/v1/Goodbye.js';

export interface CoordinatorMessage {
  'welcome'?: (_tessera_v1_Welcome | null);
  'task'?: (_tessera_v1_Task | null);
  'heartbeat'?: (_tessera_v1_Heartbeat | null);
  'goodbye'?: (_tessera_v1_Goodbye | null);
  'body'?: "welcome"|"task"|"heartbeat"|"goodbye";
}

export interface CoordinatorMessage__Output {
  'welcome'?: (_tessera_v1_Welcome__Output | null);
  'task'?: (_tessera_v1_Task__Output | null);
  'heartbeat'?: (_tessera_v1_Heartbeat__Output | null);
  'goodbye'?: (_tessera_v1_Goodbye__Output | null);
  'body'?: "welcome"|"task"|"heartbeat"|"goodbye";
}
