import { realpathSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { changedFiles, fix, prepare, writeChanges, type FileOutcome, type FixRun, type RunOptions } from '../../api.js';
import { unifiedDiff } from '../../core/diff.js';
import type { Decision, SessionHooks } from '../../core/engine.js';
import { errorMessage, ioError, usageError } from '../../core/errors.js';
import { printable } from '../format.js';
import { colorsFor, type Colors, type Io } from '../output.js';
import { noticeLines } from '../reporters/notices.js';
import { problemsReport } from '../reporters/text.js';
import { colorDiff } from '../review/diff-view.js';
import type { EditFn } from '../review/editor.js';
import { interactiveHooks, type Ask, type ReviewStats } from '../review/interactive.js';
import { RunLog, type LogLevel } from '../run-log.js';
import { handleTemporaries, requireAnalysed } from './analysed.js';
import { scopeFrom, scopeLine, type ScopeOptions } from '../scope-options.js';

export interface FixOptions extends RunOptions, LogLevel, ScopeOptions {
  dryRun?: boolean;
  yes?: boolean;
  patch?: string;
  /** Overwrite an existing --patch file (never one of the sources). */
  force?: boolean;
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

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Why a run stopped before writing: the signal, so the message can name it. */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted (${signal})`);
  }
}

/**
 * Exit codes: 0 done; 1 with --check when changes would be made; 2 usage error or nothing to
 * analyse; 3 when a file could not be written; 130 when interrupted.
 *
 * Interruption never leaves a half-written file: nothing is written while sources are read, checked
 * and changes reviewed (Ctrl-C or SIGTERM there ends the run and leaves every file untouched; `q`
 * writes what was accepted). Files are then written one by one, each atomically (a temporary file
 * beside it, renamed over it); a signal during writing completes the file being written and leaves
 * the rest untouched, and says which is which. Even SIGKILL leaves each file old or new; the
 * temporary file it may leave is removed, and named, by the next run.
 */
export async function fixCommand(options: FixOptions, io: Io): Promise<number> {
  const preview = !!(options.dryRun || options.patch || options.check);
  if (!preview && !options.yes && !options.interactive)
    throw usageError('not a terminal, so changes cannot be approved one by one', 'Pass --yes to apply every change, or --dry-run to print them as a diff.');

  // One handler for the whole run: before writing it ends the run; while writing it lets the file
  // being written complete; after that it is ignored.
  const controller = new AbortController();
  let writing = false;
  let interruptPrompt: (() => void) | undefined;
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      if (!controller.signal.aborted) controller.abort(new Interrupted(signal));
      if (!writing) interruptPrompt?.();
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  const log = new RunLog(io, options);
  let accepted = 0;
  try {
    const temporaries: string[] = [];
    const choice = await scopeFrom(options, options.cwd);
    const prepared = await prepare({
      ...options,
      scope: choice.scope,
      onLoad: log.onLoad,
      onTemporary: (f) => temporaries.push(f),
      signal: controller.signal,
    });
    log.clearProgress();
    const narrowed = scopeLine(choice, prepared.statuses.filter((st) => st.status === 'ok').length, prepared.workspace.files.length);
    if (narrowed) log.info(narrowed);
    log.verbose(`config: ${prepared.config.source ?? 'none (defaults)'}; rules: ${prepared.rules.map((r) => r.transform.id).join(', ')}`);
    for (const line of problemsReport({ statuses: prepared.statuses, problems: [] }, log.c, options.cwd)) log.warn(line);
    requireAnalysed(prepared.statuses, options.paths, prepared.workspace.files.length);
    handleTemporaries(temporaries, !preview, log, options.cwd);
    const patchTarget = options.patch === undefined ? undefined : checkPatchTarget(options, prepared.statuses.map((s) => s.path));

    let stats: ReviewStats | undefined;
    let decide: SessionHooks['decide'] = () => 'yes';
    let onFailure: SessionHooks['onFailure'];
    if (!preview && !options.yes) {
      const interactive = interactiveHooks((t) => io.out(t), colorsFor(io.stdout), { ask: options.ask, edit: options.edit });
      stats = interactive.stats;
      decide = interactive.decide;
      onFailure = interactive.onFailure;
    }
    const hooks: SessionHooks = {
      onFailure,
      decide: async (change, pending, ctx) => {
        // A turn of the event loop per change, so a signal is seen even when nothing is asked.
        await new Promise((resolve) => setImmediate(resolve));
        controller.signal.throwIfAborted();
        const decision = await untilAborted(Promise.resolve(decide(change, pending, ctx)), controller.signal, (cancel) => (interruptPrompt = cancel));
        if (decision !== 'no' && decision !== 'quit') accepted++;
        return decision;
      },
    };
    const session = await fix(prepared, hooks, log.onDetect);
    controller.signal.throwIfAborted();
    log.clearProgress();
    for (const line of problemsReport({ statuses: [], problems: session.problems }, log.c, options.cwd)) log.error(line);
    for (const line of noticeLines(session.notices, log.c, options.cwd)) log.warn(line);

    const files = changedFiles(session);
    let exit = 0;
    let outcomes: FileOutcome[] | undefined;
    if (preview) {
      const diffs = files.map((f) => unifiedDiff(f.relPath, f.before, f.after)).join('');
      if (options.dryRun || (!options.patch && !options.check)) {
        if (diffs) io.out(colorDiff(diffs, colorsFor(io.stdout)).replace(/\n$/, ''));
      }
      if (patchTarget) {
        await writePatch(patchTarget, diffs, options);
        log.info(
          files.length
            ? `wrote ${options.patch} (${files.length} file${files.length === 1 ? '' : 's'}); apply it from this directory with: git apply ${options.patch}  (or patch -p1 < ${options.patch})`
            : `no changes: wrote an empty ${options.patch}`,
        );
      }
      if (options.check && files.length) exit = 1;
    } else {
      writing = true;
      outcomes = await writeChanges(session, {
        signal: controller.signal,
        beforeWrite: options.beforeWrite,
        // Said as each file is written, so what a kill leaves behind is what was said.
        afterWrite: (o) => o.written && log.info(`${log.c.green('fixed')} ${printable(o.relPath)}`),
      });
      writing = false;
      for (const o of outcomes) if (!o.written) log.error(`${log.c.red('not written')} ${printable(o.relPath)}: ${o.error}`);
      if (outcomes.some((o) => !o.written)) exit = controller.signal.aborted ? EXIT_INTERRUPTED : 3;
    }
    log.info(summary(session, files, outcomes, log.c, stats));
    log.timings(prepared.statuses.length);
    return exit;
  } catch (err) {
    const interrupted = err instanceof Interrupted ? err.signal : isPromptExit(err) ? 'SIGINT' : undefined;
    if (!interrupted) throw err;
    log.clearProgress();
    const discarded = accepted && !preview && !options.yes ? ` ${accepted} accepted change${accepted === 1 ? ' was' : 's were'} discarded (q quits and keeps them).` : '';
    // Ctrl-C at a prompt arrives as a key press, not a signal: say it the same way.
    log.error(`\nInterrupted${err instanceof Interrupted ? ` (${interrupted})` : ''}: nothing was written; every file is as it was.${discarded}`);
    return EXIT_INTERRUPTED;
  } finally {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
}

/** Wait for `decision`, or reject as soon as the run is interrupted (a SIGTERM while a prompt waits). */
function untilAborted(decision: Promise<Decision>, signal: AbortSignal, register: (cancel: () => void) => void): Promise<Decision> {
  return new Promise((resolve, reject) => {
    register(() => reject(signal.reason));
    decision.then(resolve, reject);
  });
}

/**
 * Where --patch writes, checked before any change is computed: never a file this run read (even with
 * --force), nor a directory; an existing file only with --force.
 */
function checkPatchTarget(options: FixOptions, sources: string[]): string {
  const target = path.resolve(options.cwd, options.patch!);
  refuseSourceAsPatch(target, options.patch!, sources);
  let stat;
  try {
    stat = statSync(target);
  } catch {
    return target; // does not exist yet: fine
  }
  if (stat.isDirectory()) throw usageError(`--patch ${options.patch} is a directory`, 'Give the name of the patch file to write.');
  if (!options.force) throw usageError(`--patch ${options.patch} already exists; not overwritten`, 'Choose another name, or pass --force to replace it.');
  return target;
}

function refuseSourceAsPatch(target: string, given: string, sources: string[]): void {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const t = real(target);
  if (sources.some((s) => real(s) === t))
    throw usageError(`--patch ${given} is one of the files being analysed; it would be overwritten with the diff`, 'Write the patch outside the sources, e.g. --patch otpfix.patch.');
}

async function writePatch(target: string, diffs: string, options: FixOptions): Promise<void> {
  try {
    // 'wx' unless --force: a file that appeared since the check is not overwritten either.
    const handle = await open(target, options.force ? 'w' : 'wx');
    try {
      await handle.writeFile(diffs);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw ioError(`cannot write patch ${options.patch}: ${errorMessage(err)}`);
  }
}

function isPromptExit(err: unknown): boolean {
  return !!err && typeof err === 'object' && 'name' in err && (err.name === 'ExitPromptError' || err.name === 'AbortPromptError');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What happened, counted from what was written (`outcomes`), not from what was decided. */
function summary(session: FixRun, files: FileOutcome[], outcomes: FileOutcome[] | undefined, c: Colors, stats?: ReviewStats): string {
  const unwritten = new Set((outcomes ?? []).filter((o) => !o.written).map((o) => o.path));
  const isWritten = (change: FixRun['applied'][number]) => change.files.every((f) => !unwritten.has(f.path));
  const done = outcomes ? session.applied.filter(isWritten) : session.applied;
  const notDone = session.applied.length - done.length;
  const fileCount = outcomes ? outcomes.length - unwritten.size : files.length;
  const head = `${plural(done.length, 'change')} ${outcomes ? 'applied' : 'proposed'} in ${plural(fileCount, 'file')}`;
  const detail: string[] = [];
  if (stats?.edited) detail.push(`${stats.edited} edited by you`);
  if (stats?.auto) detail.push(`${stats.auto} by an "all" choice`);
  const parts = [head + (detail.length ? ` (${detail.join(', ')})` : '')];
  if (notDone) parts.push(c.red(`${plural(notDone, 'accepted change')} in ${plural(unwritten.size, 'file')} not written (see above)`));
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
