/**
 * What must not reach a terminal raw: C0 controls except tab and newline (ESC starts
 * colour and cursor sequences, CR rewrites the line, BS erases), DEL, C1 controls
 * (U+009B is a one-character CSI), the line and paragraph separators, and the
 * bidirectional overrides and isolates that reorder how a line reads.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Make text safe to print on a terminal: control characters (ESC sequences, CR,
 * backspace...) from a CSV cell or an API answer are shown escaped as `\uXXXX`,
 * never replayed. Tab and newline are kept: callers print multi-line text through it.
 */
export function safeText(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
