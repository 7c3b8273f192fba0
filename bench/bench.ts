/**
 * `npm run bench [-- --check] [--quick] [--scale 1,2,4,8] [--timeout 300]`: what users feel, measured
 * as whole processes side by side in one run, so ratios hold on a noisy shared machine:
 * - the speed corpus (bench/corpus.txt: five real projects at pinned commits), laid out once under
 *   $BENCH_DIR (default ~/.cache/otpfix-bench; not under node_modules, which otpfix skips) from local mirrors ($BENCH_MIRRORS/<owner>+<name>/repo, default
 *   /work/.mirror) or a clone from GitHub;
 * - otpfix cold scan beside ast-grep 0.51.1 (bench/ast-grep-rules) and the parse floor (every file
 *   parsed once, on every core: bench/parse-floor.mjs);
 * - warm rescan (nothing changed) and rescan after a one-line edit, with the same cache directory;
 * - fix CPU per proposed change; peak memory (max RSS);
 * - a scale series of N renamed copies (distinct module names) and N plain copies (duplicate names);
 * - one generated 10 MB file; startup (`otpfix rules`, a one-file scan).
 * CPU, wall and max RSS come from GNU time (/usr/bin/time). With --check it exits 1 when a target of
 * bench/targets.json is missed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    check: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    scale: { type: 'string', default: '1,2,4,8' },
    timeout: { type: 'string', default: '300' },
  },
});
const TIMEOUT_MS = Number(opts.timeout) * 1000;
const CACHE = process.env.BENCH_DIR ?? path.join(homedir(), '.cache/otpfix-bench');
const MIRRORS = process.env.BENCH_MIRRORS ?? '/work/.mirror';
const CORES = availableParallelism();
const OTPFIX = [path.join(ROOT, 'bin/otpfix.js')];
const AST_GREP = path.join(ROOT, 'node_modules/.bin/ast-grep');
const TIME = '/usr/bin/time';
const hasTime = existsSync(TIME);

interface Measure {
  wall: number;
  cpu: number;
  mib: number;
  code: number | null;
  timedOut: boolean;
  out: string;
}

/** One whole process: wall, user+sys CPU (s) and max RSS (MiB) as the kernel accounted them. */
function measure(cmd: string, args: string[], env: Record<string, string> = {}, cwd = CACHE): Measure {
  const stats = path.join(tmpdir(), `otpfix-bench-time-${process.pid}`);
  const t0 = performance.now();
  const r = hasTime
    ? spawnSync(TIME, ['-f', '%e %U %S %M', '-o', stats, cmd, ...args], { cwd, env: { ...process.env, ...env }, timeout: TIMEOUT_MS, maxBuffer: 1 << 30, killSignal: 'SIGKILL' })
    : spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, timeout: TIMEOUT_MS, maxBuffer: 1 << 30, killSignal: 'SIGKILL' });
  const wallJs = (performance.now() - t0) / 1000;
  const timedOut = r.error !== undefined || r.signal === 'SIGKILL';
  let [wall, user, sys, kib] = [wallJs, NaN, NaN, NaN];
  if (hasTime && !timedOut) {
    const line = readFileSync(stats, 'utf8').trim().split('\n').pop()!;
    [wall, user, sys, kib] = line.split(' ').map(Number);
  }
  return { wall, cpu: user + sys, mib: kib / 1024, code: r.status, timedOut, out: r.stdout?.toString() ?? '' };
}

// ---- the corpus --------------------------------------------------------------------------------

const ELIXIR = /\.exs?$/;
function elixirFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) elixirFiles(p, out);
    else if (ELIXIR.test(e.name)) out.push(p);
  }
  return out;
}

