/**
 * The incremental STOMP 1.2 frame parser: a byte-level state machine fed socket chunks as they come.
 *
 * - EOLs (LF or CR LF) between frames are heart-beats.
 * - Header lines are decoded as UTF-8 only once complete, so a character split across chunks is intact.
 * - Bodies are bytes: with `content-length` they may hold NUL; without it they end at the first NUL.
 * - The first of a repeated header wins; headers are unescaped in one pass, except on CONNECT/CONNECTED.
 * - Limits bound what it buffers: frame size, header count, header-line length.
 *
 * It never throws: malformed input is reported once to `onError` (an `OutboxError` with `E_PROTOCOL` or
 * `E_FRAME_TOO_LARGE`) and the parser stops; later chunks are ignored.
 *
 * @example
 * const parser = createParser({ onFrame: (f) => console.log(f.command), onError: (e) => socket.destroy(e) });
 * socket.on('data', parser.push);
 */
import { OutboxError } from '../errors.js';
import { unescapeHeader } from './escape.js';
import { CR, LF, NUL, UPPER_A, UPPER_Z, isUnescapedCommand } from './octets.js';
import type { Frame } from './types.js';

export interface ParserLimits {
  /** Largest frame (command, headers and body) in bytes. Default 16 MiB. */
  maxFrameSize?: number;
  /** Most headers in one frame. Default 1000. */
  maxHeaders?: number;
  /** Longest command or header line in bytes. Default 64 KiB. */
  maxHeaderLine?: number;
}

export interface ParserOptions extends ParserLimits {
  onFrame: (frame: Frame) => void;
  onHeartbeat?: () => void;
  onError: (error: OutboxError) => void;
}

export interface Parser {
  /** Feeds bytes; frames are emitted synchronously, in order. */
  push(chunk: Buffer): void;
  /** Bytes held for a frame not yet complete (bounded by the limits). */
  readonly buffered: number;
  /** True once an error stopped it. */
  readonly failed: boolean;
}

export const DEFAULT_LIMITS = { maxFrameSize: 16 * 1024 * 1024, maxHeaders: 1000, maxHeaderLine: 64 * 1024 } as const;

const EMPTY = Buffer.alloc(0);

/** A plain object rather than an enum, so the file is plain JavaScript once its types are stripped. */
const State = {
  /** Between frames: EOLs are heart-beats, anything else starts a command. */
  Idle: 0,
  /** Saw CR between frames; LF must follow. */
  IdleCR: 1,
  Command: 2,
  /** Saw CR in the command line; LF must follow. */
  CommandCR: 3,
  Header: 4,
  /** Reading exactly `content-length` bytes. */
  FixedBody: 5,
  /** Reading up to the first NUL. */
  ScanBody: 6,
  /** After a fixed body, the NUL that ends the frame. */
  Terminator: 7,
} as const;
type State = (typeof State)[keyof typeof State];

