import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { changedFiles, fix, prepare, writeChanges, type FileOutcome, type FixRun, type RunOptions } from '../../api.js';
import { unifiedDiff } from '../../core/diff.js';
import type { SessionHooks } from '../../core/engine.js';
import { errorMessage, ioError, usageError } from '../../core/errors.js';
import { colorsFor, type Colors, type Io } from '../output.js';
import { noticeLines } from '../reporters/notices.js';
import { problemsReport } from '../reporters/text.js';
import { colorDiff } from '../review/diff-view.js';
import type { EditFn } from '../review/editor.js';
import { interactiveHooks, type Ask, type ReviewStats } from '../review/interactive.js';
import { RunLog, type LogLevel } from '../run-log.js';
import { scopeFrom, scopeLine, type ScopeOptions } from '../scope-options.js';

export interface FixOptions extends RunOptions, LogLevel, ScopeOptions {
  dryRun?: boolean;
  yes?: boolean;
  patch?: string;
  check?: boolean;
  /** Whether a person is at the terminal (stdin and stdout are TTYs). */
  interactive: boolean;
  ask?: Ask;
  edit?: EditFn;
  /** Tests: called before each file is written (to interrupt at a known point). */
  beforeWrite?: (outcome: FileOutcome) => void | Promise<void>;
}

/** Exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/**
 * Exit codes: 0 done; 1 with --check when changes would be made; 3 when a file could not be
 * written; 130 when interrupted.
 *
 * Interruption never leaves a half-written file: nothing is written while changes are being
 * reviewed (Ctrl-C there discards the session and leaves every file untouched; `q` writes what was
 * accepted). Files are then written one by one, each atomically (temp file + rename); Ctrl-C during
 * writing completes the file being written and leaves the rest untouched, and says which is which.
 */
export async function fixCommand(options: FixOptions, io: Io): Promise<number> {
  const preview = !!(options.dryRun || options.patch || options.check);
  if (!preview && !options.yes && !options.interactive)
    throw usageError('not a terminal, so changes cannot be approved one by one', 'Pass --yes to apply every change, or --dry-run to print them as a diff.');
  const log = new RunLog(io, options);
  const choice = await scopeFrom(options, options.cwd);
  const prepared = await prepare({ ...options, scope: choice.scope, onLoad: log.onLoad });
  log.clearProgress();
  const narrowed = scopeLine(choice, prepared.statuses.filter((st) => st.status === 'ok').length, prepared.workspace.files.length);
  if (narrowed) log.info(narrowed);
  log.verbose(`config: ${prepared.config.source ?? 'none (defaults)'}; rules: ${prepared.rules.map((r) => r.transform.id).join(', ')}`);
  for (const line of problemsReport({ statuses: prepared.statuses, problems: [] }, log.c, options.cwd)) log.warn(line);

  let stats: ReviewStats | undefined;
  let accepted = 0;
  let hooks: SessionHooks;
  if (preview || options.yes) hooks = { decide: () => 'yes' };
  else {
    const interactive = interactiveHooks((t) => io.out(t), colorsFor(io.stdout), { ask: options.ask, edit: options.edit });
    stats = interactive.stats;
    hooks = {
      ...interactive,
      decide: async (change, pending, ctx) => {
        const decision = await interactive.decide(change, pending, ctx);
        if (decision !== 'no' && decision !== 'quit') accepted++;
        return decision;
      },
    };
  }

  let session: FixRun;
  try {
    session = await fix(prepared, hooks, log.onDetect);
  } catch (err) {
    // Ctrl-C at a prompt: @inquirer rejects with ExitPromptError. Nothing has been written yet.
    if (isPromptExit(err)) {
      log.error(
        `\nInterrupted: nothing was written; every file is as it was.${
          accepted ? ` ${accepted} accepted change${accepted === 1 ? ' was' : 's were'} discarded (q quits and keeps them).` : ''
        }`,
      );
      return EXIT_INTERRUPTED;
    }
    throw err;
  }
  log.clearProgress();
  for (const line of problemsReport({ statuses: [], problems: session.problems }, log.c, options.cwd)) log.error(line);
  for (const line of noticeLines(session.notices, log.c, options.cwd)) log.warn(line);

  const files = changedFiles(session);
  let exit = 0;
  if (preview) {
    const diffs = files.map((f) => unifiedDiff(f.relPath, f.before, f.after)).join('');
    if (options.dryRun || (!options.patch && !options.check)) {
      if (diffs) io.out(colorDiff(diffs, colorsFor(io.stdout)).replace(/\n$/, ''));
    }
    if (options.patch) {
      const target = path.resolve(options.cwd, options.patch);
      try {
        await writeFileAtomic(target, diffs);
      } catch (err) {
        throw ioError(`cannot write patch ${options.patch}: ${errorMessage(err)}`);
      }
      log.info(
        files.length
          ? `wrote ${options.patch} (${files.length} file${files.length === 1 ? '' : 's'}); apply it from this directory with: git apply ${options.patch}  (or patch -p1 < ${options.patch})`
          : `no changes: wrote an empty ${options.patch}`,
      );
    }
    if (options.check && files.length) exit = 1;
  } else {
    const outcomes = await writeInterruptibly(session, options);
    for (const outcome of outcomes) {
      if (outcome.written) log.info(`${log.c.green('fixed')} ${outcome.relPath}`);
      else log.error(`${log.c.red('not written')} ${outcome.relPath}: ${outcome.error}`);
    }
    if (outcomes.some((o) => !o.written)) exit = outcomes.some((o) => o.error?.startsWith('interrupted')) ? EXIT_INTERRUPTED : 3;
  }
  log.info(summary(session, files.length, preview, log.c, stats));
  log.timings(prepared.statuses.length);
  return exit;
}

/** Write with SIGINT/SIGTERM deferred: the file being written is finished, later ones are not started. */
async function writeInterruptibly(session: FixRun, options: FixOptions): Promise<FileOutcome[]> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, stop);
  try {
    return await writeChanges(session, { signal: controller.signal, beforeWrite: options.beforeWrite });
  } finally {
    for (const s of signals) process.off(s, stop);
  }
}

function isPromptExit(err: unknown): boolean {
  return !!err && typeof err === 'object' && 'name' in err && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function summary(session: FixRun, fileCount: number, preview: boolean, c: Colors, stats?: ReviewStats): string {
  const applied = session.applied.length;
  const head = `${plural(applied, 'change')} ${preview ? 'proposed' : 'applied'} in ${plural(fileCount, 'file')}`;
  const detail: string[] = [];
  if (stats?.edited) detail.push(`${stats.edited} edited by you`);
  if (stats?.auto) detail.push(`${stats.auto} by an "all" choice`);
  const parts = [head + (detail.length ? ` (${detail.join(', ')})` : '')];
  if (session.rejected.length) parts.push(`${session.rejected.length} skipped`);
  if (session.failed.length) parts.push(c.yellow(`${session.failed.length} failed verification (dropped)`));
  if (stats?.editFailures) parts.push(c.yellow(`${plural(stats.editFailures, 'edit')} failed verification (asked again)`));
  if (session.left.length) parts.push(`${plural(session.left.length, 'finding')} left (\`otpfix scan\` lists them)`);
  if (session.suppressed.length) parts.push(`${session.suppressed.length} suppressed by comments`);
  if (session.quit) parts.push('stopped at your request; later changes were not looked at');
  const lines = [parts.join('; ') + '.'];
  for (const f of session.failed) lines.push(c.yellow(`  failed verification: ${f.finding.ruleId} (${f.finding.key}): ${f.reason}`));
  return lines.join('\n');
}
