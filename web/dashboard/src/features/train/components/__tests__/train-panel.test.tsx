import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { TrainPanel } from '@/features/train/components/train-panel';
import { callsTo, errorResponse, jsonResponse, mockFetch } from '@/testing/fetch-mock';
import { bestExperiment, job, quickExperiment } from '@/testing/fixtures';
import { renderWithProviders } from '@/testing/render';
import type { GatewayEvent } from '@/types/api';

function routes(extra: Parameters<typeof mockFetch>[0] = {}) {
  return mockFetch({
    'GET /api/experiments': () => jsonResponse({ experiments: [quickExperiment, bestExperiment] }),
    'GET /api/jobs': () => jsonResponse({ jobs: [job()] }),
    ...extra,
  });
}

const progressEvent = (seq: number, run: string, step: number): GatewayEvent => ({
  seq,
  time: '',
  topic: 'train.progress',
  data: { run, epoch: 1, epochs: 3, step, steps: 100, loss: 0.0512, accuracy: 0.981, lr: 0.002, images_per_second: 6000, eta_seconds: 75 },
});

describe('TrainPanel', () => {
  it('builds a form from the settings and starts with only the changed ones as overrides', async () => {
    const running = job({ id: 'quick-2', state: 'running', epochs_done: 0, result: null, test_accuracy: null });
    const fetchMock = routes({ 'POST /api/train': () => jsonResponse({ job: running }, 202) });
    renderWithProviders(<TrainPanel />);

    const select = await screen.findByTestId('train-experiment');
    expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual(['quick', 'best']);
    const epochs = screen.getByLabelText(/training\.epochs/);
    expect(epochs).toHaveAttribute('type', 'number');
    expect(epochs).toHaveValue(3);
    expect(screen.getByLabelText(/augmentation\.enabled/)).toHaveAttribute('type', 'checkbox');

    await userEvent.clear(epochs);
    await userEvent.type(epochs, '1');
    await userEvent.click(screen.getByLabelText(/augmentation\.enabled/));
    expect(screen.getByTestId('train-overrides')).toHaveTextContent('2 settings changed');
    await userEvent.click(screen.getByTestId('train-start'));

    await waitFor(() => expect(callsTo(fetchMock, 'POST', '/api/train')).toHaveLength(1));
    const body = JSON.parse(String(callsTo(fetchMock, 'POST', '/api/train')[0]?.[1]?.body));
    expect(body).toEqual({ experiment: 'quick', overrides: { 'training.epochs': 1, 'augmentation.enabled': true } });
    expect(await screen.findByTestId('train-state')).toHaveTextContent('Running');
    expect(screen.getByTestId('train-start')).toBeDisabled();
  });

  it('sends no overrides for an untouched experiment, whichever is selected', async () => {
    const fetchMock = routes({
      'POST /api/train': () => jsonResponse({ job: job({ id: 'best-1', experiment: 'best', state: 'running' }) }, 202),
    });
    renderWithProviders(<TrainPanel />);
    await userEvent.selectOptions(await screen.findByTestId('train-experiment'), 'best');
    expect(screen.getByLabelText(/training\.epochs/)).toHaveValue(30);
    await userEvent.click(screen.getByTestId('train-start'));
    await waitFor(() => expect(callsTo(fetchMock, 'POST', '/api/train')).toHaveLength(1));
    expect(JSON.parse(String(callsTo(fetchMock, 'POST', '/api/train')[0]?.[1]?.body))).toEqual({ experiment: 'best' });
  });

  it('shows a 409 as a readable notice', async () => {
    routes({ 'POST /api/train': () => errorResponse(409, 'failed_precondition', 'a training run is already in progress: quick-1') });
    renderWithProviders(<TrainPanel />);
    await userEvent.click(await screen.findByTestId('train-start'));
    const notice = await screen.findByTestId('train-notice');
    expect(notice).toHaveAttribute('role', 'alert');
    expect(notice).toHaveTextContent('A training run is already in progress');
    expect(notice).toHaveTextContent('quick-1');
    await userEvent.click(within(notice).getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByTestId('train-notice')).toBeNull();
  });

  it('follows live progress events and cancels the run', async () => {
    const running = job({ id: 'quick-9', state: 'running', epochs_done: 1, result: null, test_accuracy: 0.97 });
    const fetchMock = routes({
      'GET /api/jobs': () => jsonResponse({ jobs: [running, job()] }),
      'GET /api/jobs/quick-9': () => jsonResponse({ ...running, epochs: [] }),
      'POST /api/jobs/quick-9/cancel': () => jsonResponse({ job: running }, 202),
    });
    const { bus } = renderWithProviders(<TrainPanel />);
    expect(await screen.findByTestId('train-state')).toHaveTextContent('Running');

    act(() => bus.publish([progressEvent(10, 'quick-9', 50)], { backlog: false }));
    const bar = screen.getByTestId('train-progress');
    expect(bar).toHaveAttribute('aria-valuenow', '50'); // (1 + 50/100) / 3
    expect(screen.getByTestId('train-loss')).toHaveTextContent('0.0512');
    expect(screen.getByText('1 min 15 s')).toBeInTheDocument();

    await userEvent.click(screen.getByTestId('train-cancel'));
    await waitFor(() => expect(callsTo(fetchMock, 'POST', '/api/jobs/quick-9/cancel')).toHaveLength(1));

    act(() =>
      bus.publish([{ seq: 11, time: '', topic: 'train.cancelled', data: { run: 'quick-9', error: 'cancelled' } }], {
        backlog: false,
      }),
    );
    expect(screen.getByTestId('train-state')).toHaveTextContent('Cancelled');
    expect(screen.queryByTestId('train-cancel')).toBeNull();
    await waitFor(() => expect(callsTo(fetchMock, 'GET', '/api/jobs').length).toBeGreaterThanOrEqual(2));
  });

  it('lists past runs and shows the curves of the one clicked', async () => {
    const fetchMock = routes({
      'GET /api/jobs/quick-20261124-150102': () =>
        jsonResponse({
          ...job(),
          epochs: [0, 1, 2].map((epoch) => ({
            epoch,
            epochs: 3,
            train_loss: 0.5 / (epoch + 1),
            train_accuracy: 0.9,
            test_loss: 0.1,
            test_accuracy: 0.98 + epoch / 1000,
            lr: 0.001,
            images_per_second: 5000,
            elapsed_seconds: 9,
          })),
        }),
    });
    renderWithProviders(<TrainPanel />);
    const rows = await screen.findAllByTestId('job-row');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toHaveTextContent('Finished');
    expect(rows[0]).toHaveTextContent('99.16%');
    await userEvent.click(rows[0]!);
    expect(await screen.findByTestId('job-curves')).toBeInTheDocument();
    expect(callsTo(fetchMock, 'GET', '/api/jobs/quick-20261124-150102')).toHaveLength(1);
  });
});
