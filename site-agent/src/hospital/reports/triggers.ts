/**
 * The built-in negation, uncertainty, pseudo-trigger and termination phrases (phrase syntax of
 * `phrase.ts`). A lexicon's `triggers:` block adds to these; it cannot remove them.
 *
 * Modelled on NegEx (Chapman et al. 2001: pre- and post-negation triggers, pseudo-negations, termination
 * terms), on pyConText's bidirectional modifiers, and on the CheXpert labeler's rule that uncertainty
 * phrases built around a negation ("cannot exclude", "not ruled out") are matched before the negation
 * itself. Where a longer phrase overlaps a shorter one, the longer wins: "no change" (pseudo) hides "no",
 * "cannot be excluded" (uncertain) hides "not".
 *
 * Uncertainty covers *possible* existence only ("may", "could", "possible", "versus", "cannot exclude",
 * "suspicious for"). *Probable* existence ("likely", "probably", "favored", "presumed", "represents") is
 * the radiologist's reading and stays positive, as pyConText's document classifiers count
 * probable_existence with definite_existence. (On IU X-ray reports uid < 1601, counting probable hedges
 * as uncertain lowered macro-F1 from 0.943 to 0.933: indexers coded "opacity, likely atelectasis" as
 * atelectasis.)
 */

/** Trigger phrases by role. `pre` acts on mentions after it in its clause, `post` on mentions before it. */
export interface TriggerPhrases {
  readonly negation: { readonly pre: readonly string[]; readonly post: readonly string[] };
  readonly uncertainty: { readonly pre: readonly string[]; readonly post: readonly string[] };
  /** Look like a trigger but are none ("no change", "not only"): matched so that they hide the trigger. */
  readonly pseudo: readonly string[];
  /** End a clause: no trigger acts across them ("but", "however", "which"). */
  readonly termination: readonly string[];
}

export const DEFAULT_TRIGGERS: TriggerPhrases = {
  negation: {
    pre: [
      'no', 'not', 'without', 'negative for', 'free of', 'clear of', 'absence of', 'absent', 'resolution of', 'resolved',
      'removal of', 'clearing of', 'cleared', 'nor', 'neither', 'never', 'rules out', 'ruled out',
      'no longer', 'deny', 'denies',
    ],
    post: [
      'not', 'absent', 'resolved', 'have resolved', 'has resolved', 'has cleared', 'have cleared', 'cleared',
      'no longer', 'ruled out', 'unlikely', 'removed', 'negative', 'is gone', 'are gone',
    ],
  },
  uncertainty: {
    pre: [
      'may', 'might', 'could', 'possible', 'possibly', 'questionable',
      'question of', 'questioned', 'suspicious', 'suspicion', 'suspect', 'suspected', 'suggest*', 'concerning for',
      'concern for', 'worrisome', 'cannot exclude', 'can not exclude', 'cannot be excluded', 'can not be excluded',
      'not excluded', 'not be excluded', 'cannot rule out', 'can not rule out', 'not ruled out', 'cannot be ruled out',
      'not be ruled out', 'difficult to exclude', 'rule out', 'versus', 'vs', 'differential', 'consider',
      'considered', 'equivocal', 'indeterminate', 'uncertain',
      'question', '?', 'nondiagnostic',
    ],
    post: [
      'is suspected', 'are suspected', 'not excluded', 'cannot be excluded', 'can not be excluded',
      'not be excluded', 'could not be excluded', 'not ruled out', 'cannot be ruled out', 'is possible',
      'are possible', 'versus', 'vs', '?', 'is not excluded', 'is questioned', 'not entirely excluded',
    ],
  },
  pseudo: [
    'no change', 'no significant change', 'no interval change', 'no significant interval change',
    'no appreciable change', 'no substantial change', 'not significantly changed', 'not changed',
    'no increase', 'no decrease', 'no significant increase', 'not only', 'not necessarily', 'without change',
    'without interval change', 'without significant change', 'not improved', 'no improvement',
    'gram negative',
  ],
  termination: [
    'but', 'however', 'although', 'though', 'which', 'except', 'yet', 'whereas', 'aside from', 'apart from',
    'other than', 'with the exception of', 'there is', 'there are', 'there has', 'there have', ';', ':',
  ],
};
