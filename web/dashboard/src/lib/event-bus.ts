// Fan-out of the gateway's live events to the features that subscribe by topic. The one
// long-polling loop (src/hooks/use-events.ts) publishes here; nothing else fetches events.

import type { EventTopic, GatewayEvent } from '@/types/api';

/** Pseudo-topic published when the gateway reports `gap`: subscribers reload from the routes. */
export const GAP_TOPIC = 'events.gap';
export type GapTopic = typeof GAP_TOPIC;

export interface EventMeta {
  /**
   * True for events that were already buffered when the dashboard connected (the first answer,
   * after=0) or that are replayed to a late subscriber: history, not news.
   */
  backlog: boolean;
}

export type EventsStatus = 'connecting' | 'live' | 'retrying';

type Listener = (event: GatewayEvent, meta: EventMeta) => void;

interface Subscription {
  topics: ReadonlySet<string>;
  listener: Listener;
  onGap: (() => void) | null;
}

/** How many past events are kept for subscribers that mount later (the gateway keeps 1000). */
export const HISTORY_LIMIT = 1000;

export class EventBus {
  private readonly subscriptions = new Set<Subscription>();
  private history: GatewayEvent[] = [];
  private status: EventsStatus = 'connecting';
  private readonly statusListeners = new Set<() => void>();

  /** Delivers events in order to the subscribers of their topics, and remembers them. */
  publish(events: readonly GatewayEvent[], meta: EventMeta): void {
    if (events.length === 0) return;
    this.history = this.history.concat(events).slice(-HISTORY_LIMIT);
    for (const event of events) {
      for (const subscription of [...this.subscriptions]) {
        if (subscription.topics.has(event.topic)) subscription.listener(event, meta);
      }
    }
  }

  /** Tells subscribers that asked for GAP_TOPIC to reload their state. */
  gap(): void {
    for (const subscription of [...this.subscriptions]) subscription.onGap?.();
  }

  /**
   * Subscribes to `topics` (GAP_TOPIC included means `onGap` is called on a gap). With `replay`,
   * the remembered events of those topics are delivered first, marked as backlog.
   */
  subscribe(
    topics: readonly (EventTopic | GapTopic)[],
    listener: Listener,
    options: { replay?: boolean; onGap?: () => void } = {},
  ): () => void {
    const subscription: Subscription = {
      topics: new Set(topics),
      listener,
      onGap: topics.includes(GAP_TOPIC) ? (options.onGap ?? null) : null,
    };
    if (options.replay) {
      for (const event of this.history) {
        if (subscription.topics.has(event.topic)) listener(event, { backlog: true });
      }
    }
    this.subscriptions.add(subscription);
    return () => {
      this.subscriptions.delete(subscription);
    };
  }

  getStatus = (): EventsStatus => this.status;

  setStatus(status: EventsStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const listener of [...this.statusListeners]) listener();
  }

  onStatus = (listener: () => void): (() => void) => {
    this.statusListeners.add(listener);
    return () => {
      this.statusListeners.delete(listener);
    };
  };
}
