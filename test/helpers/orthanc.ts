/**
 * A real Orthanc for PACS tests and benchmarks, through the shipped launcher (cli/src/local-federation/orthanc.ts:
 * Debian's `Orthanc` with its own temporary storage and configuration, free loopback ports, the DICOMweb plugin,
 * C-MOVE peers, HTTPS and DICOM TLS, restart). `orthancSkipReason()` says why tests must skip (Orthanc or its
 * DICOMweb plugin is not installed); everything else fails loudly.
 */
import { orthancMissing } from '../../cli/src/local-federation/orthanc.js';

export { DICOMWEB_PLUGIN, startOrthanc, type Orthanc, type OrthancOptions, type OrthancPeer, type OrthancTlsOptions } from '../../cli/src/local-federation/orthanc.js';
/** A free TCP port on 127.0.0.1 (bound and released; Orthanc takes it right after): the launcher's. */
export { freePort } from '../../cli/src/local-federation/tcp-proxy.js';

/** Why Orthanc tests cannot run here, or `undefined` when they can. */
export function orthancSkipReason(): string | undefined {
  return orthancMissing();
}
