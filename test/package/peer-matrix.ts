/**
 * The drizzle-orm versions the package is tried with (`npm run test:peers`), and so what its peer range
 * promises: package.json's `peerDependencies['drizzle-orm']` must cover each (test/package/pack.test.ts checks).
 */
export const PEER_MATRIX: Array<{ version: string; why: string }> = [
  { version: '0.36.4', why: 'the oldest supported: pgTable with an array of extra config, drizzle({ client })' },
  { version: '0.45.4', why: 'the newest 0.x, what this repository develops with' },
];

/*
 * Tried and outside the range (PEERS_OUTSIDE_RANGE=1 npm run test:peers -- <version>), 2026-11-30:
 * - 0.35.3: the generated schema does not typecheck (pgTable's extra config is an object before 0.36).
 * - 1.0.0-rc.5: loading the package fails: drizzle-orm/pg-core no longer exports PgTransaction (renamed
 *   PgAsyncTransaction, PgDatabase → PgAsyncDatabase), which src/publish/write.ts checks transactions with.
 */
