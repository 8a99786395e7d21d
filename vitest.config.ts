import { defineConfig } from 'vitest/config';

// Four projects, a pyramid (CONTRIBUTING.md "Tests"):
//   unit         test/unit: in-process and fast: no child processes, no ports, no SQLite files, no compiled
//                dist/, no corpus-wide data runs or real TF.js training. `npm run test:unit` runs it with contract.
//   contract     test/contract: one suite run against every implementation of an interface (stores, ledgers).
//   integration  test/integration: real processes, gRPC with mTLS on 127.0.0.1, SQLite files, workers on the
//                compiled code, real TF.js training, whole data sets and reference tables, bench smoke runs.
//   acceptance   test/acceptance: the long accuracy runs against published anchors (heart disease, its DP
//                run, BreastMNIST). `npm run test:acceptance` runs them alone.
// `npm test` (what CI runs) runs all four, one group after the other (sequence.groupOrder) so the slow
// groups never compete with each other for the two cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
          // A few suites generate RSA keys in their hooks: seconds on a loaded 2-core machine.
          hookTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          testTimeout: 30_000,
          // Suites generate RSA CAs in their hooks: seconds on a loaded 2-core machine.
          hookTimeout: 60_000,
          sequence: { groupOrder: 0 },
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
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'acceptance',
          include: ['test/acceptance/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
