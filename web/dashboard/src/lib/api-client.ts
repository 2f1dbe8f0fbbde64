// The one HTTP client of the dashboard: fetch, JSON in and out, a timeout through an
// AbortController, and every failure turned into an ApiError carrying the gateway's status, code
// and message (web/API.md, "Errors").

import type { ApiErrorBody } from '@/types/api';

/** Codes the client itself gives to failures that never reached an HTTP status. */
export type ClientErrorCode = 'timeout' | 'network' | 'aborted' | 'bad_response';

export class ApiError extends Error {
  /** HTTP status, or 0 when no response came (timeout, network, aborted). */
  readonly status: number;
  /** The gateway's `error.code`, `http_<status>` for a non-JSON error, or a ClientErrorCode. */
  readonly code: string;
  /** Seconds from a `Retry-After` header, when there was one. */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}

/** True for a request that its caller aborted (unmount, newer request): not worth showing. */
export function isAbortError(value: unknown): boolean {
  return isApiError(value) && value.code === 'aborted';
}

/** A readable one-liner for a notification. */
export function describeError(error: unknown): string {
  if (isApiError(error)) {
    if (error.status > 0) return `${error.message} (HTTP ${error.status}, ${error.code})`;
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export const DEFAULT_TIMEOUT_MS = 15_000;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body (sent with Content-Type: application/json). */
  json?: unknown;
  /** A raw body: FormData (multipart, the browser sets the boundary) or a Blob. */
  body?: FormData | Blob;
  /** Caller's signal (unmount, superseded request). */
  signal?: AbortSignal;
  /** Milliseconds before the request is abandoned with ApiError code `timeout`. */
  timeoutMs?: number;
  /** Extra request headers (Authorization for the routes that change state). */
  headers?: Record<string, string>;
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path;
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const error = (value as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

function parseRetryAfter(response: Response): number | null {
  const raw = response.headers.get('Retry-After');
  if (raw === null) return null;
  const seconds = Number(raw);
  return Number.isFinite(seconds) ? seconds : null;
}

async function errorFromResponse(response: Response): Promise<ApiError> {
  const retryAfter = parseRetryAfter(response);
  let text = '';
  try {
    text = await response.text();
  } catch {
    // The body could not be read: fall back to the status line below.
  }
  if (text) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (isErrorBody(parsed)) {
        return new ApiError(
          response.status,
          String(parsed.error.code || `http_${response.status}`),
          parsed.error.message,
          retryAfter,
        );
      }
    } catch {
      // Not JSON (a proxy's HTML page, plain text): described below.
    }
  }
  const snippet = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 160);
  const statusText = response.statusText || 'request failed';
  const message = snippet ? `${statusText}: ${snippet}` : statusText;
  return new ApiError(response.status, `http_${response.status}`, message, retryAfter);
}

/**
 * Sends one request and returns the parsed JSON body. Throws ApiError for an HTTP error status,
 * a non-JSON success body, a timeout, a network failure or an abort by the caller.
 */
export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = 'GET', query, json, body, signal, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
  const extraHeaders = options.headers ?? {};
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onCallerAbort = () => controller.abort();
  if (signal) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', onCallerAbort, { once: true });
  }

  const headers: Record<string, string> = { Accept: 'application/json', ...extraHeaders };
  let requestBody: BodyInit | undefined;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    requestBody = JSON.stringify(json);
  } else if (body !== undefined) {
    // No Content-Type: fetch sets multipart's boundary, or a Blob's own type.
    requestBody = body;
  }

  try {
    let response: Response;
    try {
      response = await fetch(buildUrl(path, query), {
        method,
        headers,
        body: requestBody,
        signal: controller.signal,
        credentials: 'same-origin',
      });
    } catch (error) {
      if (timedOut) throw new ApiError(0, 'timeout', `No answer from ${path} within ${timeoutMs} ms`);
      if (controller.signal.aborted) throw new ApiError(0, 'aborted', `Request to ${path} aborted`);
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, 'network', `Cannot reach the gateway (${reason})`);
    }

    if (!response.ok) throw await errorFromResponse(response);

    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (timedOut) throw new ApiError(0, 'timeout', `No answer from ${path} within ${timeoutMs} ms`);
      if (controller.signal.aborted) throw new ApiError(0, 'aborted', `Request to ${path} aborted`);
      throw new ApiError(response.status, 'network', `Reply from ${path} was cut off`);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.status, 'bad_response', `Reply from ${path} is not JSON`);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onCallerAbort);
  }
}

export const api = {
  get: <T>(path: string, options: Omit<RequestOptions, 'method' | 'json' | 'body'> = {}) =>
    apiRequest<T>(path, { ...options, method: 'GET' }),
  post: <T>(path: string, options: Omit<RequestOptions, 'method'> = {}) =>
    apiRequest<T>(path, { ...options, method: 'POST' }),
};
