// @offline: no database, no broker
/**
 * The import graph of src/ and codegen/ is a strict stack of floors (.dependency-cruiser.cjs): no module
 * imports from a floor above its own, and there are no cycles. A violation fails here with its path.
 */
import { execFileSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('no import runs back up the stack, and there is no cycle', () => {
  let output = '';
  let failed = false;
  try {
    output = execFileSync(process.execPath, ['node_modules/dependency-cruiser/bin/dependency-cruise.mjs', 'src', 'codegen', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], { encoding: 'utf8' });
  } catch (error) {
    failed = true;
    output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
  }
  assert.not.ok(failed, output);
  assert.match(output, /no dependency violations found/);
});

test.run();
