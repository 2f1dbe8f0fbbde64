import type { ReactNode } from 'react';

import { ReadyState } from '@/app/ready-state';
import { TABS, useHashTab, type TabId } from '@/app/routes';
import { ErrorBoundary } from '@/components/ui/error-boundary';
import { TabList, panelId, tabId } from '@/components/ui/tabs';
import { ModelPanel } from '@/features/model/components/model-panel';
import { DrawPanel } from '@/features/predict/components/draw-panel';
import { SamplesPanel } from '@/features/samples/components/samples-panel';
import { TrainPanel } from '@/features/train/components/train-panel';
import { UploadPanel } from '@/features/upload/components/upload-panel';
import { WorkersPanel } from '@/features/workers/components/workers-panel';

const PREFIX = 'main';

const PANELS: Record<TabId, { name: string; render: () => ReactNode }> = {
  draw: { name: 'Draw', render: () => <DrawPanel /> },
  upload: { name: 'Upload', render: () => <UploadPanel /> },
  samples: { name: 'Samples', render: () => <SamplesPanel /> },
  model: { name: 'Model', render: () => <ModelPanel /> },
  train: { name: 'Train', render: () => <TrainPanel /> },
  workers: { name: 'Workers', render: () => <WorkersPanel /> },
};

/** The shell: header with readiness, tabs (hash routed), the active feature in its boundary. */
export function App() {
  const [tab, setTab] = useHashTab();
  const panel = PANELS[tab];
  return (
    <div className="app">
      <a className="skip-link" href={`#${panelId(PREFIX, tab)}`}>
        Skip to content
      </a>
      <header className="app-header">
        <div className="app-header__inner">
          <h1 className="brand">
            <span className="brand__mark" aria-hidden="true">
              7
            </span>
            digitpipe
          </h1>
          <ReadyState />
        </div>
        <nav className="app-nav" aria-label="Sections">
          <TabList tabs={TABS} selected={tab} onSelect={setTab} label="Dashboard sections" idPrefix={PREFIX} />
        </nav>
      </header>
      <main
        className="app-main"
        id={panelId(PREFIX, tab)}
        role="tabpanel"
        aria-labelledby={tabId(PREFIX, tab)}
        tabIndex={-1}
      >
        <ErrorBoundary key={tab} name={panel.name}>
          {panel.render()}
        </ErrorBoundary>
      </main>
    </div>
  );
}
