/**
 * Turn an API error body of any shape into one readable line. The API documents no
 * error schema (docs/api-trouble.md): NestJS sends
 * `{statusCode, message: string | string[], error}`, others `{error: {message}}` or
 * `{code}`; proxies send HTML; some 422s send nothing.
 */

const MAX_MESSAGE_CHARS = 300;

/** HTTP reason phrases for the statuses the API documents, plus common proxy ones. */
const STATUS_TEXT: Record<number, string> = {
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? `HTTP ${status}`;
}

function pickMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim() === '' ? undefined : body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const obj = body as Record<string, unknown>;
  const message = obj.message;
  if (typeof message === 'string' && message.trim() !== '') return message;
  if (Array.isArray(message)) {
    const parts = message.filter((m): m is string => typeof m === 'string' && m.trim() !== '');
    if (parts.length > 0) return parts.join('; ');
  }
  const error = obj.error;
  if (error !== null && typeof error === 'object') {
    const nested = pickMessage(error);
    if (nested !== undefined) return nested;
  }
  if (typeof error === 'string' && error.trim() !== '') return error;
  const code = obj.code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return undefined;
}

/** Strip tags from an HTML page and keep its title or first text. */
function fromHtml(text: string): string | undefined {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
  if (title !== undefined && title !== '') return title;
  const stripped = text
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return stripped === '' ? undefined : stripped;
}

/**
 * `404 Not Found: Contact not found` — status, reason and the API's own message when
 * it has one. Never longer than one line of ~300 characters.
 */
export function describeHttpError(
  status: number,
  rawBody: string,
  contentType = '',
  redact: (text: string) => string = (text) => text,
): string {
  let message: string | undefined;
  const trimmed = rawBody.trim();
  if (trimmed !== '') {
    if (trimmed.startsWith('{') || trimmed.startsWith('[') || contentType.includes('json')) {
      try {
        message = pickMessage(JSON.parse(trimmed));
      } catch {
        message = trimmed;
      }
    } else if (trimmed.startsWith('<') || contentType.includes('html')) {
      message = fromHtml(trimmed);
    } else {
      message = trimmed;
    }
  }
  // Redirects are not followed (a PUT with the key must not go where a 30x points):
  // say so, or "301 Moved Permanently" reads like an answer about the contact.
  const head =
    status >= 300 && status < 400
      ? `${status} ${statusText(status)} (redirects are not followed)`
      : `${status} ${statusText(status)}`;
  if (message === undefined) return head;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: errors must print as one safe line
  let clean = redact(message.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim());
  // Hidden before the cut (a key cut in two would survive as a prefix), and again
  // after it: the redactor also hides a key prefix left at the cut edge.
  if (clean.length > MAX_MESSAGE_CHARS) clean = redact(`${clean.slice(0, MAX_MESSAGE_CHARS - 1)}…`);
  if (clean === '' || clean.toLowerCase() === statusText(status).toLowerCase()) return head;
  return `${head}: ${clean}`;
}
