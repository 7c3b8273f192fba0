/**
 * Property test (fast-check): Elixir-like inputs — real fixtures with generated code inserted (deep
 * nesting, unicode, very long lines), CRLF line endings, a byte-order mark, or cut off anywhere —
 * go through scan and fix --yes. Neither ever crashes; every file fix writes parses; a byte-order mark
 * and CRLF endings survive; a second fix changes nothing.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { changedFiles, fix, prepare, scan, writeChanges } from '../../src/api.js';
import { parseElixir, syntaxProblems } from '../../src/core/parse.js';
import { ROOT } from '../support/fixtures.js';

const FIXTURES = path.join(ROOT, 'fixtures/before');
/** Fixtures that a rule rewrites, so that fix has work to do. */
const SEEDS = readdirSync(FIXTURES).flatMap((rule) =>
  readdirSync(path.join(FIXTURES, rule))
    .filter((f) => f.endsWith('.ex') && !f.startsWith('valid-') && !f.startsWith('detect-'))
    .map((f) => readFileSync(path.join(FIXTURES, rule, f), 'utf8')),
);

const ident = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/).filter((s) => !['do', 'end', 'fn', 'when', 'and', 'or', 'not', 'in', 'true', 'false', 'nil', 'else', 'after', 'catch', 'rescue'].includes(s));
/** Text in a string literal: any graphemes (accents, emoji, RTL), escaped for Elixir. */
const text = fc
  .string({ unit: 'grapheme', maxLength: 12 })
  .map((s) => s.replace(/\u0000/g, '').replace(/[\\"#]/g, (c) => `\\${c}`));

const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer().map(String),
    ident.map((s) => `:${s}`),
    text.map((s) => `"${s}"`),
    fc.constant('x'),
    fc.tuple(ident, fc.array(tie('e'), { maxLength: 3 })).map(([f, args]) => `Mod.${f}(${args.join(', ')})`),
    fc.array(tie('e'), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
    fc.array(tie('e'), { maxLength: 3 }).map((xs) => `{${xs.join(', ')}}`),
    fc.tuple(ident, tie('e')).map(([k, v]) => `%{${k}: ${v}}`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => `case ${c} do\n:a -> ${a}\n_ -> ${b}\nend`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([c, a, b]) => `if ${c} do\n${a}\nelse\n${b}\nend`),
    tie('e').map((b) => `fn x -> ${b} end`),
    fc.tuple(tie('e'), ident).map(([a, f]) => `${a} |> ${f}()`),
  ),
})).e;

/** Nesting far deeper than people write: lists, anonymous functions or case inside case. */
const deep = fc.tuple(fc.constantFrom('list', 'fn', 'case'), fc.integer({ min: 20, max: 300 })).map(([kind, n]) => {
  if (kind === 'list') return `${'['.repeat(n)}x${']'.repeat(n)}`;
  if (kind === 'fn') return `${'fn x -> '.repeat(n)}x${' end'.repeat(n)}`;
  return `${'case x do\n_ -> '.repeat(n)}x${'\nend'.repeat(n)}`;
});

/** A long line: a list literal or a string of thousands of characters. */
const long = fc.oneof(
  fc.integer({ min: 1000, max: 5000 }).map((n) => `[${Array.from({ length: n }, (_, i) => i).join(', ')}]`),
  fc.tuple(text, fc.integer({ min: 2000, max: 20000 })).map(([t, n]) => `"${(t || 'é').repeat(Math.ceil(n / Math.max(1, t.length)))}"`),
);

/** A fixture with a generated function added to its first module, then re-encoded. */
const source = fc
  .record({
    seed: fc.constantFrom(...SEEDS),
    body: fc.oneof(expr, deep, long),
    name: ident,
    comment: text,
    crlf: fc.boolean(),
    bom: fc.boolean(),
    // Cut off somewhere inside (a percentage: fast-check favours the extremes of a range).
    cut: fc.option(fc.integer({ min: 5, max: 95 }), { freq: 3 }),
  })
  .map(({ seed, body, name, comment, crlf, bom, cut }) => {
    const i = seed.indexOf('\nend\n');
    const added = `\n\n  # ${comment}\n  def fuzz_${name}(x) do\n${body}\n  end`;
    let t = i < 0 ? seed + added : seed.slice(0, i) + added + seed.slice(i);
    if (cut !== null) t = t.slice(0, Math.floor((cut / 100) * t.length));
    if (crlf) t = t.replace(/\n/g, '\r\n');
    return { text: (bom ? '\uFEFF' : '') + t, crlf, bom };
  });

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const yes = { decide: () => 'yes' as const };

describe('generated Elixir through scan and fix', () => {
  it('never crashes, writes only files that parse, keeps BOM and CRLF, and converges', async () => {
    // What the runs exercised, so the property cannot pass by never fixing anything.
    const seen = { written: 0, bom: 0, crlf: 0, unparsable: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(source, { minLength: 1, maxLength: 3 }), async (files) => {
        const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-prop-'));
        dirs.push(dir);
        mkdirSync(path.join(dir, 'lib'));
        files.forEach((f, i) => writeFileSync(path.join(dir, 'lib', `f${i}.ex`), f.text));
        const options = { paths: ['lib'], cwd: dir };

        const scanned = await scan(options);
        seen.unparsable += scanned.statuses.filter((s) => s.status !== 'ok').length;
        const session = await fix(await prepare(options), yes);
        const outcomes = await writeChanges(session);
        expect(outcomes.filter((o) => !o.written)).toEqual([]);
        for (const o of outcomes) {
          const i = Number(/f(\d+)\.ex$/.exec(o.path)![1]);
          const written = readFileSync(o.path, 'utf8');
          expect(syntaxProblems(parseElixir(written.replace(/^\uFEFF/, ''))), `${o.relPath} after fix:\n${written}`).toEqual([]);
          expect(written.startsWith('\uFEFF')).toBe(files[i].bom);
          if (files[i].crlf) expect(written).not.toMatch(/(^|[^\r])\n/);
          seen.written++;
          if (files[i].bom) seen.bom++;
          if (files[i].crlf) seen.crlf++;
        }
        const again = await fix(await prepare(options), yes);
        expect(changedFiles(again).map((f) => f.relPath)).toEqual([]);
      }),
      { numRuns: 40, seed: 11, endOnFailure: true },
    );
    expect(seen.written).toBeGreaterThan(10);
    expect(seen.bom).toBeGreaterThan(2);
    expect(seen.crlf).toBeGreaterThan(2);
    expect(seen.unparsable).toBeGreaterThan(2);
  });
});
