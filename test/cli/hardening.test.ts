/**
 * Issue 11, one test per defect found by a hostile test run: no way to lose a file or leave debris,
 * no silent success, honest summaries, terminal-safe output, clear answers to bad input, and flags
 * that either work together or are refused in one style.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixCommand, type FixOptions } from '../../src/cli/commands/fix.js';
import { explainText } from '../../src/cli/commands/explain.js';
import type { Io } from '../../src/cli/output.js';
import { prBody, prTitle, type BranchReport } from '../../src/cli/review/pr-text.js';
import type { Choice } from '../../src/cli/review/interactive.js';
import { writeSourceAtomically, hashText } from '../../src/core/files.js';
import { transformById } from '../../src/transforms/index.js';
import { APP, makeProject, POOL, runCli, WORK, type Project } from '../support/cli.js';
import { ROOT } from '../support/fixtures.js';

const APP_FIXED = '{DynamicSupervisor, name: MyApp.Sessions, strategy: :one_for_one, max_children: 1000}';

let p: Project;
beforeEach(() => {
  p = makeProject({ 'lib/app.ex': APP, 'lib/pool.ex': POOL, 'lib/work.ex': WORK });
});
afterEach(() => p.remove());

/** A pid that is certainly not running: a child that has exited. */
const deadPid = () => spawnSync('true').pid!;

function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      e.isDirectory() ? walk(path.join(d, e.name)) : out.push(path.relative(dir, path.join(d, e.name)));
  };
  walk(dir);
  return out.sort();
}

async function fixWith(options: Partial<FixOptions> & { answers?: Array<Choice | (() => Choice)> }) {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => (out += `${t}\n`),
    err: (t) => (err += `${t}\n`),
    stdout: { isTTY: false } as NodeJS.WriteStream,
    stderr: { isTTY: false } as NodeJS.WriteStream,
  };
  let asked = 0;
  const ask = async () => {
    const a = options.answers?.[asked++];
    if (a === undefined) throw new Error('asked more often than scripted');
    return typeof a === 'function' ? a() : a;
  };
  const code = await fixCommand({ paths: ['lib'], cwd: p.dir, interactive: true, ask, ...options }, io);
  return { code, out, err };
}

