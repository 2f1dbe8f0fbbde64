import { act, render, renderHook, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { backoffDelay, EventsContext, useEventPolling, useEvents } from '@/hooks/use-events';
import { EventBus, GAP_TOPIC } from '@/lib/event-bus';
import { errorResponse, jsonResponse } from '@/testing/fetch-mock';
import type { EventsResponse, GatewayEvent } from '@/types/api';

const progress = (seq: number, step: number): GatewayEvent => ({
  seq,
  time: '2026-11-24T15:01:03.120Z',
  topic: 'train.progress',
  data: {
    run: 'quick-1',
    epoch: 0,
    epochs: 3,
    step,
    steps: 468,
    loss: 0.5,
    accuracy: 0.8,
    lr: 0.003,
    images_per_second: 6000,
    eta_seconds: 20,
  },
});

const loaded = (seq: number): GatewayEvent => ({
  seq,
  time: '2026-11-24T15:01:04.000Z',
  topic: 'model.loaded',
  data: { sha256: 'abc', model: 'm.safetensors', run: 'quick-1' },
});

type Answer = EventsResponse | Error | Response | 'hang';

/**
 * A fetch for /api/events answering from `answers` in order; when they run out it hangs until
 * aborted (like a long poll with nothing to say).
 */
function scriptedFetch(answers: Answer[]) {
  const signals: AbortSignal[] = [];
  const fn = vi.fn((input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    void input;
    if (init?.signal) signals.push(init.signal);
    const answer = answers.shift() ?? 'hang';
    if (answer === 'hang') {
      return new Promise((_, reject) => {
        init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    }
    if (answer instanceof Error) return Promise.reject(answer);
    if (answer instanceof Response) return Promise.resolve(answer);
    return Promise.resolve(jsonResponse(answer));
  });
  vi.stubGlobal('fetch', fn);
  const queries = () =>
    fn.mock.calls.map(([input]) => {
      const url = new URL(String(input), 'http://localhost');
      return { path: url.pathname, after: url.searchParams.get('after'), timeout: url.searchParams.get('timeout_ms') };
    });
  return { fn, signals, queries };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('backoffDelay', () => {
  it('doubles from 1 s up to 10 s', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n))).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
  });
});

describe('useEventPolling', () => {
  it('treats the first answer as backlog, then follows `next` as the cursor', async () => {
    const { fn, queries } = scriptedFetch([
      { events: [progress(3, 40)], next: 3, gap: false },
      { events: [loaded(4), progress(5, 80)], next: 5, gap: false },
    ]);
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe(['train.progress', 'model.loaded'], (event, meta) =>
      seen.push(`${event.seq}:${event.topic}:${meta.backlog ? 'backlog' : 'live'}`),
    );

    renderHook(() => useEventPolling(bus));
    await vi.waitFor(() => expect(fn).toHaveBeenCalledTimes(3));

    expect(queries()).toEqual([
      { path: '/api/events', after: '0', timeout: '1' },
      { path: '/api/events', after: '3', timeout: '25000' },
      { path: '/api/events', after: '5', timeout: '25000' },
    ]);
    expect(seen).toEqual(['3:train.progress:backlog', '4:model.loaded:live', '5:train.progress:live']);
    expect(bus.getStatus()).toBe('live');
  });

  it('aborts the poll in flight on unmount and polls no more', async () => {
    const { fn, signals } = scriptedFetch([{ events: [], next: 7 }]);
    const bus = new EventBus();
    const { unmount } = renderHook(() => useEventPolling(bus));
    await vi.waitFor(() => expect(fn).toHaveBeenCalledTimes(2));
    expect(signals[1]?.aborted).toBe(false);

    unmount();
    expect(signals[1]?.aborted).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it('backs off 1 s, 2 s, ... after failures, keeps the cursor, and resets after a success', async () => {
    vi.useFakeTimers();
    const { fn, queries } = scriptedFetch([
      { events: [], next: 12 },
      new TypeError('Failed to fetch'),
      errorResponse(500, 'internal', 'boom'),
      { events: [loaded(13)], next: 13 },
      new TypeError('Failed to fetch'),
    ]);
    const bus = new EventBus();
    renderHook(() => useEventPolling(bus));

    await vi.advanceTimersByTimeAsync(0);
    expect(fn).toHaveBeenCalledTimes(2); // backlog, then a poll that fails
    expect(bus.getStatus()).toBe('retrying');

    await vi.advanceTimersByTimeAsync(999);
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(3); // after 1 s; this one answers 500

    await vi.advanceTimersByTimeAsync(1999);
    expect(fn).toHaveBeenCalledTimes(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(5); // after 2 s: success, then at once the next poll (fails)

    await vi.advanceTimersByTimeAsync(999);
    expect(fn).toHaveBeenCalledTimes(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(6); // back to 1 s after the success

    expect(queries().map((q) => q.after)).toEqual(['0', '12', '12', '12', '13', '13']);
  });

  it('reports a gap to subscribers and moves on from the new `next`', async () => {
    const { fn, queries } = scriptedFetch([
      { events: [], next: 10, gap: true }, // a gap in the backlog answer is not news
      { events: [loaded(1500)], next: 1500, gap: true },
    ]);
    const bus = new EventBus();
    const onGap = vi.fn();
    const live = vi.fn();
    bus.subscribe(['model.loaded', GAP_TOPIC], live, { onGap });

    renderHook(() => useEventPolling(bus));
    await vi.waitFor(() => expect(fn).toHaveBeenCalledTimes(3));
    expect(onGap).toHaveBeenCalledTimes(1);
    expect(live).toHaveBeenCalledTimes(1);
    expect(queries()[2]?.after).toBe('1500');
  });
});

describe('useEvents', () => {
  function Listener({ replay, record }: { replay: boolean; record: (entry: string) => void }) {
    useEvents(['model.loaded'], (event, meta) => record(`${event.seq}${meta.backlog ? ' backlog' : ''}`), { replay });
    return <p>listening</p>;
  }

  it('delivers events of its topics, replays remembered ones on request, and unsubscribes on unmount', () => {
    const bus = new EventBus();
    bus.publish([loaded(1), progress(2, 1)], { backlog: true });
    const record = vi.fn();
    const view = render(
      <EventsContext.Provider value={bus}>
        <Listener replay record={record} />
      </EventsContext.Provider>,
    );
    expect(screen.getByText('listening')).toBeInTheDocument();
    expect(record.mock.calls).toEqual([['1 backlog']]);

    act(() => bus.publish([loaded(3), progress(4, 2)], { backlog: false }));
    expect(record.mock.calls).toEqual([['1 backlog'], ['3']]);

    view.unmount();
    bus.publish([loaded(5)], { backlog: false });
    expect(record).toHaveBeenCalledTimes(2);
  });

  it('without replay sees only what comes after it subscribed', () => {
    const bus = new EventBus();
    bus.publish([loaded(1)], { backlog: true });
    const record = vi.fn();
    render(
      <EventsContext.Provider value={bus}>
        <Listener replay={false} record={record} />
      </EventsContext.Provider>,
    );
    expect(record).not.toHaveBeenCalled();
    act(() => bus.publish([loaded(2)], { backlog: false }));
    expect(record.mock.calls).toEqual([['2']]);
  });
});
