/**
 * Error bodies shaped as NestJS sends them: `{statusCode, message, error}`. The common
 * ones are serialised once, because the fake answers them thousands of times a second.
 */

const STATUS_NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

/** A NestJS HttpException body, serialised. */
export function nestError(statusCode: number, message: string | string[]): string {
  return JSON.stringify({ statusCode, message, error: STATUS_NAMES[statusCode] ?? 'Error' });
}

export const UNAUTHORIZED_BODY = nestError(401, 'Invalid API key');
export const CONTACT_NOT_FOUND_BODY = nestError(404, 'Contact not found');
/** @nestjs/throttler's exact text; it sends no `error` field. */
export const TOO_MANY_REQUESTS_BODY = JSON.stringify({
  statusCode: 429,
  message: 'ThrottlerException: Too Many Requests',
});
export const PAYLOAD_TOO_LARGE_BODY = nestError(413, 'request entity too large');
/** NestJS's default for an unexpected exception: no `error` field either. */
export const INTERNAL_ERROR_BODY = JSON.stringify({
  statusCode: 500,
  message: 'Internal server error',
});

/** What a load balancer in front of the service sends for 502/503: HTML, not JSON. */
export function proxyErrorPage(status: 502 | 503): string {
  const title = status === 502 ? '502 Bad Gateway' : '503 Service Temporarily Unavailable';
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n</body>\r\n</html>\r\n`;
}

/** Express's answer for a route that does not exist, e.g. `Cannot DELETE /public/contacts/1`. */
export function routeNotFound(method: string, path: string): string {
  return nestError(404, `Cannot ${method} ${path}`);
}
