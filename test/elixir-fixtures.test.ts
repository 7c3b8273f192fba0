/**
 * The real Elixir toolchain on every fixtures/after file: it parses, it is laid out as `mix format`
 * would, and it compiles without warnings its before file did not have (for a self-contained fixture,
 * whose before file compiles cleanly, that is `elixirc --warnings-as-errors`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { elixirAvailable, runElixir, SKIP_NOTE } from './support/elixir.js';
import { discoverCases, ROOT } from './support/fixtures.js';

const hasElixir = elixirAvailable();
if (!hasElixir) console.warn(SKIP_NOTE);

describe.skipIf(!hasElixir)('fixtures/after with the Elixir VM', () => {
  const pairs = discoverCases()
    .filter((c) => c.kind === 'fix')
    .flatMap((c) => c.files.map((rel) => [rel ? path.join(c.before, rel) : c.before, rel ? path.join(c.after, rel) : c.after]));

  it(`${pairs.length} outputs parse, are formatted and compile cleanly`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-ex-'));
    try {
      const manifest = path.join(dir, 'manifest.tsv');
      writeFileSync(manifest, pairs.map((p) => p.join('\t')).join('\n'));
      // Every fixtures/after file is formatted, whatever its before file was.
      const run = runElixir([path.join(ROOT, 'test/support/check_fixtures.exs'), '--strict-format', manifest], { timeoutMs: 300_000 });
      expect(run.status, run.stderr).toBe(0);
      const failures = run.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
      expect(failures.map((l) => l.replace(/\\n/g, '\n'))).toEqual([]);
      expect(run.stdout.split('\n').filter((l) => l.startsWith('OK')).length).toBe(pairs.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
