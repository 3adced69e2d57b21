// @offline: no database, no broker
/**
 * The default logger writes one line per entry: consola's own reporters put blank lines around warnings
 * and errors and an Error's stack over many lines, which log collectors read as many events.
 */
import { Writable } from 'node:stream';
import { createConsola } from 'consola';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OutboxError } from '../../src/errors.js';
import { jsonReporter, lineReporter, logFields } from '../../src/log/logger.js';

function sink(isTTY: boolean) {
  const writes: string[] = [];
  const stream = Object.assign(new Writable({ write(chunk, _enc, done) { writes.push(String(chunk)); done(); } }), { isTTY });
  return { stream, writes };
}

function logger(isTTY = false, reporter = lineReporter()) {
  const out = sink(isTTY);
  const err = sink(isTTY);
  const log = createConsola({ level: 4, reporters: [reporter], stdout: out.stream as never, stderr: err.stream as never }).withTag('relay');
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

test('text: structured fields are left out (the text says it already)', () => {
  const { log, err } = logger();
  log.warn('the broker refused /exchange/x/y: NOT_FOUND', logFields({ destination: '/exchange/x/y', count: 3 }));
  assert.equal(err, ['[relay] warn: the broker refused /exchange/x/y: NOT_FOUND\n']);
});

test('json: one object a line — time, level, component, msg, the fields, an error\'s code — on a terminal or not', () => {
  for (const isTTY of [false, true]) {
    const { log, out, err } = logger(isTTY, jsonReporter());
    log.info('sent 10 in 1 s', logFields({ count: 10, pending: 0 }));
    log.warn('the broker refused /exchange/x/y: NOT_FOUND\n  - no exchange', logFields({ destination: '/exchange/x/y', count: 3, error_code: 'E_BROKER_ERROR' }));
    log.error('cannot record a failed send', new OutboxError('E_DATABASE', 'connection refused'));
    const lines = [...out, ...err];
    for (const line of lines) assert.match(line, /^\{.*\}\n$/, 'one line, no blank lines around it');
    const [info, warn, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(!Number.isNaN(Date.parse(String(info!.time))) && String(info!.time).endsWith('Z'));
    assert.equal({ ...info, time: 0 }, { time: 0, level: 'info', component: 'relay', msg: 'sent 10 in 1 s', count: 10, pending: 0 });
    assert.equal({ ...warn, time: 0 }, {
      time: 0, level: 'warn', component: 'relay', msg: 'the broker refused /exchange/x/y: NOT_FOUND\n  - no exchange', destination: '/exchange/x/y', count: 3, error_code: 'E_BROKER_ERROR',
    });
    assert.equal([error!.level, error!.msg, error!.error, error!.error_code], ['error', 'cannot record a failed send', 'connection refused', 'E_DATABASE']);
    assert.is(out.length, 1, 'info to stdout');
    assert.is(err.length, 2, 'warnings and errors to stderr');
  }
});

test.run();
