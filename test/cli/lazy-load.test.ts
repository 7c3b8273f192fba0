/** Each command loads only what it needs: `rules` and `explain` never load the native parser. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Run the built CLI in a process that then says whether tree-sitter was loaded. */
function loadsParser(args: string[]): boolean {
  const script = `
    import { createRequire } from 'node:module';
    const { main } = await import(${JSON.stringify(path.join(ROOT, 'dist/cli/main.js'))});
    await main(${JSON.stringify(args)}, { out() {}, err() {}, stdout: {}, stderr: {}, cwd: ${JSON.stringify(ROOT)} });
    const cache = createRequire(import.meta.url).cache;
    console.log(Object.keys(cache).some((k) => k.includes('tree-sitter')) ? 'loaded' : 'not loaded');`;
  const r = spawnSync('node', ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.trim() === 'loaded';
}

describe('lazy loading', () => {
  it('rules and explain do not load the parser; scan does', () => {
    expect(loadsParser(['rules'])).toBe(false);
    expect(loadsParser(['explain', 'self-call'])).toBe(false);
    expect(loadsParser(['scan', '--no-cache', 'examples/shop'])).toBe(true);
  });
});
