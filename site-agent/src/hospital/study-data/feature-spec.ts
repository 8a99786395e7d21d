import { Type, type Static } from '@sinclair/typebox';

/**
 * A study's declarative EMR feature spec: which LOINC observations, conditions and demographics of the
 * de-identified records become features, how each is aggregated, how missing values are handled, and
 * what the label is. `site-agent/src/hospital/study-data/features.ts` turns de-identified FHIR records into rows with it.
 *
 * Example (YAML):
 * ```yaml
 * observations:
 *   - { loinc: '39156-5', name: bmi, aggregate: last, missing: { strategy: mean, indicator: true } }
 * conditions:
 *   - { name: diabetes, codes: [{ system: snomed, code: '44054006' }] }
 * demographics: [age, sex]
 * label: { kind: condition, codes: [{ system: snomed, code: '38341003' }] }
 * ```
 */

const strict = { additionalProperties: false } as const;
const FEATURE_NAME = '^[a-z][a-z0-9_]{0,62}$';

/** How a feature with no value for a patient is filled. */
export const MissingSchema = Type.Object(
  {
    /**
     * `mean`: the site's mean of the feature (computed on the site, never sent); `zero`; `constant`
     * (`value`); `drop`: the patient is left out of the study.
     * @default 'mean'
     */
    strategy: Type.Union([Type.Literal('mean'), Type.Literal('zero'), Type.Literal('constant'), Type.Literal('drop')], {
      default: 'mean',
    }),
    /** Fill value for `constant`. */
    value: Type.Optional(Type.Number()),
    /** Adds a 0/1 column `<name>_missing`. @default false */
    indicator: Type.Boolean({ default: false }),
  },
  { ...strict, default: {} },
);

/** A coded concept: `snomed` (SNOMED CT), `icd10` (ICD-10 or ICD-10-CM) or `loinc`. */
export const CodeSchema = Type.Object(
  {
    system: Type.Union([Type.Literal('snomed'), Type.Literal('icd10'), Type.Literal('loinc')]),
    code: Type.String({ minLength: 1, maxLength: 64 }),
  },
  strict,
);

/** One numeric LOINC observation, aggregated over the patient's record. */
export const ObservationFeatureSchema = Type.Object(
  {
    loinc: Type.String({ pattern: '^[0-9]{1,7}-[0-9]$' }),
    name: Type.String({ pattern: FEATURE_NAME }),
    /** @default 'last' */
    aggregate: Type.Union(
      [Type.Literal('last'), Type.Literal('first'), Type.Literal('mean'), Type.Literal('min'), Type.Literal('max'), Type.Literal('count')],
      { default: 'last' },
    ),
    missing: MissingSchema,
  },
  strict,
);

/** A 0/1 feature: 1 when the patient has any condition with one of the codes. */
export const ConditionFeatureSchema = Type.Object(
  {
    name: Type.String({ pattern: FEATURE_NAME }),
    codes: Type.Array(CodeSchema, { minItems: 1 }),
  },
  strict,
);

/** Demographic features: `age` (years at the latest dated record; 90 for the 90+ group), `sex` (female = 1). */
export const DemographicSchema = Type.Union([Type.Literal('age'), Type.Literal('sex')]);

/** The label: presence of a condition, or an observation compared with a threshold. */
export const LabelSchema = Type.Union([
  Type.Object({ kind: Type.Literal('condition'), codes: Type.Array(CodeSchema, { minItems: 1 }) }, strict),
  Type.Object(
    {
      kind: Type.Literal('observation'),
      loinc: Type.String({ pattern: '^[0-9]{1,7}-[0-9]$' }),
      aggregate: Type.Union([Type.Literal('last'), Type.Literal('max'), Type.Literal('mean')], { default: 'last' }),
      /** The label is 1 when the aggregated value is >= `atLeast`. Patients without the value are dropped. */
      atLeast: Type.Number(),
    },
    strict,
  ),
]);

/** The whole spec. */
export const FeatureSpecSchema = Type.Object(
  {
    observations: Type.Array(ObservationFeatureSchema, { default: [] }),
    conditions: Type.Array(ConditionFeatureSchema, { default: [] }),
    demographics: Type.Array(DemographicSchema, { default: [] }),
    /** Absent when the label comes from elsewhere (e.g. the image). */
    label: Type.Optional(LabelSchema),
  },
  strict,
);

export type FeatureSpec = Static<typeof FeatureSpecSchema>;
export type ObservationFeature = Static<typeof ObservationFeatureSchema>;
export type FeatureCode = Static<typeof CodeSchema>;
