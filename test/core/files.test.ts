import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtpfixError } from '../../src/core/errors.js';
import { collectFiles, dominantEol } from '../../src/core/files.js';
import { loadWorkspace } from '../../src/core/workspace.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'otpfix-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(rel: string, content: string | Buffer) {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), content);
}

describe('collecting files', () => {
  it('walks .ex/.exs, skips build output, deps and what .gitignore ignores', () => {
    write('lib/a.ex', '');
    write('test/a_test.exs', '');
    write('_build/dev/x.ex', '');
    write('deps/dep/lib/d.ex', '');
    write('node_modules/n/x.ex', '');
    write('lib/generated/g.ex', '');
    write('lib/notes.md', '');
    write('.gitignore', 'lib/generated/\n');
    write('lib/sub/.gitignore', 'skip_*.ex\n');
    write('lib/sub/skip_me.ex', '');
    write('lib/sub/keep.ex', '');
    const found = collectFiles(['.'], { cwd: dir }).map((f) => path.relative(dir, f));
    expect(found).toEqual(['lib/a.ex', 'lib/sub/keep.ex', 'test/a_test.exs']);
  });

  it('honours exclude globs from the config', () => {
    write('lib/a.ex', '');
    write('lib/legacy/b.ex', '');
    expect(collectFiles(['lib'], { cwd: dir, exclude: ['lib/legacy/**'] }).map((f) => path.relative(dir, f))).toEqual(['lib/a.ex']);
  });

  it('is a usage error for a path that does not exist or a non-Elixir file', () => {
    write('x.txt', '');
    expect(() => collectFiles(['nope'], { cwd: dir })).toThrow(OtpfixError);
    expect(() => collectFiles(['nope'], { cwd: dir })).toThrow(/path does not exist: nope/);
    expect(() => collectFiles(['x.txt'], { cwd: dir })).toThrow(/not an Elixir source file/);
  });
});

describe('reading files', () => {
  it('reports binary, non-UTF-8, unparsable and unreadable files per file, and analyses the rest', async () => {
    write('ok.ex', 'defmodule Ok do\nend\n');
    write('binary.ex', Buffer.from([0x64, 0x00, 0x01]));
    write('latin1.ex', Buffer.from([0x61, 0xe9, 0x0a]));
    write('broken.ex', 'defmodule Broken do\n  def f(, do: 1\nend\n');
    write('locked.ex', 'defmodule Locked do\nend\n');
    chmodSync(path.join(dir, 'locked.ex'), 0o000);
    const { workspace, statuses } = await loadWorkspace(['.'], { cwd: dir });
    const by = Object.fromEntries(statuses.map((s) => [s.relPath, s]));
    expect(workspace.files.map((f) => f.relPath)).toEqual(
      process.getuid?.() === 0 ? ['locked.ex', 'ok.ex'] : ['ok.ex'], // root reads anything
    );
    expect(by['binary.ex']).toMatchObject({ status: 'error', reason: expect.stringMatching(/binary/) });
    expect(by['latin1.ex']).toMatchObject({ status: 'error', reason: expect.stringMatching(/UTF-8/) });
    expect(by['broken.ex']).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/syntax error at line 2/) });
    if (process.getuid?.() !== 0) expect(by['locked.ex']).toMatchObject({ status: 'error', reason: expect.stringMatching(/cannot read/) });
  });

  it('knows a file line endings', () => {
    expect(dominantEol('a\r\nb\r\nc\n')).toBe('\r\n');
    expect(dominantEol('a\nb\n')).toBe('\n');
  });
});
