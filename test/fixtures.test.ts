/**
 * Every fixture pair, discovered by glob: exact bytes after `fix --yes`, a clean re-parse, and a
 * second run that changes nothing.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseElixir, syntaxProblems } from '../src/core/parse.js';
import { discoverCases, readCaseFile, runRule } from './support/fixtures.js';

const cases = discoverCases();

describe.each([...new Set(cases.map((c) => c.rule))])('%s', (rule) => {
  for (const c of cases.filter((x) => x.rule === rule)) {
    it(`${c.name}`, async () => {
      const run = await runRule(c.before, c.rule, c.options);
      expect(run.failures, 'fixes that failed verification').toEqual([]);
      if (c.kind === 'valid') {
        expect(run.findings, 'a valid-* case must produce no finding').toBe(0);
        return;
      }
      expect(run.findings, 'the case must produce at least one finding').toBeGreaterThan(0);
      if (c.kind === 'detect') {
        expect(run.applied, 'a detect-* case must not be rewritten').toBe(0);
        return;
      }
      expect(run.applied, 'a fix case must be rewritten').toBeGreaterThan(0);
      for (const rel of c.files) {
        let expected: string;
        try {
          expected = readCaseFile(c.after, rel);
        } catch {
          throw new Error(`missing expected output ${path.join(c.after, rel)}: a fixed case without an after file is an error`);
        }
        const actual = run.output.get(rel);
        expect(actual, `output of ${rel || path.basename(c.before)}`).toBe(expected);
        expect(syntaxProblems(parseElixir(actual!)), 'the output re-parses').toEqual([]);
      }
      // Idempotence: fixing the output again changes nothing.
      const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-idem-'));
      try {
        const copy = path.join(dir, path.basename(c.after));
        cpSync(c.after, copy, { recursive: true });
        const again = await runRule(copy, c.rule, c.options);
        expect(again.applied, 'a second fix must change nothing').toBe(0);
        expect(again.fixable, 'no fixable finding may remain').toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