export function createParser(options: ParserOptions): Parser {
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_LIMITS.maxFrameSize;
  const maxHeaders = options.maxHeaders ?? DEFAULT_LIMITS.maxHeaders;
  const maxHeaderLine = options.maxHeaderLine ?? DEFAULT_LIMITS.maxHeaderLine;
  const { onFrame, onHeartbeat, onError } = options;

  let state: State = State.Idle;
  let failed = false;
  // The frame being read.
  let command = '';
  let headers: Record<string, string> = {};
  let headerCount = 0;
  let frameBytes = 0;
  // A header line split across chunks.
  let lineParts: Buffer[] = [];
  let lineBytes = 0;
  // The body: fixed (preallocated to content-length) or scanned (parts up to a NUL).
  let body: Buffer = EMPTY;
  let bodyFilled = 0;
  let bodyParts: Buffer[] = [];
  let bodyBytes = 0;

  function fail(code: 'E_PROTOCOL' | 'E_FRAME_TOO_LARGE', message: string): void {
    failed = true;
    lineParts = [];
    bodyParts = [];
    body = EMPTY;
    onError(new OutboxError(code, message));
  }

  function startFrame(): void {
    command = '';
    headers = {};
    headerCount = 0;
    frameBytes = 0;
    // Never handed out, so they can be emptied in place rather than reallocated per frame.
    lineParts.length = 0;
    lineBytes = 0;
  }

  function emit(frameBody: Buffer): void {
    const frame: Frame = { command, headers, body: frameBody };
    state = State.Idle;
    startFrame();
    body = EMPTY;
    bodyParts.length = 0;
    bodyBytes = 0;
    onFrame(frame);
  }

  /** A complete header line (without its EOL). Returns false when it failed. */
  function headerLine(line: string): boolean {
    if (line.length === 0) return endOfHeaders();
    if (++headerCount > maxHeaders) {
      fail('E_FRAME_TOO_LARGE', `${command} frame has more than ${maxHeaders} headers`);
      return false;
    }
    // ':' is ASCII and never part of a multi-byte UTF-8 sequence: splitting the decoded text is exact.
    const colon = line.indexOf(':');
    if (colon < 0) {
      fail('E_PROTOCOL', `${command} frame has a header line without a colon`);
      return false;
    }
    let name: string | undefined = line.slice(0, colon);
    let value: string | undefined = line.slice(colon + 1);
    if (!isUnescapedCommand(command)) {
      name = unescapeHeader(name);
      value = unescapeHeader(value);
      if (name === undefined || value === undefined) {
        fail('E_PROTOCOL', `${command} frame has a header with an undefined escape sequence`);
        return false;
      }
    }
    if (!Object.hasOwn(headers, name)) {
      // A plain object, yet a header named __proto__ must stay a header.
      if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
      else headers[name] = value;
    }
    return true;
  }

  function endOfHeaders(): boolean {
    const length = headers['content-length'];
    if (length === undefined) {
      state = State.ScanBody;
      return true;
    }
    if (!/^\d{1,15}$/.test(length)) {
      fail('E_PROTOCOL', `${command} frame has an invalid content-length`);
      return false;
    }
    const size = Number(length);
    if (frameBytes + size + 1 > maxFrameSize) {
      fail('E_FRAME_TOO_LARGE', `${command} frame of more than ${maxFrameSize} bytes`);
      return false;
    }
    frameBytes += size + 1;
    body = size === 0 ? EMPTY : Buffer.allocUnsafe(size);
    bodyFilled = 0;
    state = size === 0 ? State.Terminator : State.FixedBody;
    return true;
  }

  function run(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n && !failed) {
      switch (state) {
        case State.Idle: {
          const b = chunk[i]!;
          if (b === LF) {
            i++;
            onHeartbeat?.();
          } else if (b === CR) {
            i++;
            state = State.IdleCR;
          } else {
            startFrame();
            state = State.Command;
          }
          break;
        }
        case State.IdleCR:
          if (chunk[i] !== LF) return fail('E_PROTOCOL', 'CR not followed by LF between frames');
          i++;
          state = State.Idle;
          onHeartbeat?.();
          break;
        case State.Command: {
          // Checked byte by byte, so garbage is refused at its first byte rather than at the line limit.
          const start = i;
          for (; i < n; i++) {
            const b = chunk[i]!;
            if (b >= UPPER_A && b <= UPPER_Z) continue;
            if (b === LF || b === CR) break;
            return fail('E_PROTOCOL', `invalid byte 0x${b.toString(16).padStart(2, '0')} in a command`);
          }
          if (i > start) command += chunk.toString('latin1', start, i);
          if (command.length > maxHeaderLine) return fail('E_FRAME_TOO_LARGE', `command line longer than ${maxHeaderLine} bytes`);
          if (i === n) break;
          const b = chunk[i++];
          frameBytes += command.length + 1;
          if (b === CR) {
            state = State.CommandCR;
          } else {
            state = State.Header;
          }
          break;
        }
        case State.CommandCR:
          if (chunk[i] !== LF) return fail('E_PROTOCOL', 'CR not followed by LF after the command');
          i++;
          frameBytes++;
          state = State.Header;
          break;
        case State.Header: {
          const eol = chunk.indexOf(LF, i);
          const end = eol < 0 ? n : eol;
          const take = end - i;
          // The limits count what this line holds so far, so a line without end cannot grow memory.
          if (lineBytes + take > maxHeaderLine + 1) return fail('E_FRAME_TOO_LARGE', `header line longer than ${maxHeaderLine} bytes`);
          if (frameBytes + take + 1 > maxFrameSize) return fail('E_FRAME_TOO_LARGE', `${command} frame of more than ${maxFrameSize} bytes`);
          frameBytes += take;
          if (eol < 0) {
            lineParts.push(chunk.subarray(i, n));
            lineBytes += take;
            i = n;
            break;
          }
          frameBytes++;
          // The line without its EOL (LF or CR LF), decoded once it is whole.
          let text: string;
          let bytes: number;
          if (lineParts.length === 0) {
            const end = eol > i && chunk[eol - 1] === CR ? eol - 1 : eol;
            bytes = end - i;
            text = bytes === 0 ? '' : chunk.toString('utf8', i, end);
          } else {
            const line = Buffer.concat([...lineParts, chunk.subarray(i, eol)]);
            bytes = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
            text = line.toString('utf8', 0, bytes);
            lineParts = [];
          }
          lineBytes = 0;
          i = eol + 1;
          if (bytes > maxHeaderLine) return fail('E_FRAME_TOO_LARGE', `header line longer than ${maxHeaderLine} bytes`);
          headerLine(text);
          break;
        }
        case State.FixedBody: {
          const take = Math.min(n - i, body.length - bodyFilled);
          chunk.copy(body, bodyFilled, i, i + take);
          bodyFilled += take;
          i += take;
          if (bodyFilled === body.length) state = State.Terminator;
          break;
        }
        case State.Terminator:
          if (chunk[i] !== NUL) return fail('E_PROTOCOL', `${command} frame body longer than its content-length`);
          i++;
          emit(body);
          break;
        case State.ScanBody: {
          const nul = chunk.indexOf(NUL, i);
          const end = nul < 0 ? n : nul;
          const take = end - i;
          if (frameBytes + bodyBytes + take + 1 > maxFrameSize) return fail('E_FRAME_TOO_LARGE', `${command} frame of more than ${maxFrameSize} bytes`);
          if (take > 0) {
            // Copied: a subarray would pin the whole socket chunk for as long as the message lives.
            bodyParts.push(Buffer.from(chunk.subarray(i, end)));
            bodyBytes += take;
          }
          if (nul < 0) {
            i = n;
            break;
          }
          i = nul + 1;
          const frameBody = bodyParts.length === 0 ? EMPTY : bodyParts.length === 1 ? bodyParts[0]! : Buffer.concat(bodyParts, bodyBytes);
          emit(frameBody);
          break;
        }
      }
    }
  }

  return {
    push(chunk: Buffer): void {
      if (failed) return;
      try {
        run(chunk);
      } catch (error) {
        // Only a bug in this file (or a throwing onFrame) gets here; the socket handler must still not throw.
        if (!failed) {
          failed = true;
          onError(new OutboxError('E_PROTOCOL', `parser failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
        }
      }
    },
    get buffered(): number {
      return lineBytes + bodyBytes + (state === State.FixedBody || state === State.Terminator ? body.length : 0) + command.length;
    },
    get failed(): boolean {
      return failed;
    },
  };
}
