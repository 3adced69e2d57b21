/**
 * Header value encoding of STOMP 1.2 ("Value Encoding"): `\r` `\n` `\c` `\\` and nothing else.
 * Both directions are a single pass, so `\\n` decodes to backslash + `n`, never to a newline.
 */

const NEEDS_ESCAPE = /[\\\r\n:]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\r': '\\r', '\n': '\\n', ':': '\\c' };

/** Encodes a header name or value; the common case (nothing to escape) returns the input unchanged. */
export function escapeHeader(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/[\\\r\n:]/g, (c) => ESCAPES[c]!);
}

/** Decodes a header name or value; `undefined` when it holds an undefined escape (a fatal protocol error). */
export function unescapeHeader(text: string): string | undefined {
  let at = text.indexOf('\\');
  if (at < 0) return text;
  let out = '';
  let from = 0;
  while (at >= 0) {
    out += text.slice(from, at);
    switch (text.charCodeAt(at + 1)) {
      case 0x72: out += '\r'; break; // \r
      case 0x6e: out += '\n'; break; // \n
      case 0x63: out += ':'; break; // \c
      case 0x5c: out += '\\'; break; // \\
      default: return undefined; // \t, a trailing backslash, …
    }
    from = at + 2;
    at = text.indexOf('\\', from);
  }
  return out + text.slice(from);
}
