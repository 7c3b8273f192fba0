/** The answers of the interactive review (also listed by `fix --help`, which must not load the prompt library). */
export type Choice = 'yes' | 'no' | 'file' | 'rule' | 'all' | 'quit' | 'explain' | 'edit';

export const CHOICES: ReadonlyArray<{ key: 'y' | 'n' | 'f' | 'r' | 'a' | 'q' | 'x' | 'e'; name: string; value: Choice }> = [
  { key: 'y', name: 'Yes, apply this change', value: 'yes' },
  { key: 'n', name: 'No, skip it', value: 'no' },
  { key: 'f', name: 'Apply this and every later change in this file (those reached before you quit)', value: 'file' },
  { key: 'r', name: 'Apply this and every later change of this rule (those reached before you quit)', value: 'rule' },
  { key: 'a', name: 'Apply this and all later changes', value: 'all' },
  { key: 'q', name: 'Quit: write what was accepted, leave the rest untouched', value: 'quit' },
  { key: 'x', name: 'Explain the rule', value: 'explain' },
  { key: 'e', name: 'Edit the result in $EDITOR (verified again before use)', value: 'edit' },
];
