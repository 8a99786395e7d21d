/**
 * `multipart/related` bodies (RFC 2387) as WADO-RS returns them: parts split at the boundary the
 * Content-Type names, each with its own headers. Robust to a preamble, LF-only line ends, quoted or unquoted
 * boundaries, and transport padding after a delimiter; a body that stops before its closing delimiter is
 * refused as truncated, naming how many parts were complete.
 */
import { InputError } from '../../../../shared/src/errors.js';

/** One part: its headers (lower-case names) and its body (a view of the input). */
export interface MultipartPart {
  readonly headers: ReadonlyMap<string, string>;
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** The media type and parameters of a Content-Type header, names lower-cased, quotes removed. */
export function parseContentType(header: string): { type: string; params: Map<string, string> } {
  const [typePart, ...rest] = splitParams(header);
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    let value = p.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set(p.slice(0, eq).trim().toLowerCase(), value);
  }
  return { type: (typePart ?? '').trim().toLowerCase(), params };
}

/** Splits at `;` outside double quotes. */
function splitParams(header: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < header.length; i++) {
    const ch = header[i] as string;
    if (ch === '"' && header[i - 1] !== '\\') quoted = !quoted;
    if (ch === ';' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength), from);
}

function startsWith(hay: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > hay.length) return false;
  for (let i = 0; i < needle.length; i++) if (hay[at + i] !== needle[i]) return false;
  return true;
}

/** End of the line starting at `at` (index of the LF, or -1). */
function lineEnd(body: Uint8Array, at: number): number {
  for (let i = at; i < body.length; i++) if (body[i] === 0x0a) return i;
  return -1;
}

/**
 * Splits a multipart body. Throws {@link InputError} `TESSERA_INPUT_MULTIPART` when the Content-Type is not
 * multipart or has no boundary, when no delimiter is found, when a part's headers are cut off, or when the
 * closing delimiter is missing (a truncated body). `source` names the request in messages.
 */
export function parseMultipart(body: Uint8Array, contentTypeHeader: string, source: string): MultipartPart[] {
  const ct = parseContentType(contentTypeHeader);
  const boundary = ct.params.get('boundary');
  if (!ct.type.startsWith('multipart/') || boundary === undefined || boundary === '' || boundary.length > 200) {
    throw new InputError('TESSERA_INPUT_MULTIPART', `${source}: response is not multipart with a boundary (Content-Type ${ct.type || 'missing'})`, { source });
  }
  const dash = enc.encode(`--${boundary}`);
  // The first delimiter may open the body (no preceding CRLF); later ones follow a line end.
  let at = indexOf(body, dash, 0);
  if (at !== 0 && at > 0) {
    // A preamble: the delimiter must start a line.
    if (body[at - 1] !== 0x0a) at = indexOf(body, enc.encode(`\n--${boundary}`), 0) + 1;
  }
  if (at < 0) throw new InputError('TESSERA_INPUT_MULTIPART', `${source}: no multipart boundary in the body`, { source });
  const parts: MultipartPart[] = [];
  const delimiter = enc.encode(`\n--${boundary}`);
  for (;;) {
    const afterDash = at + dash.length;
    if (body[afterDash] === 0x2d && body[afterDash + 1] === 0x2d) return parts; // closing delimiter
    const eol = lineEnd(body, afterDash);
    if (eol < 0) throw truncated(source, parts.length);
    // Headers up to an empty line.
    const headers = new Map<string, string>();
    let line = eol + 1;
    for (;;) {
      const end = lineEnd(body, line);
      if (end < 0) throw truncated(source, parts.length);
      const text = dec.decode(body.subarray(line, end)).replace(/\r$/, '');
      line = end + 1;
      if (text === '') break;
      const colon = text.indexOf(':');
      if (colon > 0) headers.set(text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim());
    }
    const length = Number(headers.get('content-length') ?? Number.NaN);
    let next = -1;
    let bodyEnd = -1;
    if (Number.isInteger(length) && length >= 0) {
      // A declared length: the delimiter must follow it (binary data may hold anything, even the boundary).
      if (line + length > body.length) throw truncated(source, parts.length);
      const after = body[line + length] === 0x0d ? line + length + 1 : line + length;
      if (startsWith(body, delimiter, after)) {
        next = after;
        bodyEnd = line + length;
      }
    }
    if (next < 0) {
      next = indexOf(body, delimiter, line);
      if (next < 0) throw truncated(source, parts.length);
      bodyEnd = body[next - 1] === 0x0d ? next - 1 : next;
      if (Number.isInteger(length) && length !== bodyEnd - line) {
        throw new InputError('TESSERA_INPUT_MULTIPART', `${source}: part ${parts.length + 1} declares ${length} bytes but holds ${bodyEnd - line}`, { source });
      }
    }
    parts.push({ headers, contentType: parseContentType(headers.get('content-type') ?? '').type, body: body.subarray(line, bodyEnd) });
    at = next + 1;
  }
}

function truncated(source: string, complete: number): InputError {
  return new InputError('TESSERA_INPUT_MULTIPART', `${source}: multipart body is truncated (no closing delimiter after ${complete} complete part(s))`, { source, parts: complete });
}
