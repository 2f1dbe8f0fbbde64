import { useCallback, useEffect, useRef, useState } from 'react';

import { isAbortError } from '@/lib/api-client';

export interface QueryState<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  /** Fetches again (aborting a request still in flight). */
  reload: () => void;
}

/**
 * Runs `fetcher` on mount and on reload(), keeping the last data while a reload runs. An
 * unmount or a newer reload aborts the request in flight; its outcome is dropped. `onError`
 * sees every other failure (for a notification).
 */
export function useQuery<T>(
  fetcher: (signal: AbortSignal) => Promise<T>,
  options: { onError?: (error: unknown) => void; enabled?: boolean } = {},
): QueryState<T> {
  const { enabled = true } = options;
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(enabled);
  const [generation, setGeneration] = useState(0);
  const fetcherRef = useRef(fetcher);
  const onErrorRef = useRef(options.onError);
  fetcherRef.current = fetcher;
  onErrorRef.current = options.onError;

  useEffect(() => {
    if (!enabled) return undefined;
    const controller = new AbortController();
    setLoading(true);
    fetcherRef.current(controller.signal).then(
      (value) => {
        if (controller.signal.aborted) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (reason: unknown) => {
        if (controller.signal.aborted || isAbortError(reason)) return;
        setError(reason);
        setLoading(false);
        onErrorRef.current?.(reason);
      },
    );
    return () => controller.abort();
  }, [generation, enabled]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload };
}
