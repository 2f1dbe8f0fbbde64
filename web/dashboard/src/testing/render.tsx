import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';

import { AppProvider } from '@/app/provider';
import { EventBus } from '@/lib/event-bus';

/** Renders `ui` inside the app's providers with a bus the test drives (no polling). */
export function renderWithProviders(ui: ReactElement): RenderResult & { bus: EventBus } {
  const bus = new EventBus();
  const result = render(
    <AppProvider bus={bus} polling={false}>
      {ui}
    </AppProvider>,
  );
  return { ...result, bus };
}
