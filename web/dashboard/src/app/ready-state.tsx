import { useCallback } from 'react';

import { useDocumentVisible } from '@/hooks/use-document-visible';
import { useEvents, useEventsStatus } from '@/hooks/use-events';
import { useInterval } from '@/hooks/use-interval';
import { useQuery } from '@/hooks/use-query';
import { api, describeError, isApiError } from '@/lib/api-client';
import { shortSha } from '@/lib/format';
import type { ReadyResponse } from '@/types/api';

export const READY_REFRESH_MS = 10_000;

type Readiness = { ready: true; model: string | null } | { ready: false; reason: string };

/** GET /readyz: 200 ready with the model's sha; 503 (or anything else) not ready, with why. */
export async function getReadiness(signal: AbortSignal): Promise<Readiness> {
  try {
    const reply = await api.get<ReadyResponse>('/readyz', { signal, timeoutMs: 5000 });
    if (reply.ready) return { ready: true, model: reply.model ?? null };
    return { ready: false, reason: 'the gateway says it is not ready' };
  } catch (error) {
    if (isApiError(error) && error.code === 'aborted') throw error;
    return { ready: false, reason: describeError(error) };
  }
}

/** "Ready · model 116ced25" / "Not ready" in the header, with the live-events state. */
export function ReadyState() {
  const visible = useDocumentVisible();
  const { data, reload } = useQuery(getReadiness);
  const status = useEventsStatus();
  useInterval(reload, visible ? READY_REFRESH_MS : null);
  const onEvent = useCallback(
    (_event: unknown, meta: { backlog: boolean }) => {
      if (!meta.backlog) reload();
    },
    [reload],
  );
  useEvents(['model.loaded', 'workers.changed'], onEvent);

  let text = 'Checking…';
  let state = 'unknown';
  let title = '';
  if (data?.ready) {
    text = data.model ? `Ready · model ${shortSha(data.model)}` : 'Ready';
    state = 'ready';
    title = data.model ?? '';
  } else if (data) {
    text = 'Not ready';
    state = 'not-ready';
    title = data.reason;
  }

  return (
    <div className="header-status">
      <span
        className={`ready ready--${state}`}
        data-testid="ready-state"
        data-ready={state === 'ready' ? 'true' : 'false'}
        title={title}
        role="status"
      >
        <span className="ready__dot" aria-hidden="true" />
        {text}
      </span>
      <span className={`events events--${status}`} data-testid="events-state" title="Live updates from the gateway">
        {status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
      </span>
    </div>
  );
}
