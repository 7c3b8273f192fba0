/** The real editor launcher: $VISUAL/$EDITOR through the shell, failures reported, line endings kept. */
import { chmodSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { editorCommand, editWithEditor, keepLineEndings } from '../../src/cli/review/editor.js';
import { makeProject, type Project } from '../support/cli.js';

let p: Project;
const saved = { VISUAL: process.env.VISUAL, EDITOR: process.env.EDITOR };
beforeEach(() => {
  p = makeProject({
    'upper.sh': '#!/bin/sh\n# an "editor" that takes an extra argument before the file, as `code --wait` does\n[ "$1" = --wait ] || exit 9\ntr a-z A-Z < "$2" > "$2.tmp" && mv "$2.tmp" "$2"\n',
    'fail.sh': '#!/bin/sh\nexit 1\n',
  });
  chmodSync(p.path('upper.sh'), 0o755);
  chmodSync(p.path('fail.sh'), 0o755);
});
afterEach(() => {
  p.remove();
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
});

const target = { path: '/x/lib/app.ex', relPath: 'lib/app.ex', text: 'defmodule A do\nend\n' };

describe('editWithEditor', () => {
  it('runs $EDITOR with its arguments on a temporary copy named like the source, and reads it back', async () => {
    delete process.env.VISUAL;
    process.env.EDITOR = `${p.path('upper.sh')} --wait`;
    expect(await editWithEditor(target)).toEqual({ text: 'DEFMODULE A DO\nEND\n' });
  });

  it('prefers $VISUAL, as git does, and falls back to vi', () => {
    expect(editorCommand({ VISUAL: 'code --wait', EDITOR: 'nano' })).toBe('code --wait');
    expect(editorCommand({ EDITOR: 'nano' })).toBe('nano');
    expect(editorCommand({})).toBe('vi');
  });

  it('reports an editor that fails or is missing, and uses nothing', async () => {
    delete process.env.VISUAL;
    process.env.EDITOR = p.path('fail.sh');
    expect(await editWithEditor(target)).toEqual({ error: expect.stringContaining('exited with 1; the edit was discarded') });
    // The shell's own "not found" goes to /dev/null, so the test run's output stays clean.
    process.env.EDITOR = `${p.path('no-such-editor')} 2>/dev/null`;
    expect(await editWithEditor(target)).toEqual({ error: expect.stringContaining('was not found (set $VISUAL or $EDITOR)') });
  });
});

describe('keepLineEndings', () => {
  it('restores CRLF when an editor saved LF, and LF when it saved CRLF; mixed files are left as edited', () => {
    expect(keepLineEndings('a\r\nb\r\n', 'a\nB\n')).toBe('a\r\nB\r\n');
    expect(keepLineEndings('a\nb\n', 'a\r\nB\r\n')).toBe('a\nB\n');
    expect(keepLineEndings('a\r\nb\n', 'a\nB\r\n')).toBe('a\nB\r\n');
  });
});
