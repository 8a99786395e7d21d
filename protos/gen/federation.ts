import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Chunk as _tessera_v1_Chunk, Chunk__Output as _tessera_v1_Chunk__Output } from './tessera/v1/Chunk.js';
import type { CoordinatorMessage as _tessera_v1_CoordinatorMessage, CoordinatorMessage__Output as _tessera_v1_CoordinatorMessage__Output } from './tessera/v1/CoordinatorMessage.js';
import type { DpConfig as _tessera_v1_DpConfig, DpConfig__Output as _tessera_v1_DpConfig__Output } from './tessera/v1/DpConfig.js';
import type { FederationClient as _tessera_v1_FederationClient, FederationDefinition as _tessera_v1_FederationDefinition } from './tessera/v1/Federation.js';
import type { FetchModelRequest as _tessera_v1_FetchModelRequest, FetchModelRequest__Output as _tessera_v1_FetchModelRequest__Output } from './tessera/v1/FetchModelRequest.js';
import type { Goodbye as _tessera_v1_Goodbye, Goodbye__Output as _tessera_v1_Goodbye__Output } from './tessera/v1/Goodbye.js';
import type { Heartbeat as _tessera_v1_Heartbeat, Heartbeat__Output as _tessera_v1_Heartbeat__Output } from './tessera/v1/Heartbeat.js';
import type { Hello as _tessera_v1_Hello, Hello__Output as _tessera_v1_Hello__Output } from './tessera/v1/Hello.js';
import type { PrivacySpend as _tessera_v1_PrivacySpend, PrivacySpend__Output as _tessera_v1_PrivacySpend__Output } from './tessera/v1/PrivacySpend.js';
import type { SiteMessage as _tessera_v1_SiteMessage, SiteMessage__Output as _tessera_v1_SiteMessage__Output } from './tessera/v1/SiteMessage.js';
import type { Task as _tessera_v1_Task, Task__Output as _tessera_v1_Task__Output } from './tessera/v1/Task.js';
import type { TaskRefusal as _tessera_v1_TaskRefusal, TaskRefusal__Output as _tessera_v1_TaskRefusal__Output } from './tessera/v1/TaskRefusal.js';
import type { TaskResult as _tessera_v1_TaskResult, TaskResult__Output as _tessera_v1_TaskResult__Output } from './tessera/v1/TaskResult.js';
import type { TrainingConfig as _tessera_v1_TrainingConfig, TrainingConfig__Output as _tessera_v1_TrainingConfig__Output } from './tessera/v1/TrainingConfig.js';
import type { UploadHeader as _tessera_v1_UploadHeader, UploadHeader__Output as _tessera_v1_UploadHeader__Output } from './tessera/v1/UploadHeader.js';
import type { UploadMessage as _tessera_v1_UploadMessage, UploadMessage__Output as _tessera_v1_UploadMessage__Output } from './tessera/v1/UploadMessage.js';
import type { UploadQuery as _tessera_v1_UploadQuery, UploadQuery__Output as _tessera_v1_UploadQuery__Output } from './tessera/v1/UploadQuery.js';
import type { UploadReceipt as _tessera_v1_UploadReceipt, UploadReceipt__Output as _tessera_v1_UploadReceipt__Output } from './tessera/v1/UploadReceipt.js';
import type { UploadStatus as _tessera_v1_UploadStatus, UploadStatus__Output as _tessera_v1_UploadStatus__Output } from './tessera/v1/UploadStatus.js';
import type { Welcome as _tessera_v1_Welcome, Welcome__Output as _tessera_v1_Welcome__Output } from './tessera/v1/Welcome.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tessera: {
    v1: {
      Chunk: MessageTypeDefinition<_tessera_v1_Chunk, _tessera_v1_Chunk__Output>
      CoordinatorMessage: MessageTypeDefinition<_tessera_v1_CoordinatorMessage, _tessera_v1_CoordinatorMessage__Output>
      DpConfig: MessageTypeDefinition<_tessera_v1_DpConfig, _tessera_v1_DpConfig__Output>
      Federation: SubtypeConstructor<typeof grpc.Client, _tessera_v1_FederationClient> & { service: _tessera_v1_FederationDefinition }
      FetchModelRequest: MessageTypeDefinition<_tessera_v1_FetchModelRequest, _tessera_v1_FetchModelRequest__Output>
      Goodbye: MessageTypeDefinition<_tessera_v1_Goodbye, _tessera_v1_Goodbye__Output>
      Heartbeat: MessageTypeDefinition<_tessera_v1_Heartbeat, _tessera_v1_Heartbeat__Output>
      Hello: MessageTypeDefinition<_tessera_v1_Hello, _tessera_v1_Hello__Output>
      PrivacySpend: MessageTypeDefinition<_tessera_v1_PrivacySpend, _tessera_v1_PrivacySpend__Output>
      SiteMessage: MessageTypeDefinition<_tessera_v1_SiteMessage, _tessera_v1_SiteMessage__Output>
      Task: MessageTypeDefinition<_tessera_v1_Task, _tessera_v1_Task__Output>
      TaskKind: EnumTypeDefinition
      TaskRefusal: MessageTypeDefinition<_tessera_v1_TaskRefusal, _tessera_v1_TaskRefusal__Output>
      TaskResult: MessageTypeDefinition<_tessera_v1_TaskResult, _tessera_v1_TaskResult__Output>
      TrainingConfig: MessageTypeDefinition<_tessera_v1_TrainingConfig, _tessera_v1_TrainingConfig__Output>
      UploadHeader: MessageTypeDefinition<_tessera_v1_UploadHeader, _tessera_v1_UploadHeader__Output>
      UploadMessage: MessageTypeDefinition<_tessera_v1_UploadMessage, _tessera_v1_UploadMessage__Output>
      UploadQuery: MessageTypeDefinition<_tessera_v1_UploadQuery, _tessera_v1_UploadQuery__Output>
      UploadReceipt: MessageTypeDefinition<_tessera_v1_UploadReceipt, _tessera_v1_UploadReceipt__Output>
      UploadStatus: MessageTypeDefinition<_tessera_v1_UploadStatus, _tessera_v1_UploadStatus__Output>
      Welcome: MessageTypeDefinition<_tessera_v1_Welcome, _tessera_v1_Welcome__Output>
    }
  }
}

