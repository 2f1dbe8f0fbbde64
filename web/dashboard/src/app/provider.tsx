import { useState, type ReactNode } from 'react';

import { NotificationsProvider } from '@/components/ui/notifications';
import { EventsContext, useEventPolling, type EventPollingOptions } from '@/hooks/use-events';
import { EventBus } from '@/lib/event-bus';

interface AppProviderProps {
  children: ReactNode;
  /** Tests pass their own bus (and may disable polling). */
  bus?: EventBus;
  polling?: EventPollingOptions | false;
}

function EventPolling({ bus, options }: { bus: EventBus; options: EventPollingOptions }) {
  useEventPolling(bus, options);
  return null;
}

/** Notifications and the one live-events connection, for the whole dashboard. */
export function AppProvider({ children, bus: givenBus, polling = {} }: AppProviderProps) {
  const [bus] = useState(() => givenBus ?? new EventBus());
  return (
    <NotificationsProvider>
      <EventsContext.Provider value={bus}>
        {polling !== false ? <EventPolling bus={bus} options={polling} /> : null}
        {children}
      </EventsContext.Provider>
    </NotificationsProvider>
  );
}
