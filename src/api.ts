/**
 * The library behind the CLI: scan, fix and write, as plain async functions over plain data.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { activeRules, configBase, findConfigFile, loadConfig, type ActiveRule, type Config } from './core/config.js';
import {
  detectAll,
  locate,
  proposeFix,
  runFixSession,
  type Change,
  type DetectProgress,
  type FixFailure,
  type LocatedFinding,
  type RuleProblem,
  type SessionHooks,
  type SessionResult,
} from './core/engine.js';
import { errorMessage } from './core/errors.js';
import { defaultCacheDir, openSyntaxCache } from './core/syntax-cache.js';
import { BOM, FileProblem, writeSourceAtomically } from './core/files.js';
import { suppressionNotices, type SuppressedFinding, type SuppressionNotice } from './core/suppressions.js';
import type { NonProductionMode } from './core/roles.js';
import type { Scope } from './core/scope.js';
import type { Finding } from './core/types.js';
import { loadWorkspace, type FileStatus, type LoadOptions, type Workspace } from './core/workspace.js';
import { transforms } from './transforms/index.js';

/** What shapes cached syntax: otpfix's and the grammar's versions. */
const CACHE_SALT = ['otpfix', 'tree-sitter-elixir'].map((p) => `${p}@${packageVersion(p)}`).join(' ');

