/**
 * The incremental STOMP 1.2 frame parser: a byte-level state machine fed socket chunks as they come.
 *
 * - EOLs (LF or CR LF) between frames are heart-beats.
 * - Header lines are decoded as UTF-8 only once complete, so a character split across chunks is intact.
 * - Bodies are bytes: with `content-length` they may hold NUL; without it they end at the first NUL.
 * - The first of a repeated header wins; headers are unescaped in one pass, except on CONNECT/CONNECTED.
 * - Limits bound what it buffers: frame size, header count, header-line length.
 *
 * A frame over a limit is not fatal: the broker would only redeliver it on the next connection, for ever.
 * The rest of it is skipped without being buffered — header lines within the limits are still read, for
 * the few headers needed to settle it (`KEPT_WHEN_DISCARDED`), longer ones are skipped unread — up to its
 * end (its `content-length` bytes and NUL, else its first NUL), and it is reported to `onDiscarded` with an
 * `E_FRAME_TOO_LARGE` reason; parsing goes on with the next frame.
 *
 * It never throws: input that is not STOMP 1.2 is reported once to `onError` (an `OutboxError` with
 * `E_PROTOCOL`) and the parser stops; later chunks are ignored. Two size errors are fatal too, as
 * `E_FRAME_TOO_LARGE`: a command line over the limit (there is no frame to settle) and a `content-length`
 * header line over it (the frame's end cannot be found).
 *
 * @example
 * const parser = createParser({
 *   onFrame: (f) => console.log(f.command),
 *   onDiscarded: (d) => console.warn(d.reason.message, d.headers.ack),
 *   onError: (e) => socket.destroy(e),
 * });
 * socket.on('data', parser.push);
 */
import { OutboxError } from '../errors.js';
import { unescapeHeader } from './escape.js';
import { CR, LF, NUL, UPPER_A, UPPER_Z, isUnescapedCommand } from './octets.js';
import { DEFAULT_LIMITS, KEPT_WHEN_DISCARDED, overLimits, type ParserLimits } from './limits.js';
import type { DiscardedFrame, Frame } from './types.js';

export interface ParserOptions extends ParserLimits {
  onFrame: (frame: Frame) => void;
  /** A frame over a limit was skipped; the parser carries on with the next one. */
  onDiscarded: (frame: DiscardedFrame) => void;
  onHeartbeat?: () => void;
  /**
   * Fatal: the parser has stopped. `frame` is given when a frame's headers were all read before its body
   * broke the syntax (a `content-length` that does not end the body): enough to settle a MESSAGE by its
   * ack id before the connection goes, since the broker would otherwise deliver it again, and again.
   */
  onError: (error: OutboxError, frame?: Pick<Frame, 'command' | 'headers'>) => void;
}

export interface Parser {
  /** Feeds bytes; frames are emitted synchronously, in order. */
  push(chunk: Buffer): void;
  /** Bytes held for a frame not yet complete (bounded by the limits). */
  readonly buffered: number;
  /** True once an error stopped it. */
  readonly failed: boolean;
}

const EMPTY = Buffer.alloc(0);
/** How a `content-length` header line starts on the wire (the name has nothing to escape). */
const CONTENT_LENGTH_PREFIX = Buffer.from('content-length:', 'latin1');

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
  /** A frame over a limit: the rest of a header line too long to read, up to its LF. */
  SkipLine: 8,
  /** A frame over a limit: the rest of its `content-length` body. */
  SkipFixedBody: 9,
  /** A frame over a limit, without content-length: up to the first NUL. */
  SkipScanBody: 10,
} as const;
type State = (typeof State)[keyof typeof State];

