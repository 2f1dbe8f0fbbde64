import { useEffect, useRef } from 'react';

/** Calls `callback` every `ms` milliseconds while `ms` is not null; the latest callback is used. */
export function useInterval(callback: () => void, ms: number | null): void {
  const ref = useRef(callback);
  ref.current = callback;
  useEffect(() => {
    if (ms === null) return undefined;
    const id = setInterval(() => ref.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}
