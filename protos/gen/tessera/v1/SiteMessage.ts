// Original file: protos/tessera/v1/federation.proto

import type { Hello as _tessera_v1_Hello, Hello__Output as _tessera_v1_Hello__Output } from '../../tessera/v1/Hello.js';
import type { Heartbeat as _tessera_v1_Heartbeat, Heartbeat__Output as _tessera_v1_Heartbeat__Output } from '../../tessera/v1/Heartbeat.js';
import type { TaskResult as _tessera_v1_TaskResult, TaskResult__Output as _tessera_v1_TaskResult__Output } from '../../tessera/v1/TaskResult.js';
import type { TaskRefusal as _tessera_v1_TaskRefusal, TaskRefusal__Output as _tessera_v1_TaskRefusal__Output } from '../../tessera/v1/TaskRefusal.js';

export interface SiteMessage {
  'hello'?: (_tessera_v1_Hello | null);
  'heartbeat'?: (_tessera_v1_Heartbeat | null);
  'result'?: (_tessera_v1_TaskResult | null);
  'refusal'?: (_tessera_v1_TaskRefusal | null);
  'body'?: "hello"|"heartbeat"|"result"|"refusal";
}

export interface SiteMessage__Output {
  'hello'?: (_tessera_v1_Hello__Output | null);
  'heartbeat'?: (_tessera_v1_Heartbeat__Output | null);
  'result'?: (_tessera_v1_TaskResult__Output | null);
  'refusal'?: (_tessera_v1_TaskRefusal__Output | null);
  'body'?: "hello"|"heartbeat"|"result"|"refusal";
}
