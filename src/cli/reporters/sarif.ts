/**
 * SARIF 2.1.0 for code-scanning services and editors: the rules that ran (with their explanation
 * as help), one result per finding with its location, and each verified fix as `artifactChanges`
 * with replacements on the original file. Suppressed findings are kept as results marked
 * `inSource`; unused suppressions and files that could not be analysed become notifications.
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type * as Sarif from 'sarif';
import type { ScanResult } from '../../api.js';
import { isChange, type Change, type FixFailure, type LocatedFinding } from '../../core/engine.js';
import { fingerprint } from '../../core/baseline.js';
import { dominantEol } from '../../core/files.js';
import { positionOf } from '../../core/position.js';
import type { Finding, Severity } from '../../core/types.js';
import { noticeJson } from './notices.js';

const SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';
const LEVEL: Record<Severity, Sarif.Result.level> = { high: 'error', medium: 'warning', low: 'note', info: 'note' };
const SRCROOT = '%SRCROOT%';

export interface SarifInput {
  result: ScanResult;
  cwd: string;
  version: string;
  /** Verified fixes by finding (from `proposeFixes`); findings without one get no `fixes`. */
  fixes: Map<Finding, Change | FixFailure>;
}

/** A relative path as a URI reference: forward slashes, each segment percent-encoded. */
function uriOf(relPath: string): string {
  return relPath
    .split(/[\\/]/)
    .map((seg) => encodeURIComponent(seg))
    .join('/');
}

function location(relPath: string, region: Sarif.Region): Sarif.Location {
  return { physicalLocation: { artifactLocation: { uri: uriOf(relPath), uriBaseId: SRCROOT }, region } };
}

function regionOf(text: string, start: number, end: number): Sarif.Region {
  const a = positionOf(text, start);
  const b = positionOf(text, end);
  return { startLine: a.line, startColumn: a.column, endLine: b.line, endColumn: b.column, charOffset: start, charLength: end - start };
}

function firstParagraph(markdown: string): string {
  return markdown.trim().split(/\n\s*\n/)[0].replace(/\s+/g, ' ');
}

function fixOf(input: SarifInput, change: Change): Sarif.Fix {
  const ws = input.result.workspace;
  const byFile = new Map<string, Sarif.Replacement[]>();
  for (const edit of change.edits) {
    const file = ws.file(edit.file);
    if (!file) continue;
    const eol = dominantEol(file.text);
    const text = eol === '\n' ? edit.text : edit.text.replace(/\r?\n/g, eol);
    const list = byFile.get(file.relPath) ?? [];
    list.push({ deletedRegion: regionOf(file.text, edit.start, edit.end), insertedContent: { text } });
    byFile.set(file.relPath, list);
  }
  return {
    description: { text: `otpfix: ${change.rule.transform.title}${change.notes.length ? ` (${change.notes.join('; ')})` : ''}` },
    artifactChanges: [...byFile].map(([relPath, replacements]) => ({
      artifactLocation: { uri: uriOf(relPath), uriBaseId: SRCROOT },
      replacements,
    })),
  };
}

export function sarifLog(input: SarifInput): Sarif.Log {
  const { result } = input;
  const rules = result.rules.map((r) => r.transform);
  const index = new Map(rules.map((t, i) => [t.id, i]));
  const driverRules: Sarif.ReportingDescriptor[] = rules.map((t, i) => ({
    id: t.id,
    name: t.id.replace(/(^|-)(\w)/g, (_, __, ch: string) => ch.toUpperCase()),
    shortDescription: { text: t.title },
    fullDescription: { text: firstParagraph(t.explanation) },
    help: { text: t.explanation.trim(), markdown: t.explanation.trim() },
    defaultConfiguration: { level: LEVEL[result.rules[i].severity] },
    properties: { tags: ['otp', 'elixir'], fixSafety: t.fixSafety, ...(t.seedRef ? { seedRef: t.seedRef } : {}) },
  }));

  // Baseline fingerprints, numbered when several findings share one (as code scanning expects).
  const seen = new Map<string, number>();
  const codeFingerprint = (f: Finding) => {
    const print = fingerprint(f, result.workspace).fingerprint;
    const n = (seen.get(print) ?? 0) + 1;
    seen.set(print, n);
    return `${print}:${n}`;
  };

  const toResult = (f: LocatedFinding, suppressed: boolean): Sarif.Result => {
    const text = result.workspace.file(f.file)?.text ?? '';
    const res: Sarif.Result = {
      ruleId: f.ruleId,
      ruleIndex: index.get(f.ruleId),
      level: LEVEL[f.severity],
      message: { text: f.message },
      locations: [location(f.relPath, regionOf(text, f.start, f.end))],
      ...(f.relatedLocated.length
        ? {
            relatedLocations: f.relatedLocated.map((r, id) => ({
              id,
              ...location(r.relPath, regionOf(result.workspace.file(r.file)?.text ?? '', r.start, r.end)),
              message: { text: r.message },
            })),
          }
        : {}),
      // Stable across commits and line shifts: rule + file + enclosing function + code, as --baseline matches.
      partialFingerprints: {
        'otpfix/v1': codeFingerprint(f),
        'otpfixKey/v1': createHash('sha256').update(`${f.ruleId}\0${f.relPath}\0${f.key}`).digest('hex'),
      },
      properties: { severity: f.severity, fixable: f.fixable },
    };
    const change = input.fixes.get(f);
    if (change && isChange(change)) res.fixes = [fixOf(input, change)];
    if (suppressed) res.suppressions = [{ kind: 'inSource' }];
    return res;
  };

  const notifications: Sarif.Notification[] = [
    ...result.notices.map((n) => ({
      level: 'warning' as const,
      descriptor: { id: n.kind === 'unused' ? 'unused-suppression' : 'invalid-suppression' },
      message: { text: n.message },
      locations: [location(n.relPath, { startLine: n.line, startColumn: n.column })],
    })),
    ...result.statuses
      .filter((s) => s.status !== 'ok')
      .map((s) => ({
        level: 'warning' as const,
        descriptor: { id: 'file-not-analysed' },
        message: { text: `${s.relPath}: ${'reason' in s ? s.reason : ''}` },
        locations: [location(s.relPath, { startLine: 1 })],
      })),
    ...result.problems.map((p) => ({
      level: 'error' as const,
      descriptor: { id: 'rule-error' },
      associatedRule: index.has(p.ruleId) ? { id: p.ruleId, index: index.get(p.ruleId) } : undefined,
      message: { text: `${p.ruleId}: ${p.message}` },
    })),
  ];

  return {
    $schema: SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'otpfix', semanticVersion: input.version, version: input.version, rules: driverRules } },
        originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(input.cwd).href.replace(/\/?$/, '/') } },
        columnKind: 'utf16CodeUnits',
        invocations: [{ executionSuccessful: result.problems.length === 0, toolExecutionNotifications: notifications }],
        results: [...result.findings.map((f) => toResult(f, false)), ...result.suppressed.map((f) => toResult(f, true))],
        properties: {
          summary: {
            files: result.statuses.filter((s) => s.status === 'ok').length,
            findings: result.findings.length,
            suppressed: result.suppressed.length,
            unusedSuppressions: result.notices.filter((n) => n.kind === 'unused').map(noticeJson),
          },
        },
      },
    ],
  };
}

export function sarifReport(input: SarifInput): string {
  return JSON.stringify(sarifLog(input), null, 2);
}
