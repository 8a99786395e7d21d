/**
 * Word lists of the free-text scrubber's context rules (site-agent/src/hospital/deid/text-scrubber.ts), all lower case.
 */

export const TITLES: ReadonlySet<string> = new Set(['dr', 'drs', 'doctor', 'mr', 'mrs', 'ms', 'miss', 'mister', 'dear']);
export const RELATIONS: ReadonlySet<string> = new Set([
  'son', 'sons', 'daughter', 'daughters', 'dtr', 'dau', 'wife', 'husband', 'hus', 'sister', 'sis', 'brother', 'bro', 'mother', 'mom',
  'father', 'dad', 'niece', 'nephew', 'friend', 'aunt', 'uncle', 'granddaughter', 'grandson', 'grandaughter', 'cousin', 'fiance',
  'fiancee', 'companion', 'girlfriend', 'boyfriend', 'partner', 'hcp', 'proxy', 'neighbor', 'sil', 'dil', 'spouse', 'grandmother',
  'grandfather', 'stepson', 'stepdaughter', 'pastor', 'priest', 'rabbi', 'chaplain',
]);
export const CONTACT_VERBS: ReadonlySet<string> = new Set([
  'per', 'paged', 'called', 'notified', 'informed', 'told', 'spoke', 'discussed', 'dw', 'reach', 'reached', 'contacted', 'phoned', 'updated',
]);
export const ROLES_AFTER: ReadonlySet<string> = new Set(['md', 'rn', 'np', 'pa', 'rrt', 'aware', 'notified', 'paged', 'called', 'came', 'visited', 'said', 'stated', 'states', 'spoke', 'wishes', 'verbalizes']);
/**
 * Clinical words that are also Census surnames or unknown to the English list (drugs, devices,
 * abbreviations). Collected from the development half of the PhysioNet corpus.
 */
