#!/usr/bin/env node
// Runs the compiled CLI (npm run build, done by `npm ci` through the prepare script).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then((code) => process.exit(code));
