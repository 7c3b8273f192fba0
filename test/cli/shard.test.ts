/**
 * --shard i/n: every file's findings land in exactly one shard (disjoint and complete), the same on
 * every run; `otpfix merge` combines the shards' SARIF or JSON into the report of an unsharded run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type * as Sarif from 'sarif';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/core/scope.js';
import { APP, makeProject, POOL, runCli, type Project } from '../support/cli.js';

let project: Project;
const N = 3;
beforeAll(() => {
  const files: Record<string, string> = { 'lib/app.ex': APP };
  // Twelve files with findings, named so that every shard of three gets some.
  for (let i = 0; i < 12; i++) files[`lib/pool_${i}.ex`] = POOL.replace(/MyApp\.(Pool|Tasks)/g, `MyApp.$1${i}`);
  project = makeProject(files);
});
afterAll(() => project.remove());

type Finding = { file: string; line: number; ruleId: string; severity: string };
const json = async (...args: string[]) => JSON.parse((await runCli(['scan', 'lib', '--format', 'json', ...args], project.dir)).stdout);
const key = (f: Finding) => `${f.file}:${f.line}:${f.ruleId}`;

describe('--shard', () => {
  it('splits findings disjointly and completely, deterministically', async () => {
    const all = await json();
    const shards = [];
    for (let i = 1; i <= N; i++) shards.push(await json('--shard', `${i}/${N}`));
    const keys = shards.flatMap((s) => s.findings.map(key));
    expect(keys.sort()).toEqual(all.findings.map(key).sort());
    expect(new Set(keys).size).toBe(keys.length);
    for (const s of shards) expect(s.findings.length).toBeGreaterThan(0);
    // A file's findings all land in one shard, the one its path hashes to.
    shards.forEach((s, i) => {
      for (const f of s.findings as Finding[]) expect(shardOf(f.file, N)).toBe(i + 1);
    });
    const app = shards.flatMap((s) => s.findings).find((f: Finding) => f.file === 'lib/app.ex');
    expect(app).toBeDefined();
    expect(shards.reduce((n, s) => n + s.summary.files, 0)).toBe(all.summary.files);
    expect(await json('--shard', `2/${N}`)).toEqual(shards[1]);
  });

  it('otpfix merge combines shard reports into the unsharded report (JSON and SARIF)', async () => {
    const all = await json();
    for (let i = 1; i <= N; i++) {
      writeFileSync(project.path(`s${i}.json`), JSON.stringify(await json('--shard', `${i}/${N}`)));
      writeFileSync(project.path(`s${i}.sarif`), (await runCli(['scan', 'lib', '--format', 'sarif', '--shard', `${i}/${N}`], project.dir)).stdout);
    }
    const merged = await runCli(['merge', 's1.json', 's2.json', 's3.json'], project.dir);
    expect(merged.code).toBe(0);
    expect(JSON.parse(merged.stdout)).toEqual(all);

    const sarifAll = JSON.parse((await runCli(['scan', 'lib', '--format', 'sarif'], project.dir)).stdout) as Sarif.Log;
    const sarif = JSON.parse((await runCli(['merge', 's1.sarif', 's2.sarif', 's3.sarif'], project.dir)).stdout) as Sarif.Log;
    expect(sarif.runs).toHaveLength(1);
    const print = (log: Sarif.Log) =>
      log.runs[0].results!.map((r) => `${r.locations![0].physicalLocation!.artifactLocation!.uri}:${r.locations![0].physicalLocation!.region!.startLine}:${r.ruleId}:${r.ruleIndex}`).sort();
    expect(print(sarif)).toEqual(print(sarifAll));
    expect(sarif.runs[0].tool.driver.rules!.map((r) => r.id)).toEqual(sarifAll.runs[0].tool.driver.rules!.map((r) => r.id));
    expect(sarif.runs[0].properties!.summary.files).toBe(sarifAll.runs[0].properties!.summary.files);
  });

  it('fix --patch --shard: the shards rewrite disjoint files', async () => {
    const files = [];
    for (let i = 1; i <= N; i++) {
      const run = await runCli(['fix', 'lib', '--patch', `p${i}.diff`, '--shard', `${i}/${N}`], project.dir);
      expect(run.code).toBe(0);
      files.push(readFileSync(project.path(`p${i}.diff`), 'utf8').match(/^\+\+\+ b\/(.*)$/gm) ?? []);
    }
    const whole = await runCli(['fix', 'lib', '--patch', 'all.diff'], project.dir);
    expect(whole.code).toBe(0);
    const all = readFileSync(project.path('all.diff'), 'utf8').match(/^\+\+\+ b\/(.*)$/gm) ?? [];
    expect(files.flat().sort()).toEqual([...all].sort());
    expect(new Set(files.flat()).size).toBe(files.flat().length);
  });

  it('rejects a malformed shard and mixed report formats', async () => {
    for (const bad of ['0/3', '4/3', '1/0', 'x', '1-3']) {
      const run = await runCli(['scan', 'lib', '--shard', bad], project.dir);
      expect(run.code, bad).toBe(2);
      expect(run.stderr).toContain('--shard must be i/n');
    }
    const mixed = await runCli(['merge', 's1.json', 's1.sarif'], project.dir);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('all SARIF or all JSON');
  });
});
