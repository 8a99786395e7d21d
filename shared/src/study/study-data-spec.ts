/**
 * A study's `data:` section: the cohort, index date, windows, features, label and split that every site
 * evaluates on its own de-identified records (docs/reference/study-data.md). The coordinator validates it
 * when the study is created ({@link checkStudyData}); each site validates it again before it touches a
 * record, with its own harmonisation (code mapping, units) in between.
 *
 * Nothing here reads patient data: it is the contract, shared by both roles.
 */
import { Type, type Static } from '@sinclair/typebox';
import fhirpath from 'fhirpath';
import { ConfigError } from '../errors.js';

const strict = { additionalProperties: false } as const;
const NAME = '^[a-z][a-z0-9_]{0,62}$';

/**
 * Code systems a study may name, by short name. `snomed`: SNOMED CT; `icd10`: ICD-10 or ICD-10-CM;
 * `loinc`; `radlex`: RadLex (terms and the Radiology Playbook's RPIDs); `rxnorm`; `cpt`.
 */
export const STUDY_CODE_SYSTEMS = {
  snomed: ['http://snomed.info/sct'],
  icd10: ['http://hl7.org/fhir/sid/icd-10', 'http://hl7.org/fhir/sid/icd-10-cm'],
  loinc: ['http://loinc.org'],
  radlex: ['http://radlex.org', 'http://www.radlex.org'],
  rxnorm: ['http://www.nlm.nih.gov/research/umls/rxnorm'],
  cpt: ['http://www.ama-assn.org/go/cpt'],
} as const;
export type StudyCodeSystem = keyof typeof STUDY_CODE_SYSTEMS;
export const STUDY_CODE_SYSTEM_NAMES = Object.keys(STUDY_CODE_SYSTEMS) as StudyCodeSystem[];

/** The study code system a URI belongs to, if any. */
export function studySystemOf(uri: string): StudyCodeSystem | undefined {
  return STUDY_CODE_SYSTEM_NAMES.find((n) => (STUDY_CODE_SYSTEMS[n] as readonly string[]).includes(uri));
}

/** A coded concept in a standard system. */
export const StudyCodeSchema = Type.Object(
  {
    /** One of {@link STUDY_CODE_SYSTEM_NAMES} ({@link checkStudyData} names the field of any other). */
    system: Type.String({ minLength: 1, maxLength: 64 }),
    code: Type.String({ minLength: 1, maxLength: 64 }),
  },
  strict,
);
export type StudyCode = Omit<Static<typeof StudyCodeSchema>, 'system'> & { system: StudyCodeSystem };

/** The FHIR resource types a criterion or feature can read. `Medication` reads MedicationRequest, MedicationAdministration and MedicationStatement (the drug from medicationCodeableConcept or the referenced Medication's code). */
export const CRITERION_RESOURCES = ['Condition', 'Observation', 'Procedure', 'Medication'] as const;
export type CriterionResource = (typeof CRITERION_RESOURCES)[number];

/** A numeric condition on an Observation's value, in `unit` (UCUM; the site converts). */
export const ValueThresholdSchema = Type.Object(
  {
    atLeast: Type.Optional(Type.Number()),
    atMost: Type.Optional(Type.Number()),
    /** UCUM unit the thresholds are in; values in other units are converted. Absent: values taken as they are. */
    unit: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    /** g/mol, for conversions between mass and substance amount (e.g. mg/dL ↔ mmol/L). */
    molecularWeight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  },
  strict,
);

/** One coded criterion: the patient has a resource of this type with one of the codes (and the value). */
const codeCriterionProperties = {
    resource: Type.Union(CRITERION_RESOURCES.map((r) => Type.Literal(r))),
    codes: Type.Array(StudyCodeSchema, { minItems: 1 }),
    /** Observations only: which value counts, after unit conversion. */
    value: Type.Optional(ValueThresholdSchema),
    /** Observations with a value: the aggregate compared with it over the window. @default 'any' (any one value) */
    aggregate: Type.Optional(Type.Union([Type.Literal('any'), Type.Literal('last'), Type.Literal('first'), Type.Literal('max'), Type.Literal('min'), Type.Literal('mean')])),
};
export const CodeCriterionSchema = Type.Object(codeCriterionProperties, strict);
/** A cohort criterion: a coded criterion, over the whole record or (`beforeIndex`) up to the index date. */
export const CohortCriterionSchema = Type.Object({ ...codeCriterionProperties, beforeIndex: Type.Optional(Type.Boolean()) }, strict);
export type CohortCriterion = Static<typeof CohortCriterionSchema>;
export type CodeCriterion = Static<typeof CodeCriterionSchema>;

