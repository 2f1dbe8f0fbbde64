import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';

import { describeError, isApiError } from '@/lib/api-client';

import './notifications.css';

export type NoticeKind = 'error' | 'info' | 'success';

export interface Notification {
  id: number;
  /** Notifications with the same key replace each other (a poller failing every 3 s). */
  key?: string;
  kind: NoticeKind;
  title: string;
  message: string;
}

export interface NotifyInput {
  key?: string;
  kind?: NoticeKind;
  title: string;
  message: string;
}

interface NotificationsApi {
  notify: (input: NotifyInput) => void;
  /** An error notification from anything thrown (ApiError shows the gateway's message). */
  notifyError: (title: string, error: unknown, key?: string) => void;
  dismiss: (idOrKey: number | string) => void;
}

const NotificationsContext = createContext<NotificationsApi | null>(null);

const MAX_VISIBLE = 5;
const INFO_TIMEOUT_MS = 6000;

export function NotificationsProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<Notification[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((idOrKey: number | string) => {
    setItems((list) => list.filter((n) => (typeof idOrKey === 'number' ? n.id !== idOrKey : n.key !== idOrKey)));
  }, []);

  const notify = useCallback((input: NotifyInput) => {
    const item: Notification = { id: nextId.current++, kind: input.kind ?? 'error', ...input };
    setItems((list) => {
      const kept = input.key ? list.filter((n) => n.key !== input.key) : list;
      return [...kept, item].slice(-MAX_VISIBLE);
    });
  }, []);

  const notifyError = useCallback(
    (title: string, error: unknown, key?: string) => {
      const message = describeError(error);
      const retry = isApiError(error) && error.retryAfter !== null ? ` Retry in ${error.retryAfter} s.` : '';
      notify({ kind: 'error', title, message: message + retry, ...(key ? { key } : {}) });
    },
    [notify],
  );

  const value = useMemo(() => ({ notify, notifyError, dismiss }), [notify, notifyError, dismiss]);

  return (
    <NotificationsContext.Provider value={value}>
      {children}
      <NotificationList items={items} onDismiss={dismiss} />
    </NotificationsContext.Provider>
  );
}

export function useNotify(): NotificationsApi {
  const value = useContext(NotificationsContext);
  if (!value) throw new Error('useNotify needs a NotificationsProvider');
  return value;
}

function NotificationItem({ item, onDismiss }: { item: Notification; onDismiss: (id: number) => void }) {
  useEffect(() => {
    if (item.kind === 'error') return undefined;
    const timer = setTimeout(() => onDismiss(item.id), INFO_TIMEOUT_MS);
    return () => clearTimeout(timer);
  }, [item.id, item.kind, onDismiss]);

  return (
    <div
      className={`toast toast--${item.kind}`}
      role={item.kind === 'error' ? 'alert' : 'status'}
      data-testid="notification"
    >
      <div className="toast__text">
        <strong className="toast__title">{item.title}</strong>
        <span className="toast__message">{item.message}</span>
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label={`Dismiss: ${item.title}`}
        onClick={() => onDismiss(item.id)}
      >
        ×
      </button>
    </div>
  );
}

function NotificationList({ items, onDismiss }: { items: Notification[]; onDismiss: (id: number) => void }) {
  return (
    <div className="toasts" aria-live="polite">
      {items.map((item) => (
        <NotificationItem key={item.id} item={item} onDismiss={onDismiss} />
      ))}
    </div>
  );
}
