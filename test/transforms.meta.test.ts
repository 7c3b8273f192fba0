/** Every rule is complete: registered, named after its file, explained, with fixtures. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { transforms } from '../src/transforms/index.js';
import { FIXTURES, ROOT } from './support/fixtures.js';

const ruleFiles = readdirSync(path.join(ROOT, 'src/transforms'))
  .filter((f) => f.endsWith('.ts') && !['index.ts', 'types.ts'].includes(f) && !f.endsWith('.test.ts'))
  .map((f) => f.replace(/\.ts$/, ''));

describe('rule registry', () => {
  it('registers every rule file exactly once, under its file name', () => {
    expect(transforms.map((t) => t.id).sort()).toEqual([...ruleFiles].sort());
    expect(new Set(transforms.map((t) => t.id)).size).toBe(transforms.length);
  });

  it('has no fixture folder without a rule', () => {
    const folders = existsSync(path.join(FIXTURES, 'before')) ? readdirSync(path.join(FIXTURES, 'before')) : [];
    expect(folders.filter((f) => !ruleFiles.includes(f))).toEqual([]);
  });
});

describe.each(transforms.map((t) => [t.id, t] as const))('%s', (id, t) => {
  it('has a kebab-case id', () => expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/));

  it('has a title and an explanation with a before/after example', () => {
    expect(t.title.length).toBeGreaterThan(5);
    expect(t.explanation.length, 'explanation: what, why in OTP terms, how to fix by hand').toBeGreaterThan(300);
    expect(t.explanation).toMatch(/```elixir/);
  });

  it('documents every option with a valid default', () => {
    for (const [key, spec] of Object.entries(t.options)) {
      expect(spec.description.length, `${key} needs a description`).toBeGreaterThan(10);
      expect(spec.validate?.(spec.default), `${key}'s default must validate`).toBeUndefined();
    }
  });

  it('says honestly whether it fixes', () => {
    expect(t.fixSafety === 'none', 'fixSafety "none" exactly when there is no fix function').toBe(!t.fix);
  });

  it('has fixtures: a valid-* case, and a rewritten case when it fixes (else a detect-* case)', () => {
    const dir = path.join(FIXTURES, 'before', id);
    expect(existsSync(dir), `missing fixtures/before/${id}/`).toBe(true);
    const cases = readdirSync(dir);
    expect(cases.some((c) => c.startsWith('valid-')), 'a valid-* case that must stay silent').toBe(true);
    if (t.fix) expect(cases.some((c) => !c.startsWith('valid-') && !c.startsWith('detect-')), 'a fixed case').toBe(true);
    else expect(cases.some((c) => c.startsWith('detect-')), 'a detect-* case').toBe(true);
  });
});
