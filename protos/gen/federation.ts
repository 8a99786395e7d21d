import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Chunk as _tessera_v1_Chunk, Chunk__Output as _tessera_v1_Chunk__Output } from './tessera/v1/Chunk.js';
import type { CoordinatorMessage as _tessera_v1_CoordinatorMessage, CoordinatorMessage__Output as _tessera_v1_CoordinatorMessage__Output } from './tessera/v1/CoordinatorMessage.js';
import type { DpConfig as _tessera_v1_DpConfig, DpConfig__Output as _tessera_v1_DpConfig__Output } from './tessera/v1/DpConfig.js';
import type { EncryptedShare as _tessera_v1_EncryptedShare, EncryptedShare__Output as _tessera_v1_EncryptedShare__Output } from './tessera/v1/EncryptedShare.js';
import type { FederationClient as _tessera_v1_FederationClient, FederationDefinition as _tessera_v1_FederationDefinition } from './tessera/v1/Federation.js';
import type { FetchModelRequest as _tessera_v1_FetchModelRequest, FetchModelRequest__Output as _tessera_v1_FetchModelRequest__Output } from './tessera/v1/FetchModelRequest.js';
import type { Goodbye as _tessera_v1_Goodbye, Goodbye__Output as _tessera_v1_Goodbye__Output } from './tessera/v1/Goodbye.js';
import type { Heartbeat as _tessera_v1_Heartbeat, Heartbeat__Output as _tessera_v1_Heartbeat__Output } from './tessera/v1/Heartbeat.js';
import type { Hello as _tessera_v1_Hello, Hello__Output as _tessera_v1_Hello__Output } from './tessera/v1/Hello.js';
import type { PrivacySpend as _tessera_v1_PrivacySpend, PrivacySpend__Output as _tessera_v1_PrivacySpend__Output } from './tessera/v1/PrivacySpend.js';
import type { RevealedShare as _tessera_v1_RevealedShare, RevealedShare__Output as _tessera_v1_RevealedShare__Output } from './tessera/v1/RevealedShare.js';
import type { SecAggMaskedInput as _tessera_v1_SecAggMaskedInput, SecAggMaskedInput__Output as _tessera_v1_SecAggMaskedInput__Output } from './tessera/v1/SecAggMaskedInput.js';
import type { SecAggMaskedInputRequest as _tessera_v1_SecAggMaskedInputRequest, SecAggMaskedInputRequest__Output as _tessera_v1_SecAggMaskedInputRequest__Output } from './tessera/v1/SecAggMaskedInputRequest.js';
import type { SecAggParams as _tessera_v1_SecAggParams, SecAggParams__Output as _tessera_v1_SecAggParams__Output } from './tessera/v1/SecAggParams.js';
import type { SecAggResult as _tessera_v1_SecAggResult, SecAggResult__Output as _tessera_v1_SecAggResult__Output } from './tessera/v1/SecAggResult.js';
import type { SecAggReveal as _tessera_v1_SecAggReveal, SecAggReveal__Output as _tessera_v1_SecAggReveal__Output } from './tessera/v1/SecAggReveal.js';
import type { SecAggShareKeys as _tessera_v1_SecAggShareKeys, SecAggShareKeys__Output as _tessera_v1_SecAggShareKeys__Output } from './tessera/v1/SecAggShareKeys.js';
import type { SecAggShares as _tessera_v1_SecAggShares, SecAggShares__Output as _tessera_v1_SecAggShares__Output } from './tessera/v1/SecAggShares.js';
import type { SecAggTask as _tessera_v1_SecAggTask, SecAggTask__Output as _tessera_v1_SecAggTask__Output } from './tessera/v1/SecAggTask.js';
import type { SecAggUnmaskRequest as _tessera_v1_SecAggUnmaskRequest, SecAggUnmaskRequest__Output as _tessera_v1_SecAggUnmaskRequest__Output } from './tessera/v1/SecAggUnmaskRequest.js';
import type { SignedSiteKeys as _tessera_v1_SignedSiteKeys, SignedSiteKeys__Output as _tessera_v1_SignedSiteKeys__Output } from './tessera/v1/SignedSiteKeys.js';
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
import type { UploadTrailer as _tessera_v1_UploadTrailer, UploadTrailer__Output as _tessera_v1_UploadTrailer__Output } from './tessera/v1/UploadTrailer.js';
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
      EncryptedShare: MessageTypeDefinition<_tessera_v1_EncryptedShare, _tessera_v1_EncryptedShare__Output>
      Federation: SubtypeConstructor<typeof grpc.Client, _tessera_v1_FederationClient> & { service: _tessera_v1_FederationDefinition }
      FetchModelRequest: MessageTypeDefinition<_tessera_v1_FetchModelRequest, _tessera_v1_FetchModelRequest__Output>
      Goodbye: MessageTypeDefinition<_tessera_v1_Goodbye, _tessera_v1_Goodbye__Output>
      Heartbeat: MessageTypeDefinition<_tessera_v1_Heartbeat, _tessera_v1_Heartbeat__Output>
      Hello: MessageTypeDefinition<_tessera_v1_Hello, _tessera_v1_Hello__Output>
      PrivacySpend: MessageTypeDefinition<_tessera_v1_PrivacySpend, _tessera_v1_PrivacySpend__Output>
      RevealedShare: MessageTypeDefinition<_tessera_v1_RevealedShare, _tessera_v1_RevealedShare__Output>
      SecAggMaskedInput: MessageTypeDefinition<_tessera_v1_SecAggMaskedInput, _tessera_v1_SecAggMaskedInput__Output>
      SecAggMaskedInputRequest: MessageTypeDefinition<_tessera_v1_SecAggMaskedInputRequest, _tessera_v1_SecAggMaskedInputRequest__Output>
      SecAggParams: MessageTypeDefinition<_tessera_v1_SecAggParams, _tessera_v1_SecAggParams__Output>
      SecAggResult: MessageTypeDefinition<_tessera_v1_SecAggResult, _tessera_v1_SecAggResult__Output>
      SecAggReveal: MessageTypeDefinition<_tessera_v1_SecAggReveal, _tessera_v1_SecAggReveal__Output>
      SecAggShareKeys: MessageTypeDefinition<_tessera_v1_SecAggShareKeys, _tessera_v1_SecAggShareKeys__Output>
      SecAggShares: MessageTypeDefinition<_tessera_v1_SecAggShares, _tessera_v1_SecAggShares__Output>
      SecAggTask: MessageTypeDefinition<_tessera_v1_SecAggTask, _tessera_v1_SecAggTask__Output>
      SecAggUnmaskRequest: MessageTypeDefinition<_tessera_v1_SecAggUnmaskRequest, _tessera_v1_SecAggUnmaskRequest__Output>
      SignedSiteKeys: MessageTypeDefinition<_tessera_v1_SignedSiteKeys, _tessera_v1_SignedSiteKeys__Output>
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
      UploadTrailer: MessageTypeDefinition<_tessera_v1_UploadTrailer, _tessera_v1_UploadTrailer__Output>
      Welcome: MessageTypeDefinition<_tessera_v1_Welcome, _tessera_v1_Welcome__Output>
    }
  }
}

