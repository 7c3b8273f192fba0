/**
 * Worker threads parse (core/parse-pool.ts) and hand back syntax arrays; findings and fixes must be
 * the same, in the same order, as a single-threaded run.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fix, prepare, scan } from '../../src/api.js';
import { parseAll } from '../../src/core/parse-pool.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const paths = [path.join(ROOT, 'fixtures/before'), path.join(ROOT, 'examples')];

describe('parsing on worker threads', () => {
  it('gives the same trees as parsing here', async () => {
    const texts = ['defmodule A do\n  def f(x), do: g(x) |> h()\nend\n', 'x = "é😀"\n', 'foo(', 'def f do\n x\n'];
    const here = await parseAll(texts, { jobs: 1 });
    const threads = await parseAll(texts, { jobs: 2, minParallelSize: 0 });
    expect(threads.map((p) => p.tree.data)).toEqual(here.map((p) => p.tree.data));
    expect(threads.map((p) => p.tree.rootNode.descendantsOfType(['call', 'ERROR']).map((n) => `${n.type}@${n.startIndex}`))).toEqual(
      here.map((p) => p.tree.rootNode.descendantsOfType(['call', 'ERROR']).map((n) => `${n.type}@${n.startIndex}`)),
    );
  });

  it('scan and fix give the same findings and changes, in the same order, with 1 and 2 threads', async () => {
    const run = async (jobs: number) => {
      // The fixtures are small: minParallelSize 0 makes 2 jobs really use threads.
      const options = { paths, cwd: ROOT, jobs, minParallelSize: 0 };
      const result = await scan(options);
      const prepared = await prepare({ ...options, paths: [path.join(ROOT, 'examples')] });
      const session = await fix(prepared, { decide: () => 'yes' });
      return {
        files: result.workspace.files.map((f) => f.relPath),
        findings: result.findings.map((f) => `${f.ruleId} ${f.file}:${f.start}-${f.end} ${f.message}`),
        changes: session.applied.map((c) => `${c.finding.ruleId} ${c.finding.key}`),
      };
    };
    const one = await run(1);
    const two = await run(2);
    expect(one.findings.length).toBeGreaterThan(20);
    expect(one.changes.length).toBeGreaterThan(0);
    expect(two).toEqual(one);
  }, 300_000);
});
