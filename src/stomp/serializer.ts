/**
 * Encodes one frame: command, escaped headers, `content-length`, body, NUL.
 * Throws `E_INVALID_FRAME` for what cannot be put on the wire (NUL in a header, an EOL in a CONNECT header).
 *
 * `encodeFrame` is the hot path the session writes with: a string when the body is text (the socket encodes
 * it once, together with the frames written beside it), a Buffer when the body is bytes.
 * `serializeFrame` always gives one Buffer.
 *
 * @example
 * socket.write(serializeFrame('SEND', { destination: '/queue/a', receipt: '1' }, '{"ok":true}'));
 */
import { OutboxError } from '../errors.js';
import { escapeHeader } from './escape.js';
import { NUL, isUnescapedCommand } from './octets.js';

/** One test finds both what must be escaped and what can never be sent; most headers match neither. */
const SPECIAL = /[\\\r\n:\0]/;
/** CONNECT headers cannot be escaped: an EOL would break the frame. */
const UNESCAPABLE = /[\r\n]/;
const COMMAND = /^[A-Z]+$/;

export function encodeFrame(command: string, headers: Record<string, string>, body?: string | Buffer): string | Buffer {
  if (!COMMAND.test(command)) throw new OutboxError('E_INVALID_FRAME', `invalid STOMP command "${command.slice(0, 32)}"`);
  const raw = isUnescapedCommand(command);
  let head = command + '\n';
  for (const name in headers) {
    // Ours is the only true content-length; a caller's would describe some other body.
    if (name === 'content-length') continue;
    const value = headers[name];
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : String(value);
    head += header(command, raw, name) + ':' + headerValue(command, raw, name, text) + '\n';
  }
  if (body === undefined) return head + '\n\0';
  if (typeof body === 'string') {
    const length = Buffer.byteLength(body, 'utf8');
    return length === 0 ? head + '\n\0' : head + 'content-length:' + length + '\n\n' + body + '\0';
  }
  if (body.length === 0) return head + '\n\0';
  head += 'content-length:' + body.length + '\n\n';
  const headBytes = Buffer.byteLength(head, 'utf8');
  const frame = Buffer.allocUnsafe(headBytes + body.length + 1);
  frame.write(head, 0, headBytes, 'utf8');
  body.copy(frame, headBytes);
  frame[headBytes + body.length] = NUL;
  return frame;
}

export function serializeFrame(command: string, headers: Record<string, string>, body?: string | Buffer): Buffer {
  const frame = encodeFrame(command, headers, body);
  return typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
}

function header(command: string, raw: boolean, name: string): string {
  if (name === '') throw new OutboxError('E_INVALID_FRAME', `${command} frame has a header with an empty name`);
  if (!SPECIAL.test(name)) return name;
  if (name.includes('\0')) throw new OutboxError('E_INVALID_FRAME', `header "${printable(name)}" contains NUL`);
  if (raw) throw new OutboxError('E_INVALID_FRAME', `${command} header "${printable(name)}" cannot be sent unescaped`);
  return escapeHeader(name);
}

function headerValue(command: string, raw: boolean, name: string, value: string): string {
  if (!SPECIAL.test(value)) return value;
  if (value.includes('\0')) throw new OutboxError('E_INVALID_FRAME', `header "${printable(name)}" contains NUL`);
  if (!raw) return escapeHeader(value);
  if (UNESCAPABLE.test(value)) throw new OutboxError('E_INVALID_FRAME', `${command} header "${printable(name)}" cannot be sent unescaped`);
  return value; // CONNECT: colons and backslashes go as they are
}

/** A header name safe to quote in an error (no control characters, short). */
const printable = (name: string): string => name.replace(/[\x00-\x1f]/g, '?').slice(0, 64);
