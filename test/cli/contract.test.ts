/** The CLI contract of DESIGN.md: exit codes and the JSON shape other tools rely on. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/output.js';
import { ROOT } from '../support/fixtures.js';

function capture(): Io & { stdout_: string[]; stderr_: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const stream = { isTTY: false } as NodeJS.WriteStream;
  return { out: (t) => out.push(t), err: (t) => err.push(t), stdout: stream, stderr: stream, stdout_: out, stderr_: err };
}

async function run(...argv: string[]) {
  const io = capture();
  const code = await main(argv, io);
  return { code, stdout: io.stdout_.join('\n'), stderr: io.stderr_.join('\n') };
}

let dir: string;
const cwd = process.cwd();
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'otpfix-cli-'));
  cpSync(path.join(ROOT, 'examples/shop'), dir, { recursive: true });
  process.chdir(dir);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('otpfix scan', () => {
  it('prints the JSON contract with relative paths and 1-based positions; exit 1 with findings', async () => {
    const r = await run('scan', 'lib', '--format', 'json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.version).toBe(1);
    const f = json.findings.find((x: { ruleId: string }) => x.ruleId === 'supervisor-max-children');
    expect(Object.keys(f).sort()).toEqual(['column', 'endColumn', 'endLine', 'file', 'fixable', 'line', 'message', 'ruleId', 'severity'].sort());
    expect(f).toMatchObject({ file: path.join('lib', 'shop', 'application.ex'), line: 10, column: 7, severity: 'medium', fixable: true });
    expect(json.summary.findings).toBe(json.findings.length);
  });

  it('exits 0 without findings', async () => {
    writeFileSync('lib/shop/version.ex', 'defmodule Shop.Version do\n  def version, do: "0.1.0"\nend\n');
    const r = await run('scan', 'lib/shop/version.ex');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/No findings/);
  });

  it('exits 2 on usage errors: missing path, unknown rule, unknown format', async () => {
    expect((await run('scan', 'nope')).code).toBe(2);
    const unknownRule = await run('scan', 'lib', '--rule', 'no-such-rule');
    expect(unknownRule.code).toBe(2);
    expect(unknownRule.stderr).toMatch(/unknown rule "no-such-rule"/);
    expect((await run('scan', 'lib', '--format', 'xml')).code).toBe(2);
  });

  it('limits a run to one rule with --rule', async () => {
    const json = JSON.parse((await run('scan', 'lib', '--format', 'json', '--rule', 'blocking-handle-call')).stdout);
    expect(new Set(json.findings.map((f: { ruleId: string }) => f.ruleId))).toEqual(new Set(['blocking-handle-call']));
  });
});

describe('otpfix fix', () => {
  it('--dry-run prints a diff and writes nothing; --yes writes; a second --yes changes nothing', async () => {
    const before = readFileSync('lib/shop/application.ex', 'utf8');
    const dry = await run('fix', 'lib', '--dry-run', '--rule', 'supervisor-max-children');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^\+.*max_children: 1000/m);
    expect(readFileSync('lib/shop/application.ex', 'utf8')).toBe(before);

    expect((await run('fix', 'lib', '--yes', '--rule', 'supervisor-max-children')).code).toBe(0);
    const after = readFileSync('lib/shop/application.ex', 'utf8');
    expect(after).toMatch(/max_children: 1000/);
    const again = await run('fix', 'lib', '--yes', '--rule', 'supervisor-max-children');
    expect(again.stderr).toMatch(/0 changes applied/);
    expect(readFileSync('lib/shop/application.ex', 'utf8')).toBe(after);
  });

  it('refuses to prompt without a terminal', async () => {
    const r = await run('fix', 'lib');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
  });
});

describe('otpfix rules / explain', () => {
  it('lists every rule and explains one; an unknown rule is exit 2', async () => {
    const rules = await run('rules', '--format', 'json');
    expect(JSON.parse(rules.stdout).map((r: { id: string }) => r.id)).toContain('blocking-handle-call');
    const explain = await run('explain', 'blocking-handle-call');
    expect(explain.stdout).toMatch(/deferred reply/);
    expect((await run('explain', 'nope')).code).toBe(2);
  });
});
