/**
 * fnProcesses walks the callers graph once per function asked about. This test holds it to the
 * path-by-path walk it replaced (kept here as the reference): same processes, same order, on random
 * call graphs with cycles, spawned closures, captures, remote calls and chains past the depth bound;
 * and it stays fast where the reference was exponential.
 */
import { describe, expect, it } from 'vitest';
import { fnProcesses, procLabel, type Proc } from '../../src/core/model/ets-process.js';
import {
  buildFileModel,
  isProcessModule,
  localTarget,
  uniqueFunctions,
  type CallSite,
  type Clause,
  type FunctionDef,
  type ModuleDef,
} from '../../src/core/model/module.js';
import { buildIndex, type ProjectIndex } from '../../src/core/model/project.js';
import { parseElixir } from '../../src/core/parse.js';

// ---- the reference: every caller path, as computeProcesses did before --------------------------

const runsInPlace = (site: CallSite) =>
  !site.spawned && !!site.fnHost && /^(Enum|Stream|List|Map|Keyword|MapSet|:lists|:maps)\./.test(site.fnHost);

function reference(project: ProjectIndex, fn: FunctionDef): Proc[] {
  const remote = new Map<string, Array<{ site: CallSite; clause: Clause }>>();
  const captured = new Set<FunctionDef>();
  for (const file of project.files)
    for (const mod of file.modules)
      for (const f of uniqueFunctions(mod))
        for (const clause of f.clauses)
          for (const site of clause.calls) {
            if (site.capture && !runsInPlace(site)) {
              const target = site.module && site.module !== mod.name ? project.modules.get(site.module) : mod;
              const t = target?.functions.get(`${site.name}/${site.arity}`);
              if (t) captured.add(t);
              continue;
            }
            if (!site.module || site.dynamic || site.module === mod.name) continue;
            const key = `${site.module}.${site.name}/${site.arity}`;
            remote.set(key, [...(remote.get(key) ?? []), { site, clause }]);
          }
  const local = (mod: ModuleDef) => {
    const index = new Map<FunctionDef, Array<{ site: CallSite; from: FunctionDef }>>();
    for (const from of uniqueFunctions(mod))
      for (const clause of from.clauses)
        for (const site of clause.calls) {
          const target = localTarget(site, mod);
          if (target && target !== from) index.set(target, [...(index.get(target) ?? []), { site, from }]);
        }
    return index;
  };
  const compute = (fn: FunctionDef, visiting: Set<FunctionDef>): Proc[] => {
    if (visiting.has(fn) || visiting.size > 12) return [];
    visiting.add(fn);
    const out: Proc[] = [];
    const mod = fn.module;
    if (fn.isCallback && isProcessModule(mod)) out.push({ kind: 'server', module: mod });
    const appStart = mod.kinds.has('application') && fn.name === 'start' && fn.arity === 2;
    if (appStart) out.push({ kind: 'server', module: mod });
    const starter = isProcessModule(mod) && fn.name === 'start_link' && fn.kind === 'def';
    for (const { site, from } of local(mod).get(fn) ?? []) {
      if (site.spawned) out.push({ kind: 'spawned', via: from });
      else if (site.capture && !runsInPlace(site)) out.push({ kind: 'callers', via: fn });
      else out.push(...compute(from, visiting));
    }
    if (fn.kind === 'def' || fn.kind === 'defmacro') {
      const sites = remote.get(`${mod.name}.${fn.name}/${fn.arity}`) ?? [];
      for (const { site, clause } of sites)
        out.push(...(site.spawned ? [{ kind: 'spawned', via: clause.fn } as Proc] : compute(clause.fn, visiting)));
      if (captured.has(fn)) out.push({ kind: 'callers', via: fn });
      if (!sites.length && !fn.isCallback && !appStart) out.push(starter ? { kind: 'starter', via: fn } : { kind: 'callers', via: fn });
    }
    visiting.delete(fn);
    return dedupe(out);
  };
  return compute(fn, new Set());
}

