/**
 * The library behind the CLI: scan, fix and write, as plain async functions over plain data.
 */
import { activeRules, findConfigFile, loadConfig, type ActiveRule, type Config } from './core/config.js';
import { detectAll, locate, runFixSession, type LocatedFinding, type RuleProblem, type SessionHooks, type SessionResult } from './core/engine.js';
import { errorMessage } from './core/errors.js';
import { FileProblem, writeSourceAtomically } from './core/files.js';
import { loadWorkspace, type FileStatus, type Workspace } from './core/workspace.js';
import { transforms } from './transforms/index.js';

export interface RunOptions {
  paths: string[];
  cwd: string;
  /** Only these rules (`--rule`). */
  rules?: string[];
  /** A config file; by default `.otpfix.json` is looked up from `cwd` upwards. */
  configFile?: string;
  /** Use this config instead of reading one. */
  config?: Config;
}

export interface Prepared {
  workspace: Workspace;
  statuses: FileStatus[];
  rules: ActiveRule[];
  config: Config;
}

export async function prepare(options: RunOptions): Promise<Prepared> {
  const config = options.config ?? loadConfig(options.configFile ?? findConfigFile(options.cwd));
  const rules = activeRules(transforms, config, { only: options.rules });
  const paths = options.paths.length ? options.paths : config.include.length ? config.include : ['.'];
  const { workspace, statuses } = await loadWorkspace(paths, { cwd: options.cwd, exclude: config.exclude });
  return { workspace, statuses, rules, config };
}

export interface ScanResult extends Prepared {
  findings: LocatedFinding[];
  problems: RuleProblem[];
}

export async function scan(options: RunOptions): Promise<ScanResult> {
  const prepared = await prepare(options);
  const { findings, problems } = detectAll(prepared.workspace, prepared.rules);
  return { ...prepared, findings: findings.map((f) => locate(prepared.workspace, f)), problems };
}

export async function fix(prepared: Prepared, hooks: SessionHooks): Promise<SessionResult> {
  return runFixSession(prepared.workspace, prepared.rules, hooks);
}

export interface FileOutcome {
  path: string;
  relPath: string;
  before: string;
  after: string;
  written: boolean;
  error?: string;
}

/** Every file whose final text differs from what was read, original → final. */
export function changedFiles(session: SessionResult): FileOutcome[] {
  const out: FileOutcome[] = [];
  for (const file of session.workspace.files) {
    const original = session.workspace.originals.get(file.path);
    if (original && original.text !== file.text)
      out.push({ path: file.path, relPath: file.relPath, before: original.text, after: file.text, written: false });
  }
  return out;
}

/** Write each changed file atomically; one file's failure does not stop the others. */
export async function writeChanges(session: SessionResult): Promise<FileOutcome[]> {
  const outcomes = changedFiles(session);
  for (const outcome of outcomes) {
    const original = session.workspace.originals.get(outcome.path)!;
    try {
      await writeSourceAtomically(outcome.path, original.hash, outcome.after);
      outcome.written = true;
    } catch (err) {
      outcome.error = err instanceof FileProblem ? err.message : errorMessage(err);
    }
  }
  return outcomes;
}

export { transforms };
