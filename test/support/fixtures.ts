/**
 * Fixture discovery and running. A case is `fixtures/before/<rule>/<case>.ex(s)` (or a directory of
 * files, for rewrites that touch several files) with its exact expected output under
 * `fixtures/after/<rule>/`. `valid-*` cases must stay silent; `detect-*` cases must be reported and
 * left unchanged (detect only); every other case must have an `after`. A case run with rule options
 * other than the defaults (an opt-in fix) names them in `fixtures/options/<rule>/<case>.json`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepare } from '../../src/api.js';
import { runFixSession } from '../../src/core/engine.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(ROOT, 'fixtures');

export type CaseKind = 'fix' | 'valid' | 'detect';

export interface FixtureCase {
  rule: string;
  name: string;
  kind: CaseKind;
  /** Absolute path of the case in fixtures/before (a file or a directory). */
  before: string;
  after: string;
  /** Relative paths of the case's files (one entry, '', for a single-file case). */
  files: string[];
  /** Rule options for this case (fixtures/options/<rule>/<case>.json), else the defaults. */
  options?: Record<string, unknown>;
}

export function discoverCases(): FixtureCase[] {
  const beforeRoot = path.join(FIXTURES, 'before');
  if (!existsSync(beforeRoot)) return [];
  const cases: FixtureCase[] = [];
  for (const rule of readdirSync(beforeRoot).sort()) {
    for (const entry of readdirSync(path.join(beforeRoot, rule)).sort()) {
      const before = path.join(beforeRoot, rule, entry);
      const isDir = statSync(before).isDirectory();
      const name = isDir ? entry : entry.replace(/\.exs?$/, '');
      const kind: CaseKind = name.startsWith('valid-') ? 'valid' : name.startsWith('detect-') ? 'detect' : 'fix';
      const optionsFile = path.join(FIXTURES, 'options', rule, `${name}.json`);
      cases.push({
        options: existsSync(optionsFile) ? JSON.parse(readFileSync(optionsFile, 'utf8')) : undefined,
        rule,
        name,
        kind,
        before,
        after: path.join(FIXTURES, 'after', rule, entry),
        files: isDir ? listFiles(before) : [''],
      });
    }
  }
  return cases;
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix))
    .sort()
    .flatMap((e) => (statSync(path.join(dir, prefix, e)).isDirectory() ? listFiles(dir, path.join(prefix, e)) : [path.join(prefix, e)]));
}

export interface CaseRun {
  findings: number;
  fixable: number;
  /** Output per case file (relative path → text), for every file of the case. */
  output: Map<string, string>;
  failures: string[];
  applied: number;
}

/** Run `otpfix fix --yes --rule <rule>` over a directory or file, in memory. */
export async function runRule(target: string, rule: string, options?: Record<string, unknown>): Promise<CaseRun> {
  const cwd = statSync(target).isDirectory() ? target : path.dirname(target);
  const prepared = await prepare({
    paths: [target],
    cwd,
    rules: [rule],
    config: { rules: options ? { [rule]: { options } } : {}, include: [], exclude: [] },
  });
  const skipped = prepared.statuses.filter((s) => s.status !== 'ok');
  if (skipped.length) throw new Error(`fixture files not analysed: ${JSON.stringify(skipped)}`);
  const session = await runFixSession(prepared.workspace, prepared.rules, { decide: () => 'yes' });
  const output = new Map<string, string>();
  const single = !statSync(target).isDirectory();
  for (const file of session.workspace.files) output.set(single ? '' : path.relative(cwd, file.path), file.text);
  return {
    findings: session.applied.length + session.failed.length + session.detectOnly.length,
    fixable: session.applied.length + session.failed.length,
    output,
    failures: session.failed.map((f) => `${f.finding.key}: ${f.reason}`),
    applied: session.applied.length,
  };
}

export function readCaseFile(root: string, rel: string): string {
  return readFileSync(rel ? path.join(root, rel) : root, 'utf8');
}
