import { type Static, Type } from '@sinclair/typebox';
import { ConfigError } from '../errors.js';
import { parseConfigText } from './validate.js';

/** Site and operator ids: lowercase DNS-label-like, so they are safe in paths, CNs and log lines. */
export const PARTICIPANT_ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';

const ParticipantId = Type.String({ pattern: PARTICIPANT_ID_PATTERN });

/** What an operator may do at the coordinator's admin API. */
export const OperatorAccessRole = {
  /** Runs studies and rounds. */
  Operator: 'operator',
  /** Reads the audit log and privacy budget; changes nothing. */
  Compliance: 'compliance',
  /** Administers one site's enrolment; needs `site`. */
  SiteAdmin: 'site-admin',
} as const;
/** One of the values of {@link OperatorAccessRole}. */
export type OperatorAccessRole = (typeof OperatorAccessRole)[keyof typeof OperatorAccessRole];

/** Schema of `consortium.yaml`. Unknown keys fail everywhere (`additionalProperties: false`). */
export const ConsortiumConfigSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    coordinator: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 7443 }),
        id: Type.String({ pattern: PARTICIPANT_ID_PATTERN, default: 'coordinator' }),
        dnsNames: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
        ipAddresses: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
    sites: Type.Array(
      Type.Object(
        { id: ParticipantId, displayName: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    operators: Type.Array(
      Type.Object(
        {
          id: ParticipantId,
          role: Type.Union([
            Type.Literal(OperatorAccessRole.Operator),
            Type.Literal(OperatorAccessRole.Compliance),
            Type.Literal(OperatorAccessRole.SiteAdmin),
          ]),
          site: Type.Optional(ParticipantId),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    /** Leaf certificate lifetime in days. */
    validityDays: Type.Integer({ minimum: 1, maximum: 3650, default: 365 }),
  },
  { additionalProperties: false },
);

/** A site entry of a {@link ConsortiumConfig}. */
export interface ConsortiumSite {
  readonly id: string;
  readonly displayName?: string;
}

/** An operator entry of a {@link ConsortiumConfig}. `site` is present exactly when `role` is `site-admin`. */
export interface ConsortiumOperator {
  readonly id: string;
  readonly role: OperatorAccessRole;
  readonly site?: string;
}

/** The validated, fully-defaulted, deeply frozen consortium configuration. */
export interface ConsortiumConfig {
  readonly name: string;
  readonly coordinator: {
    /** @default '127.0.0.1' */
    readonly host: string;
    /** @default 7443 */
    readonly port: number;
    /** @default 'coordinator' */
    readonly id: string;
    /** Extra DNS names for the coordinator certificate. @default [] */
    readonly dnsNames: readonly string[];
    /** Extra IP addresses for the coordinator certificate. @default [] */
    readonly ipAddresses: readonly string[];
  };
  readonly sites: readonly ConsortiumSite[];
  /** @default [] */
  readonly operators: readonly ConsortiumOperator[];
  /** Leaf certificate lifetime, in days. @default 365 */
  readonly validityDays: number;
}

/**
 * Parses and validates `consortium.yaml`. Throws {@link ConfigError} whose message starts with `sourceName`
 * and names the JSON path of each problem (`consortium.yaml: /sites/1/id: ...`, `unknown key 'foo' at
 * /coordinator`), for YAML syntax errors, schema violations, duplicate ids (across sites, operators and the
 * coordinator, so that an id names one certificate), and `site` given for anything but a site-admin or naming
 * an unlisted site.
 */
export function parseConsortiumConfig(text: string, sourceName: string): ConsortiumConfig {
  return parseConfigText(ConsortiumConfigSchema, text, sourceName, checkCrossReferences);
}

type ValidatedInput = Static<typeof ConsortiumConfigSchema>;

function checkCrossReferences(config: ValidatedInput, sourceName: string): void {
  const fail = (path: string, message: string): never => {
    throw new ConfigError(`${sourceName}: ${path} ${message}`, { source: sourceName, path });
  };
  const owners = new Map<string, string>([[config.coordinator.id, '/coordinator/id']]);
  const claim = (id: string, path: string): void => {
    const first = owners.get(id);
    if (first !== undefined) fail(path, `'${id}' duplicates the id at ${first}; ids must be unique`);
    owners.set(id, path);
  };
  config.sites.forEach((site, i) => claim(site.id, `/sites/${i}/id`));
  const siteIds = new Set(config.sites.map((s) => s.id));
  config.operators.forEach((op, i) => {
    claim(op.id, `/operators/${i}/id`);
    if (op.role === OperatorAccessRole.SiteAdmin && op.site === undefined) {
      fail(`/operators/${i}`, `is a site-admin and needs 'site'`);
    }
    if (op.role !== OperatorAccessRole.SiteAdmin && op.site !== undefined) {
      fail(`/operators/${i}/site`, `is only allowed for role 'site-admin' (role is '${op.role}')`);
    }
    if (op.site !== undefined && !siteIds.has(op.site)) {
      fail(`/operators/${i}/site`, `names '${op.site}', which is not a listed site`);
    }
  });
}
