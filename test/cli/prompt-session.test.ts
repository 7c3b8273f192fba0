/**
 * A whole interactive fix session through the real prompt, with @inquirer/testing's screen
 * standing in for the terminal (it replaces the @inquirer prompts' input and output).
 */
import { screen } from '@inquirer/testing/vitest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixCommand } from '../../src/cli/commands/fix.js';
import type { Io } from '../../src/cli/output.js';
import { APP, makeProject, POOL, WORK, type Project } from '../support/cli.js';

describe('a session through the real prompt', () => {
  let p: Project;
  beforeEach(() => {
    p = makeProject({ 'lib/app.ex': APP, 'lib/pool.ex': POOL, 'lib/work.ex': WORK });
  });
  afterEach(() => p.remove());

  it('y, then n, then q: writes the one accepted change', async () => {
    let out = '';
    let err = '';
    const io: Io = {
      out: (t) => (out += `${t}\n`),
      err: (t) => (err += `${t}\n`),
      stdout: { isTTY: false } as NodeJS.WriteStream,
      stderr: { isTTY: false } as NodeJS.WriteStream,
    };
    const done = fixCommand({ paths: ['lib'], cwd: p.dir, interactive: true }, io);
    for (const key of ['y', 'n', 'q']) {
      await screen.next();
      expect(screen.getScreen()).toContain('Apply this change?');
      screen.type(key);
      screen.keypress('enter');
    }
    expect(await done).toBe(0);
    expect(p.file('lib/app.ex')).toContain('strategy: :one_for_one, max_children: 1000}');
    expect(p.file('lib/pool.ex')).toBe(POOL);
    expect(out).toContain('lib/pool.ex:3:5');
    expect(err).toMatch(/1 change applied in 1 file; 1 skipped; \d+ findings? left \(`otpfix scan` lists them\); stopped at your request/);
  });
});