/** A finding in the patient's radiology report text, by the site's report labeler and a lexicon. */
export const ReportCriterionSchema = Type.Object(
  {
    report: Type.Object(
      {
        /** Lexicon name (e.g. `chest-xray`). */
        lexicon: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
        finding: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
        /** Which mention counts. @default ['positive'] */
        status: Type.Optional(Type.Array(Type.Union([Type.Literal('positive'), Type.Literal('uncertain')]), { minItems: 1 })),
      },
      strict,
    ),
  },
  strict,
);
export type ReportCriterion = Static<typeof ReportCriterionSchema>;

/**
 * Any of several criteria, e.g. a diagnosis code or a report finding, for sites that record the same fact
 * differently: true when one holds, false when none holds and at least one could be told, unknown otherwise
 * (a site with no reports still labels from its codes).
 */
export const AnyOfCriterionSchema = Type.Object({ anyOf: Type.Array(Type.Union([CodeCriterionSchema, ReportCriterionSchema]), { minItems: 1 }) }, strict);
export type AnyOfCriterion = Static<typeof AnyOfCriterionSchema>;

export const CriterionSchema = Type.Union([CodeCriterionSchema, ReportCriterionSchema, AnyOfCriterionSchema]);
export type Criterion = Static<typeof CriterionSchema>;

/** Imaging selection: which studies and series count (after the site's harmonisation). */
export const ImagingSelectionSchema = Type.Object(
  {
    /** DICOM modalities (CR, DX, CT, …). */
    modality: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Z0-9]{1,16}$' }), { minItems: 1 })),
    /** DICOM Body Part Examined values (CHEST, …), compared case-insensitively. */
    bodyPart: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1 })),
    /** Procedure codes; the site maps its study and series descriptions to them. */
    procedure: Type.Optional(Type.Array(StudyCodeSchema, { minItems: 1 })),
  },
  strict,
);
export type ImagingSelection = Static<typeof ImagingSelectionSchema>;

/** Cohort: who is in. Criteria hold over the whole record, or (`beforeIndex`) over records up to the index date. */
export const CohortSchema = Type.Object(
  {
    /** Every criterion must hold. */
    include: Type.Array(CohortCriterionSchema, { default: [] }),
    /** No criterion may hold. */
    exclude: Type.Array(CohortCriterionSchema, { default: [] }),
    /** Age in years at the index date (90 for the Safe Harbor 90+ group). */
    age: Type.Optional(Type.Object({ min: Type.Optional(Type.Integer({ minimum: 0, maximum: 90 })), max: Type.Optional(Type.Integer({ minimum: 0, maximum: 90 })) }, strict)),
    sex: Type.Optional(Type.Array(Type.Union([Type.Literal('female'), Type.Literal('male'), Type.Literal('other'), Type.Literal('unknown')]), { minItems: 1 })),
    /** Imaging studies: the studies and series that count. */
    imaging: Type.Optional(ImagingSelectionSchema),
  },
  { ...strict, default: {} },
);
export type Cohort = Static<typeof CohortSchema>;

/**
 * The index date of each patient. `imaging-study`: the first selected imaging study; `first-condition`,
 * `first-observation`, `first-procedure`, `first-medication`: the first such resource with one of `codes`;
 * `first-encounter`, `last-record`: the patient's first encounter, latest dated record.
 */
export const IndexSchema = Type.Object(
  {
    event: Type.Union(
      ['imaging-study', 'first-condition', 'first-observation', 'first-procedure', 'first-medication', 'first-encounter', 'last-record'].map((e) => Type.Literal(e)),
    ),
    codes: Type.Optional(Type.Array(StudyCodeSchema, { minItems: 1 })),
  },
  strict,
);
export type StudyIndex = Static<typeof IndexSchema>;

