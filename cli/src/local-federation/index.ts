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
export { DICOMWEB_PLUGIN, orthancBinary, orthancMissing, startOrthanc, type Orthanc, type OrthancOptions, type OrthancPeer, type OrthancTlsOptions } from './orthanc.js';
