/** The octets STOMP 1.2 frames are delimited by (spec, "Augmented BNF"). */
export const NUL = 0x00;
export const LF = 0x0a;
export const CR = 0x0d;
/** Commands are upper-case ASCII letters. */
export const UPPER_A = 0x41;
export const UPPER_Z = 0x5a;

/** One EOL: what a heart-beat is on the wire. */
export const HEARTBEAT = '\n';

/** Frames whose headers are never escaped, for compatibility with STOMP 1.0 (spec, "Value Encoding"). */
export const isUnescapedCommand = (command: string): boolean => command === 'CONNECT' || command === 'CONNECTED' || command === 'STOMP';