/** A window around the index date, in days: [index − lookbackDays, index + lookaheadDays]. */
export const WindowSchema = Type.Object(
  {
    lookbackDays: Type.Integer({ minimum: -36_500, maximum: 36_500, default: 0 }),
    lookaheadDays: Type.Integer({ minimum: -36_500, maximum: 36_500, default: 0 }),
  },
  strict,
);
export type StudyWindow = Static<typeof WindowSchema>;

const missing = Type.Object(
  {
    /** `mean` (this site's mean, never sent), `zero`, `constant` (`value`), `drop` (the patient is left out). */
    strategy: Type.Union([Type.Literal('mean'), Type.Literal('zero'), Type.Literal('constant'), Type.Literal('drop')], { default: 'mean' }),
    value: Type.Optional(Type.Number()),
    /** Adds a 0/1 column `<name>_missing`. */
    indicator: Type.Boolean({ default: false }),
  },
  { ...strict, default: {} },
);

const AGGREGATES = ['last', 'first', 'mean', 'min', 'max', 'count'] as const;

/** Features, read from the feature window only. */
export const StudyFeaturesSchema = Type.Object(
  {
    /** Numeric observations, by LOINC (local codes mapped by the site), converted to `unit`. */
    observations: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: NAME }),
          loinc: Type.String({ pattern: '^[0-9]{1,7}-[0-9]$' }),
          aggregate: Type.Union(AGGREGATES.map((a) => Type.Literal(a)), { default: 'last' }),
          /** UCUM unit of the column; every site converts into it. */
          unit: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          molecularWeight: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          missing,
        },
        strict,
      ),
      { default: [] },
    ),
    /** 0/1: any Condition, Procedure or medication record (request, administration, statement) with one of the codes in the window. */
    codes: Type.Array(
      Type.Object({ name: Type.String({ pattern: NAME }), resource: Type.Union(['Condition', 'Procedure', 'Medication'].map((r) => Type.Literal(r))), codes: Type.Array(StudyCodeSchema, { minItems: 1 }) }, strict),
      { default: [] },
    ),
    /** `age` (years at the index date), `sex` (column `sex_female`). */
    demographics: Type.Array(Type.Union([Type.Literal('age'), Type.Literal('sex')]), { default: [] }),
    /**
     * FHIRPath (HL7 `fhirpath`, R4 model) evaluated on each of the patient's resources of type `resource`
     * in the window; numbers and booleans (true = 1) are aggregated, other results ignored.
     */
    fhirpath: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: NAME }),
          resource: Type.Union(['Patient', 'Condition', 'Observation', 'Procedure', 'MedicationRequest', 'MedicationAdministration', 'MedicationStatement', 'Encounter', 'ImagingStudy', 'DiagnosticReport'].map((r) => Type.Literal(r))),
          expression: Type.String({ minLength: 1, maxLength: 2000 }),
          aggregate: Type.Union([...AGGREGATES, 'any'].map((a) => Type.Literal(a)), { default: 'last' }),
          missing,
        },
        strict,
      ),
      { default: [] },
    ),
  },
  { ...strict, default: {} },
);
export type StudyFeatures = Static<typeof StudyFeaturesSchema>;

/** One class of a multi-class or multi-label label. */
export const LabelClassSchema = Type.Object({ name: Type.String({ pattern: NAME }), when: CriterionSchema }, strict);

/**
 * The label, read from the label window. `binary`: 1 when `positive` holds (an Observation threshold
 * with no value in the window leaves the label unknown and the patient out). `multiclass`: the first
 * class whose criterion holds, else `otherwise` (else unknown). `multilabel`: one 0/1 per class.
 */
export const StudyLabelSchema = Type.Union([
  Type.Object({ type: Type.Literal('binary'), positive: CriterionSchema }, strict),
  Type.Object({ type: Type.Literal('multiclass'), classes: Type.Array(LabelClassSchema, { minItems: 2 }), otherwise: Type.Optional(Type.String({ pattern: NAME })) }, strict),
  Type.Object({ type: Type.Literal('multilabel'), classes: Type.Array(LabelClassSchema, { minItems: 1 }) }, strict),
]);
export type StudyLabel = Static<typeof StudyLabelSchema>;

/** Patient-level split, stratified by label, keyed by each site's secret (deterministic at a site). */
export const StudySplitSchema = Type.Object(
  {
    test: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0.25 }),
    val: Type.Number({ minimum: 0, exclusiveMaximum: 1, default: 0 }),
  },
  { ...strict, default: {} },
);

