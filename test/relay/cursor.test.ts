/** Where a claim starts: just below the highest seq claimed, and a full sweep from the start once per rescan period. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createClaimCursor, LOOKBACK } from '../../src/relay/cursor.js';

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
  clock = 1000;
  assert.is(cursor.next(), 0, 'a rescan period later, a sweep from the start again');
  cursor.claimed(0, [42], false);
  assert.is(cursor.next(), 5100 - LOOKBACK, 'a short sweep claim ends the sweep; the highest seq stays');
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
