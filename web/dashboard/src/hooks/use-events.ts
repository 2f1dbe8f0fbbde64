// Live events: the ONE long-polling loop over GET /api/events (useEventPolling, run once by the
// app's provider) and the subscription hook the features use (useEvents).

import { createContext, useContext, useEffect, useRef, useSyncExternalStore } from 'react';

import { api } from '@/lib/api-client';
import type { EventBus, EventMeta, EventsStatus, GapTopic } from '@/lib/event-bus';
import type { EventTopic, EventsResponse, GatewayEvent } from '@/types/api';

export interface EventPollingOptions {
  /** How long the gateway may hold a poll open (its `timeout_ms`). */
  timeoutMs?: number;
  /** First backoff after a failure; doubled each time up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

/** 1 s, 2 s, 4 s, 8 s, then 10 s, for the 1st, 2nd, ... consecutive failure. */
export function backoffDelay(failures: number, baseMs = 1000, maxMs = 10_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
}

/**
 * Long-polls /api/events until unmount. The first request (after=0, answered at once) is the
 * backlog: its events are published marked `backlog` and its `next` becomes the cursor, so old
 * progress is never shown as live. Each later answer moves the cursor to its `next`; `gap` tells
 * subscribers to reload; failures back off (1 s, 2 s, ... 10 s) and the cursor is kept.
 */
export function useEventPolling(bus: EventBus, options: EventPollingOptions = {}): void {
  const { timeoutMs = 25_000, baseBackoffMs = 1000, maxBackoffMs = 10_000 } = options;

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });

    async function loop(): Promise<void> {
      let after: number | null = null; // null until the backlog answer has set the cursor
      let failures = 0;
      bus.setStatus('connecting');
      while (!signal.aborted) {
        const backlog = after === null;
        // The backlog request asks for the shortest wait (1 ms): an empty buffer answers at once.
        const wait = backlog ? 1 : timeoutMs;
        try {
          const reply: EventsResponse = await api.get<EventsResponse>('/api/events', {
            query: { after: after ?? 0, timeout_ms: wait },
            signal,
            timeoutMs: wait + 10_000,
          });
          if (signal.aborted) return;
          failures = 0;
          bus.setStatus('live');
          const events = Array.isArray(reply.events) ? reply.events : [];
          const lastSeq = events.length > 0 ? (events[events.length - 1]?.seq ?? 0) : 0;
          after = typeof reply.next === 'number' ? reply.next : Math.max(after ?? 0, lastSeq);
          if (reply.gap && !backlog) bus.gap();
          bus.publish(events, { backlog });
        } catch {
          if (signal.aborted) return;
          failures += 1;
          bus.setStatus('retrying');
          await sleep(backoffDelay(failures, baseBackoffMs, maxBackoffMs));
        }
      }
    }

    void loop();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [bus, timeoutMs, baseBackoffMs, maxBackoffMs]);
}

export const EventsContext = createContext<EventBus | null>(null);

function useBus(): EventBus {
  const bus = useContext(EventsContext);
  if (!bus) throw new Error('useEvents needs an EventsContext provider (src/app/provider.tsx)');
  return bus;
}

type TopicOf<T extends readonly (EventTopic | GapTopic)[]> = Extract<T[number], EventTopic>;

export interface UseEventsOptions {
  /** Deliver the remembered events of these topics first (as backlog). */
  replay?: boolean;
  /** Called when the gateway reports a gap (requires GAP_TOPIC in topics). */
  onGap?: () => void;
}

/**
 * Calls `handler` for each event of `topics`. The handler may change on every render: the
 * latest one is used, and the subscription itself lasts as long as the component.
 */
export function useEvents<const T extends readonly (EventTopic | GapTopic)[]>(
  topics: T,
  handler: (event: GatewayEvent<TopicOf<T>>, meta: EventMeta) => void,
  options: UseEventsOptions = {},
): void {
  const bus = useBus();
  const handlerRef = useRef(handler);
  const gapRef = useRef(options.onGap);
  handlerRef.current = handler;
  gapRef.current = options.onGap;
  const key = topics.join(',');
  const replay = options.replay ?? false;

  useEffect(() => {
    const list = key.split(',') as (EventTopic | GapTopic)[];
    return bus.subscribe(
      list,
      (event, meta) => handlerRef.current(event as GatewayEvent<TopicOf<T>>, meta),
      { replay, onGap: () => gapRef.current?.() },
    );
  }, [bus, key, replay]);
}

/** The event connection's state, for the header. */
export function useEventsStatus(): EventsStatus {
  const bus = useBus();
  return useSyncExternalStore(bus.onStatus, bus.getStatus, bus.getStatus);
}