/** The whole `data:` section. */
export const StudyDataSchema = Type.Object(
  {
    /**
     * `emr`: one feature row per patient (a tabular model). `imaging`: images are the input, EMR gives cohort
     * and label, and `features` (if any) a second input: each image row is `[pixels…, features…]`.
     */
    kind: Type.Union([Type.Literal('emr'), Type.Literal('imaging')]),
    cohort: CohortSchema,
    index: IndexSchema,
    windows: Type.Object(
      {
        /** @default 3650 days back, 0 ahead */
        features: Type.Optional(WindowSchema),
        /** Half-open at its start: (index − lookbackDays, index + lookaheadDays]. @default 0 back, 365 ahead */
        label: Type.Optional(WindowSchema),
      },
      { ...strict, default: {} },
    ),
    features: StudyFeaturesSchema,
    label: StudyLabelSchema,
    split: StudySplitSchema,
  },
  strict,
);
export type StudyData = Static<typeof StudyDataSchema>;

/** The windows with their defaults filled in. */
export function studyWindows(data: StudyData): { features: { lookbackDays: number; lookaheadDays: number }; label: { lookbackDays: number; lookaheadDays: number } } {
  return {
    features: data.windows.features ?? { lookbackDays: 3650, lookaheadDays: 0 },
    label: data.windows.label ?? { lookbackDays: 0, lookaheadDays: 365 },
  };
}

/** The feature columns, in order (a function of the spec alone, so every site builds the same columns). */
export function studyFeatureColumns(data: StudyData): string[] {
  const f = data.features;
  const cols: string[] = [];
  const withIndicator = (name: string, m: { indicator: boolean }): void => {
    cols.push(name);
    if (m.indicator) cols.push(`${name}_missing`);
  };
  for (const o of f.observations) withIndicator(o.name, o.missing);
  for (const c of f.codes) cols.push(c.name);
  for (const d of f.demographics) cols.push(d === 'age' ? 'age' : 'sex_female');
  for (const p of f.fhirpath) withIndicator(p.name, p.missing);
  return cols;
}

/** The label's class names: `[negative, positive]` names for binary, the classes otherwise. */
export function studyLabelClasses(label: StudyLabel): string[] {
  if (label.type === 'binary') return ['negative', 'positive'];
  const names = label.classes.map((c) => c.name);
  return label.type === 'multiclass' && label.otherwise !== undefined ? [...names, label.otherwise] : names;
}

/** Every code in the contract, with its field path. */
function codeFields(data: StudyData): { field: string; system: string }[] {
  const out: { field: string; system: string }[] = [];
  const add = (field: string, codes: readonly { system: string }[] | undefined): void => codes?.forEach((c, i) => out.push({ field: `${field}.codes[${i}].system`, system: c.system }));
  for (const { field, c } of criteria(data)) if (!('report' in c) && !('anyOf' in c)) add(field, c.codes);
  add('data.index', data.index.codes);
  data.features.codes.forEach((c, i) => add(`data.features.codes[${i}]`, c.codes));
  data.cohort.imaging?.procedure?.forEach((c, i) => out.push({ field: `data.cohort.imaging.procedure[${i}].system`, system: c.system }));
  return out;
}

function criteria(data: StudyData): { field: string; c: Criterion }[] {
  const out: { field: string; c: Criterion }[] = [];
  data.cohort.include.forEach((c, i) => out.push({ field: `data.cohort.include[${i}]`, c }));
  data.cohort.exclude.forEach((c, i) => out.push({ field: `data.cohort.exclude[${i}]`, c }));
  const l = data.label;
  const push = (field: string, c: Criterion): void => {
    if ('anyOf' in c) c.anyOf.forEach((k, i) => out.push({ field: `${field}.anyOf[${i}]`, c: k }));
    else out.push({ field, c });
  };
  if (l.type === 'binary') push('data.label.positive', l.positive);
  else l.classes.forEach((k, i) => push(`data.label.classes[${i}].when`, k.when));
  return out;
}

const fail = (source: string, field: string, why: string): never => {
  throw new ConfigError(`${source}: '${field}' ${why}`, { source, field });
};

