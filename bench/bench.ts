/**
 * `npm run bench [-- <path>] [--check]`: times each stage of a scan and a dry-run fix.
 * Without a path it builds a synthetic corpus: fixtures and examples copied BENCH_COPIES times (6)
 * under new module names. The copies keep their registered names and named tables, which real
 * projects do not share, so large copy counts overstate the cross-module work; give a real
 * checkout's path for real numbers.
 * With --check it exits 1 when a stage is slower than bench/targets.json allows.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { activeRules, loadConfig } from '../src/core/config.js';
import { detectAll, runFixSession } from '../src/core/engine.js';
import { collectFiles, readSource } from '../src/core/files.js';
import { buildFileModel, type FileModel } from '../src/core/model/module.js';
import { buildIndex } from '../src/core/model/project.js';
import { parseElixir } from '../src/core/parse.js';
import { Workspace } from '../src/core/workspace.js';
import { transforms } from '../src/transforms/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const given = args.find((a) => !a.startsWith('--'));

function syntheticCorpus(copies: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'otpfix-bench-'));
  const sources: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.exs?$/.test(e)) sources.push(p);
    }
  };
  walk(path.join(ROOT, 'fixtures/before'));
  walk(path.join(ROOT, 'examples'));
  for (let i = 0; i < copies; i++)
    sources.forEach((src, j) => {
      // Distinct module names per copy, so the cross-module index grows like a real project's.
      const text = readFileSync(src, 'utf8').replace(/defmodule ([A-Z]\w*)/g, `defmodule $1Copy${i}`);
      writeFileSync(path.join(dir, `f${i}_${j}${path.extname(src)}`), text);
    });
  return dir;
}

const corpus = given ? path.resolve(given) : syntheticCorpus(Number(process.env.BENCH_COPIES ?? 6));
const time = async <T>(f: () => T | Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
};

const [files, tCollect] = await time(() => collectFiles([corpus], { cwd: corpus }));
const [sources, tRead] = await time(() => Promise.all(files.map((f) => readSource(f, corpus).catch(() => undefined))));
const ok = sources.filter((s) => s !== undefined);
const bytes = ok.reduce((n, s) => n + s.text.length, 0);
const [trees, tParse] = await time(() => ok.map((s) => parseElixir(s.text)));
const [models, tModel] = await time(() => ok.map((s, i) => buildFileModel(s, trees[i])));
const [, tIndex] = await time(() => buildIndex(models as FileModel[]));
const ws = new Workspace(models, new Map(ok.map((s) => [s.path, s])));
const rules = activeRules(transforms, loadConfig(undefined));
const [detected, tDetect] = await time(() => detectAll(ws, rules));
const [session, tFix] = await time(() => runFixSession(ws, rules, { decide: () => 'yes' }));

const mb = bytes / 1e6;
const rows: Array<[string, number, string]> = [
  ['collect', tCollect, ''],
  ['read', tRead, ''],
  ['parse', tParse, `${(mb / (tParse / 1000)).toFixed(1)} MB/s`],
  ['model', tModel, ''],
  ['index', tIndex, ''],
  ['detect (all rules)', tDetect, `${detected.findings.length} findings`],
  ['fix --dry-run (all)', tFix, `${session.applied.length} changes`],
];
const scanMs = tCollect + tRead + tParse + tModel + tIndex + tDetect;
console.log(`corpus: ${given ?? 'synthetic'} — ${ok.length} files, ${mb.toFixed(1)} MB, ${rules.length} rules`);
for (const [name, ms, note] of rows) console.log(`${name.padEnd(22)}${ms.toFixed(0).padStart(7)} ms  ${note}`);
const filesPerSecond = ok.length / (scanMs / 1000);
console.log(`${'scan total'.padEnd(22)}${scanMs.toFixed(0).padStart(7)} ms  ${filesPerSecond.toFixed(0)} files/s`);

if (!given) rmSync(corpus, { recursive: true, force: true });
if (check) {
  const targets = JSON.parse(readFileSync(path.join(ROOT, 'bench/targets.json'), 'utf8'));
  const failures: string[] = [];
  if (filesPerSecond < targets.scanFilesPerSecond) failures.push(`scan ${filesPerSecond.toFixed(0)} files/s < ${targets.scanFilesPerSecond}`);
  const fixPerChange = session.applied.length ? tFix / session.applied.length : 0;
  if (fixPerChange > targets.fixMsPerChange) failures.push(`fix ${fixPerChange.toFixed(1)} ms/change > ${targets.fixMsPerChange}`);
  for (const f of failures) console.error(`SLOWER THAN TARGET: ${f}`);
  process.exit(failures.length ? 1 : 0);
}
