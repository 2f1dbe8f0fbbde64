import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { startTraining } from '@/features/train/api/train-api';
import { ApiError } from '@/lib/api-client';
import { TOKEN_STORAGE_KEY, setTokenPrompt, storedToken, withToken, type TokenPrompt } from '@/lib/auth-token';
import { serveModel } from '@/lib/serve-model';
import { errorResponse, jsonResponse } from '@/testing/fetch-mock';

const TOKEN = 'abcdefghijklmnopqrstuvwxyz0123456789';

function authOf(init: RequestInit | undefined): string | undefined {
  return (init?.headers as Record<string, string> | undefined)?.Authorization;
}

let previousPrompt: TokenPrompt;
let prompt: ReturnType<typeof vi.fn>;

beforeEach(() => {
  window.localStorage.clear();
  prompt = vi.fn(async () => TOKEN);
  previousPrompt = setTokenPrompt(prompt as unknown as TokenPrompt);
});

afterEach(() => {
  setTokenPrompt(previousPrompt);
  vi.unstubAllGlobals();
});

describe('withToken', () => {
  it('asks for the token on 401, keeps it and retries with Authorization: Bearer', async () => {
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) =>
      authOf(init) === `Bearer ${TOKEN}`
        ? jsonResponse({ job: { id: 'quick-1' } }, 202)
        : errorResponse(401, 'unauthenticated', 'needs a token'),
    );
    vi.stubGlobal('fetch', fetchMock);
    const reply = await startTraining('quick', {});
    expect(reply).toEqual({ job: { id: 'quick-1' } });
    expect(prompt).toHaveBeenCalledTimes(1);
    expect(String(prompt.mock.calls[0]?.[0])).toContain('localStorage');
    expect(authOf(fetchMock.mock.calls[0]?.[1])).toBeUndefined();
    expect(authOf(fetchMock.mock.calls[1]?.[1])).toBe(`Bearer ${TOKEN}`);
    expect(window.localStorage.getItem(TOKEN_STORAGE_KEY)).toBe(TOKEN);

    // The next call sends the stored token at once and does not ask again.
    await serveModel({ model: 'digitpipe-mnist.safetensors' });
    expect(authOf(fetchMock.mock.calls[2]?.[1])).toBe(`Bearer ${TOKEN}`);
    expect(prompt).toHaveBeenCalledTimes(1);
  });

  it('forgets a rejected token (403) and asks again, saying it was rejected', async () => {
    window.localStorage.setItem(TOKEN_STORAGE_KEY, 'an-old-wrong-token-0000000000000000');
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) =>
      authOf(init) === `Bearer ${TOKEN}`
        ? jsonResponse({ published: {} }, 202)
        : errorResponse(403, 'permission_denied', 'wrong token'),
    );
    vi.stubGlobal('fetch', fetchMock);
    await serveModel({ run: 'quick-1' });
    expect(prompt).toHaveBeenCalledWith(expect.any(String), true);
    expect(storedToken()).toBe(TOKEN);
  });

  it('rethrows the gateway error when the user declines, and keeps nothing', async () => {
    prompt.mockResolvedValue(null);
    vi.stubGlobal('fetch', vi.fn(async () => errorResponse(401, 'unauthenticated', 'needs a token')));
    await expect(withToken(() => Promise.reject(new ApiError(401, 'unauthenticated', 'x')))).rejects.toMatchObject({
      status: 401,
    });
    await expect(startTraining('quick', {})).rejects.toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(storedToken()).toBeNull();
  });

  it('never asks on other errors or on a gateway without a token', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => errorResponse(409, 'failed_precondition', 'a run is in progress')));
    await expect(startTraining('quick', {})).rejects.toMatchObject({ status: 409 });
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse({ job: { id: 'x' } }, 202)));
    await startTraining('quick', {});
    expect(prompt).not.toHaveBeenCalled();
  });

  it('forgets a token the retry still refuses', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => errorResponse(403, 'permission_denied', 'wrong token')));
    await expect(serveModel({ run: 'quick-1' })).rejects.toMatchObject({ status: 403 });
    expect(storedToken()).toBeNull();
  });
});
