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
