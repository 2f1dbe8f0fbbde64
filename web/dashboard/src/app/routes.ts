import { useCallback, useEffect, useState } from 'react';

export const TABS = [
  { id: 'draw', label: 'Draw' },
  { id: 'upload', label: 'Upload' },
  { id: 'samples', label: 'Samples' },
  { id: 'model', label: 'Model' },
  { id: 'train', label: 'Train' },
  { id: 'workers', label: 'Workers' },
] as const;

export type TabId = (typeof TABS)[number]['id'];

export const DEFAULT_TAB: TabId = 'draw';

/** '#/train' -> 'train'; anything unknown -> the default tab. */
export function tabFromHash(hash: string): TabId {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return TABS.some((t) => t.id === id) ? (id as TabId) : DEFAULT_TAB;
}

export function hashForTab(id: TabId): string {
  return `#/${id}`;
}

/** The tab named by the URL hash (#/draw ...), so a reload or a shared link keeps it. */
export function useHashTab(): [TabId, (id: TabId) => void] {
  const [tab, setTab] = useState<TabId>(() => tabFromHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setTab(tabFromHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const select = useCallback((id: TabId) => {
    if (window.location.hash !== hashForTab(id)) window.location.hash = hashForTab(id);
    setTab(id);
  }, []);
  return [tab, select];
}
