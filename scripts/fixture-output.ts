// Prints (or writes with --write) what `fix --yes --rule <rule>` makes of a fixture case, for review.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { discoverCases, runRule } from '../test/support/fixtures.js';

const [rule, name, flag] = process.argv.slice(2);
for (const c of discoverCases().filter((x) => x.rule === rule && (!name || name === '-' || x.name === name))) {
  const run = await runRule(c.before, c.rule, c.options);
  console.log(`== ${c.rule}/${c.name}: ${run.findings} findings, ${run.applied} applied`);
  for (const f of run.failures) console.log(`  FAILED ${f}`);
  if (c.kind !== 'fix') continue;
  for (const rel of c.files) {
    const out = run.output.get(rel)!;
    if (flag === '--write') {
      const target = rel ? path.join(c.after, rel) : c.after;
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, out);
    } else console.log(out);
  }
}
