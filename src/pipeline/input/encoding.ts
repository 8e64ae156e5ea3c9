/**
 * The input encodings and their decoders. UTF-8 is decoded strictly (strict-utf8.ts);
 * the others cannot fail on bytes (every byte is a character) except UTF-16, whose
 * decoder is fatal so an odd byte or a lone surrogate stops the file.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { badTextError, endsInsideCharacterError } from './input-errors.js';
import { StrictUtf8Decoder } from './strict-utf8.js';

/** Encodings the input can be read in. */
export const INPUT_ENCODINGS = ['utf-8', 'windows-1252', 'latin1', 'utf-16le'] as const;
export type InputEncoding = (typeof INPUT_ENCODINGS)[number];

/**
 * A decoder for the encodings other than UTF-8. `latin1` is ISO-8859-1 (Node's
 * byte-for-code-point `latin1`): WHATWG's TextDecoder treats the label `latin1` as
 * windows-1252, which would turn 0x80-0x9F into €, ‚, ƒ... instead of C1 controls.
 */
class TextDecodeTransform extends Transform {
  private readonly decoder: InstanceType<typeof TextDecoder> | undefined;

  constructor(
    private readonly file: string,
    private readonly encoding: Exclude<InputEncoding, 'utf-8'>,
  ) {
    super({ readableObjectMode: false, decodeStrings: true, encoding: 'utf8' });
    this.decoder =
      encoding === 'latin1'
        ? undefined
        : new TextDecoder(encoding, { fatal: encoding === 'utf-16le', ignoreBOM: false });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    if (this.decoder === undefined) {
      callback(null, chunk.toString('latin1'));
      return;
    }
    try {
      callback(null, this.decoder.decode(chunk, { stream: true }));
    } catch (cause) {
      callback(badTextError(this.file, this.encoding, cause));
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.decoder === undefined) {
      callback();
      return;
    }
    try {
      const rest = this.decoder.decode();
      callback(null, rest === '' ? undefined : rest);
    } catch (cause) {
      callback(endsInsideCharacterError(this.file, 'utf-16le', undefined, cause));
    }
  }
}

/** The transform that turns the file's bytes into text for the parser. */
export function createDecoder(file: string, encoding: InputEncoding): Transform {
  return encoding === 'utf-8'
    ? new StrictUtf8Decoder(file)
    : new TextDecodeTransform(file, encoding);
}

/** Decode a whole buffer (the head of the file), not strictly: for delimiter detection. */
export function decodeLoose(bytes: Buffer, encoding: InputEncoding): string {
  if (encoding === 'latin1') return bytes.toString('latin1');
  return new TextDecoder(encoding, { ignoreBOM: false }).decode(bytes, { stream: true });
}
