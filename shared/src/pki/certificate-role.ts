/**
 * The role a Tessera certificate is issued for. It is written into the subject's `OU` by the consortium CA,
 * so a peer cannot choose it: a site certificate can never be presented as the coordinator's.
 *
 * - `coordinator`: the TLS server sites and operators connect to (serverAuth).
 * - `site`: a hospital's site agent (clientAuth).
 * - `operator`: a person or tool using the coordinator's admin API (clientAuth).
 */
export const CertificateRole = {
  Coordinator: 'coordinator',
  Site: 'site',
  Operator: 'operator',
} as const;
/** One of the values of {@link CertificateRole}. */
export type CertificateRole = (typeof CertificateRole)[keyof typeof CertificateRole];

const ROLES: ReadonlySet<string> = new Set(Object.values(CertificateRole));

/** True when `value` is a {@link CertificateRole}. */
export function isCertificateRole(value: string): value is CertificateRole {
  return ROLES.has(value);
}
