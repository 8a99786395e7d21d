export { type CoordinatorIpcMessage, isCoordinatorIpcMessage } from './ipc.js';
export { LocalFederation, type LocalFederationOptions, type LocalSiteOptions, type WaitOptions } from './local-federation.js';
export { freePort, TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
