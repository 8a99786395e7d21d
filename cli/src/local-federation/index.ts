export { type CoordinatorIpcMessage, isCoordinatorIpcMessage } from './ipc.js';
export {
  type CoordinatorTlsFiles,
  coordinatorTlsFiles,
  LocalFederation,
  type LocalFederationOptions,
  type LocalOperator,
  type LocalSiteOptions,
  provisionLocalConsortium,
  type WaitOptions,
} from './local-federation.js';
export { freePort, TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
