import { unknownRuleHint, usageError } from '../../core/errors.js';
import { transformById, transforms } from '../../transforms/index.js';
import type { AnyTransform } from '../../core/types.js';
import { shortJson } from '../format.js';
import { colorsFor, type Io } from '../output.js';

export function explainText(t: AnyTransform): string {
  const lines = [
    `# ${t.id}: ${t.title}`,
    '',
    `Severity: ${t.severity}. Fix: ${t.fixSafety === 'none' ? 'detect only' : t.fixSafety === 'review' ? 'rewrite, to be reviewed' : 'safe rewrite'}.${t.seedRef ? ` Seed catalogue: section ${t.seedRef}.` : ''}`,
    '',
    t.explanation.trim(),
  ];
  if (t.harm) lines.push('', '## When it is reported', '', t.harm.trim());
  const options = Object.entries(t.options);
  if (options.length) {
    lines.push('', '## Options (in .otpfix.json under rules.' + t.id + '.options)');
    for (const [key, spec] of options) lines.push(`- \`${key}\` (${spec.type}, default ${shortJson(spec.default)}): ${spec.description}`);
  }
  return lines.join('\n');
}

export function explainCommand(id: string, io: Io): number {
  const t = transformById(id);
  if (!t) throw usageError(`unknown rule "${id}"`, unknownRuleHint(id, transforms.map((x) => x.id)));
  const c = colorsFor(io.stdout);
  io.out(explainText(t).replace(/^# .*$/m, (h) => c.bold(h)));
  return 0;
}
