// Original file: protos/tessera/v1/federation.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Chunk as _tessera_v1_Chunk, Chunk__Output as _tessera_v1_Chunk__Output } from '../../tessera/v1/Chunk.js';
import type { CoordinatorMessage as _tessera_v1_CoordinatorMessage, CoordinatorMessage__Output as _tessera_v1_CoordinatorMessage__Output } from '../../tessera/v1/CoordinatorMessage.js';
import type { FetchModelRequest as _tessera_v1_FetchModelRequest, FetchModelRequest__Output as _tessera_v1_FetchModelRequest__Output } from '../../tessera/v1/FetchModelRequest.js';
import type { SiteMessage as _tessera_v1_SiteMessage, SiteMessage__Output as _tessera_v1_SiteMessage__Output } from '../../tessera/v1/SiteMessage.js';
import type { UploadMessage as _tessera_v1_UploadMessage, UploadMessage__Output as _tessera_v1_UploadMessage__Output } from '../../tessera/v1/UploadMessage.js';
import type { UploadQuery as _tessera_v1_UploadQuery, UploadQuery__Output as _tessera_v1_UploadQuery__Output } from '../../tessera/v1/UploadQuery.js';
import type { UploadReceipt as _tessera_v1_UploadReceipt, UploadReceipt__Output as _tessera_v1_UploadReceipt__Output } from '../../tessera/v1/UploadReceipt.js';
import type { UploadStatus as _tessera_v1_UploadStatus, UploadStatus__Output as _tessera_v1_UploadStatus__Output } from '../../tessera/v1/UploadStatus.js';

export interface FederationClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_SiteMessage, _tessera_v1_CoordinatorMessage__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_SiteMessage, _tessera_v1_CoordinatorMessage__Output>;
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_SiteMessage, _tessera_v1_CoordinatorMessage__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tessera_v1_SiteMessage, _tessera_v1_CoordinatorMessage__Output>;
  
  FetchModel(argument: _tessera_v1_FetchModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_Chunk__Output>;
  FetchModel(argument: _tessera_v1_FetchModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_Chunk__Output>;
  fetchModel(argument: _tessera_v1_FetchModelRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_Chunk__Output>;
  fetchModel(argument: _tessera_v1_FetchModelRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_tessera_v1_Chunk__Output>;
  
  QueryUpload(argument: _tessera_v1_UploadQuery, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  QueryUpload(argument: _tessera_v1_UploadQuery, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  QueryUpload(argument: _tessera_v1_UploadQuery, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  QueryUpload(argument: _tessera_v1_UploadQuery, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  queryUpload(argument: _tessera_v1_UploadQuery, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  queryUpload(argument: _tessera_v1_UploadQuery, metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  queryUpload(argument: _tessera_v1_UploadQuery, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  queryUpload(argument: _tessera_v1_UploadQuery, callback: grpc.requestCallback<_tessera_v1_UploadStatus__Output>): grpc.ClientUnaryCall;
  
  UploadUpdate(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  UploadUpdate(metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  UploadUpdate(options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  UploadUpdate(callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  uploadUpdate(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  uploadUpdate(metadata: grpc.Metadata, callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  uploadUpdate(options: grpc.CallOptions, callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  uploadUpdate(callback: grpc.requestCallback<_tessera_v1_UploadReceipt__Output>): grpc.ClientWritableStream<_tessera_v1_UploadMessage>;
  
}

export interface FederationHandlers extends grpc.UntypedServiceImplementation {
  Connect: grpc.handleBidiStreamingCall<_tessera_v1_SiteMessage__Output, _tessera_v1_CoordinatorMessage>;
  
  FetchModel: grpc.handleServerStreamingCall<_tessera_v1_FetchModelRequest__Output, _tessera_v1_Chunk>;
  
  QueryUpload: grpc.handleUnaryCall<_tessera_v1_UploadQuery__Output, _tessera_v1_UploadStatus>;
  
  UploadUpdate: grpc.handleClientStreamingCall<_tessera_v1_UploadMessage__Output, _tessera_v1_UploadReceipt>;
  
}

export interface FederationDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_tessera_v1_SiteMessage, _tessera_v1_CoordinatorMessage, _tessera_v1_SiteMessage__Output, _tessera_v1_CoordinatorMessage__Output>
  FetchModel: MethodDefinition<_tessera_v1_FetchModelRequest, _tessera_v1_Chunk, _tessera_v1_FetchModelRequest__Output, _tessera_v1_Chunk__Output>
  QueryUpload: MethodDefinition<_tessera_v1_UploadQuery, _tessera_v1_UploadStatus, _tessera_v1_UploadQuery__Output, _tessera_v1_UploadStatus__Output>
  UploadUpdate: MethodDefinition<_tessera_v1_UploadMessage, _tessera_v1_UploadReceipt, _tessera_v1_UploadMessage__Output, _tessera_v1_UploadReceipt__Output>
}
