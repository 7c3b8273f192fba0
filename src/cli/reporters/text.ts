import path from 'node:path';
import type { Colors } from '../output.js';
import type { ScanResult } from '../../api.js';
import type { LocatedFinding } from '../../core/engine.js';
import type { Severity } from '../../core/types.js';
import { SEVERITIES } from '../../core/types.js';
import { printable } from '../format.js';

const paint = (c: Colors, severity: Severity, text: string) =>
  severity === 'high' ? c.red(text) : severity === 'medium' ? c.yellow(text) : severity === 'low' ? c.cyan(text) : c.dim(text);

/** ESLint-like: findings grouped by file, a summary line, then files that were not analysed. */
export function textReport(result: ScanResult, c: Colors, options: { quiet?: boolean } = {}): string {
  const lines: string[] = [];
  const byFile = new Map<string, LocatedFinding[]>();
  for (const f of result.findings) byFile.set(f.relPath, [...(byFile.get(f.relPath) ?? []), f]);
  for (const [file, findings] of byFile) {
    lines.push(c.underline(printable(file)));
    // At least one space after the longest position, however many digits line numbers have.
    const width = Math.max(8, ...findings.map((f) => `${f.line}:${f.column}`.length + 1));
    for (const f of findings) {
      const loc = `${f.line}:${f.column}`.padEnd(width);
      lines.push(`  ${c.dim(loc)}${paint(c, f.severity, f.severity.padEnd(7))}${c.bold(f.ruleId)}${f.fixable ? c.green('  (fixable)') : c.dim('  (detect only)')}`);
      // Messages name files and modules from the code: escaped like file names.
      lines.push(...wrap(printable(f.message), 96).map((l) => `          ${l}`));
      for (const r of f.relatedLocated) {
        const where = r.relPath === f.relPath ? `${r.line}:${r.column}` : `${printable(r.relPath)}:${r.line}:${r.column}`;
        lines.push(...wrap(`${c.dim('also')} ${where} ${printable(r.message)}`, 96).map((l) => `            ${l}`));
      }
    }
    lines.push('');
  }
  // --quiet: the findings only.
  if (options.quiet) return lines.join('\n').trimEnd();
  lines.push(summaryLine(result, c));
  return lines.join('\n');
}

export function summaryLine(result: ScanResult, c: Colors): string {
  const n = result.findings.length;
  const analysed = result.statuses.filter((s) => s.status === 'ok').length;
  const suppressed = result.suppressed.length ? ` ${result.suppressed.length} suppressed by comments.` : '';
  if (!n) return c.green(`No findings in ${analysed} file${analysed === 1 ? '' : 's'} (${result.rules.length} rules).`) + suppressed;
  const counts = SEVERITIES.map((s) => [s, result.findings.filter((f) => f.severity === s).length] as const)
    .filter(([, k]) => k)
    .map(([s, k]) => paint(c, s, `${k} ${s}`));
  const fixable = result.findings.filter((f) => f.fixable).length;
  const files = new Set(result.findings.map((f) => f.file)).size;
  return `${c.bold(`${n} finding${n === 1 ? '' : 's'}`)} (${counts.join(', ')}) in ${files} of ${analysed} files; ${fixable} fixable with ${c.bold('otpfix fix')}.${suppressed}`;
}

/** Files not analysed and rules that crashed: said on stderr so they are never mistaken for findings. */
export function problemsReport(result: Pick<ScanResult, 'statuses' | 'problems'>, c: Colors, cwd: string): string[] {
  const out: string[] = [];
  for (const s of result.statuses) if (s.status !== 'ok') out.push(`${c.yellow('warning')} ${printable(s.relPath)}: ${s.reason}`);
  for (const p of result.problems) out.push(`${c.red('error')} ${printable(path.relative(cwd, p.file))}: ${p.ruleId}: ${p.message}`);
  return out;
}

export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}
