import type { ScanResult } from '../../api.js';
import { SEVERITIES } from '../../core/types.js';
import { noticeJson } from './notices.js';

/** The JSON contract of DESIGN.md: other tools rely on this shape. */
export function jsonReport(result: ScanResult): string {
  const findings = result.findings.map((f) => ({
    ruleId: f.ruleId,
    severity: f.severity,
    file: f.relPath,
    line: f.line,
    column: f.column,
    endLine: f.endLine,
    endColumn: f.endColumn,
    message: f.message,
    fixable: f.fixable,
    ...(f.relatedLocated.length
      ? {
          related: f.relatedLocated.map((r) => ({
            file: r.relPath,
            line: r.line,
            column: r.column,
            endLine: r.endLine,
            endColumn: r.endColumn,
            message: r.message,
          })),
        }
      : {}),
  }));
  const summary = {
    files: result.statuses.filter((s) => s.status === 'ok').length,
    findings: findings.length,
    fixable: findings.filter((f) => f.fixable).length,
    bySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])),
    skipped: result.statuses.filter((s) => s.status !== 'ok').map((s) => ({ file: s.relPath, reason: 'reason' in s ? s.reason : '' })),
    ruleErrors: result.problems.map((p) => ({ file: result.workspace.file(p.file)?.relPath ?? p.file, ruleId: p.ruleId, message: p.message })),
    suppressed: result.suppressed.length,
    unusedSuppressions: result.notices.filter((n) => n.kind === 'unused').map(noticeJson),
    invalidSuppressions: result.notices.filter((n) => n.kind !== 'unused').map(noticeJson),
  };
  return JSON.stringify({ version: 1, findings, summary }, null, 2);
}