export function createParser(options: ParserOptions): Parser {
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_LIMITS.maxFrameSize;
  const maxHeaders = options.maxHeaders ?? DEFAULT_LIMITS.maxHeaders;
  const maxHeaderLine = options.maxHeaderLine ?? DEFAULT_LIMITS.maxHeaderLine;
  const limits = { maxFrameSize, maxHeaders, maxHeaderLine };
  const { onFrame, onDiscarded, onHeartbeat, onError } = options;

  let state: State = State.Idle;
  let failed = false;
  // The frame being read.
  let command = '';
  let headers: Record<string, string> = {};
  let headerCount = 0;
  // The frame's size so far: a fixed body and its NUL count once announced, a scanned body only at its end (until
  // then it is bodyBytes). Skipped bytes count too: a discarded frame's reason gives its whole size.
  let frameBytes = 0;
  // A header line split across chunks.
  let lineParts: Buffer[] = [];
  let lineBytes = 0;
  // The body: fixed (preallocated to content-length) or scanned (parts up to a NUL).
  let body: Buffer = EMPTY;
  let bodyFilled = 0;
  let bodyParts: Buffer[] = [];
  let bodyBytes = 0;
  // A frame over a limit: from the first limit broken to its end, nothing more is buffered than one header line.
  let discarding = false;
  /** The longest header line over maxHeaderLine, for the reason. */
  let longestLine = 0;
  /** Bytes of a content-length body still to skip. */
  let skipLeft = 0;
  // A header line being skipped: its length so far, whether its last byte was CR, how much of
  // CONTENT_LENGTH_PREFIX it starts with (-1: it does not).
  let skipBytes = 0;
  let skipCR = false;
  let prefixMatched = 0;

  function fail(code: 'E_PROTOCOL' | 'E_FRAME_TOO_LARGE', message: string, frame?: Pick<Frame, 'command' | 'headers'>): void {
    failed = true;
    lineParts = [];
    bodyParts = [];
    body = EMPTY;
    onError(new OutboxError(code, message), frame);
  }

  function startFrame(): void {
    command = '';
    headers = {};
    headerCount = 0;
    frameBytes = 0;
    // Never handed out, so they can be emptied in place rather than reallocated per frame.
    lineParts.length = 0;
    lineBytes = 0;
    discarding = false;
    longestLine = 0;
  }

  function emit(frameBody: Buffer): void {
    if (discarding) return emitDiscarded();
    const frame: Frame = { command, headers, body: frameBody };
    state = State.Idle;
    startFrame();
    body = EMPTY;
    bodyParts.length = 0;
    bodyBytes = 0;
    onFrame(frame);
  }

  function emitDiscarded(): void {
    const reason = overLimits({ command, bytes: frameBytes, headers: headerCount, longestLine }, limits);
    const discarded: DiscardedFrame = { command, headers, reason };
    state = State.Idle;
    startFrame();
    onDiscarded(discarded);
  }

  /** From here on the frame is only skipped: a body read so far is dropped. */
  function startDiscard(): void {
    discarding = true;
    if (bodyParts.length > 0) bodyParts = [];
    bodyBytes = 0;
  }

  /** A complete header line (without its EOL). Returns false when it failed. */
  function headerLine(line: string): boolean {
    if (line.length === 0) return endOfHeaders();
    if (++headerCount > maxHeaders && !discarding) startDiscard();
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
    if (discarding && !KEPT_WHEN_DISCARDED.has(name)) return true;
    if (!Object.hasOwn(headers, name)) {
      // A plain object, yet a header named __proto__ must stay a header.
      if (name === '__proto__') Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
      else headers[name] = value;
    }
    return true;
  }

  /** Advances the match of a skipped line's first bytes against CONTENT_LENGTH_PREFIX. */
  function matchPrefix(bytes: Buffer, from: number, to: number): void {
    for (let k = from; k < to && prefixMatched >= 0 && prefixMatched < CONTENT_LENGTH_PREFIX.length; k++) {
      prefixMatched = bytes[k] === CONTENT_LENGTH_PREFIX[prefixMatched] ? prefixMatched + 1 : -1;
    }
  }

  /** A header line too long to read has ended; `bytes` is its length without the EOL. */
  function skippedLine(bytes: number): void {
    headerCount++;
    if (bytes > longestLine) longestLine = bytes;
    if (!discarding) startDiscard();
    // Only the first content-length counts; without it, the frame's end is a guess at the first NUL.
    if (prefixMatched === CONTENT_LENGTH_PREFIX.length && !Object.hasOwn(headers, 'content-length')) {
      fail('E_FRAME_TOO_LARGE', `${command} frame has a content-length header line of ${bytes} bytes, longer than ${maxHeaderLine} bytes: its end cannot be found`);
    }
  }

  function endOfHeaders(): boolean {
    const length = headers['content-length'];
    if (length === undefined) {
      state = discarding ? State.SkipScanBody : State.ScanBody;
      return true;
    }
    if (!/^\d{1,15}$/.test(length)) {
      fail('E_PROTOCOL', `${command} frame has an invalid content-length`);
      return false;
    }
    const size = Number(length);
    // Checked before anything is allocated: a frame announcing too much is skipped, never read.
    if (!discarding && frameBytes + size + 1 > maxFrameSize) startDiscard();
    frameBytes += size + 1;
    if (discarding) {
      skipLeft = size;
      state = size === 0 ? State.Terminator : State.SkipFixedBody;
      return true;
    }
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
          if (lineBytes + take > maxHeaderLine + 1) {
            // Too long to read: skipped from here to its LF, only its length and first bytes noted.
            skipBytes = lineBytes;
            skipCR = false;
            prefixMatched = 0;
            for (const part of lineParts) {
              matchPrefix(part, 0, part.length);
              skipCR = part[part.length - 1] === CR;
            }
            lineParts = [];
            lineBytes = 0;
            state = State.SkipLine;
            break;
          }
          if (!discarding && frameBytes + take + 1 > maxFrameSize) startDiscard();
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
            if (bytes > maxHeaderLine) {
              prefixMatched = 0;
              matchPrefix(chunk, i, end);
              i = eol + 1;
              skippedLine(bytes);
              break;
            }
            text = bytes === 0 ? '' : chunk.toString('utf8', i, end);
          } else {
            const line = Buffer.concat([...lineParts, chunk.subarray(i, eol)]);
            bytes = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
            lineParts = [];
            lineBytes = 0;
            if (bytes > maxHeaderLine) {
              prefixMatched = 0;
              matchPrefix(line, 0, bytes);
              i = eol + 1;
              skippedLine(bytes);
              break;
            }
            text = line.toString('utf8', 0, bytes);
          }
          i = eol + 1;
          headerLine(text);
          break;
        }
        case State.SkipLine: {
          const eol = chunk.indexOf(LF, i);
          const end = eol < 0 ? n : eol;
          matchPrefix(chunk, i, end);
          if (end > i) skipCR = chunk[end - 1] === CR;
          skipBytes += end - i;
          frameBytes += end - i;
          if (eol < 0) {
            i = n;
            break;
          }
          frameBytes++;
          i = eol + 1;
          state = State.Header;
          skippedLine(skipCR ? skipBytes - 1 : skipBytes);
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
        case State.SkipFixedBody: {
          const take = Math.min(n - i, skipLeft);
          skipLeft -= take;
          i += take;
          if (skipLeft === 0) state = State.Terminator;
          break;
        }
        case State.Terminator:
          if (chunk[i] !== NUL) {
            return fail('E_PROTOCOL', `${command} frame body does not end where its content-length (${headers['content-length']}) says: no NUL there`, { command, headers });
          }
          i++;
          emit(body);
          break;
        case State.ScanBody: {
          const nul = chunk.indexOf(NUL, i);
          const end = nul < 0 ? n : nul;
          const take = end - i;
          if (frameBytes + bodyBytes + take + 1 > maxFrameSize) {
            // Skipped from here; what was read of the body counts towards the frame's size, then is dropped.
            frameBytes += bodyBytes;
            startDiscard();
            state = State.SkipScanBody;
            break;
          }
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
        case State.SkipScanBody: {
          const nul = chunk.indexOf(NUL, i);
          if (nul < 0) {
            frameBytes += n - i;
            i = n;
            break;
          }
          frameBytes += nul - i + 1;
          i = nul + 1;
          emit(EMPTY);
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
        // Only a bug in this file (or a throwing callback) gets here; the socket handler must still not throw.
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