function layOutCorpus(): string[] {
  const entries = readFileSync(path.join(ROOT, 'bench/corpus.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => l.trim().split(/\s+/) as [string, string]);
  const dirs: string[] = [];
  for (const [repo, commit] of entries) {
    const name = repo.split('/')[1];
    const dir = path.join(CACHE, 'corpus', name);
    dirs.push(dir);
    const stamp = path.join(CACHE, 'corpus', `.${name}.commit`);
    if (existsSync(stamp) && readFileSync(stamp, 'utf8') === commit) continue;
    let gitDir = path.join(MIRRORS, repo.replace('/', '+'), 'repo');
    if (!existsSync(gitDir)) {
      gitDir = path.join(CACHE, 'clones', name);
      if (!existsSync(gitDir)) execFileSync('git', ['clone', '--bare', '--filter=blob:none', `https://github.com/${repo}`, gitDir], { stdio: 'inherit' });
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['-C', gitDir, 'archive', commit], { maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    // Only Elixir sources are measured; everything else is removed so both tools see the same files.
    const prune = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) prune(p);
        else if (!ELIXIR.test(e.name)) rmSync(p, { force: true });
      }
    };
    prune(dir);
    writeFileSync(stamp, commit);
  }
  return dirs;
}

/** N copies of the corpus; `renamed` gives each copy's modules distinct names. */
function copies(dirs: string[], kind: 'renamed' | 'plain', n: number): string[] {
  const roots = new Set<string>();
  const files = dirs.flatMap((d) => elixirFiles(d).map((f) => [d, f] as const));
  if (kind === 'renamed') {
    for (const [, f] of files)
      for (const m of readFileSync(f, 'utf8').matchAll(/defmodule\s+([A-Z]\w*)/g)) roots.add(m[1]);
    // The behaviours the model recognises keep their names, so copies stay realistic.
    for (const keep of ['GenServer', 'GenStage', 'Supervisor', 'DynamicSupervisor', 'Application', 'Agent', 'Task', 'Process', 'Registry', 'Kernel'])
      roots.delete(keep);
  }
  const rootRe = roots.size ? new RegExp(`(?<![\\w.:@"])(${[...roots].join('|')})(?=\\b)(?!:)`, 'g') : undefined;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const base = path.join(CACHE, 'scale', kind, `copy${i}`);
    out.push(base);
    if (existsSync(path.join(base, '.done'))) continue;
    rmSync(base, { recursive: true, force: true });
    for (const [d, f] of files) {
      const target = path.join(base, path.basename(d), path.relative(d, f));
      mkdirSync(path.dirname(target), { recursive: true });
      const text = readFileSync(f, 'utf8');
      writeFileSync(target, rootRe ? text.replace(rootRe, `$1C${i}`) : text);
    }
    writeFileSync(path.join(base, '.done'), '');
  }
  return out;
}

/** One ~10 MB file of distinct modules taken from the corpus's lib/ sources. */
function bigFile(dirs: string[]): string {
  const file = path.join(CACHE, 'big', 'generated.ex');
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  const sources = dirs.flatMap((d) => elixirFiles(d)).filter((f) => f.includes('/lib/') && f.endsWith('.ex')).sort();
  let size = 0;
  for (let i = 0; size < 10e6; i++)
    for (const f of sources) {
      const text = readFileSync(f, 'utf8').replace(/defmodule\s+([A-Z][\w.]*)/g, `defmodule Gen${i}.$1`);
      appendFileSync(file, text + '\n');
      if ((size += text.length + 1) >= 10e6) break;
    }
  return file;
}

// ---- runs ---------------------------------------------------------------------------------------

const rows: string[] = [];
const fmt = (m: Measure) =>
  m.timedOut ? `did not finish in ${opts.timeout} s` : `wall ${m.wall.toFixed(2)} s  cpu ${m.cpu.toFixed(2)} s  peak ${m.mib.toFixed(0)} MiB`;
const row = (name: string, m: Measure, note = '') => {
  const line = `${name.padEnd(34)}${fmt(m)}${note ? `  ${note}` : ''}`;
  rows.push(line);
  console.log(line);
};

console.log('building dist/ …');
execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
const corpus = layOutCorpus();
const corpusFiles = corpus.flatMap((d) => elixirFiles(d));
const mb = corpusFiles.reduce((n, f) => n + statSync(f).size, 0) / 1e6;
console.log(`corpus: ${corpus.map((d) => path.basename(d)).join(', ')} — ${corpusFiles.length} files, ${mb.toFixed(1)} MB; ${CORES} cores\n`);

const fileList = path.join(CACHE, 'corpus-files.txt');
writeFileSync(fileList, corpusFiles.join('\n'));
const cacheDir = mkdtempSync(path.join(tmpdir(), 'otpfix-bench-cache-'));
const env = { OTPFIX_CACHE_DIR: cacheDir };
const scanArgs = (paths: string[]) => [...OTPFIX, 'scan', '--format', 'json', ...paths];
const findings = (m: Measure) => {
  try {
    return (JSON.parse(m.out).findings as unknown[]).length;
  } catch {
    return NaN;
  }
};

const astGrep = measure(AST_GREP, ['scan', '-c', path.join(ROOT, 'bench/ast-grep-rules/sgconfig.yml'), '--json=compact', ...corpus]);
row('ast-grep 0.51.1 scan', astGrep, `${(JSON.parse(astGrep.out || '[]') as unknown[]).length} matches`);
const floor = measure('node', [path.join(ROOT, 'bench/parse-floor.mjs'), String(CORES), fileList]);
row(`parse floor (${CORES} threads)`, floor);
const cold = measure('node', scanArgs(corpus), env);
row('otpfix scan, cold', cold, `${findings(cold)} findings`);
const warm = measure('node', scanArgs(corpus), env);
row('otpfix scan, warm (no change)', warm, `${findings(warm)} findings`);
const edited = corpusFiles.find((f) => f.endsWith('lib/elixir/lib/gen_server.ex')) ?? corpusFiles[0];
const original = readFileSync(edited, 'utf8');
let edit: Measure;
try {
  writeFileSync(edited, original.replace('\n', '\n# bench: one-line edit\n'));
  edit = measure('node', scanArgs(corpus), env);
} finally {
  writeFileSync(edited, original);
}
row('otpfix scan, one file edited', edit, `${findings(edit)} findings`);
rmSync(cacheDir, { recursive: true, force: true });

