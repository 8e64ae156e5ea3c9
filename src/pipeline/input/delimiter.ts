/**
 * The head of the file: the first non-blank line, how lines end, and the delimiter
 * detected from that line.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { decodeLoose, type InputEncoding } from './encoding.js';

const CANDIDATE_DELIMITERS = [',', ';', '\t', '|'] as const;
/** How much of the file is read to find the header line and detect the delimiter. */
const HEAD_BYTES = 64 * 1024;

/**
 * Count delimiter candidates in the header line, outside quotes, and pick the most
 * frequent. A one-column file (just `id`) has none and gets the comma.
 */
export function detectDelimiter(headerLine: string): string {
  let best: string = ',';
  let bestCount = 0;
  for (const candidate of CANDIDATE_DELIMITERS) {
    let count = 0;
    let quoted = false;
    for (const ch of headerLine) {
      if (ch === '"') quoted = !quoted;
      else if (!quoted && ch === candidate) count++;
    }
    if (count > bestCount) {
      best = candidate;
      bestCount = count;
    }
  }
  return best;
}

/** The first non-blank line of the file and how it ends. */
export interface Head {
  /** The first line that is not blank, without its line break ('' if there is none). */
  line: string;
  /**
   * The line ends in a bare CR (old Mac / Excel for Mac 2011 exports): CR alone then
   * ends records. Otherwise only LF and CRLF do, and a stray CR in an unquoted cell
   * stays in the cell, where the cell's check sees it, instead of silently cutting
   * the row in two.
   */
  crLineEnds: boolean;
}

/** Read the first non-blank line (within the first 64 KiB) to detect the delimiter. */
export async function readHead(path: string, encoding: InputEncoding = 'utf-8'): Promise<Head> {
  let handle: FileHandle | undefined;
  let bytes: Buffer;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.allocUnsafe(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    bytes = buffer.subarray(0, bytesRead);
  } finally {
    await handle?.close();
  }
  const head = decodeLoose(bytes, encoding).replace(/^\uFEFF/, '');
  const match = /^[ \t]*[^\r\n \t][^\r\n]*(\r\n|\n|\r(?!\n)|$)/m.exec(head);
  if (match === null) return { line: '', crLineEnds: false };
  const ending = match[1] ?? '';
  return { line: match[0].slice(0, match[0].length - ending.length), crLineEnds: ending === '\r' };
}
