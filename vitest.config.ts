import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ once, for the tests that spawn the real CLI (node bin/otpfix.js).
    globalSetup: ['test/support/build.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Forks: tree-sitter's native binding is safest one-per-process.
    pool: 'forks',
  },
});