const fixRun = measure('node', [path.join(ROOT, 'bench/fix-per-change.mjs'), ...corpus]);
const fixStats = JSON.parse(fixRun.out || '{}') as { changes?: number; fixCpuMs?: number };
const fixPerChange = fixStats.changes ? fixStats.fixCpuMs! / fixStats.changes : NaN;
row('otpfix fix --dry-run (in process)', fixRun, `${fixStats.changes} changes, ${fixPerChange.toFixed(0)} ms CPU per change`);

const rules = measure('node', [...OTPFIX, 'rules']);
row('otpfix rules', rules);
const oneFile = measure('node', [...OTPFIX, 'scan', edited]);
row('otpfix scan <one file>', oneFile);

const scale: Record<string, Measure[]> = {};
let big: Measure | undefined;
if (!opts.quick) {
  const ns = opts.scale.split(',').map(Number);
  for (const kind of ['renamed', 'plain'] as const) {
    scale[kind] = [];
    const all = copies(corpus, kind, Math.max(...ns));
    for (const n of ns) {
      const m = measure('node', scanArgs(all.slice(0, n)), { OTPFIX_CACHE_DIR: mkdtempSync(path.join(tmpdir(), 'otpfix-bench-cache-')) });
      scale[kind].push(m);
      row(`scale: ${n} ${kind} cop${n === 1 ? 'y' : 'ies'}`, m, m.timedOut ? '' : `${(m.cpu / scale[kind][0].cpu).toFixed(2)}× one copy's CPU`);
      if (m.timedOut) break;
    }
  }
  big = measure('node', scanArgs([bigFile(corpus)]));
  row('otpfix scan, one 10 MB file', big);
}

// ---- ratios and targets ------------------------------------------------------------------------

const targets = JSON.parse(readFileSync(path.join(ROOT, 'bench/targets.json'), 'utf8')) as Record<string, number>;
type Check = [string, number, number]; // what, measured, target (measured must be ≤ target)
const checks: Check[] = [
  ['cold scan wall / ast-grep wall', cold.wall / astGrep.wall, targets.coldWallVsAstGrep],
  ['cold scan CPU / ast-grep CPU', cold.cpu / astGrep.cpu, Infinity],
  ['cold scan wall / parse floor wall', cold.wall / floor.wall, targets.coldWallVsParseFloor],
  ['warm rescan wall / cold wall', warm.wall / cold.wall, targets.warmVsCold],
  ['one-edit rescan wall / cold wall', edit.wall / cold.wall, targets.editVsCold],
  ['peak memory, cold scan (MiB)', cold.mib, targets.peakMiB],
  ['fix CPU per change (ms)', fixPerChange, targets.fixCpuMsPerChange],
  ['otpfix rules CPU (s)', rules.cpu, targets.rulesCpuSeconds],
  ['one-file scan CPU (s)', oneFile.cpu, targets.oneFileScanCpuSeconds],
];
const ns = opts.scale.split(',').map(Number);
for (const [kind, ms] of Object.entries(scale))
  ns.forEach((n, i) => {
    const target = targets[`scale${n}`];
    if (n === 1 || target === undefined) return;
    const m = ms[i];
    checks.push([`${n} ${kind} copies CPU / one copy`, !m || m.timedOut ? Infinity : m.cpu / ms[0].cpu, target]);
  });
if (big) {
  checks.push(['10 MB file scan wall (s)', big.timedOut ? Infinity : big.wall, targets.bigFileSeconds]);
  checks.push(['10 MB file scan peak (MiB)', big.timedOut ? Infinity : big.mib, targets.bigFileMiB]);
}
console.log('\nratios (measured / target)');
const missed: string[] = [];
for (const [what, value, target] of checks) {
  const ok = !(value > target) && !Number.isNaN(value);
  if (!ok) missed.push(what);
  console.log(`${ok ? '  ok  ' : ' MISS '}${what.padEnd(38)}${value.toFixed(2).padStart(9)}${Number.isFinite(target) ? `  ≤ ${target}` : ''}`);
}
if (!hasTime) console.log('(no /usr/bin/time: CPU and memory not measured)');
if (opts.check && missed.length) {
  console.error(`\n${missed.length} target(s) missed: ${missed.join('; ')}`);
  process.exit(1);
}
