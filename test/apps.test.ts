/**
 * Realistic applications, each with an ExUnit suite of what its callers observe, rewritten by
 * `fix --yes` (every rule) and run again on the Elixir VM: the fixed app must pass the same suite,
 * compile without warnings and stay `mix format`-clean. Each app is shaped after a way fixes broke
 * real code (test/apps/<app>/otpfix-expect.json says which), so a fix that loses behaviour fails here.
 *
 * otpfix-expect.json: `mustFix` (rules that must rewrite something: a safe fix exists), `mustNotFix`
 * (rules that must leave the app alone), `knownBroken` (a reason: the fixed app is expected to fail
 * its suite, compile with warnings or lose its formatting until a rule is mended; the test fails once it passes, so the mark is removed).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fix, prepare, writeChanges } from '../src/api.js';
import { elixirAvailable, SKIP_NOTE } from './support/elixir.js';
import { ROOT } from './support/fixtures.js';

interface Expectation {
  about: string;
  mustFix?: string[];
  mustNotFix?: string[];
  knownBroken?: string;
}

const APPS = path.join(ROOT, 'test/apps');
const apps = readdirSync(APPS).filter((name) => existsSync(path.join(APPS, name, 'mix.exs')));
const scratch = mkdtempSync(path.join(tmpdir(), 'otpfix-apps-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const hasElixir = elixirAvailable();
if (!hasElixir) console.warn(`${SKIP_NOTE}. Skipped: the realistic apps in test/apps`);

function mix(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('mix', args, { cwd, env: { ...process.env, MIX_ENV: 'test', NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

describe.skipIf(!hasElixir)('realistic apps keep their behaviour after fix --yes', () => {
  it.concurrent.each(apps)('%s', { timeout: 180_000 }, async (name) => {
    const expectation: Expectation = JSON.parse(readFileSync(path.join(APPS, name, 'otpfix-expect.json'), 'utf8'));
    const dir = path.join(scratch, name);
    cpSync(path.join(APPS, name), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}_build`) });

    const before = await mix(['test'], dir);
    expect(before.code, `the app's own suite fails before any fix:\n${before.output}`).toBe(0);

    const options = { paths: ['.'], cwd: dir, config: { rules: {}, include: [], exclude: [] } };
    const session = await fix(await prepare(options), { decide: () => 'yes' });
    expect((await writeChanges(session)).every((o) => o.written)).toBe(true);
    const after = await mix(['test'], dir);
    const changed = session.applied.map((c) => `${c.finding.ruleId} in ${c.files.map((f) => f.relPath).join(', ')}`).join('; ');
    if (expectation.knownBroken) {
      // Broken means the suite fails, or the fixed code no longer compiles cleanly or is no longer formatted.
      const broken =
        after.code !== 0 ||
        (await mix(['compile', '--force', '--warnings-as-errors'], dir)).code !== 0 ||
        (await mix(['format', '--check-formatted'], dir)).code !== 0;
      expect(broken, `${name} passes after the fix now: remove "knownBroken" (${expectation.knownBroken})`).toBe(true);
      return;
    }
    const fixedRules = new Set(session.applied.map((c) => c.finding.ruleId));
    for (const rule of expectation.mustFix ?? []) expect(fixedRules, `${rule} should have fixed ${name}`).toContain(rule);
    for (const rule of expectation.mustNotFix ?? []) expect(fixedRules, `${rule} must leave ${name} alone`).not.toContain(rule);
    expect(after.code, `after fix --yes (${changed || 'no changes'}) the suite fails:\n${after.output}`).toBe(0);

    const compile = await mix(['compile', '--force', '--warnings-as-errors'], dir);
    expect(compile.code, `the fixed app compiles with warnings:\n${compile.output}`).toBe(0);
    const format = await mix(['format', '--check-formatted'], dir);
    expect(format.code, `the fixed app is not mix format-clean:\n${format.output}`).toBe(0);
  });
});
