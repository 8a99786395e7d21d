import { defineConfig } from 'vitest/config';

// Two projects: fast unit/contract tests, and integration tests that start real processes, gRPC servers
// with mTLS on 127.0.0.1, SQLite files and TF.js training. `npm test` runs both (that is what CI runs).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          // Integration tests spawn processes and bind ports; run files one at a time on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});
