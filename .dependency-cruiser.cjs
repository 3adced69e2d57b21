/**
 * The layering of src/ as a strict stack: a module may import from its own floor and the floors below it,
 * never from above. `npm test` runs this check (test/layers.test.ts); `npx depcruise src codegen` shows it.
 *
 *   5  src/index.ts                                   the public API: re-exports only
 *   4  src/cli/  codegen/                             commands
 *   3  src/relay/  src/consumer/  src/producer/  src/admin/
 *   2  src/stomp/  src/transport/  src/publish/  src/retention/
 *   1  src/config/  src/db/  src/wire/
 *   0  src/util/  src/log/  src/telemetry/  src/errors.ts
 */
const floors = [
  ['^src/util/', '^src/log/', '^src/telemetry/', '^src/errors\\.ts$'],
  ['^src/config/', '^src/db/', '^src/wire/'],
  ['^src/stomp/', '^src/transport/', '^src/publish/', '^src/retention/'],
  ['^src/relay/', '^src/consumer/', '^src/producer/', '^src/admin/'],
  ['^src/cli/', '^codegen/'],
  ['^src/index\\.ts$'],
];
const either = (paths) => `(${paths.join('|')})`;

module.exports = {
  forbidden: [
    ...floors.slice(0, -1).map((floor, i) => ({
      name: `floor-${i}-imports-upwards`,
      comment: `floor ${i} (${floor.join(' ')}) may only import from floors 0..${i}`,
      severity: 'error',
      from: { path: either(floor) },
      to: { path: either(floors.slice(i + 1).flat()) },
    })),
    {
      name: 'no-circular',
      comment: 'a cycle makes the stack a knot: split the shared part out to a lower floor',
      severity: 'error',
      from: { path: '^(src|codegen)/' },
      to: { circular: true },
    },
    {
      name: 'unplaced-module',
      comment: 'every module under src/ must sit on a floor (add its folder to .dependency-cruiser.cjs)',
      severity: 'error',
      from: { path: '^src/', pathNot: either(floors.flat()) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
