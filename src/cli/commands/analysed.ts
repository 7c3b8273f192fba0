import { unlinkSync } from 'node:fs';
import path from 'node:path';
import { errorMessage, usageError } from '../../core/errors.js';
import { isStaleTemporary } from '../../core/files.js';
import { printable } from '../format.js';
import type { RunLog } from '../run-log.js';
import type { FileStatus } from '../../core/workspace.js';

/**
 * A run that analysed nothing must not pass for a clean one (a CI gate would check nothing):
 * no Elixir file found, or none that could be read and parsed, is an error (exit 2).
 */
export function requireAnalysed(statuses: FileStatus[], paths: string[], analysed: number): void {
  // `analysed` counts every file read and parsed; `statuses` may be narrowed (--changed-since,
  // --shard), and a narrowed run with nothing in scope has still checked the project.
  if (analysed > 0) return;
  const where = paths.length ? paths.join(', ') : 'the current directory';
  if (!statuses.length)
    throw usageError(
      `no Elixir files (.ex, .exs) to analyse in ${where}`,
      'Name the files or directories that hold them; check include/exclude in .otpfix.json (deps, _build and .gitignore\'d paths are skipped).',
    );
  throw usageError(
    `none of the ${statuses.length} Elixir file${statuses.length === 1 ? '' : 's'} found could be analysed (see the warnings above)`,
    'Fix or exclude the files named above; nothing was checked.',
  );
}

/** Temporary files of an interrupted run: removed by a run that writes, otherwise named. */
export function handleTemporaries(files: string[], remove: boolean, log: RunLog, cwd: string): void {
  for (const file of files) {
    const rel = printable(path.relative(cwd, file));
    if (!isStaleTemporary(file)) {
      log.warn(`${log.c.yellow('warning')} ${rel}: temporary file of an otpfix run still in progress; left alone`);
      continue;
    }
    if (!remove) {
      log.warn(`${log.c.yellow('warning')} ${rel}: temporary file left by an interrupted otpfix run; \`otpfix fix\` removes it (or delete it)`);
      continue;
    }
    try {
      unlinkSync(file);
      log.warn(`${log.c.yellow('removed')} ${rel}: temporary file left by an interrupted otpfix run`);
    } catch (err) {
      log.warn(`${log.c.yellow('warning')} ${rel}: temporary file left by an interrupted otpfix run; cannot remove it: ${errorMessage(err)}`);
    }
  }
}

