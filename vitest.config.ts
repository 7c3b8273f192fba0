import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Forks: tree-sitter's native binding is safest one-per-process.
    pool: 'forks',
  },
});