export const CLINICAL: ReadonlySet<string> = new Set([
  'min', 'cont', 'conts', 'vea', 'bp', 'hr', 'rr', 'carevue', 'propofol', 'ativan', 'lasix', 'psv', 'ra', 'iv', 'endo', 'abg', 'ps',
  'ns', 'sbp', 'fick', 'tol', 'ros', 'hickman', 'ett', 'ct', 'trach', 'neice', 'ptt', 'neo', 'inc', 'abd', 'resp', 'mso', 'sx',
  'pmicu', 'occ', 'go', 'tv', 'fio', 'tf', 'quinton', 'cxr', 'ac', 'ogt', 'ngt', 'uo', 'mg', 'cpap', 'rt', 'mn', 'duoderm', 'dsd',
  'tlc', 'npo', 'ng', 'flovent', 'cvp', 'co', 'chg', 'a-line', 'vt', 'ph', 'perl', 'neuro', 'bs', 'asa', 'tylenol', 'svr', 'simv',
  'remaines', 'pm', 'nepro', 'le', 'ivf', 'ir', 'hct', 'freq', 'combivent', 'ci', 'vanco', 'tpn', 'spo', 'sm', 'prn', 'oob', 'ntg',
  'nipride', 'mc', 'milrinone', 'foley', 'coumadin', 'heparin', 'levo', 'levophed', 'dopa', 'dopamine', 'dobutamine', 'dobuta',
  'lopressor', 'captopril', 'versed', 'fentanyl', 'morphine', 'haldol', 'vent', 'swan', 'peg', 'picc', 'cath', 'dilaudid', 'protonix',
  'zantac', 'pepcid', 'kcl', 'lytes', 'sats', 'sat', 'gtt', 'gtts', 'lr', 'prbc', 'ffp', 'plts', 'bun', 'cr', 'wbc', 'inr', 'pt',
  'lll', 'rll', 'rul', 'lul', 'rml', 'mae', 'perrl', 'perla', 'aox', 'cough', 'dc', 'dcd', 'etoh', 'hx', 'pmh', 'hpi', 'sob', 'doe',
  'nad', 'vss', 'afeb', 'tmax', 'rhonchi', 'lg', 'sm', 'mod', 'amt', 'amts', 'pts', 'mdi', 'mdis', 'nebs', 'neb', 'albuterol',
  'atrovent', 'solumedrol', 'prednisone', 'insulin', 'humalog', 'lantus', 'ssi', 'fsbs', 'bs', 'ekg', 'ecg', 'echo', 'tee', 'tte',
  'bipap', 'nc', 'fm', 'nrb', 'cta', 'dx', 'sl', 'po', 'pr', 'im', 'sq', 'subq', 'qd', 'bid', 'tid', 'qid', 'qhs', 'hs', 'ou',
  'levaquin', 'zosyn', 'flagyl', 'cipro', 'ceftaz', 'vancomycin', 'gent', 'amio', 'amiodarone', 'dig', 'digoxin', 'diltiazem',
  'cardizem', 'lovenox', 'plavix', 'integrilin', 'aggrastat', 'reopro', 'nitro', 'ntg', 'mucomyst', 'kayexalate', 'ativan',
  'precedex', 'ketamine', 'neurontin', 'methadone', 'oxycodone', 'percocet', 'vicodin', 'colace', 'senna', 'dulcolax', 'reglan',
  'zofran', 'phenergan', 'benadryl', 'ambien', 'seroquel', 'zyprexa', 'sepsis', 'uti', 'hd', 'cvvh', 'cvvhd', 'crrt', 'dialysis',
  'quinton', 'hickman', 'groshong', 'mediport', 'portacath', 'pacer', 'tvp', 'iabp', 'lvad', 'ccu', 'csru', 'tsicu', 'nsicu',
  'sao', 'pao', 'riss', 'bair', 'hugger', 'ganz', 'flowsheet', 'gd', 'chol', 'vue', 'ss', 'brady', 'shiley', 'ota', 'kling', 'ij',
  'nsg', 'lue', 'rue', 'lle', 'rle', 'penrose', 'dia', 'cal', 'zoll', 'procan', 'pej', 'passey', 'passy', 'hoyer', 'dopp', 'cvvhf',
  'mds', 'sw', 'td', 'signif', 'adeq', 'pulm', 'rbc', 'wdrawl', "md's", "pt's", 'p-micu', 'deline', 'micu', 'ccu', 'sicu', 'ew',
  'pacu', 'rrt', 'ot', 'pt', 'slp', 'cm', 'vna', 'rehab', 'osh', 'ed', 'er', 'or', 'ir', 'ep', 'gi', 'gu', 'id', 'cv',
  'sr', 'dec', 'inc', 'nsr', 'afib', 'a-fib', 'diurese', 'lcx', 'ms', 'angio', 'eval', 'lcs', 'bb', 'af', 'sb', 'lws', 'imv', 'abx',
  'recieve', 'mri', 'bilat', 'av', 'rij', 'lij', 'og', 'maint', 'lp', 'extubation', 'uop', 'nbp', 'hosp', 'diamox', 'cd', 'careview',
  'camode', 'bld', 'approx', 'sxn', 'rca', 'lad', 'midnoc', 'prev', 'lipline', 'kvo', 'doppler', 'cordis', 'cmv', 'antecubital',
  'ambu', 'amb', 'waterseal', 'vs', 'rx', 'tx', 'rv', 'lv', 'tpp', 'rhonci', 'thermodilution', 't-berg', 'respalor', 'svn', 'qs',
  'pmicu', 'go', "con't", 'aline', 'fhpa', 'fhp', 'suct', 'prox', "dc'd", 'sang', 'wein', 'usoh', 'pcp',
  'sr-st', 'st', 'svt', 'pvc', 'pvcs', 'pac', 'pacs', 'vfib', 'vtach', 'aflutter', 'ivp', 'ivpb', 'pca', 'epidural', 'tele',
  // Languages and nationalities, written next to a relation in interpreter notes ("daughter, russian speaking").
  'russian', 'spanish', 'portuguese', 'korean', 'chinese', 'mandarin', 'cantonese', 'vietnamese', 'haitian', 'creole', 'polish',
  'italian', 'greek', 'arabic', 'farsi', 'hindi', 'urdu', 'somali', 'amharic', 'verdean', 'albanian', 'armenian', 'ukrainian',
  'tagalog', 'japanese', 'hebrew', 'yiddish', 'french', 'german', 'bengali', 'punjabi', 'gujarati', 'turkish', 'khmer', 'lao', 'hmong',
]);
export const SIGNATURE_ROLES: ReadonlySet<string> = new Set(['rrt', 'rn', 'crt', 'md', 'np', 'lpn', 'msw', 'lcsw', 'lics', 'rph', 'pharmd', 'cns', 'snm', 'sn', 'bsn', 'msn', 'rnc', 'ccrn', 'lvn', 'rcp']);
export const PLACE_BEFORE: ReadonlySet<string> = new Set(['to', 'from', 'at', 'via', 'transfer', 'transferred', 'admitted']);
export const WEEKDAYS: ReadonlySet<string> = new Set(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'mon', 'tues', 'wed', 'thurs', 'fri', 'sat', 'sun']);
export const FACILITY: ReadonlySet<string> = new Set([
  'hospital', 'hosp', 'medical', 'memorial', 'rehab', 'rehabilitation', 'nursing', 'clinic', 'healthcare', 'manor', 'infirmary',
  'hospice', 'county', 'university', 'univ', 'general', 'center', 'ctr', 'health', 'home', 'house', 'institute', 'valley',
  'campus', 'shore', 'regional', 'adventist', 'methodist', 'baptist', 'presbyterian', 'lutheran',
]);
/** Words that never start a name or place even after a title or relation. */
export const STOP: ReadonlySet<string> = new Set([
  'the', 'a', 'an', 'and', 'or', 'of', 'to', 'in', 'on', 'at', 'for', 'with', 'by', 'from', 'is', 'was', 'are', 'were', 'be', 'been',
  'has', 'had', 'have', 'he', 'she', 'his', 'her', 'they', 'them', 'their', 'it', 'this', 'that', 'who', 'which', 'will', 'would',
  'not', 'no', 'yes', 'pt', 'patient', 'aware', 'notified', 'called', 'paged', 'here', 'there', 'also', 'then', 'team', 'service',
  'in-law', 'law', 'all', 'both', 'family', 'present', 'visited', 'visiting', 'visit', 'came', 'at', 'bedside', 'now', 'today',
  'tonight', 'later', 'about', 'as', 'if', 'so', 'up', 'out', 'over', 'via', 're', 'md', 'rn', 'np', 'pa', 'same', 'other',
  'another', 'local', 'outside', 'osh', 'transfer', 'transferred', 'admitted', 'our', 'your', 'my', 'me', 'we', 'you', 'i', 'st',
  'can', 'may', 'did', 'does', 'do', 'states', 'stated', 'said', 'says', 'again', 'just', 'very', 'well', 'still', 'already',
  'see', 'please', 'copy', 'ceo', 'phone', 'tel', 'home', 'hospital', 'floor', 'unit', 'icu', 'ccu', 'micu', 'sicu', 'ed', 'er', 'ew', 'or', 'pacu', 'cath', 'lab',
]);
/** Words that precede a number without being a ward name ("bed 4", "day 2", "PEEP 5"). */
export const BEFORE_NUMBER: ReadonlySet<string> = new Set([
  'floor', 'bed', 'beds', 'room', 'rm', 'unit', 'ward', 'level', 'day', 'days', 'pod', 'step', 'stage', 'grade', 'post', 'hour', 'hours',
  'week', 'weeks', 'month', 'months', 'year', 'years', 'rate', 'peep', 'page', 'cycle', 'round', 'number', 'size', 'class', 'type',
  'bay', 'suite', 'area', 'building', 'tower', 'station', 'team', 'service', 'plus', 'minus', 'over', 'under', 'about', 'around', 'only',
  'times', 'total', 'dose', 'doses', 'units', 'liters', 'lpm', 'percent', 'minutes', 'seconds', 'shift', 'trial', 'phase', 'part',
  'line', 'lumen', 'french', 'fr', 'gauge', 'tube', 'trach', 'shiley', 'portex', 'bivona', 'ett', 'level', 'mode', 'vent', 'setting',
]);
/** Health-care roles written before a name ("NP Grace", "resident Smith"). */
export const ROLES_BEFORE: ReadonlySet<string> = new Set([
  'np', 'rn', 'pa', 'md', 'resident', 'intern', 'fellow', 'attending', 'nurse', 'crna', 'rrt', 'pct', 'sw', 'therapist', 'tech', 'aide',
  'sitter', 'interpreter', 'translator', 'student',
]);
/** Clinicians' roles written before a person's name and rarely before anything else ("NP Kim", "resident Okafor"); not PA, also the pulmonary artery. */
export const NAMED_ROLES: ReadonlySet<string> = new Set(['np', 'resident', 'intern', 'fellow', 'attending', 'crna']);
/** Verbs after which "to/from/at X" names a place ("transferred to X", "seen at X"). */
export const MOVED: ReadonlySet<string> = new Set([
  'transferred', 'transfered', 'transfer', 'xfer', 'xferred', 'admitted', 'readmitted', 'sent', 'discharged', 'taken', 'brought', 'went',
  'go', 'goes', 'going', 'return', 'returned', 'returning', 'returns', 'back', 'came', 'arrived', 'seen', 'treated', 'followed', 'hospitalized',
  'presented', 'transported', 'flown', 'medflighted', 'airlifted', 'dispo', 'placement', 'accepted', 'bed', 'screened', 'evaluated',
]);
/** Units and services that follow "transferred to" without being PHI. */
export const UNITS: ReadonlySet<string> = new Set([
  'icu', 'ccu', 'micu', 'sicu', 'csru', 'tsicu', 'nsicu', 'cvicu', 'picu', 'nicu', 'pacu', 'ed', 'er', 'ew', 'or', 'ct', 'mri', 'ir', 'ep',
  'cath', 'snf', 'ltac', 'ltach', 'osh', 'nh', 'ecf', 'rehab', 'tele', 'lab', 'us', 'egd', 'ercp', 'eeg', 'emg', 'echo', 'floor', 'unit',
  'stepdown', 'vicu', 'cmi', 'hospice', 'home', 'ward', 'room', 'bed', 'acute', 'step', 'dialysis', 'radiology', 'nuclear', 'surgery',
  'endoscopy', 'cardiology', 'neurology', 'medicine', 'ems', 'ems', 'ambulance', 'triage', 'pcu', 'imc', 'ccu/csru', 'fmc', 'psvt', 'vt', 'vf', 'afib', 'sr', 'nsr', 'svt',
  'pm', 'am', 'noc', 'unit', 'tsicu', 'hd', 'cvvh', 'vent', 'mask', 'nc', 'fm', 'rr', 'hr', 'bp',
]);
/** US state abbreviations (postal codes and the common short forms): a state alone is not PHI under Safe Harbor. */
export const STATE_ABBREVIATIONS: ReadonlySet<string> = new Set([
  'al', 'ak', 'az', 'ar', 'ca', 'co', 'ct', 'de', 'fl', 'ga', 'hi', 'ia', 'id', 'il', 'in', 'ks', 'ky', 'la', 'ma', 'md', 'me', 'mi',
  'mn', 'mo', 'ms', 'mt', 'nc', 'nd', 'ne', 'nh', 'nj', 'nm', 'nv', 'ny', 'oh', 'ok', 'or', 'pa', 'ri', 'sc', 'sd', 'tn', 'tx', 'ut',
  'va', 'vt', 'wa', 'wi', 'wv', 'wy', 'dc', 'ala', 'ariz', 'ark', 'calif', 'cal', 'colo', 'conn', 'del', 'fla', 'ill', 'ind', 'kan',
  'mass', 'mich', 'minn', 'miss', 'mont', 'neb', 'nev', 'okla', 'ore', 'penn', 'penna', 'tenn', 'tex', 'wash', 'wis', 'wisc', 'wyo',
]);
