// CPU per proposed change of `fix --dry-run` on the given paths, measured in process (the scan
// before it is not counted). Prints {"changes": n, "fixCpuMs": ms}. Needs dist/ (npm run build).
import { fix, prepare } from '../dist/api.js';

const prepared = await prepare({ paths: process.argv.slice(2), cwd: process.cwd() });
const before = process.cpuUsage();
const run = await fix(prepared, { decide: () => 'yes' });
const used = process.cpuUsage(before);
console.log(JSON.stringify({ changes: run.applied.length, fixCpuMs: (used.user + used.system) / 1000 }));
