import { Type, type Static } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

/**
 * A site's own privacy policy (`privacy-policy.yaml`, named by `privacy.policy` in agent.yaml): the
 * limits the site enforces on every training task, whatever the coordinator asks. The agent refuses a
 * task that would break any of them and says which.
 */
export const PrivacyPolicySchema = Type.Object(
  {
    /** Refuse FIT tasks that do not use differential privacy. @default true */
    requireDp: Type.Boolean({ default: true }),
    /** Largest ε one study may spend on this site's data. */
    maxEpsilonPerStudy: Type.Number({ exclusiveMinimum: 0 }),
    /** Largest δ one study may use. */
    maxDeltaPerStudy: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    /** Largest ε summed over all studies (basic composition across studies). */
    maxEpsilonTotal: Type.Number({ exclusiveMinimum: 0 }),
    /** Largest δ summed over all studies. */
    maxDeltaTotal: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
    /** Smallest noise multiplier accepted. @default 0.5 */
    minNoiseMultiplier: Type.Number({ minimum: 0, default: 0.5 }),
    /** Most rounds a DP study may plan. @default 1000 */
    maxRounds: Type.Integer({ minimum: 1, default: 1000 }),
    /** Model specs allowed under this policy; empty = any the agent policy allows. */
    allowedModels: Type.Array(Type.String(), { default: [] }),
    /** The accountant the site trusts for its ledger. @default 'pld' */
    accountant: Type.Union([Type.Literal('pld'), Type.Literal('rdp')], { default: 'pld' }),
  },
  strict,
);
export type PrivacyPolicy = Static<typeof PrivacyPolicySchema>;
