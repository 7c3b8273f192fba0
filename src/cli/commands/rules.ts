import { transforms } from '../../transforms/index.js';
import { colorsFor, type Io } from '../output.js';

const FIX_LABEL = { safe: 'fix', review: 'fix (review)', none: 'detect only' } as const;

export function rulesCommand(options: { format: string }, io: Io): number {
  if (options.format === 'json') {
    io.out(
      JSON.stringify(
        transforms.map((t) => ({ id: t.id, title: t.title, severity: t.severity, seedRef: t.seedRef ?? null, fix: t.fixSafety })),
        null,
        2,
      ),
    );
    return 0;
  }
  const c = colorsFor(io.stdout);
  const width = Math.max(...transforms.map((t) => t.id.length));
  for (const t of transforms)
    io.out(`${c.bold(t.id.padEnd(width))}  ${t.severity.padEnd(6)}  ${FIX_LABEL[t.fixSafety].padEnd(12)}  ${t.title}`);
  io.out(c.dim(`\n${transforms.length} rules. \`otpfix explain <rule>\` tells what a rule finds, why it matters and how it fixes it.`));
  return 0;
}
