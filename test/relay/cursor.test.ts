// @offline: no database, no broker
/** Where a claim starts: just below the highest seq claimed, and a full sweep from the start once per rescan period. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createClaimCursor, LOOKBACK, MAX_STRETCH } from '../../src/relay/cursor.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('claims start LOOKBACK below the highest seq claimed; every rescan period a sweep from 0 runs until a short claim', () => {
  let clock = 0;
  const cursor = createClaimCursor({ rescanMs: 1000, now: () => clock });
  assert.is(cursor.next(), 0, 'the first claim sweeps from the start');
  cursor.claimed(0, range(1, 200), true);
  assert.is(cursor.next(), 200, 'a full batch: the sweep goes on after it');
  cursor.claimed(200, range(201, 400), true);
  assert.is(cursor.next(), 400);
  cursor.claimed(400, range(401, 5000), false);
  assert.is(cursor.next(), 5000 - LOOKBACK, 'the sweep is over: claims start just below the highest seq');
  cursor.claimed(5000 - LOOKBACK, range(5001, 5100), false);
  assert.is(cursor.next(), 5100 - LOOKBACK);
  clock = 2000; // that sweep found nothing behind the cursor (there was none yet): the period doubled to 2 s
  assert.is(cursor.next(), 0, 'a rescan period later, a sweep from the start again');
  cursor.claimed(0, [42], false);
  assert.is(cursor.next(), 5100 - LOOKBACK, 'a short sweep claim ends the sweep; the highest seq stays');
});

test('sweeps that find nothing behind the cursor come less often, up to MAX_STRETCH periods; one that finds rows resets it', () => {
  let clock = 0;
  const cursor = createClaimCursor({ rescanMs: 1000, now: () => clock });
  cursor.next();
  cursor.claimed(0, range(1, 10_000), false); // the first sweep: the cursor is now well past LOOKBACK
  const sweepsIn = (ms: number) => {
    let sweeps = 0;
    for (const end = clock + ms; clock < end; clock += 100) {
      if (cursor.next() === 0) {
        sweeps++;
        cursor.claimed(0, [], false); // nothing behind the cursor
      }
    }
    return sweeps;
  };
  const early = sweepsIn(4_000);
  const late = sweepsIn(40_000);
  assert.ok(early >= 1, `sweeps while the period grows: ${early}`);
  assert.ok(late <= 40_000 / (1000 * MAX_STRETCH) + 1, `at most one sweep per ${MAX_STRETCH} s once stretched: ${late}`);
  assert.ok(late >= 40_000 / (1000 * MAX_STRETCH) - 1, 'but still one every MAX_STRETCH periods');
  cursor.claimed(0, [], false);
  clock += 1;
  cursor.rewind();
  assert.is(cursor.next(), 0, 'rewind: a sweep at once');
  cursor.claimed(0, [3], false); // a row far behind the cursor: the sweep found something
  clock += 1000;
  assert.is(cursor.next(), 0, 'and the period is back to rescanMs');
});

test('rewind: rows just released behind the cursor are looked for at the next claim', () => {
  const cursor = createClaimCursor({ rescanMs: 60_000, now: () => 5 });
  cursor.next();
  cursor.claimed(0, [9000], false);
  assert.is(cursor.next(), 9000 - LOOKBACK);
  cursor.rewind();
  assert.is(cursor.next(), 0);
});

test.run();
