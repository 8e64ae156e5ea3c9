/**
 * Strict UTF-8: the row stream's decoder, and the helper both passes use to name the
 * line of the first byte that is not UTF-8.
 */
import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import {
  detectUtf16,
  endsInsideCharacterError,
  notUtf8Error,
  nulError,
  utf16Error,
} from './input-errors.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Decodes bytes as strict UTF-8 and refuses what is not text, naming the line.
 * csv-parse would otherwise turn bad bytes into U+FFFD silently and we would send
 * mangled names to the API.
 */
export class StrictUtf8Decoder extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  private line = 1;
  private first = true;

  constructor(private readonly file: string) {
    super({ readableObjectMode: false, decodeStrings: true, encoding: 'utf8' });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.first) {
      this.first = false;
      const utf16 = detectUtf16(chunk);
      if (utf16 !== undefined) {
        callback(utf16Error(this.file, utf16));
        return;
      }
    }
    const nul = chunk.indexOf(0);
    if (nul !== -1) {
      callback(nulError(this.file, this.line + countNewlines(chunk, 0, nul)));
      return;
    }
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch (cause) {
      callback(notUtf8Error(this.file, this.line + firstBadUtf8Line(chunk), cause));
      return;
    }
    this.line += countNewlines(chunk, 0, chunk.length);
    callback(null, text);
  }

  override _flush(callback: TransformCallback): void {
    try {
      const rest = this.decoder.decode();
      callback(null, rest === '' ? undefined : rest);
    } catch (cause) {
      callback(endsInsideCharacterError(this.file, 'utf-8', this.line, cause));
    }
  }
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let n = 0;
  let i = buf.indexOf(LF, from);
  while (i !== -1 && i < to) {
    n++;
    i = buf.indexOf(LF, i + 1);
  }
  return n;
}

/**
 * Line breaks in `chunk` before the line holding the first byte sequence that is not
 * UTF-8 (0 when unsure). Breaks are counted as the pre-check's scanner counts them.
 */
export function firstBadUtf8Line(chunk: Buffer, crLineEnds = false): number {
  let start = 0;
  let line = 0;
  for (let i = 0; i <= chunk.length; i++) {
    const b = i < chunk.length ? chunk[i] : LF;
    if (!(b === LF || (crLineEnds && b === CR))) continue;
    if (!isUtf8(chunk.subarray(start, i))) return line;
    if (!(b === LF && crLineEnds && chunk[i - 1] === CR)) line++;
    start = i + 1;
  }
  return 0;
}
