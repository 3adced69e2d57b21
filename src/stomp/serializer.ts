/**
 * Encodes one frame into one Buffer: command, escaped headers, `content-length`, body, NUL.
 * Throws `E_INVALID_FRAME` for what cannot be put on the wire (NUL in a header, an EOL in a CONNECT header).
 *
 * @example
 * socket.write(serializeFrame('SEND', { destination: '/queue/a', receipt: '1' }, '{"ok":true}'));
 */
import { OutboxError } from '../errors.js';
import { escapeHeader } from './escape.js';
import { NUL, isUnescapedCommand } from './octets.js';

const EMPTY = Buffer.alloc(0);
/** CONNECT headers cannot be escaped: an EOL (or a colon in a name) would break the frame. */
const UNESCAPABLE = /[\r\n]/;

export function serializeFrame(command: string, headers: Record<string, string>, body?: string | Buffer): Buffer {
  if (!/^[A-Z]+$/.test(command)) throw new OutboxError('E_INVALID_FRAME', `invalid STOMP command "${command.slice(0, 32)}"`);
  const bytes = body === undefined ? EMPTY : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const raw = isUnescapedCommand(command);
  let head = command + '\n';
  for (const name in headers) {
    // Ours is the only true content-length; a caller's would describe some other body.
    if (name === 'content-length') continue;
    const value = headers[name];
    if (value === undefined) continue;
    const text = String(value);
    if (name === '') throw new OutboxError('E_INVALID_FRAME', `${command} frame has a header with an empty name`);
    if (name.includes('\0') || text.includes('\0')) throw new OutboxError('E_INVALID_FRAME', `header "${printable(name)}" contains NUL`);
    if (raw) {
      if (UNESCAPABLE.test(name) || UNESCAPABLE.test(text) || name.includes(':')) {
        throw new OutboxError('E_INVALID_FRAME', `${command} header "${printable(name)}" cannot be sent unescaped`);
      }
      head += name + ':' + text + '\n';
    } else {
      head += escapeHeader(name) + ':' + escapeHeader(text) + '\n';
    }
  }
  if (bytes.length > 0) head += 'content-length:' + bytes.length + '\n';
  head += '\n';
  const headBytes = Buffer.byteLength(head, 'utf8');
  const frame = Buffer.allocUnsafe(headBytes + bytes.length + 1);
  frame.write(head, 0, headBytes, 'utf8');
  bytes.copy(frame, headBytes);
  frame[headBytes + bytes.length] = NUL;
  return frame;
}

/** A header name safe to quote in an error (no control characters, short). */
const printable = (name: string): string => name.replace(/[\x00-\x1f]/g, '?').slice(0, 64);
