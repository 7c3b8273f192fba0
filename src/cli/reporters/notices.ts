import path from 'node:path';
import type { SuppressionNotice } from '../../core/suppressions.js';
import type { Colors } from '../output.js';
import { printable } from '../format.js';

/** Suppression comments that are unused, name an unknown rule, or are not understood: warnings on stderr. */
export function noticeLines(notices: SuppressionNotice[], c: Colors, cwd: string): string[] {
  return notices.map((n) => `${c.yellow('warning')} ${printable(path.relative(cwd, n.file) || n.relPath)}:${n.line}:${n.column}: ${n.message}`);
}

/** The JSON/SARIF summary form. */
export function noticeJson(n: SuppressionNotice) {
  return { file: n.relPath, line: n.line, column: n.column, kind: n.kind, rule: n.rule ?? null, message: n.message };
}
