/**
 * Mapping templates: `"{First Name} {Last Name}"` builds one field from several
 * columns. Parsed once when the mapping is read; rendered once per row. Pure.
 */

/** A parsed template: literal text and `{Header}` placeholders, in order. */
export type TemplatePart = { literal: string } | { column: string };

/**
 * Parse a template. `{Header}` is the trimmed cell of that column (the header as in the
 * file, matched after trimming); `{{` and `}}` are literal braces.
 *
 * @returns the parts, or a one-line reason the template is not usable.
 */
export function parseTemplate(text: string): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    const next = text[i + 1];
    if ((ch === '{' && next === '{') || (ch === '}' && next === '}')) {
      literal += ch;
      i += 2;
    } else if (ch === '}') {
      return `unmatched "}" at character ${i + 1} (write "}}" for a literal brace)`;
    } else if (ch === '{') {
      const end = text.indexOf('}', i + 1);
      if (end === -1) return `unclosed "{" at character ${i + 1}`;
      const column = text.slice(i + 1, end).trim();
      if (column === '') return `empty "{}" at character ${i + 1}: name a column`;
      if (column.includes('{')) return `"{" inside a placeholder at character ${i + 1}`;
      if (literal !== '') parts.push({ literal });
      literal = '';
      parts.push({ column });
      i = end + 1;
    } else {
      literal += ch;
      i++;
    }
  }
  if (literal !== '') parts.push({ literal });
  if (!parts.some((part) => 'column' in part)) {
    return 'has no "{column}" placeholder: a fixed text is not a mapping';
  }
  return parts;
}

/** The distinct columns a template reads, in order of first use. */
export function templateColumns(parts: readonly TemplatePart[]): string[] {
  const columns: string[] = [];
  for (const part of parts) {
    if ('column' in part && !columns.includes(part.column)) columns.push(part.column);
  }
  return columns;
}

/**
 * Render a template with `cellOf(column)` (already trimmed). Empty parts collapse: a
 * text part is kept only when the placeholders beside it have values (text before the
 * first placeholder needs the first one, text after the last needs the last one), and
 * when empty placeholders sit between two values, the text right after the earlier
 * value joins them. So `"{Last}, {First}"` gives `"Smith"` without a first name,
 * `"{First} {Middle} {Last}"` gives `"Ada Lovelace"` without a middle one,
 * `"{Name} ({Company})"` gives `"Ada"` without a company, and no values at all give
 * `""` (an empty cell, which `--empty` decides about). The result is trimmed.
 */
export function renderTemplate(
  parts: readonly TemplatePart[],
  cellOf: (column: string) => string,
): string {
  let leading = '';
  let trailing = '';
  let out = '';
  /** The text right after the last non-empty value, used if another value comes. */
  let separator = '';
  /** Whether the last placeholder seen had a value (so the next text separates). */
  let afterValue = false;
  let any = false;
  let seenPlaceholder = false;
  for (const part of parts) {
    if ('literal' in part) {
      // Only one text part can follow a placeholder: parseTemplate merges literals.
      if (!seenPlaceholder) leading = part.literal;
      if (afterValue) separator = part.literal;
      trailing = part.literal;
      continue;
    }
    trailing = '';
    const first = !seenPlaceholder;
    seenPlaceholder = true;
    const value = cellOf(part.column);
    if (value === '') {
      if (first) leading = '';
      afterValue = false;
      continue;
    }
    out += any ? separator + value : value;
    any = true;
    afterValue = true;
    separator = '';
  }
  return any ? (leading + out + (afterValue ? trailing : '')).trim() : '';
}
