/**
 * Interop with an independent client over the real RabbitMQ: Debian's python3-stomp (stomp.py 8) sends what
 * we receive, and receives what we send, with tricky headers and a binary body intact.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { silentLogger } from '../../src/log/logger.js';
import { connect } from '../../src/stomp/connect.js';
import { deleteQueue, uniqueName } from '../helpers/broker.js';
import { inbox, testBroker } from './support.js';

const PYTHON = '/usr/bin/python3';
const PEER = new URL('./fixtures/stomp_peer.py', import.meta.url).pathname;
const queues: string[] = [];
test.after(() => queues.forEach(deleteQueue));

const body = Buffer.from([0x7b, 0x00, 0x0a, 0xff, 0xfe, 0x0d, 0x0a, 0x5c, 0x00, 0x7d, 0xc3, 0xa9]);
// Values with every delimiter STOMP escapes. stomp.py escapes values only, so the names stay plain here.
const headers = {
  'x-path': 'C:\\new\\table',
  'x-colons': 'a:b:c',
  'x-lines': 'one\ntwo\r\nthree',
  'x-backslash-n': '\\n is not a newline',
  'x-unicode': 'grüße 🚀',
  persistent: 'true',
};

test('python3-stomp is installed where the tests expect it', () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: apt-get install python3-stomp`);
  execFileSync(PYTHON, ['-c', 'import stomp'], { stdio: 'ignore' }); // throws: run scripts/services.sh
});

test('stomp.py sends, we receive the headers and the binary body intact', async () => {
  const name = uniqueName('stomp-interop-in');
  queues.push(name);
  const session = await connect({ broker: testBroker(), logger: silentLogger });
  try {
    const box = inbox();
    const sub = session.subscribe(`/queue/${name}`, { ack: 'client-individual' }, (m) => {
      box.push(m);
      session.ack(m);
    });
    await sub.ready;
    const spec = JSON.stringify({ headers, body_b64: body.toString('base64') });
    const out = await new Promise<string>((resolve, reject) =>
      execFile(PYTHON, [PEER, 'send', '/', `/queue/${name}`, spec], { timeout: 20_000 }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout))),
    );
    assert.match(out, /"sent": true/);
    const [m] = await box.until(1);
    assert.equal(m!.body, body);
    for (const [k, v] of Object.entries(headers)) assert.is(m!.headers[k], v, `header ${k}`);
  } finally {
    await session.disconnect();
  }
});

test('we send, stomp.py receives the headers and the binary body intact', async () => {
  const name = uniqueName('stomp-interop-out');
  queues.push(name);
  const child = spawn(PYTHON, [PEER, 'receive', '/', `/queue/${name}`, '2', '20'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error('the python peer ended early');
    return r.value;
  };
  try {
    assert.is(await next(), 'READY');
    const session = await connect({ broker: testBroker(), logger: silentLogger });
    const withNames = { ...headers, 'name:with\\delims': 'v' };
    try {
      await session.send(`/queue/${name}`, body, { headers: withNames });
      await session.send(`/queue/${name}`, 'plain text ünïcode', { headers: { 'content-type': 'text/plain' } });
    } finally {
      await session.disconnect();
    }
    const first = JSON.parse(await next()) as { headers: Record<string, string>; body_b64: string };
    const second = JSON.parse(await next()) as { headers: Record<string, string>; body_b64: string };
    assert.equal(Buffer.from(first.body_b64, 'base64'), body);
    for (const [k, v] of Object.entries(withNames)) assert.is(first.headers[k], v, `header ${k}`);
    assert.is(Buffer.from(second.body_b64, 'base64').toString('utf8'), 'plain text ünïcode');
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    }
  }
});

test.run();
