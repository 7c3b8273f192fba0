/**
 * Opening `$VISUAL` / `$EDITOR` on a proposed result. The text goes into a temporary file named
 * like the source (so the editor picks Elixir highlighting) and is read back when the editor exits.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorMessage } from '../../core/errors.js';

export interface EditTarget {
  path: string;
  relPath: string;
  text: string;
}

/** The edited text, or why there is none (the editor could not start or exited with an error). */
export type EditOutcome = { text: string } | { error: string };

export type EditFn = (target: EditTarget) => EditOutcome | Promise<EditOutcome>;

/** As git does: $VISUAL, then $EDITOR, then vi. */
export function editorCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.VISUAL?.trim() || env.EDITOR?.trim() || 'vi';
}

export const editWithEditor: EditFn = (target) => {
  const editor = editorCommand();
  const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-edit-'));
  const file = path.join(dir, path.basename(target.relPath));
  try {
    writeFileSync(file, target.text);
    // Through the shell, so an editor with arguments (`code --wait`) works as in git.
    const run = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, editor, file], { stdio: 'inherit' });
    if (run.error) return { error: `could not start the editor "${editor}": ${errorMessage(run.error)}` };
    if (run.status !== 0)
      return {
        error:
          run.status === 127
            ? `the editor "${editor}" was not found (set $VISUAL or $EDITOR)`
            : `the editor "${editor}" exited with ${run.status ?? run.signal}; the edit was discarded`,
      };
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    return { error: `editing failed: ${errorMessage(err)}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

/**
 * Editors may save a CRLF file with LF endings (or the reverse); keep the line endings the file had.
 */
export function keepLineEndings(original: string, edited: string): string {
  const crlf = original.includes('\r\n');
  const lf = /(^|[^\r])\n/.test(original);
  if (crlf && !lf) return edited.replace(/\r?\n/g, '\r\n');
  if (lf && !crlf) return edited.replace(/\r\n/g, '\n');
  return edited;
}