function packageVersion(name: string): string {
  try {
    const file = name === 'otpfix' ? new URL('../package.json', import.meta.url) : createRequire(import.meta.url).resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface RunOptions {
  paths: string[];
  cwd: string;
  /** Only these rules (`--rule`). */
  rules?: string[];
  /** How findings in tests, examples, benchmarks and docs are treated (`--non-production`); overrides the config. */
  nonProduction?: NonProductionMode;
  /** A config file; by default `.otpfix.json` is looked up from `cwd` upwards. */
  configFile?: string;
  /** Use this config instead of reading one. */
  config?: Config;
  /** Threads to parse on (`--jobs`); default: the available cores. Output is the same for any number. */
  jobs?: number;
  /**
   * Keep the syntax of each file in a cache keyed by its content (default true; `--no-cache`), in
   * `cacheDir` (default: core/syntax-cache.ts defaultCacheDir).
   */
  cache?: boolean;
  cacheDir?: string;
  /** Below this much text in all, parse here rather than start threads (default core/parse-pool.ts). */
  minParallelSize?: number;
  /** Told after each file is read and parsed (progress, --verbose timings). */
  onLoad?: LoadOptions['onFile'];
  /** Told after each file's detection. */
  onDetect?: DetectProgress;
  /** Files above this size in bytes are not analysed (0: no limit); overrides the config's `maxFileSize`. */
  maxFileSize?: number;
  /** Told of each temporary file an interrupted otpfix run left beside a source. */
  onTemporary?: (file: string) => void;
  /** Aborting it stops reading and parsing at the next file (Ctrl-C); the promise rejects with its reason. */
  signal?: AbortSignal;
  /** Report (and rewrite) only these findings; the analysis still reads every file. */
  scope?: Scope;
}

export interface Prepared {
  workspace: Workspace;
  statuses: FileStatus[];
  rules: ActiveRule[];
  config: Config;
  scope?: Scope;
}

export async function prepare(options: RunOptions): Promise<Prepared> {
  const config = options.config ?? loadConfig(options.configFile ?? findConfigFile(options.cwd));
  const rules = activeRules(transforms, config, { only: options.rules, nonProduction: options.nonProduction });
  // Without paths, the config's directory is walked (filtered by its include globs), else `.`.
  const base = configBase(config, options.cwd);
  const paths = options.paths.length ? options.paths : config.include.length ? [base] : ['.'];
  const { workspace, statuses } = await loadWorkspace(paths, {
    cwd: options.cwd,
    include: config.include,
    exclude: config.exclude,
    patternBase: base,
    jobs: options.jobs,
    minParallelSize: options.minParallelSize,
    cache: options.cache === false ? undefined : openSyntaxCache(options.cacheDir ?? defaultCacheDir(options.cwd), CACHE_SALT),
    onFile: options.onLoad,
    maxFileSize: options.maxFileSize ?? config.maxFileSize,
    onTemporary: options.onTemporary,
    signal: options.signal,
  });
  // Every file is analysed; only those in scope are reported on (counted, or listed as skipped).
  const scoped = options.scope?.file ? statuses.filter((s) => options.scope!.file!(s)) : statuses;
  return { workspace, statuses: scoped, rules, config, scope: options.scope };
}

export interface ScanResult extends Prepared {
  findings: LocatedFinding[];
  problems: RuleProblem[];
  /** Findings silenced by suppression comments. */
  suppressed: LocatedFinding[];
  /** Unused, unknown-rule and malformed suppression comments. */
  notices: SuppressionNotice[];
}

export async function scan(options: RunOptions): Promise<ScanResult> {
  const prepared = await prepare(options);
  const { findings, problems, suppressed } = detectAll(prepared.workspace, prepared.rules, options.onDetect, options.scope);
  return {
    ...prepared,
    findings: findings.map((f) => locate(prepared.workspace, f)),
    problems,
    suppressed: suppressed.map((s) => locate(prepared.workspace, s.finding)),
    notices: noticesFor(prepared, suppressed),
  };
}

function noticesFor(prepared: Prepared, suppressed: SuppressedFinding[]): SuppressionNotice[] {
  // Out of scope files were not checked: their suppressions would all look unused.
  const files = prepared.scope?.file ? prepared.workspace.files.filter((f) => prepared.scope!.file!(f)) : prepared.workspace.files;
  return suppressionNotices(files, suppressed, {
    known: new Set(transforms.map((t) => t.id)),
    active: new Set(prepared.rules.map((r) => r.transform.id)),
  });
}

export interface FixRun extends SessionResult {
  notices: SuppressionNotice[];
}

export async function fix(prepared: Prepared, hooks: SessionHooks, onDetect?: DetectProgress): Promise<FixRun> {
  const session = await runFixSession(prepared.workspace, prepared.rules, hooks, onDetect, prepared.scope);
  return { ...session, notices: noticesFor(prepared, session.suppressed) };
}

/**
 * Each fixable finding's verified change computed on the scanned workspace independently of the
 * others (as SARIF `fixes` are: each applies to the original file).
 */
export function proposeFixes(prepared: Prepared, findings: Finding[]): Map<Finding, Change | FixFailure> {
  const rules = new Map(prepared.rules.map((r) => [r.transform.id, r]));
  const out = new Map<Finding, Change | FixFailure>();
  for (const f of findings) {
    const rule = rules.get(f.ruleId);
    if (f.fixable && rule) out.set(f, proposeFix(prepared.workspace, f, rule, prepared.rules));
  }
  return out;
}

export interface FileOutcome {
  path: string;
  relPath: string;
  before: string;
  after: string;
  written: boolean;
  error?: string;
}

/**
 * Every file whose final text differs from what was read, original → final, as the bytes on disk
 * are: a byte-order mark the file had is in both (so a diff, a patch and a write agree).
 */
export function changedFiles(session: SessionResult): FileOutcome[] {
  const out: FileOutcome[] = [];
  for (const file of session.workspace.files) {
    const original = session.workspace.originals.get(file.path);
    if (original && original.text !== file.text) {
      const bom = original.bom ? BOM : '';
      out.push({ path: file.path, relPath: file.relPath, before: bom + original.text, after: bom + file.text, written: false });
    }
  }
  return out;
}

export interface WriteOptions {
  /** Once aborted (Ctrl-C), no further file is started; the one being written is completed. */
  signal?: AbortSignal;
  /** Called before each file is written (tests use it to interrupt at a known point). */
  beforeWrite?: (outcome: FileOutcome) => void | Promise<void>;
  /** Told after each file, written or not. */
  afterWrite?: (outcome: FileOutcome) => void;
}

/**
 * Write each changed file atomically (temp file + rename), so every file is either untouched or
 * completely written; one file's failure does not stop the others.
 */
export async function writeChanges(session: SessionResult, options: WriteOptions = {}): Promise<FileOutcome[]> {
  const outcomes = changedFiles(session);
  for (const outcome of outcomes) {
    await options.beforeWrite?.(outcome);
    if (options.signal?.aborted) {
      outcome.error = 'interrupted before it was written; left untouched';
      continue;
    }
    const original = session.workspace.originals.get(outcome.path)!;
    try {
      await writeSourceAtomically(outcome.path, original.hash, outcome.after);
      outcome.written = true;
    } catch (err) {
      outcome.error = err instanceof FileProblem ? err.message : errorMessage(err);
    }
    options.afterWrite?.(outcome);
  }
  return outcomes;
}

export { transforms };
