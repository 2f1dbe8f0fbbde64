import { act, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { WORKERS_REFRESH_MS, WorkersPanel } from '@/features/workers/components/workers-panel';
import { callsTo, jsonResponse, mockFetch } from '@/testing/fetch-mock';
import { renderWithProviders } from '@/testing/render';

const reply = (workers: number) => ({
  services: [
    {
      name: 'digitpipe.infer',
      workers,
      idle: workers,
      busy: 0,
      queued: 0,
      in_flight: 0,
      state: 'ready',
      detail: 'model 116ced25 loaded',
    },
    { name: 'digitpipe.train', workers: 1, idle: 0, busy: 1, queued: 2, in_flight: 1, state: 'degraded', detail: 'slow' },
  ],
  updated: '2026-11-24T15:01:03Z',
});

describe('WorkersPanel', () => {
  it('shows one row per service with its counts, state and detail', async () => {
    mockFetch({ 'GET /api/workers': () => jsonResponse(reply(2)) });
    renderWithProviders(<WorkersPanel />);
    const table = await screen.findByTestId('workers-table');
    const rows = within(table).getAllByTestId('worker-row');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent('digitpipe.infer');
    expect(rows[0]).toHaveTextContent('model 116ced25 loaded');
    expect(rows[1]).toHaveAttribute('data-state', 'degraded');
    expect(within(rows[1]!).getByText('degraded')).toBeInTheDocument();
  });

  it('refreshes every 3 s and on workers.changed events', async () => {
    vi.useFakeTimers();
    let workers = 1;
    const fetchMock = mockFetch({ 'GET /api/workers': () => jsonResponse(reply(workers)) });
    const { bus } = renderWithProviders(<WorkersPanel />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(callsTo(fetchMock, 'GET', '/api/workers')).toHaveLength(1);

    await act(() => vi.advanceTimersByTimeAsync(WORKERS_REFRESH_MS));
    expect(callsTo(fetchMock, 'GET', '/api/workers')).toHaveLength(2);

    workers = 3;
    await act(async () => {
      bus.publish(
        [{ seq: 5, time: '', topic: 'workers.changed', data: { service: 'digitpipe.infer', workers: 3, previous: 1 } }],
        { backlog: false },
      );
      await vi.advanceTimersByTimeAsync(0);
    });
    expect(callsTo(fetchMock, 'GET', '/api/workers')).toHaveLength(3);
    expect(screen.getAllByTestId('worker-row')[0]).toHaveTextContent('3');
  });
});
