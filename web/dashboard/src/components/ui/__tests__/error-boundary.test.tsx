import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { ErrorBoundary } from '@/components/ui/error-boundary';
import { NotificationsProvider, useNotify } from '@/components/ui/notifications';
import { ApiError } from '@/lib/api-client';

function Boom(): never {
  throw new Error('kaboom');
}

describe('ErrorBoundary', () => {
  it('shows the failure of one view instead of a blank page', () => {
    // React rethrows render errors in development; keep them out of the test output.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const silence = (event: ErrorEvent) => event.preventDefault();
    window.addEventListener('error', silence);
    render(
      <ErrorBoundary name="Train">
        <Boom />
      </ErrorBoundary>,
    );
    expect(screen.getByRole('alert')).toHaveTextContent('The Train view failed.');
    expect(screen.getByRole('alert')).toHaveTextContent('kaboom');
    window.removeEventListener('error', silence);
  });
});

describe('notifications', () => {
  function Trigger() {
    const { notifyError } = useNotify();
    return (
      <button type="button" onClick={() => notifyError('Prediction failed', new ApiError(503, 'unavailable', 'no live worker', 1), 'k')}>
        fail
      </button>
    );
  }

  it("shows the API's message in a dismissable alert, one per key", async () => {
    render(
      <NotificationsProvider>
        <Trigger />
      </NotificationsProvider>,
    );
    await userEvent.click(screen.getByText('fail'));
    await userEvent.click(screen.getByText('fail'));
    const alerts = screen.getAllByRole('alert');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toHaveTextContent('Prediction failed');
    expect(alerts[0]).toHaveTextContent('no live worker (HTTP 503, unavailable) Retry in 1 s.');
    await userEvent.click(screen.getByRole('button', { name: /Dismiss/ }));
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