/** Whether a FHIRPath expression parses; the parser's message (which names line and column) when it does not. */
export function fhirpathProblem(expression: string): string | undefined {
  try {
    fhirpath.parse(expression);
    return undefined;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return msg.split('\n')[0]?.slice(0, 200) ?? 'does not parse';
  }
}

/**
 * The rules a schema cannot state: unique names, windows that are not empty and do not let a feature come
 * from after the event it predicts, FHIRPath that parses, criteria that fit their resource, a study that
 * can form at least two classes. Throws a {@link ConfigError} naming the field.
 */
export function checkStudyData(data: StudyData, source = 'study'): void {
  const w = studyWindows(data);
  if (w.features.lookbackDays + w.features.lookaheadDays < 0) fail(source, 'data.windows.features', 'is empty (lookbackDays + lookaheadDays < 0)');
  if (w.label.lookbackDays + w.label.lookaheadDays <= 0) fail(source, 'data.windows.label', 'is empty (it is half-open at its start: lookbackDays + lookaheadDays must be > 0)');
  const columns = studyFeatureColumns(data);
  if (data.kind === 'emr' && columns.length === 0) fail(source, 'data.features', 'declares no feature (an emr study needs at least one)');
  // A feature may not be read after the label's window opens (EMR rows, and the EMR features of an imaging study).
  if (columns.length > 0 && w.features.lookaheadDays + w.label.lookbackDays > 0) {
    fail(source, 'data.windows', 'lets a feature come from after the event it predicts: features.lookaheadDays must be ≤ −label.lookbackDays');
  }
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) fail(source, 'data.features', `uses the column name '${c}' twice`);
    seen.add(c);
  }
  if (data.index.event.startsWith('first-') && data.index.event !== 'first-encounter' && data.index.codes === undefined) fail(source, 'data.index.codes', `is required for '${data.index.event}'`);
  for (const { field, system } of codeFields(data)) {
    if (!(STUDY_CODE_SYSTEM_NAMES as string[]).includes(system)) fail(source, field, `is '${system.slice(0, 64)}', not a code system a study can name (known: ${STUDY_CODE_SYSTEM_NAMES.join(', ')})`);
  }
  if (data.kind === 'imaging' && data.cohort.imaging === undefined) fail(source, 'data.cohort.imaging', 'is required for an imaging study (which studies and series count)');
  const age = data.cohort.age;
  if (age?.min !== undefined && age.max !== undefined && age.min > age.max) fail(source, 'data.cohort.age', 'has min > max');
  for (const { field, c } of criteria(data)) {
    if ('report' in c || 'anyOf' in c) continue;
    if (c.resource !== 'Observation' && (c.value !== undefined || c.aggregate !== undefined)) fail(source, field, `has a value condition, but only Observations have values (resource is ${c.resource})`);
    const v = c.value;
    if (v !== undefined && v.atLeast === undefined && v.atMost === undefined) fail(source, `${field}.value`, 'needs atLeast or atMost');
    if (v?.atLeast !== undefined && v.atMost !== undefined && v.atLeast > v.atMost) fail(source, `${field}.value`, 'has atLeast > atMost');
  }
  data.cohort.include.forEach((c, i) => {
    if (c.beforeIndex === true && data.index.event === 'last-record') fail(source, `data.cohort.include[${i}].beforeIndex`, "is meaningless with index event 'last-record'");
  });
  data.features.fhirpath.forEach((f, i) => {
    const problem = fhirpathProblem(f.expression);
    if (problem !== undefined) fail(source, `data.features.fhirpath[${i}].expression`, `is not valid FHIRPath (${problem})`);
  });
  for (const [i, f] of [...data.features.observations, ...data.features.fhirpath].entries()) {
    if (f.missing.strategy === 'constant' && f.missing.value === undefined) fail(source, 'data.features', `feature '${f.name}' (#${i}) has missing strategy 'constant' without a value`);
  }
  const l = data.label;
  if (l.type !== 'binary') {
    const names = studyLabelClasses(l);
    if (new Set(names).size !== names.length) fail(source, 'data.label.classes', 'has a class name twice');
  }
  const split = data.split;
  if (split.test + split.val >= 1) fail(source, 'data.split', 'leaves nothing to train (test + val ≥ 1)');
}
