/**
 * The bundled example app end to end: otpfix finds the headline flaws, fixes them, a second run
 * changes nothing, and the fixed app compiles with `mix compile --warnings-as-errors`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fix, prepare, writeChanges } from '../src/api.js';
import { elixirAvailable, SKIP_NOTE } from './support/elixir.js';
import { ROOT } from './support/fixtures.js';

const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hasElixir = elixirAvailable();

describe('examples/shop', () => {
  it('gets its three headline flaws fixed, and a second run changes nothing', async () => {
    cpSync(path.join(ROOT, 'examples/shop'), dir, { recursive: true });
    const options = { paths: ['lib'], cwd: dir, config: { rules: {}, include: [], exclude: [] } };
    const session = await fix(await prepare(options), { decide: () => 'yes' });
    expect(new Set(session.applied.map((c) => c.finding.ruleId))).toEqual(
      new Set(['supervisor-max-children', 'blocking-handle-call', 'ets-unbounded-growth']),
    );
    expect((await writeChanges(session)).every((o) => o.written)).toBe(true);
    const again = await fix(await prepare(options), { decide: () => 'yes' });
    expect(again.applied).toEqual([]);
  });

  it.skipIf(!hasElixir)('compiles after the fix without warnings (mix compile --warnings-as-errors)', () => {
    const mix = spawnSync('mix', ['compile', '--warnings-as-errors'], { cwd: dir, encoding: 'utf8', timeout: 180_000, env: { ...process.env, MIX_ENV: 'dev' } });
    expect(mix.status, `${mix.stdout}\n${mix.stderr}`).toBe(0);
  });
});

if (!hasElixir) console.warn(`${SKIP_NOTE}. Skipped: mix compile of the fixed example app`);
