/**
 * How much of one frame from the peer the parser holds at most, and what becomes of a frame over it: the
 * headers still read so that it can be settled, and the reason it is reported with.
 */
import { OutboxError } from '../errors.js';

export interface ParserLimits {
  /** Largest frame (command, headers and body) in bytes. Default 16 MiB. */
  maxFrameSize?: number;
  /** Most headers in one frame. Default 1000. */
  maxHeaders?: number;
  /** Longest command or header line in bytes. Default 64 KiB. */
  maxHeaderLine?: number;
}

export const DEFAULT_LIMITS = { maxFrameSize: 16 * 1024 * 1024, maxHeaders: 1000, maxHeaderLine: 64 * 1024 } as const;

/**
 * Headers still read once a frame has broken a limit: what a receiver needs to settle it (ACK/NACK by
 * `ack`, route it by `subscription`, match a `receipt-id`, dedup ids for its logs), the ERROR summary,
 * and `content-length`, without which the frame's end would be lost.
 */
export const KEPT_WHEN_DISCARDED: ReadonlySet<string> = new Set([
  'ack',
  'message-id',
  'subscription',
  'destination',
  'receipt-id',
  'content-length',
  'cap-msg-id',
  'dop-msg-id',
  'message',
]);

/** What a discarded frame measured, from its first byte to its NUL. */
export interface FrameFigures {
  command: string;
  bytes: number;
  headers: number;
  /** The longest header line over maxHeaderLine, without its EOL; 0 if none was. */
  longestLine: number;
}

/**
 * The reason a frame was discarded: `E_FRAME_TOO_LARGE` naming each limit it broke, its figure, and by how much.
 *
 * @example
 * overLimits({ command: 'MESSAGE', bytes: 17_000_000, headers: 9, longestLine: 0 }, DEFAULT_LIMITS).message
 * // 'MESSAGE frame discarded: 17000000 bytes, 222784 over maxFrameSize 16777216'
 */
export function overLimits(frame: FrameFigures, limits: Required<ParserLimits>): OutboxError {
  const { maxFrameSize, maxHeaders, maxHeaderLine } = limits;
  const over: string[] = [];
  if (frame.longestLine > maxHeaderLine) over.push(`a header line of ${frame.longestLine} bytes, ${frame.longestLine - maxHeaderLine} over maxHeaderLine ${maxHeaderLine}`);
  if (frame.headers > maxHeaders) over.push(`${frame.headers} headers, ${frame.headers - maxHeaders} over maxHeaders ${maxHeaders}`);
  if (frame.bytes > maxFrameSize) over.push(`${frame.bytes} bytes, ${frame.bytes - maxFrameSize} over maxFrameSize ${maxFrameSize}`);
  return new OutboxError('E_FRAME_TOO_LARGE', `${frame.command} frame discarded: ${over.join('; ')}`);
}
