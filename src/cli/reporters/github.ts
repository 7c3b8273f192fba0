/**
 * GitHub Actions workflow commands: one `::error|warning|notice file=...,line=...::message` line per
 * finding, which the runner turns into annotations on the pull request.
 */
import type { ScanResult } from '../../api.js';
import type { LocatedFinding } from '../../core/engine.js';
import type { Severity } from '../../core/types.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'notice'> = { high: 'error', medium: 'warning', low: 'notice', info: 'notice' };

/** Message escaping of @actions/core: `%`, CR and LF. */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Property escaping: as for messages, plus `:` and `,`, which separate properties. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function command(level: string, props: Record<string, string | number | undefined>, message: string): string {
  const list = Object.entries(props)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${escapeProperty(String(v))}`)
    .join(',');
  return `::${level}${list ? ` ${list}` : ''}::${escapeData(message)}`;
}

function posix(p: string): string {
  return p.split('\\').join('/');
}

export function githubReport(result: ScanResult): string {
  const titles = new Map(result.rules.map((r) => [r.transform.id, r.transform.title]));
  const lines = result.findings.map((f: LocatedFinding) =>
    command(
      LEVEL[f.severity],
      {
        file: posix(f.relPath),
        line: f.line,
        endLine: f.endLine,
        col: f.column,
        endColumn: f.endLine === f.line ? f.endColumn : undefined,
        title: `otpfix ${f.ruleId}: ${titles.get(f.ruleId) ?? ''}`.trim(),
      },
      f.message +
        (f.relatedLocated.length ? ` Also at: ${f.relatedLocated.map((r) => `${posix(r.relPath)}:${r.line}`).join(', ')}.` : '') +
        (f.fixable ? ' (fixable: otpfix fix)' : ''),
    ),
  );
  for (const n of result.notices)
    lines.push(command('warning', { file: posix(n.relPath), line: n.line, col: n.column, title: 'otpfix suppression' }, n.message));
  return lines.join('\n');
}
