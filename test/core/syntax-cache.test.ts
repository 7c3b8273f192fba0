/**
 * The syntax cache (core/syntax-cache.ts): findings and fixes are the same with and without it, a
 * second run parses nothing, and corrupt, truncated or foreign entries are ignored and rebuilt;
 * concurrent runs sharing one cache directory agree.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fix, prepare, scan, type RunOptions } from '../../src/api.js';
import { parseAll } from '../../src/core/parse-pool.js';
import { openSyntaxCache } from '../../src/core/syntax-cache.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const paths = [path.join(ROOT, 'examples')];
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'otpfix-cache-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function entries(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...entries(p));
    else out.push(p);
  }
  return out;
}

async function outcome(options: Partial<RunOptions>) {
  const run = { paths, cwd: ROOT, jobs: 1, ...options };
  const result = await scan(run);
  const session = await fix(await prepare(run), { decide: () => 'yes' });
  return {
    findings: result.findings.map((f) => `${f.ruleId} ${f.relPath}:${f.line}:${f.column} ${f.message}`),
    changes: session.applied.map((c) => `${c.finding.ruleId} ${c.finding.key}`),
  };
}

describe('syntax cache', () => {
  it('gives the same findings and fixes as no cache, cold, warm and after corruption', async () => {
    const cacheDir = tempDir();
    const none = await outcome({ cache: false });
    expect(none.findings.length).toBeGreaterThan(0);
    expect(await outcome({ cacheDir })).toEqual(none); // cold: fills the cache
    const files = entries(cacheDir);
    expect(files.length).toBeGreaterThan(3);
    expect(await outcome({ cacheDir })).toEqual(none); // warm
    // Truncated, bit-flipped, garbage and empty entries.
    files.forEach((f, i) => {
      const bytes = readFileSync(f);
      if (i % 4 === 0) writeFileSync(f, bytes.subarray(0, bytes.length >> 1));
      else if (i % 4 === 1) (bytes[bytes.length - 3] ^= 0xff, writeFileSync(f, bytes));
      else if (i % 4 === 2) writeFileSync(f, 'not a cache entry');
      else writeFileSync(f, '');
    });
    expect(await outcome({ cacheDir })).toEqual(none);
  });

  it('parses only what it has not seen; rejects and rebuilds a bad entry', async () => {
    const dir = tempDir();
    const texts = ['defmodule A do\n  def f(x), do: x\nend\n', 'x = "é😀"\n'];
    const cold = openSyntaxCache(dir, 'test');
    const first = await parseAll(texts, { jobs: 1, cache: cold });
    expect(cold.stats).toEqual({ hits: 0, misses: 2, rejected: 0 });
    const written = entries(dir);
    expect(written).toHaveLength(2);
    const warm = openSyntaxCache(dir, 'test');
    const second = await parseAll(texts, { jobs: 1, cache: warm });
    expect(warm.stats).toEqual({ hits: 2, misses: 0, rejected: 0 });
    expect(second.map((p) => p.tree.data)).toEqual(first.map((p) => p.tree.data));
    // Another version of otpfix or of the grammar does not read these entries.
    const other = openSyntaxCache(dir, 'another version');
    await parseAll(texts, { jobs: 1, cache: other });
    expect(other.stats.hits).toBe(0);
    // A damaged entry is rejected, parsed again and rewritten.
    writeFileSync(written[0], Buffer.from('garbage'));
    const again = openSyntaxCache(dir, 'test');
    const third = await parseAll(texts, { jobs: 1, cache: again });
    expect(again.stats).toEqual({ hits: 1, misses: 0, rejected: 1 });
    expect(third.map((p) => p.tree.data)).toEqual(first.map((p) => p.tree.data));
    const repaired = openSyntaxCache(dir, 'test');
    await parseAll(texts, { jobs: 1, cache: repaired });
    expect(repaired.stats).toEqual({ hits: 2, misses: 0, rejected: 0 });
  });

  it('concurrent CLI runs sharing a cache directory print what a run without cache prints', async () => {
    const cacheDir = tempDir();
    const cli = (args: string[]) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn('node', [path.join(ROOT, 'bin/otpfix.js'), 'scan', '--format', 'json', ...args, 'examples'], {
          cwd: ROOT,
          env: { ...process.env, OTPFIX_CACHE_DIR: cacheDir },
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('error', reject);
        child.on('close', () => resolve(out));
      });
    const reference = await cli(['--no-cache']);
    expect(JSON.parse(reference).findings.length).toBeGreaterThan(0);
    const runs = await Promise.all([cli([]), cli([]), cli([]), cli([])]);
    for (const r of runs) expect(r).toBe(reference);
    expect(entries(cacheDir).every((f) => f.endsWith('.bin'))).toBe(true); // no temporary file left
    expect(await cli([])).toBe(reference);
  }, 180_000);
});
