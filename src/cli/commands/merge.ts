/**
 * `otpfix merge`: one report from the reports of `--shard` jobs (all SARIF or all JSON). Shards are
 * disjoint, so findings are concatenated; files that could not be analysed are listed once.
 * SARIF shards become ONE run (code-scanning services reject several runs of one tool per upload).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as Sarif from 'sarif';
import { configError, errorMessage, usageError } from '../../core/errors.js';
import { SEVERITIES } from '../../core/types.js';
import type { Io } from '../output.js';

interface JsonReport {
  version: 1;
  findings: Array<{ file: string; line: number; column: number; fixable: boolean; severity: string }>;
  summary: {
    files: number;
    findings: number;
    fixable: number;
    bySeverity: Record<string, number>;
    skipped: Array<{ file: string; reason: string }>;
    ruleErrors: unknown[];
    suppressed: number;
    unusedSuppressions: unknown[];
    invalidSuppressions: unknown[];
  };
}

const uniqueBy = <T>(items: T[], key: (t: T) => string) => [...new Map(items.map((i) => [key(i), i])).values()];

export function mergeJson(reports: JsonReport[]): JsonReport {
  const findings = reports
    .flatMap((r) => r.findings)
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const sum = (get: (r: JsonReport) => number) => reports.reduce((n, r) => n + get(r), 0);
  return {
    version: 1,
    findings,
    summary: {
      files: sum((r) => r.summary.files),
      findings: findings.length,
      fixable: findings.filter((f) => f.fixable).length,
      bySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])),
      skipped: uniqueBy(reports.flatMap((r) => r.summary.skipped ?? []), (s) => s.file),
      ruleErrors: reports.flatMap((r) => r.summary.ruleErrors ?? []),
      suppressed: sum((r) => r.summary.suppressed ?? 0),
      unusedSuppressions: reports.flatMap((r) => r.summary.unusedSuppressions ?? []),
      invalidSuppressions: reports.flatMap((r) => r.summary.invalidSuppressions ?? []),
    },
  };
}

export function mergeSarif(logs: Sarif.Log[]): Sarif.Log {
  const runs = logs.flatMap((l) => l.runs);
  const first = runs[0];
  const rules: Sarif.ReportingDescriptor[] = [];
  const ruleIndex = new Map<string, number>();
  for (const run of runs)
    for (const rule of run.tool.driver.rules ?? [])
      if (!ruleIndex.has(rule.id)) {
        ruleIndex.set(rule.id, rules.length);
        rules.push(rule);
      }
  const results = runs.flatMap((run) =>
    (run.results ?? []).map((r) => (r.ruleId && ruleIndex.has(r.ruleId) ? { ...r, ruleIndex: ruleIndex.get(r.ruleId) } : r)),
  );
  const notifications = runs.flatMap((run) => run.invocations?.flatMap((i) => i.toolExecutionNotifications ?? []) ?? []);
  const summaries = runs.map((run) => (run.properties?.summary ?? {}) as { files?: number; suppressed?: number; unusedSuppressions?: unknown[] });
  return {
    ...logs[0],
    runs: [
      {
        ...first,
        tool: { driver: { ...first.tool.driver, rules } },
        invocations: [
          {
            executionSuccessful: runs.every((run) => run.invocations?.every((i) => i.executionSuccessful) ?? true),
            toolExecutionNotifications: uniqueBy(notifications, (n) => JSON.stringify(n)),
          },
        ],
        results,
        properties: {
          ...first.properties,
          summary: {
            files: summaries.reduce((n, s) => n + (s.files ?? 0), 0),
            findings: results.filter((r) => !r.suppressions?.length).length,
            suppressed: summaries.reduce((n, s) => n + (s.suppressed ?? 0), 0),
            unusedSuppressions: summaries.flatMap((s) => s.unusedSuppressions ?? []),
          },
        },
      },
    ],
  };
}

export function mergeCommand(files: string[], io: Io, cwd: string): number {
  if (!files.length) throw usageError('merge needs the report files of the shards', 'E.g. otpfix merge shard-*.sarif > otpfix.sarif');
  const docs = files.map((file) => {
    let text: string;
    try {
      text = readFileSync(path.resolve(cwd, file), 'utf8');
    } catch (err) {
      throw usageError(`cannot read ${file}: ${errorMessage(err)}`);
    }
    try {
      return { file, data: JSON.parse(text) as Record<string, unknown> };
    } catch (err) {
      throw configError(`${file} is not JSON: ${errorMessage(err)}`);
    }
  });
  const kind = (d: Record<string, unknown>) => (Array.isArray(d.runs) ? 'sarif' : Array.isArray(d.findings) && d.summary ? 'json' : undefined);
  const kinds = new Set(docs.map((d) => kind(d.data)));
  const unknown = docs.find((d) => !kind(d.data));
  if (unknown) throw configError(`${unknown.file} is neither otpfix SARIF nor otpfix JSON (scan --format sarif|json)`);
  if (kinds.size > 1) throw usageError('merge takes reports of one format: all SARIF or all JSON');
  const merged = kinds.has('sarif')
    ? mergeSarif(docs.map((d) => d.data as unknown as Sarif.Log))
    : mergeJson(docs.map((d) => d.data as unknown as JsonReport));
  io.out(JSON.stringify(merged, null, 2));
  return 0;
}
