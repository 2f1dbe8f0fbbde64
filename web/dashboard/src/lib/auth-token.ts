// The gateway's access token for the routes that change state (POST /api/train,
// /api/jobs/{id}/cancel, /api/serve; web/API.md "Security and limits"). A gateway serving the
// network needs `Authorization: Bearer <token>` on them: when one answers 401 or 403, the user
// is asked for the token (the contents of gateway.token_file), it is kept in this browser's
// localStorage, and the call is made once more with it. A loopback gateway without a token
// never asks.
import { ApiError, isApiError } from '@/lib/api-client';

/** localStorage key of the token. */
export const TOKEN_STORAGE_KEY = 'digitpipe.gateway_token';

/** What the user is told when asked for the token. */
export const TOKEN_PROMPT =
  'This gateway needs its access token (the contents of gateway.token_file) to train, cancel or ' +
  'serve models. It will be kept in this browser (localStorage) and sent with those requests only.';

/** Asks the user for a token; null when they decline. */
export type TokenPrompt = (message: string, rejected: boolean) => Promise<string | null>;

let prompter: TokenPrompt = async (message) => {
  // The browser's own small dialog; tests and other shells install their own.
  if (typeof window === 'undefined' || typeof window.prompt !== 'function') return null;
  return window.prompt(message);
};

/** Replaces the way the user is asked (tests; a custom dialog). Returns the previous one. */
export function setTokenPrompt(prompt: TokenPrompt): TokenPrompt {
  const previous = prompter;
  prompter = prompt;
  return previous;
}

export function storedToken(): string | null {
  try {
    const token = window.localStorage.getItem(TOKEN_STORAGE_KEY);
    return token && token.trim() ? token.trim() : null;
  } catch {
    return null; // storage disabled: the token is asked for again
  }
}

export function storeToken(token: string | null): void {
  try {
    if (token) window.localStorage.setItem(TOKEN_STORAGE_KEY, token.trim());
    else window.localStorage.removeItem(TOKEN_STORAGE_KEY);
  } catch {
    // storage disabled: nothing kept
  }
}

/** `Authorization` header for the stored token, or none. */
export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function needsToken(error: unknown): error is ApiError {
  return isApiError(error) && (error.status === 401 || error.status === 403);
}

/**
 * Runs `call` with the stored token's header; on 401/403 asks for a token, stores it and runs
 * `call` once more. Rethrows the gateway's error when the user declines (a wrong token is
 * forgotten, so the next attempt asks again).
 */
export async function withToken<T>(call: (headers: Record<string, string>) => Promise<T>): Promise<T> {
  try {
    return await call(authHeaders());
  } catch (error) {
    if (!needsToken(error)) throw error;
    const rejected = error.status === 403;
    if (rejected) storeToken(null);
    const token = (await prompter(TOKEN_PROMPT, rejected))?.trim();
    if (!token) throw error;
    storeToken(token);
    try {
      return await call({ Authorization: `Bearer ${token}` });
    } catch (retryError) {
      if (needsToken(retryError)) storeToken(null);
      throw retryError;
    }
  }
}
