// @offline: no database, no broker
/**
 * The default logger writes one line per entry: consola's own reporters put blank lines around warnings
 * and errors and an Error's stack over many lines, which log collectors read as many events.
 */
import { Writable } from 'node:stream';
import { createConsola } from 'consola';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lineReporter } from '../../src/log/logger.js';

function sink(isTTY: boolean) {
  const writes: string[] = [];
  const stream = Object.assign(new Writable({ write(chunk, _enc, done) { writes.push(String(chunk)); done(); } }), { isTTY });
  return { stream, writes };
}

function logger(isTTY = false) {
  const out = sink(isTTY);
  const err = sink(isTTY);
  const log = createConsola({ level: 4, reporters: [lineReporter()], stdout: out.stream as never, stderr: err.stream as never }).withTag('relay');
  return { log, out: out.writes, err: err.writes };
}

test('one line per entry, tagged, warnings and errors to stderr, the rest to stdout', () => {
  const { log, out, err } = logger();
  log.info('connected to the broker at 127.0.0.1:61613');
  log.warn('the broker refused /queue/x: PRECONDITION_FAILED\n  - inequivalent arg');
  const boom = new Error('boom');
  log.error('handler threw on message 7: boom; dead-lettering it', boom);
  log.error('cannot record a failed send', new Error('connection refused'));
  log.debug('probing /queue/x');
  assert.equal(out, ['[relay] info: connected to the broker at 127.0.0.1:61613\n', '[relay] debug: probing /queue/x\n']);
  assert.equal(err, [
    '[relay] warn: the broker refused /queue/x: PRECONDITION_FAILED - inequivalent arg\n',
    '[relay] error: handler threw on message 7: boom; dead-lettering it\n',
    '[relay] error: cannot record a failed send connection refused\n',
  ]);
});

test('colour only on a terminal, and never with NO_COLOR', () => {
  const plain = logger(false);
  plain.log.warn('x');
  assert.not.match(plain.err[0]!, /\x1b\[/);
  const tty = logger(true);
  const saved = process.env.NO_COLOR;
  delete process.env.NO_COLOR;
  try {
    tty.log.warn('x');
    assert.match(tty.err[0]!, /^\[relay\] \x1b\[33mwarn\x1b\[39m: x\n$/);
    process.env.NO_COLOR = '1';
    tty.log.warn('y');
    assert.is(tty.err[1], '[relay] warn: y\n');
  } finally {
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
  }
});

test.run();
