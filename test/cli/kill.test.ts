/**
 * `kill -9` during `fix --yes` on a real-sized tree (every fixture of every rule, plus the example
 * app): for several seeds the CLI is killed at a random point of its write phase. Every file must
 * then be either exactly as it was or exactly as an uninterrupted run writes it, and the next run
 * must remove (and name) whatever temporary file the kill left, finish the job (with files that
 * parse), and leave no debris.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseElixir, syntaxProblems } from '../../src/core/parse.js';
import { BIN, spawnCli } from '../support/cli.js';
import { ROOT } from '../support/fixtures.js';

const SEEDS = [1, 2, 3, 4];
/** Two runs of the CLI over ~150 files per seed: generous for a loaded CI machine. */
const TIMEOUT = 300_000;

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const abs = path.join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else out.set(path.relative(dir, abs), readFileSync(abs));
    }
  };
  walk(dir);
  return out;
}

let base: string;
let original: Map<string, Buffer>;
let fixed: Map<string, Buffer>;
let changed: string[];

/** The tree: each fixture's `before` file as lib/<rule>/<case>, and examples/shop's sources. */
function makeTree(dir: string): void {
  const fixtures = path.join(ROOT, 'fixtures/before');
  for (const rule of readdirSync(fixtures)) {
    mkdirSync(path.join(dir, 'lib', rule), { recursive: true });
    for (const file of readdirSync(path.join(fixtures, rule))) cpSync(path.join(fixtures, rule, file), path.join(dir, 'lib', rule, file), { recursive: true });
  }
  cpSync(path.join(ROOT, 'examples/shop/lib'), path.join(dir, 'lib/shop'), { recursive: true });
}

function copyTree(name: string): string {
  const dir = path.join(base, name);
  cpSync(path.join(base, 'original'), dir, { recursive: true });
  return dir;
}

beforeAll(() => {
  base = mkdtempSync(path.join(tmpdir(), 'otpfix-kill-'));
  makeTree(path.join(base, 'original'));
  original = snapshot(path.join(base, 'original'));
  const done = copyTree('fixed');
  const run = spawnCli(['fix', 'lib', '--yes', '--quiet'], done);
  expect(run.code, run.stderr).toBe(0);
  fixed = snapshot(done);
  changed = [...original.keys()].filter((f) => !original.get(f)!.equals(fixed.get(f)!));
}, TIMEOUT);
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Run `fix --yes` and SIGKILL it right after it reports the k-th written file, plus a random pause. */
function killDuringWrites(dir: string, afterFiles: number, pauseMs: number): Promise<{ killed: boolean; reported: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'fix', 'lib', '--yes'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let reported = 0;
    let killed = false;
    let buffered = '';
    const kill = () => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines)
        if (line.startsWith('fixed ') && ++reported === afterFiles + 1) {
          if (pauseMs) setTimeout(kill, pauseMs);
          else kill();
        }
    });
    child.on('error', reject);
    child.on('exit', () => resolve({ killed, reported }));
  });
}

const temporaries = (files: Iterable<string>) => [...files].filter((f) => /\.otpfix-\d+-[0-9a-f]{8}\.tmp$/.test(f));

describe('SIGKILL while fix --yes writes', () => {
  it('the tree is real-sized and the uninterrupted run changes many files', () => {
    expect(original.size).toBeGreaterThan(100);
    expect(changed.length).toBeGreaterThan(20);
  });

  it.each(SEEDS)('seed %i: every file is old or new; the next run removes the debris and finishes', async (seed) => {
    const rnd = random(seed);
    const dir = copyTree(`seed-${seed}`);
    // Kill right after a random file was reported written, or a few milliseconds later.
    const afterFiles = Math.floor(rnd() * (changed.length - 1));
    const pauseMs = seed % 2 ? 0 : Math.floor(rnd() * 5);
    const { killed } = await killDuringWrites(dir, afterFiles, pauseMs);
    expect(killed, 'the run finished before it could be killed').toBe(true);

    const after = snapshot(dir);
    const debris = temporaries(after.keys());
    for (const [file, bytes] of after) {
      if (debris.includes(file)) continue;
      const ok = bytes.equals(original.get(file)!) || bytes.equals(fixed.get(file)!);
      expect(ok, `${file} is neither the original nor the fixed version (seed ${seed})`).toBe(true);
    }
    expect([...after.keys()].filter((f) => !debris.includes(f)).sort()).toEqual([...original.keys()].sort());
    expect(changed.filter((f) => !after.get(f)!.equals(original.get(f)!)).length).toBeGreaterThan(afterFiles - 1);

    const next = spawnCli(['fix', 'lib', '--yes'], dir);
    expect(next.code, next.stderr).toBe(0);
    for (const t of debris) expect(next.stderr).toContain(`removed ${t}: temporary file left by an interrupted otpfix run`);
    const final = snapshot(dir);
    expect(temporaries(final.keys())).toEqual([]);
    expect([...final.keys()].sort()).toEqual([...original.keys()].sort());
    // Most files end exactly as an uninterrupted run leaves them. A fix that depends on another
    // file's (already written) fix may come out differently, but still as code that parses.
    const different = [...final].filter(([file, bytes]) => !bytes.equals(fixed.get(file)!));
    expect(different.length, different.map(([f]) => f).join(', ')).toBeLessThanOrEqual(Math.ceil(changed.length / 10));
    for (const [file, bytes] of different)
      expect(syntaxProblems(parseElixir(bytes.toString('utf8').replace(/^\uFEFF/, ''))), `${file} after the next run (seed ${seed})`).toEqual([]);
  }, TIMEOUT);
});
