/**
 * Interactive approval, one verified change at a time: yes / no / all in this file / all of this
 * rule / all / quit / explain. The prompt is injectable so the decision logic is testable.
 */
import { expand } from '@inquirer/prompts';
import type { Colors } from '../output.js';
import type { Change, Decision, SessionHooks } from '../../core/engine.js';
import { unifiedDiff } from '../../core/diff.js';
import { positionOf } from '../../core/position.js';
import { explainText } from '../commands/explain.js';
import { wrap } from '../reporters/text.js';
import { colorDiff } from './diff-view.js';

export type Choice = 'yes' | 'no' | 'file' | 'rule' | 'all' | 'quit' | 'explain';

export const CHOICES: ReadonlyArray<{ key: 'y' | 'n' | 'f' | 'r' | 'a' | 'q' | 'e'; name: string; value: Choice }> = [
  { key: 'y', name: 'Yes, apply this change', value: 'yes' },
  { key: 'n', name: 'No, skip it', value: 'no' },
  { key: 'f', name: 'Apply this and every later change in this file', value: 'file' },
  { key: 'r', name: 'Apply this and every later change of this rule', value: 'rule' },
  { key: 'a', name: 'Apply this and all later changes', value: 'all' },
  { key: 'q', name: 'Quit (keep what was accepted, skip the rest)', value: 'quit' },
  { key: 'e', name: 'Explain the rule', value: 'explain' },
];

export type Ask = (message: string) => Promise<Choice>;

export const askWithInquirer: Ask = (message) => expand({ message, choices: CHOICES, default: 'y' });

export function describeChange(change: Change, c: Colors): string {
  const { finding, rule } = change;
  const file = change.files.find((f) => f.path === finding.file) ?? change.files[0];
  const pos = positionOf(file.before, finding.start);
  const lines = [
    '',
    `${c.bold(rule.transform.title)} ${c.dim(`[${rule.transform.id}, ${finding.severity}]`)}  ${file.relPath}:${pos.line}:${pos.column}`,
    ...wrap(finding.message, 100).map((l) => c.dim(l)),
    '',
  ];
  for (const f of change.files) lines.push(colorDiff(unifiedDiff(f.relPath, f.before, f.after), c, true));
  for (const note of change.notes) lines.push(c.yellow(`note: ${note}`));
  return lines.join('\n');
}

export function interactiveHooks(print: (text: string) => void, c: Colors, ask: Ask = askWithInquirer): SessionHooks {
  let all = false;
  const rules = new Set<string>();
  const files = new Set<string>();
  return {
    async decide(change: Change, pending: number): Promise<Decision> {
      const { finding } = change;
      if (all || rules.has(finding.ruleId) || files.has(finding.file)) return 'yes';
      print(describeChange(change, c));
      for (;;) {
        const choice = await ask(`Apply this change? (${pending} left)`);
        switch (choice) {
          case 'explain':
            print(explainText(change.rule.transform));
            continue;
          case 'file':
            files.add(finding.file);
            return 'yes';
          case 'rule':
            rules.add(finding.ruleId);
            return 'yes';
          case 'all':
            all = true;
            return 'yes';
          default:
            return choice;
        }
      }
    },
    onFailure(failure) {
      if (!failure.declined) print(c.yellow(`skipped ${failure.finding.ruleId} at ${failure.finding.key}: ${failure.reason}`));
    },
  };
}
