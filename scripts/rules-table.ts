// Prints the README's rules table from the registry: `npx tsx scripts/rules-table.ts`.
import { transforms } from '../src/transforms/index.js';

const FIX = { safe: 'rewrite', review: 'rewrite (review)', none: 'detect only' } as const;
console.log('| rule | seed | severity | fix | what |');
console.log('|---|---|---|---|---|');
for (const t of transforms) console.log(`| \`${t.id}\` | ${t.seedRef ?? '—'} | ${t.severity} | ${FIX[t.fixSafety]} | ${t.title} |`);
