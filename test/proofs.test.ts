/**
 * Proofs on the real Elixir VM: each test/proofs/*.exs names the fixture it proves and the rule
 * options to use. The harness runs otpfix on that fixture (as `fix --yes --rule <rule>`), writes the
 * output to a temporary directory and runs the proof script on it: the proof exercises the code
 * otpfix produced, not hand-written code. A proof exits 0 when the flaw is shown gone.
 *
 * Header lines of a proof script:
 *   # proof-of: <rule>/<case>          (a case under fixtures/before)
 *   # options: {"key": value}          (optional rule options, JSON)
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { elixirAvailable, runElixir, SKIP_NOTE } from './support/elixir.js';
import { FIXTURES, ROOT, runRule } from './support/fixtures.js';

const PROOFS = path.join(ROOT, 'test/proofs');
const hasElixir = elixirAvailable();
const proofs = readdirSync(PROOFS).filter((f) => f.endsWith('.exs')).sort();
if (!hasElixir) console.warn(`${SKIP_NOTE}. Proofs not run: ${proofs.join(', ')}`);

function header(script: string, key: string): string | undefined {
  return new RegExp(`^# ${key}: (.+)$`, 'm').exec(script)?.[1].trim();
}

describe.skipIf(!hasElixir)('proofs on the Elixir VM', () => {
  for (const proof of proofs) {
    it(proof, async () => {
      const scriptPath = path.join(PROOFS, proof);
      const script = readFileSync(scriptPath, 'utf8');
      const target = header(script, 'proof-of');
      expect(target, `${proof} needs a "# proof-of: <rule>/<case>" line`).toBeDefined();
      const [rule, caseName] = target!.split('/');
      const options = header(script, 'options');
      const beforeDir = path.join(FIXTURES, 'before', rule);
      const entry = readdirSync(beforeDir).find((e) => e === caseName || e.replace(/\.exs?$/, '') === caseName);
      expect(entry, `fixture ${target} not found`).toBeDefined();

      const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-proof-'));
      try {
        const input = path.join(dir, 'input', entry!);
        cpSync(path.join(beforeDir, entry!), input, { recursive: true });
        const run = await runRule(input, rule, options ? JSON.parse(options) : undefined);
        expect(run.failures).toEqual([]);
        expect(run.applied, 'otpfix must rewrite the proof fixture').toBeGreaterThan(0);
        const out = path.join(dir, 'output');
        for (const [rel, text] of run.output) {
          const file = path.join(out, rel || entry!);
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, text);
        }
        const result = runElixir([scriptPath, out], { cwd: dir, timeoutMs: 120_000 });
        expect(result.status, `${proof} failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
