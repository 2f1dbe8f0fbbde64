import { afterEach, describe, expect, it, vi } from 'vitest';

import { ApiError, api, apiRequest, buildUrl, describeError, isAbortError } from '@/lib/api-client';
import { errorResponse, jsonResponse } from '@/testing/fetch-mock';

function stubFetch(impl: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>) {
  const fn = vi.fn(impl);
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** A fetch that never answers but rejects like the browser when its signal aborts. */
function hangingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  void input;
  return new Promise((_, reject) => {
    init?.signal?.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError')));
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('apiRequest', () => {
  it('returns the parsed JSON of a 200 and sends GET with query parameters', async () => {
    const fetchMock = stubFetch(async () => jsonResponse({ model: 'abc', samples: [] }));
    const reply = await api.get<{ model: string }>('/api/sample_predictions', { query: { n: 12, skip: undefined } });
    expect(reply).toEqual({ model: 'abc', samples: [] });
    const [url, init] = fetchMock.mock.calls[0] ?? [];
    expect(url).toBe('/api/sample_predictions?n=12');
    expect(init?.method).toBe('GET');
  });

  it('posts JSON with a JSON content type', async () => {
    const fetchMock = stubFetch(async () => jsonResponse({ found: false }));
    await api.post('/api/predict', { json: { image: 'data:image/png;base64,AAAA' } });
    const init = fetchMock.mock.calls[0]?.[1];
    expect(init?.method).toBe('POST');
    expect((init?.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(init?.body))).toEqual({ image: 'data:image/png;base64,AAAA' });
  });

  it('leaves the content type of a FormData body to the browser (multipart boundary)', async () => {
    const fetchMock = stubFetch(async () => jsonResponse({ found: false }));
    const form = new FormData();
    form.append('file', new File(['x'], 'a.png', { type: 'image/png' }));
    await api.post('/api/predict', { body: form });
    const init = fetchMock.mock.calls[0]?.[1];
    expect(init?.body).toBe(form);
    expect((init?.headers as Record<string, string>)['Content-Type']).toBeUndefined();
  });

  it('turns the gateway error body into an ApiError with status, code and message', async () => {
    stubFetch(async () => errorResponse(400, 'invalid_argument', 'image: not a PNG or JPEG (first bytes 47 49 46 38)'));
    const error = await apiRequest('/api/predict', { method: 'POST', json: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 400,
      code: 'invalid_argument',
      message: 'image: not a PNG or JPEG (first bytes 47 49 46 38)',
    });
    expect(describeError(error)).toBe('image: not a PNG or JPEG (first bytes 47 49 46 38) (HTTP 400, invalid_argument)');
  });

  it('keeps Retry-After of a 503', async () => {
    stubFetch(async () =>
      jsonResponse({ error: { code: 'unavailable', message: 'no live worker for digitpipe.infer' } }, 503, {
        'Retry-After': '1',
      }),
    );
    const error = await api.get('/readyz').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, code: 'unavailable', retryAfter: 1 });
  });

  it('describes a non-JSON error by status and a readable snippet', async () => {
    stubFetch(
      async () =>
        new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', {
          status: 502,
          statusText: 'Bad Gateway',
          headers: { 'Content-Type': 'text/html' },
        }),
    );
    const error = await api.get('/api/workers').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 502, code: 'http_502' });
    expect((error as ApiError).message).toBe('Bad Gateway: 502 Bad Gateway');
  });

  it('rejects a 200 whose body is not JSON', async () => {
    stubFetch(async () => new Response('ok', { status: 200 }));
    const error = await api.get('/api/workers').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 200, code: 'bad_response' });
  });

  it('gives up after the timeout with ApiError code timeout', async () => {
    vi.useFakeTimers();
    const fetchMock = stubFetch(hangingFetch);
    const pending = api.get('/api/model_info', { timeoutMs: 500 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(499);
    expect(fetchMock.mock.calls[0]?.[1]?.signal?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const error = await pending;
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 0, code: 'timeout' });
    expect(isAbortError(error)).toBe(false);
  });

  it("reports the caller's abort as code aborted", async () => {
    stubFetch(hangingFetch);
    const controller = new AbortController();
    const pending = api.get('/api/events', { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    const error = await pending;
    expect(isAbortError(error)).toBe(true);
  });

  it('reports a network failure as code network', async () => {
    stubFetch(async () => {
      throw new TypeError('Failed to fetch');
    });
    const error = await api.get('/healthz').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 0, code: 'network' });
    expect((error as ApiError).message).toContain('Failed to fetch');
  });
});

describe('buildUrl', () => {
  it('appends encoded parameters and skips undefined ones', () => {
    expect(buildUrl('/api/events', { after: 41, timeout_ms: 25000 })).toBe('/api/events?after=41&timeout_ms=25000');
    expect(buildUrl('/x?a=1', { b: 'c d' })).toBe('/x?a=1&b=c+d');
    expect(buildUrl('/x', { a: undefined })).toBe('/x');
  });
});
