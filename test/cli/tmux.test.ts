/**
 * End to end in a real terminal: the built CLI (`node bin/otpfix.js`) runs inside tmux, keys are
 * sent with send-keys, and the screen is read with capture-pane. Covers a whole interactive session
 * (explain, an edit that fails verification and is asked again, a repaired edit, no, quit), Ctrl-C
 * at a prompt, and colour on a TTY. Skipped, saying so, when tmux is not installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { APP, BIN, makeProject, POOL, WORK, type Project } from '../support/cli.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux)
  console.warn('SKIPPED: tmux is not installed, so the end-to-end terminal session tests did not run (CI installs it: apt-get install -y tmux)');

// A private tmux server for these tests only.
const SOCKET = `otpfix-test-${process.pid}`;
const SESSION = 'otpfix';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8' });
}

function screen(escapes = false): string {
  return tmux('capture-pane', '-p', '-J', ...(escapes ? ['-e'] : []), '-S', '-', '-t', SESSION);
}

async function waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = screen();
    if (pattern.test(text)) return text;
    if (Date.now() > until) throw new Error(`timed out waiting for ${pattern}; the screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Keys, then Enter (the prompt takes a key and Enter). */
function press(key: string): void {
  tmux('send-keys', '-t', SESSION, key, 'Enter');
}

/** Run a shell command line in a new tmux session; the pane prints EXIT=<code> when it ends. */
function start(project: Project, command: string, env: Record<string, string> = {}): void {
  const script = project.path('run.sh');
  const exports = Object.entries(env)
    .map(([k, v]) => `export ${k}='${v}'`)
    .join('\n');
  writeFileSync(
    script,
    `unset NO_COLOR FORCE_COLOR CI\n${exports}\ncd '${project.dir}'\n${command}\necho "EXIT=$?"\nexec sleep 120\n`,
  );
  tmux('new-session', '-d', '-s', SESSION, '-x', '120', '-y', '50', `sh '${script}'`);
}

/**
 * A stand-in for a person's editor: the first run breaks the syntax (drops the closing brace),
 * the second repairs the text it is given, choosing a different limit.
 */
const EDITOR = `
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
const counter = new URL('./editor-runs', import.meta.url);
const run = existsSync(counter) ? Number(readFileSync(counter, 'utf8')) + 1 : 1;
writeFileSync(counter, String(run));
let text = readFileSync(file, 'utf8');
text = run === 1 ? text.replace('max_children: 1000}', 'max_children: 1000') : text.replace('max_children: 1000\\n', 'max_children: 64}\\n');
writeFileSync(file, text);
`;

describe.skipIf(!hasTmux)('a real terminal (tmux)', () => {
  let p: Project;
  beforeEach(() => {
    p = makeProject({ 'lib/app.ex': APP, 'lib/pool.ex': POOL, 'lib/work.ex': WORK, 'editor.mjs': EDITOR }, 'otpfix-tmux-');
  });
  afterEach(() => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-session', '-t', SESSION]);
    p.remove();
  });
  afterAll(() => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  });

  it('an interactive session: explain, a failed edit asked again, a verified edit, no, quit', async () => {
    start(p, `node '${BIN}' fix lib`, { EDITOR: `node '${p.path('editor.mjs')}'`, VISUAL: '' });

    let text = await waitFor(/Apply this change\? \(3 left\)/);
    expect(text).toContain('Dynamic supervisor without max_children [supervisor-max-children, medium]  lib/app.ex:8:7');
    expect(text).toContain('DynamicSupervisor MyApp.Sessions can start children without bound');
    expect(text).toMatch(/ {8}8 \+ {6}\{DynamicSupervisor, name: MyApp\.Sessions, strategy: :one_for_one, max_children: 1000\}/);
    // Colour on a terminal: the added line is green.
    expect(screen(true)).toMatch(/\x1b\[32m(\x1b\[\d+m)*\+ {6}\{DynamicSupervisor/);

    press('x');
    await waitFor(/## Options \(in \.otpfix\.json/);

    press('e');
    text = await waitFor(/Your edit failed verification: the edited text of lib\/app\.ex would not parse/);
    expect(text).toContain('Choose e to edit it again (your text is kept)');

    press('e');
    text = await waitFor(/\(edited by you\)/);
    expect(text).toMatch(/\+ {6}\{DynamicSupervisor, name: MyApp\.Sessions, strategy: :one_for_one, max_children: 64\}/);

    press('y');
    await waitFor(/lib\/pool\.ex:3:5[\s\S]*Apply this change\? \(2 left\)/);
    press('n');
    await waitFor(/lib\/pool\.ex:10:5[\s\S]*Apply this change\? \(1 left\)/);
    press('q');

    text = await waitFor(/EXIT=\d+/);
    expect(text).toContain('EXIT=0');
    expect(text).toContain('fixed lib/app.ex');
    expect(text).toMatch(
      /1 change applied in 1 file \(1 edited by you\); 1 skipped; 1 edit failed verification \(asked again\);\s+\d+\s+findings?\s+left\s+\(`otpfix\s+scan`\s+lists\s+them\);\s+stopped\s+at\s+your\s+request/,
    );
    expect(p.file('lib/app.ex')).toBe(APP.replace('strategy: :one_for_one}', 'strategy: :one_for_one, max_children: 64}'));
    expect(p.file('lib/pool.ex')).toBe(POOL);
    expect(readFileSync(p.path('editor-runs'), 'utf8')).toBe('2');
  });

  it('Ctrl-C at a prompt leaves every file untouched, even after an accept, and exits 130', async () => {
    start(p, `node '${BIN}' fix lib`);
    await waitFor(/Apply this change\? \(3 left\)/);
    press('y');
    await waitFor(/Apply this change\? \(2 left\)/);
    tmux('send-keys', '-t', SESSION, 'C-c');
    const text = await waitFor(/EXIT=\d+/);
    expect(text).toContain('Interrupted: nothing was written; every file is as it was. 1 accepted change was discarded');
    expect(text).toContain('EXIT=130');
    expect(p.file('lib/app.ex')).toBe(APP);
    expect(p.file('lib/pool.ex')).toBe(POOL);
  });

  it('fix --dry-run colours the diff on a terminal, and not with NO_COLOR', async () => {
    start(p, `node '${BIN}' fix lib --dry-run; NO_COLOR=1 node '${BIN}' fix lib/app.ex --dry-run`);
    await waitFor(/EXIT=0/);
    const raw = screen(true);
    const [coloured, plain] = raw.split(/3 changes proposed in 2 files\./);
    expect(coloured).toMatch(/\x1b\[32m(\x1b\[\d+m)*\+.*max_children: 1000/);
    expect(coloured).toMatch(/\x1b\[31m(\x1b\[\d+m)*-/);
    expect(plain).toContain('+      {DynamicSupervisor, name: MyApp.Sessions, strategy: :one_for_one, max_children: 1000}');
    expect(plain).toContain('1 change proposed in 1 file.');
    expect(plain).not.toMatch(/\x1b\[3[12]m/);
  });
});
