// Rewrites src/transforms/index.ts from the rule files: `npx tsx scripts/registry.ts`
// (handy when branches that each add rules are merged).
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/transforms');
const ids = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !['index.ts', 'types.ts'].includes(f) && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const camel = (id: string) => id.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
writeFileSync(
  path.join(dir, 'index.ts'),
  [
    '/** The registry: one line per rule. Order is the order `otpfix rules` lists them. */',
    "import type { AnyTransform } from '../core/types.js';",
    ...ids.map((id) => `import ${camel(id)} from './${id}.js';`),
    '',
    'export const transforms: AnyTransform[] = [',
    ...ids.map((id) => `  ${camel(id)},`),
    '];',
    '',
    'export function transformById(id: string): AnyTransform | undefined {',
    '  return transforms.find((t) => t.id === id);',
    '}',
    '',
  ].join('\n'),
);