function dedupe(procs: Proc[]): Proc[] {
  const seen = new Map<string, Proc>();
  for (const p of procs) {
    const key =
      p.kind === 'server' ? `server:${p.module.name}` : p.kind === 'callers' ? `callers:${p.via.module.name}.${p.via.name}/${p.via.arity}` : `${p.kind}:${p.via.module.name}`;
    if (!seen.has(key)) seen.set(key, p);
  }
  return [...seen.values()];
}

// ---- random projects ---------------------------------------------------------------------------

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** `modules` modules of `fns` one-argument functions each, calling each other at random. */
function randomProject(seed: number, modules: number, fns: number, degree: number): ProjectIndex {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const files = [];
  for (let m = 0; m < modules; m++) {
    const server = r() < 0.6;
    const lines = [`defmodule M${m} do`, server ? '  use GenServer' : ''];
    const names = Array.from({ length: fns }, (_, i) => `f${i}`);
    const call = (): string => {
      const target = r() < 0.3 ? `M${Math.floor(r() * modules)}.${pick(names)}` : pick(names);
      const kind = r();
      if (kind < 0.1) return `Task.start(fn -> ${target}(x) end)`;
      if (kind < 0.17) return `Enum.map(x, &${target}/1)`;
      if (kind < 0.22) return `spawn(&${target}/1)`;
      return `${target}(x)`;
    };
    const body = () => Array.from({ length: Math.floor(r() * (degree * 2 + 1)) }, call).map((c) => `    ${c}`);
    if (server) lines.push('  def handle_call(x, _from, s) do', ...body(), '    {:reply, :ok, s}', '  end');
    if (server && r() < 0.5) lines.push('  def start_link(x) do', ...body(), '    GenServer.start_link(__MODULE__, x)', '  end');
    names.forEach((name) => lines.push(`  ${r() < 0.5 ? 'def' : 'defp'} ${name}(x) do`, ...body(), '    x', '  end'));
    lines.push('end');
    const text = lines.join('\n');
    files.push(buildFileModel({ path: `/virtual/m${m}.ex`, relPath: `m${m}.ex`, text }, parseElixir(text)));
  }
  return buildIndex(files);
}

const labels = (ps: Proc[]) => ps.map(procLabel);

describe('fnProcesses', () => {
  it('gives the path-by-path walk’s processes, in its order, on random call graphs', () => {
    let compared = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const project = randomProject(seed, 1 + (seed % 4), 4 + (seed % 9), seed % 3 === 0 ? 2 : 1);
      for (const file of project.files)
        for (const mod of file.modules)
          for (const fn of uniqueFunctions(mod)) {
            expect(labels(fnProcesses(project, fn)), `seed ${seed}: ${mod.name}.${fn.name}/${fn.arity}`).toEqual(labels(reference(project, fn)));
            compared++;
          }
    }
    expect(compared).toBeGreaterThan(300);
  });

  it('cuts at the same depth as the path-by-path walk on a chain longer than the bound', () => {
    const n = 20;
    const fns = Array.from({ length: n }, (_, i) => `  defp f${i}(x), do: ${i + 1 < n ? `f${i + 1}(x)` : 'x'}`);
    const text = ['defmodule Chain do', '  use GenServer', '  def handle_call(x, _f, s), do: {:reply, f0(x), s}', ...fns, 'end'].join('\n');
    const project = buildIndex([buildFileModel({ path: '/virtual/c.ex', relPath: 'c.ex', text }, parseElixir(text))]);
    const mod = project.modules.get('Chain')!;
    const near = mod.functions.get('f5/1')!;
    const far = mod.functions.get('f19/1')!;
    expect(labels(fnProcesses(project, near))).toEqual(["Chain's process"]);
    expect(labels(fnProcesses(project, far))).toEqual(labels(reference(project, far)));
    expect(fnProcesses(project, far)).toEqual([]); // 20 hops from the callback: past the bound
  });

  // No timing assertion (timings belong in npm run bench): the number of caller paths here grows
  // exponentially with the depth bound; one walk per function stays within the test's timeout.
  it('finishes on a dense call graph where following every path is exponential', () => {
    const project = randomProject(7, 6, 40, 4);
    let total = 0;
    for (const file of project.files)
      for (const mod of file.modules) for (const fn of uniqueFunctions(mod)) total += fnProcesses(project, fn).length;
    expect(total).toBeGreaterThan(0);
  });
});
