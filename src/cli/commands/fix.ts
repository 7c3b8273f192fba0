import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { changedFiles, fix, prepare, writeChanges, type RunOptions } from '../../api.js';
import { unifiedDiff } from '../../core/diff.js';
import type { SessionHooks } from '../../core/engine.js';
import { errorMessage, ioError, usageError } from '../../core/errors.js';
import { colorsFor, type Io } from '../output.js';
import { problemsReport } from '../reporters/text.js';
import { colorDiff } from '../review/diff-view.js';
import { interactiveHooks, type Ask } from '../review/interactive.js';

export interface FixOptions extends RunOptions {
  dryRun?: boolean;
  yes?: boolean;
  patch?: string;
  check?: boolean;
  /** Whether a person is at the terminal (stdin and stdout are TTYs). */
  interactive: boolean;
  ask?: Ask;
}

/**
 * Exit codes: 0 done; 1 with --check when changes would be made; 3 when a file could not be written.
 */
export async function fixCommand(options: FixOptions, io: Io): Promise<number> {
  const preview = !!(options.dryRun || options.patch || options.check);
  if (!preview && !options.yes && !options.interactive)
    throw usageError('not a terminal, so changes cannot be approved one by one', 'Pass --yes to apply every change, or --dry-run to print them as a diff.');
  const prepared = await prepare(options);
  const errC = colorsFor(io.stderr);
  for (const line of problemsReport({ statuses: prepared.statuses, problems: [] }, errC, options.cwd)) io.err(line);

  const hooks: SessionHooks =
    preview || options.yes
      ? { decide: () => 'yes' }
      : interactiveHooks((t) => io.out(t), colorsFor(io.stdout), options.ask);
  const session = await fix(prepared, hooks);
  for (const p of session.problems) io.err(`${errC.red('error')} ${path.relative(options.cwd, p.file)}: ${p.ruleId}: ${p.message}`);

  const files = changedFiles(session);
  let exit = 0;
  if (preview) {
    const diffs = files.map((f) => unifiedDiff(f.relPath, f.before, f.after)).join('');
    if (options.patch) {
      try {
        writeFileSync(path.resolve(options.cwd, options.patch), diffs);
      } catch (err) {
        throw ioError(`cannot write patch ${options.patch}: ${errorMessage(err)}`);
      }
      io.err(`wrote ${options.patch} (${files.length} file${files.length === 1 ? '' : 's'}); apply it with: git apply ${options.patch}`);
    } else if (options.dryRun || !options.check) io.out(colorDiff(diffs, colorsFor(io.stdout)));
    if (options.check && files.length) exit = 1;
  } else {
    for (const outcome of await writeChanges(session)) {
      if (outcome.written) io.err(`${errC.green('fixed')} ${outcome.relPath}`);
      else {
        io.err(`${errC.red('not written')} ${outcome.relPath}: ${outcome.error}`);
        exit = 3;
      }
    }
  }
  io.err(summary(session, files.length, preview, errC));
  return exit;
}

function summary(session: Awaited<ReturnType<typeof fix>>, fileCount: number, preview: boolean, c: ReturnType<typeof colorsFor>): string {
  const parts = [
    `${session.applied.length} change${session.applied.length === 1 ? '' : 's'} ${preview ? 'proposed' : 'applied'} in ${fileCount} file${fileCount === 1 ? '' : 's'}`,
  ];
  if (session.rejected.length) parts.push(`${session.rejected.length} declined`);
  if (session.failed.length) parts.push(c.yellow(`${session.failed.length} dropped by verification`));
  if (session.detectOnly.length) parts.push(`${session.detectOnly.length} finding${session.detectOnly.length === 1 ? '' : 's'} left to fix by hand (see \`otpfix scan\`)`);
  if (session.quit) parts.push('stopped early at your request');
  const lines = [parts.join('; ') + '.'];
  for (const f of session.failed) lines.push(c.yellow(`  dropped ${f.finding.ruleId} (${f.finding.key}): ${f.reason}`));
  return lines.join('\n');
}
