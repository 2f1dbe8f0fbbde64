import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { ModelPanel } from '@/features/model/components/model-panel';
import { callsTo, errorResponse, jsonResponse, mockFetch } from '@/testing/fetch-mock';
import { modelInfo } from '@/testing/fixtures';
import { renderWithProviders } from '@/testing/render';

const loadedEvent = (seq: number) => ({
  seq,
  time: '2026-11-24T15:01:04Z',
  topic: 'model.loaded' as const,
  data: { sha256: 'ffff0000', model: 'm', run: 'r' },
});

describe('ModelPanel', () => {
  it('shows accuracy, facts, per-class table, confusion matrix and curves', async () => {
    mockFetch({ 'GET /api/model_info': () => jsonResponse(modelInfo()) });
    renderWithProviders(<ModelPanel />);
    expect(await screen.findByTestId('model-accuracy')).toHaveTextContent('99.67%');
    expect(screen.getByTestId('model-parameters')).toHaveTextContent('1,234,567');
    expect(screen.getByTestId('model-size')).toHaveTextContent('2.26 MiB');
    expect(screen.getByTestId('model-sha')).toHaveTextContent('116ced25');
    expect(screen.getByTestId('model-architecture')).toHaveTextContent('best');
    expect(screen.getByTestId('model-dataset')).toHaveTextContent('mnist');
    expect(screen.getByTestId('class-metrics').querySelectorAll('tbody tr')).toHaveLength(10);
    expect(screen.getByTestId('confusion-matrix')).toBeInTheDocument();
    expect(screen.getByTestId('model-curves')).toBeInTheDocument();
  });

  it('offers the shipped model back only while another model serves, and asks the gateway for it', async () => {
    const fetchMock = mockFetch({
      'GET /api/model_info': () => jsonResponse(modelInfo({ model: 'model.safetensors', run: 'quick-1' })),
      'POST /api/serve': () => jsonResponse({ published: { run: 'best-1', path: '/m', sha256: 'aa', dataset: 'mnist', architecture: 'best', test_accuracy: 0.9967 } }, 202),
    });
    renderWithProviders(<ModelPanel />);
    fireEvent.click(await screen.findByTestId('model-restore'));
    await waitFor(() => expect(callsTo(fetchMock, 'POST', '/api/serve')).toHaveLength(1));
    const [, init] = callsTo(fetchMock, 'POST', '/api/serve')[0]!;
    expect(JSON.parse(String(init?.body))).toEqual({ model: 'digitpipe-mnist.safetensors' });
  });

  it('has no restore button while the shipped model serves', async () => {
    mockFetch({ 'GET /api/model_info': () => jsonResponse(modelInfo()) });
    renderWithProviders(<ModelPanel />);
    await screen.findByTestId('model-accuracy');
    expect(screen.queryByTestId('model-restore')).toBeNull();
  });

  it('says what is missing when the model file carries no evaluation or curves', async () => {
    mockFetch({
      'GET /api/model_info': () => jsonResponse(modelInfo({ metrics: null, evaluation: null, curves: null })),
    });
    renderWithProviders(<ModelPanel />);
    expect(await screen.findByText('This model file carries no test evaluation.')).toBeInTheDocument();
    expect(screen.getByText('This model file carries no training curves.')).toBeInTheDocument();
    expect(screen.getByTestId('model-accuracy')).toHaveTextContent('—');
  });

  it('reloads when a model.loaded event arrives (not for backlog)', async () => {
    let accuracy = 0.9967;
    const fetchMock = mockFetch({
      'GET /api/model_info': () =>
        jsonResponse(modelInfo({ evaluation: { ...modelInfo().evaluation!, accuracy } })),
    });
    const { bus } = renderWithProviders(<ModelPanel />);
    expect(await screen.findByTestId('model-accuracy')).toHaveTextContent('99.67%');

    act(() => bus.publish([loadedEvent(1)], { backlog: true }));
    expect(callsTo(fetchMock, 'GET', '/api/model_info')).toHaveLength(1);

    accuracy = 0.9981;
    act(() => bus.publish([loadedEvent(2)], { backlog: false }));
    await waitFor(() => expect(screen.getByTestId('model-accuracy')).toHaveTextContent('99.81%'));
    expect(callsTo(fetchMock, 'GET', '/api/model_info')).toHaveLength(2);
  });

  it("shows the gateway's error message in a notification", async () => {
    mockFetch({ 'GET /api/model_info': () => errorResponse(409, 'failed_precondition', 'no model loaded') });
    renderWithProviders(<ModelPanel />);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Could not load model information');
    expect(alert).toHaveTextContent('no model loaded');
  });
});
