/** A tiny HTTP client for the mock server tests: real requests over 127.0.0.1. */
import { request } from 'undici';
import type { MockServer } from '../../../src/mock-server/index.js';

export const KEY = 'test-key';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

export interface SendOptions {
  method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** An object is sent as JSON; a string as it is. */
  body?: unknown;
  /** null sends no apiKey header. @default KEY */
  apiKey?: string | null;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** Send one request to `path` (already encoded) and read the whole answer. */
export async function send(
  server: MockServer,
  path: string,
  options: SendOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const apiKey = options.apiKey === undefined ? KEY : options.apiKey;
  if (apiKey !== null) headers.apiKey = apiKey;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(`${server.url}${path}`, {
    method: options.method ?? (body === undefined ? 'GET' : 'PUT'),
    headers,
    body,
    // An AbortSignal, because undici's own timeouts tick coarsely (about a second).
    signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.statusCode, headers: res.headers, body: parsed, text };
}

/** PUT a JSON body to a contact (the id is encoded as one path segment). */
export function put(
  server: MockServer,
  id: string,
  body: unknown,
  options: SendOptions = {},
): Promise<Answer> {
  return send(server, `/public/contacts/${encodeURIComponent(id)}`, {
    ...options,
    method: 'PUT',
    body,
  });
}

export function get(server: MockServer, id: string, options: SendOptions = {}): Promise<Answer> {
  return send(server, `/public/contacts/${encodeURIComponent(id)}`, { ...options, method: 'GET' });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** POST a JSON body to `/public/contacts` (one contact) or `/public/contacts/batch`. */
export function post(
  server: MockServer,
  path: '/public/contacts' | '/public/contacts/batch',
  body: unknown,
  options: SendOptions = {},
): Promise<Answer> {
  return send(server, path, { ...options, method: 'POST', body });
}