describe('1. --patch never overwrites a source, nor an existing file without --force', () => {
  it('refuses a file being analysed, even with --force, and leaves it as it was', async () => {
    for (const extra of [[], ['--force']]) {
      const r = await runCli(['fix', 'lib', '--patch', 'lib/app.ex', ...extra], p.dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('otpfix: --patch lib/app.ex is one of the files being analysed');
      expect(p.file('lib/app.ex')).toBe(APP);
    }
  });

  it('refuses an existing file unless --force, and a directory always', async () => {
    p.write('notes.txt', 'keep me\n');
    const r = await runCli(['fix', 'lib', '--patch', 'notes.txt'], p.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--patch notes.txt already exists; not overwritten');
    expect(r.stderr).toContain('--force');
    expect(p.file('notes.txt')).toBe('keep me\n');
    const forced = await runCli(['fix', 'lib', '--patch', 'notes.txt', '--force'], p.dir);
    expect(forced.code).toBe(0);
    expect(p.file('notes.txt')).toMatch(/^diff --git a\/lib\/app.ex/);
    expect((await runCli(['fix', 'lib', '--patch', 'lib'], p.dir)).stderr).toContain('--patch lib is a directory');
  });
});

describe('2. temporary files are recognisably otpfix\'s, and the next run removes stale ones', () => {
  it('a write leaves no temporary file and keeps the file mode', async () => {
    const file = p.path('lib/pool.ex');
    execFileSync('chmod', ['640', file]);
    await writeSourceAtomically(file, hashText(readFileSync(file)), 'new text\n');
    expect(p.file('lib/pool.ex')).toBe('new text\n');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(listTree(p.dir)).toEqual(['lib/app.ex', 'lib/pool.ex', 'lib/work.ex']);
  });

  it('fix removes the temporary file of a killed run and says so; scan names it and leaves it', async () => {
    const stale = `lib/app.ex.otpfix-${deadPid()}-0123abcd.tmp`;
    p.write(stale, APP.slice(0, 50));
    const scan = await runCli(['scan', 'lib'], p.dir);
    expect(scan.stderr).toContain(`warning ${stale}: temporary file left by an interrupted otpfix run; \`otpfix fix\` removes it`);
    expect(existsSync(p.path(stale))).toBe(true);
    const fix = await runCli(['fix', 'lib', '--yes'], p.dir);
    expect(fix.code).toBe(0);
    expect(fix.stderr).toContain(`removed ${stale}: temporary file left by an interrupted otpfix run`);
    expect(listTree(p.dir)).toEqual(['lib/app.ex', 'lib/pool.ex', 'lib/work.ex']);
  });

  it('leaves alone the temporary file of a run still going, unless it is an hour old', async () => {
    const live = `lib/pool.ex.otpfix-${process.ppid}-0123abcd.tmp`;
    p.write(live, 'partial');
    const fix = await runCli(['fix', 'lib', '--yes'], p.dir);
    expect(fix.stderr).toContain(`${live}: temporary file of an otpfix run still in progress; left alone`);
    expect(existsSync(p.path(live))).toBe(true);
    const old = (Date.now() - 2 * 3_600_000) / 1000;
    utimesSync(p.path(live), old, old);
    await runCli(['fix', 'lib', '--yes'], p.dir);
    expect(existsSync(p.path(live))).toBe(false);
  });
});

describe('3. a byte-order mark is kept', () => {
  it('--yes keeps it, and the patch gives the same bytes through git apply', async () => {
    // The change is on line 3, so the patch's hunk has line 1, with the mark, as context.
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd: p.dir, encoding: 'utf8' });
    p.write('lib/pool.ex', `\uFEFF${POOL}`);
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'init');
    const patchFile = path.join(p.dir, '.git', 'bom.patch');
    // work.ex is read too: its start sites handle {:error, _}, which makes the fix safe (it is not changed).
    expect((await runCli(['fix', 'lib/pool.ex', 'lib/work.ex', '--patch', patchFile], p.dir)).code).toBe(0);
    expect(readFileSync(patchFile, 'utf8')).toMatch(/^ \uFEFFdefmodule MyApp.Pool do$/m);
    expect((await runCli(['fix', 'lib/pool.ex', 'lib/work.ex', '--yes'], p.dir)).code).toBe(0);
    const written = readFileSync(p.path('lib/pool.ex'));
    expect([...written.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(written.toString('utf8')).toMatch(/^\uFEFFdefmodule MyApp.Pool do\n[\s\S]*max_children: 1000/);
    git('checkout', '--', 'lib/pool.ex');
    git('apply', patchFile);
    expect(readFileSync(p.path('lib/pool.ex'))).toEqual(written);
  });
});

describe('4. a run that analysed nothing fails', () => {
  it('every file unparsable or binary: exit 2 and why; fix --check too', async () => {
    const bad = makeProject({ 'lib/broken.ex': 'defmodule Broken do\n  def f(x) do\n', 'lib/blob.ex': Buffer.from([0, 1, 2, 3]).toString('latin1') });
    try {
      const scan = await runCli(['scan', 'lib'], bad.dir);
      expect(scan.code).toBe(2);
      expect(scan.stderr).toContain('otpfix: none of the 2 Elixir files found could be analysed');
      expect((await runCli(['scan', 'lib', '--format', 'json'], bad.dir)).code).toBe(2);
      expect((await runCli(['fix', 'lib', '--check'], bad.dir)).code).toBe(2);
    } finally {
      bad.remove();
    }
  });

  it('no Elixir file at all (empty, or everything excluded): exit 2', async () => {
    p.write('docs/readme.md', '# hi\n');
    const empty = await runCli(['scan', 'docs'], p.dir);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('otpfix: no Elixir files (.ex, .exs) to analyse in docs');
    p.write('.otpfix.json', JSON.stringify({ exclude: ['lib/'] }));
    expect((await runCli(['scan'], p.dir)).code).toBe(2);
  });
});

describe('6. interruption and summaries say what was written', () => {
  it('a signal while reading and parsing ends the run: nothing written, said, exit 130', async () => {
    setImmediate(() => process.emit('SIGINT'));
    const r = await fixWith({ yes: true, interactive: false });
    expect(r.code).toBe(130);
    expect(r.err).toContain('Interrupted (SIGINT): nothing was written; every file is as it was.');
    expect(p.file('lib/app.ex')).toBe(APP);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('after "a", changes are "accepted" (not yet "applied"), and a signal before writing discards them', async () => {
    const r = await fixWith({
      answers: [
        () => {
          setImmediate(() => process.emit('SIGTERM'));
          return 'all';
        },
      ],
    });
    expect(r.code).toBe(130);
    expect(r.out).not.toMatch(/^applied /m);
    expect(r.err).toContain('Interrupted (SIGTERM): nothing was written; every file is as it was. 1 accepted change was discarded');
    expect(p.file('lib/app.ex')).toBe(APP);
    expect(p.file('lib/pool.ex')).toBe(POOL);

    const all = await fixWith({ answers: ['all'] });
    expect(all.out).toMatch(/^accepted supervisor-max-children at lib\/pool.ex:\d+$/m);
  });

  it('the summary counts only what was written when a file changed on disk meanwhile', async () => {
    const r = await fixWith({
      yes: true,
      interactive: false,
      beforeWrite: (o) => {
        if (o.relPath === 'lib/app.ex') writeFileSync(p.path('lib/app.ex'), `${APP}# edited meanwhile\n`);
      },
    });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^2 changes applied in 1 file; 1 accepted change in 1 file not written \(see above\)/m);
  });

  it('the summary after an interrupted write counts the files written', async () => {
    let n = 0;
    const r = await fixWith({ yes: true, interactive: false, beforeWrite: () => void (++n === 2 && process.emit('SIGINT')) });
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/^1 change applied in 1 file; 2 accepted changes in 1 file not written/m);
  });
});

describe('7. an editor closed without a change is not an edit', () => {
  it('says so, and neither the change nor the summary says "edited by you"', async () => {
    const r = await fixWith({ answers: ['edit', 'yes', 'quit'], edit: (t) => ({ text: t.text }) });
    expect(r.out).toContain('No change made in the editor; the change is as shown above.');
    expect(r.out).not.toContain('edited by you');
    expect(r.err).not.toContain('edited by you');
    expect(p.file('lib/app.ex')).toContain(APP_FIXED);
  });
});

describe('8. names from outside cannot drive the terminal', () => {
  const evil = 'lib/\u001b]0;pwned\u0007x.ex';

  it('text output escapes control characters in file names', async () => {
    p.write(evil, POOL);
    for (const args of [['scan', 'lib'], ['fix', 'lib', '--yes']]) {
      const r = await runCli(args, p.dir);
      expect(r.stdout + r.stderr).not.toContain('\u001b');
      expect(r.stdout + r.stderr).toContain('lib/\\x1b]0;pwned\\x07x.ex');
    }
  });

  it('a newline in a file name does not reach a pull request title or commit subject', () => {
    const report: BranchReport = {
      branch: 'otpfix/x',
      grouping: 'file',
      baseCommit: 'a'.repeat(40),
      rules: [{ id: 'r', title: 'T', severity: 'high', fixSafety: 'review', explanation: 'E', options: [] }],
      changes: [{ ruleId: 'r', file: 'lib/a\nb.ex', line: 1, message: 'm', alsoFiles: [] }],
      files: [{ file: 'lib/a\nb.ex', added: 1, removed: 1 }],
      left: [],
      overlaps: [],
    };
    expect(prTitle(report)).toBe('otpfix: T in lib/a\\nb.ex');
    expect(prBody(report)).not.toContain('a\nb');
  });
});

describe('9. a size limit, and columns that stay apart', () => {
  it('skips a file above the limit with a clear message; configurable by flag and config', async () => {
    const big = `defmodule Big do\n${'  # padding\n'.repeat(200)}end\n`;
    p.write('lib/big.ex', big);
    const r = await runCli(['scan', 'lib', '--max-file-size', '2kB'], p.dir);
    expect(r.stderr).toContain('warning lib/big.ex: is 2.4 kB, above the 2.0 kB limit; not analysed (raise maxFileSize in .otpfix.json or pass --max-file-size)');
    expect((await runCli(['scan', 'lib', '--max-file-size', '0'], p.dir)).stderr).not.toContain('lib/big.ex');
    p.write('.otpfix.json', JSON.stringify({ maxFileSize: 100 }));
    expect((await runCli(['scan', 'lib/big.ex'], p.dir)).code).toBe(2);
    p.write('.otpfix.json', JSON.stringify({ maxFileSize: -1 }));
    expect((await runCli(['scan', 'lib'], p.dir)).stderr).toContain('"maxFileSize" must be a whole number of bytes');
    expect((await runCli(['scan', 'lib', '--max-file-size', 'lots'], p.dir)).code).toBe(2);
  });

  it('keeps a space between a 6-digit line number and the severity', async () => {
    p.write('lib/pool.ex', `${'\n'.repeat(123_456)}${POOL}`);
    const r = await runCli(['scan', 'lib/pool.ex'], p.dir);
    expect(r.stdout).toMatch(/^ {2}123459:\d+ +medium/m);
  });
});

describe('10. bad input says what it is', () => {
  it('a symlink loop, a broken link and a FIFO named on the command line', async () => {
    symlinkSync('loop', p.path('loop'));
    expect((await runCli(['scan', 'loop'], p.dir)).stderr).toContain('otpfix: symbolic link loop: loop');
    symlinkSync('nowhere.ex', p.path('dangling.ex'));
    expect((await runCli(['scan', 'dangling.ex'], p.dir)).stderr).toContain('otpfix: broken symbolic link: dangling.ex points to nowhere.ex');
    execFileSync('mkfifo', [p.path('pipe')]);
    const fifo = await runCli(['scan', 'pipe'], p.dir);
    expect(fifo.code).toBe(2);
    expect(fifo.stderr).toContain('otpfix: not a file or directory (a named pipe): pipe');
  });

  it('a syntax error is reported where the text stops making sense, not where the enclosing block starts', async () => {
    p.write('lib/c.ex', 'defmodule C do\n  def f(x) do\n    x = [1, 2\n    x\n  end\nend\n');
    expect((await runCli(['scan', 'lib'], p.dir)).stderr).toContain('warning lib/c.ex: syntax error at line 3');
  });
});

describe('11. conflicting flags are refused, in one style', () => {
  it.each([
    [['--yes', '--dry-run'], /^otpfix: option '-y, --yes' cannot be used with option '--dry-run'/m],
    [['--check', '--yes'], /^otpfix: option '-y, --yes' cannot be used with option '--check'/m],
    [['--patch', 'x.patch', '--yes'], /^otpfix: option '-y, --yes' cannot be used with option '--patch <file>'/m],
    [['--quiet', '--verbose'], /^otpfix: option '-q, --quiet' cannot be used with option '-v, --verbose'/m],
  ])('fix %j', async (flags, message) => {
    const r = await runCli(['fix', 'lib', ...flags], p.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(p.file('lib/app.ex')).toBe(APP);
    expect(existsSync(p.path('x.patch'))).toBe(false);
  });
});

describe('12. consistency with what the README and the prompt say', () => {
  it('--rule with a near-miss suggests the rule, like explain', async () => {
    for (const cmd of [['scan', 'lib', '--rule', 'supervisor-max-child'], ['explain', 'supervisor-max-child']]) {
      const r = await runCli(cmd, p.dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('Did you mean supervisor-max-children?');
    }
  });

  it('deps/ is skipped when walking, and analysed when named', async () => {
    p.write('deps/dep/lib/d.ex', POOL.replace(/MyApp/g, 'Dep'));
    expect((await runCli(['scan', '.', '--format', 'json'], p.dir)).stdout).not.toContain('deps/');
    expect((await runCli(['scan', 'deps', '--format', 'json'], p.dir)).stdout).toContain('deps/dep/lib/d.ex');
  });

  it('the prompt help says f and r cover only changes reached before quitting', async () => {
    const { CHOICES } = await import('../../src/cli/review/choices.js');
    for (const key of ['f', 'r']) expect(CHOICES.find((c) => c.key === key)!.name).toContain('reached before you quit');
  });
});

describe('13. help and long option values', () => {
  it('fix --help lists the keys and the exit codes; scan --help the exit codes', async () => {
    const fix = await runCli(['fix', '--help'], p.dir);
    for (const key of ['y', 'n', 'f', 'r', 'a', 'q', 'x', 'e']) expect(fix.stdout).toMatch(new RegExp(`^ {2}${key} {4}\\S`, 'm'));
    expect(fix.stdout).toMatch(/^Exit codes:\n {2}0 {4}done[\s\S]*^ {2}130 {2}interrupted/m);
    expect((await runCli(['scan', '--help'], p.dir)).stdout).toMatch(/^Exit codes:\n {2}0 {4}no findings/m);
  });

  it('explain and PR bodies summarise a long default instead of printing it whole; no double blank line', () => {
    const t = transformById('blocking-handle-call')!;
    const text = explainText(t);
    expect(text).not.toMatch(/\n\n\n/);
    const line = text.split('\n').find((l) => l.startsWith('- `blockingCalls`'))!;
    expect(line.length).toBeLessThan(400);
    expect(line).toMatch(/\[\d+ entries: /);
    const body = prBody({
      branch: 'b',
      grouping: 'rule',
      baseCommit: 'a'.repeat(40),
      rules: [{ id: t.id, title: t.title, severity: 'high', fixSafety: 'review', explanation: 'E', options: [{ key: 'blockingCalls', value: t.options.blockingCalls.default, isDefault: true }] }],
      changes: [],
      files: [],
      left: [],
      overlaps: [],
    });
    expect(body.split('\n').find((l) => l.includes('blockingCalls'))!.length).toBeLessThan(400);
  });
});

describe('14. a clean install', () => {
  it('every installed package with install scripts is covered by allowScripts', () => {
    const root = ROOT;
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    const withScripts: string[] = [];
    const look = (dir: string) => {
      for (const name of readdirSync(dir)) {
        if (name.startsWith('.')) continue;
        if (name.startsWith('@')) {
          look(path.join(dir, name));
          continue;
        }
        const file = path.join(dir, name, 'package.json');
        if (!existsSync(file)) continue;
        const meta = JSON.parse(readFileSync(file, 'utf8'));
        const s = meta.scripts ?? {};
        if (s.preinstall || s.install || s.postinstall || existsSync(path.join(dir, name, 'binding.gyp'))) withScripts.push(meta.name);
      }
    };
    look(path.join(root, 'node_modules'));
    expect(withScripts.length).toBeGreaterThan(0);
    for (const name of withScripts) expect(pkg.allowScripts?.[name], `${name} runs install scripts`).toBe(true);
    // …and the README says why each one runs.
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    for (const name of Object.keys(pkg.allowScripts)) expect(readme, name).toContain(`\`${name}\``);
  });
});
