/**
 * Interactive approval, one verified change at a time: yes / no / all in this file / all of this
 * rule / all / quit / explain / edit. The prompt and the editor are injectable, so the decision
 * logic is testable without a terminal.
 *
 * Each change shown was computed by the engine on the workspace as it is after every earlier
 * accepted change, so an accept never leaves a later change stale. An edited change is re-verified
 * (re-parsed, the rule re-run) before it can be applied; when it fails, the reason is shown and
 * the question asked again, and a further edit starts from the text that failed.
 */
import { expand } from '@inquirer/prompts';
import type { Colors } from '../output.js';
import { isChange, type Change, type DecideContext, type Decision, type SessionHooks } from '../../core/engine.js';
import { unifiedDiff } from '../../core/diff.js';
import { positionOf } from '../../core/position.js';
import { explainText } from '../commands/explain.js';
import { wrap } from '../reporters/text.js';
import { colorDiff } from './diff-view.js';
import { printable } from '../format.js';
import { editWithEditor, keepLineEndings, type EditFn } from './editor.js';

import { CHOICES, type Choice } from './choices.js';

export { CHOICES, type Choice };

export type Ask = (message: string) => Promise<Choice>;

/** The prompt's configuration, exported so tests can render the real prompt with @inquirer/testing. */
export function promptConfig(message: string) {
  return { message, choices: [...CHOICES], default: 'y' as const };
}

export const askWithInquirer: Ask = (message) => expand(promptConfig(message));

export function describeChange(change: Change, c: Colors): string {
  const { finding, rule } = change;
  const file = change.files.find((f) => f.path === finding.file) ?? change.files[0];
  const pos = positionOf(file.before, finding.start);
  const lines = [
    '',
    `${c.bold(rule.transform.title)} ${c.dim(`[${rule.transform.id}, ${finding.severity}]`)}  ${printable(file.relPath)}:${pos.line}:${pos.column}${
      change.edited ? c.yellow('  (edited by you)') : ''
    }`,
    ...wrap(printable(finding.message), 100).map((l) => c.dim(l)),
    '',
  ];
  for (const f of change.files) lines.push(colorDiff(unifiedDiff(f.relPath, f.before, f.after), c, true));
  for (const note of change.notes) lines.push(c.yellow(`note: ${note}`));
  return lines.join('\n');
}

export interface ReviewStats {
  /** Changes applied by an "all …" choice without being shown. */
  auto: number;
  /** Edited changes that passed verification. */
  edited: number;
  /** Edits that failed verification (the user was asked again each time). */
  editFailures: number;
}

export interface InteractiveOptions {
  ask?: Ask;
  edit?: EditFn;
}

export interface InteractiveHooks extends SessionHooks {
  stats: ReviewStats;
}

export function interactiveHooks(print: (text: string) => void, c: Colors, options: InteractiveOptions = {}): InteractiveHooks {
  const ask = options.ask ?? askWithInquirer;
  const edit = options.edit ?? editWithEditor;
  let all = false;
  const rules = new Set<string>();
  const files = new Set<string>();
  const stats: ReviewStats = { auto: 0, edited: 0, editFailures: 0 };

  /** Open the editor on each file of the change in turn; undefined when an editor run failed. */
  async function editTexts(candidate: Change, startFrom: Map<string, string> | undefined): Promise<Map<string, string> | undefined> {
    const texts = new Map<string, string>();
    for (const f of candidate.files) {
      const outcome = await edit({ path: f.path, relPath: f.relPath, text: startFrom?.get(f.path) ?? f.after });
      if ('error' in outcome) {
        print(c.red(`edit of ${printable(f.relPath)} not used: ${outcome.error}`));
        return undefined;
      }
      texts.set(f.path, keepLineEndings(f.before, outcome.text));
    }
    return texts;
  }

  return {
    stats,
    async decide(change: Change, pending: number, ctx: DecideContext): Promise<Decision> {
      const { finding } = change;
      if (all || rules.has(finding.ruleId) || files.has(finding.file)) {
        stats.auto++;
        const file = change.files.find((f) => f.path === finding.file) ?? change.files[0];
        // Nothing is written before the review ends: "accepted", not "applied".
        print(c.dim(`accepted ${finding.ruleId} at ${printable(file.relPath)}:${positionOf(file.before, finding.start).line}`));
        return 'yes';
      }
      let candidate = change;
      // The last text the user wrote, kept when it failed verification so a new edit starts from it.
      let lastEdit: Map<string, string> | undefined;
      print(describeChange(candidate, c));
      for (;;) {
        const choice = await ask(`Apply this change? (${pending} left)`);
        switch (choice) {
          case 'explain':
            print(explainText(change.rule.transform));
            continue;
          case 'edit': {
            const texts = await editTexts(candidate, lastEdit);
            if (!texts) continue;
            if (candidate.files.every((f) => texts.get(f.path) === f.after)) {
              // Closed without a change: the change shown stays as it was, and is not "edited by you".
              lastEdit = undefined;
              print(c.dim('No change made in the editor; the change is as shown above.'));
              continue;
            }
            const verified = ctx.verifyEdit(texts);
            if (!isChange(verified)) {
              stats.editFailures++;
              lastEdit = texts;
              print(c.red(`Your edit failed verification: ${verified.reason}.`));
              print(c.dim('Choose e to edit it again (your text is kept), y to apply the proposed change, n to skip it.'));
              continue;
            }
            lastEdit = undefined;
            candidate = verified;
            print(describeChange(candidate, c));
            continue;
          }
          case 'no':
            return 'no';
          case 'quit':
            return 'quit';
          case 'file':
            files.add(finding.file);
            break;
          case 'rule':
            rules.add(finding.ruleId);
            break;
          case 'all':
            all = true;
            break;
          case 'yes':
            break;
          default:
            print(c.red(`unknown choice ${String(choice)}`));
            continue;
        }
        if (candidate === change) return 'yes';
        stats.edited++;
        return { apply: candidate };
      }
    },
    onFailure(failure) {
      if (!failure.declined) print(c.yellow(`skipped ${failure.finding.ruleId} at ${failure.finding.key}: ${failure.reason}`));
    },
  };
}
