import { vi } from 'vitest';

/** A JSON Response as the gateway would send it. */
export function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

export function errorResponse(status: number, code: string, message: string): Response {
  return jsonResponse({ error: { code, message } }, status);
}

type Route = (url: URL, init: RequestInit | undefined) => Response | Promise<Response>;

/**
 * Stubs global fetch with `routes` keyed by "METHOD /path" (query ignored); an unknown route is
 * a 404 in the gateway's error shape. Returns the mock to inspect calls.
 */
export function mockFetch(routes: Record<string, Route>) {
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input instanceof Request ? input.url : input), 'http://localhost');
    const method = (init?.method ?? 'GET').toUpperCase();
    const route = routes[`${method} ${url.pathname}`];
    if (!route) return errorResponse(404, 'not_found', `no route ${method} ${url.pathname}`);
    return route(url, init);
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** The calls of a fetch mock to `method path`, as [URL, init] pairs. */
export function callsTo(fn: ReturnType<typeof mockFetch>, method: string, path: string) {
  return fn.mock.calls
    .map(([input, init]) => [new URL(String(input), 'http://localhost'), init] as const)
    .filter(([url, init]) => url.pathname === path && (init?.method ?? 'GET').toUpperCase() === method);
}
