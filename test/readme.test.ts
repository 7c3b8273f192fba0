/** The README is a newcomer's entry point: its first commands and its rules table stay true. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { transforms } from '../src/transforms/index.js';
import { ROOT } from './support/fixtures.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

describe('README', () => {
  it('starts with the demo and test commands, both defined in package.json', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(firstBlock).toMatch(/npm ci && npm run demo/);
    expect(firstBlock).toMatch(/npm test/);
    expect(pkg.scripts.demo).toBeDefined();
    expect(pkg.scripts.test).toBeDefined();
  });

  it('lists every rule with its severity (regenerate with scripts/rules-table.ts)', () => {
    for (const t of transforms) expect(readme, t.id).toMatch(new RegExp(`\\| \`${t.id}\` \\|[^\\n]*\\| ${t.severity} \\|`));
  });
});

describe('README and --help agree', () => {
  it('documents every option of scan, fix and pr, and every review key', async () => {
    const { buildProgram } = await import('../src/cli/main.js');
    const { CHOICES } = await import('../src/cli/review/choices.js');
    const stream = { isTTY: false } as NodeJS.WriteStream;
    const program = buildProgram({ out: () => {}, err: () => {}, stdout: stream, stderr: stream }, () => {});
    for (const name of ['scan', 'fix', 'pr']) {
      const cmd = program.commands.find((c) => c.name() === name)!;
      for (const option of cmd.options) expect(readme, `${name} ${option.long}`).toContain(option.long!);
    }
    for (const c of CHOICES) expect(readme).toMatch(new RegExp(`^\\| \`${c.key}\` \\|`, 'm'));
  });

  it('documents the exit codes, the size limit and what an interruption leaves', () => {
    expect(readme).toMatch(/Exit codes of `fix`: 0 [^\n]*\n?[^\n]*1 with `--check`[\s\S]*?130 interrupted/);
    expect(readme).toContain('2 usage/config error or nothing analysed');
    expect(readme).toMatch(/larger than 1 MB is not analysed/);
    expect(readme).toMatch(/`kill -9` leaves every file either as it was or completely fixed/);
  });
});
