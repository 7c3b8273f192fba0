import { readFileSync } from 'node:fs';

/** From package.json (two levels up from both src/cli and dist/cli). */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
