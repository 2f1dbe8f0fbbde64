import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { App } from '@/app/app';
import { AppProvider } from '@/app/provider';
import { tabFromHash } from '@/app/routes';
import { EventBus } from '@/lib/event-bus';
import { errorResponse, jsonResponse, mockFetch } from '@/testing/fetch-mock';
import { modelInfo } from '@/testing/fixtures';

function renderApp() {
  return render(
    <AppProvider bus={new EventBus()} polling={false}>
      <App />
    </AppProvider>,
  );
}

describe('App shell', () => {
  it('shows the product name, readiness, and Draw by default', async () => {
    mockFetch({ 'GET /readyz': () => jsonResponse({ ready: true, model: '116ced25ffffeeee' }) });
    renderApp();
    expect(screen.getByRole('heading', { name: /digitpipe/ })).toBeInTheDocument();
    expect(screen.getByRole('tab', { name: 'Draw' })).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByTestId('draw-canvas')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('ready-state')).toHaveTextContent('Ready · model 116ced25'));
    expect(screen.getByTestId('ready-state')).toHaveAttribute('data-ready', 'true');
  });

  it('says "Not ready" when /readyz answers 503', async () => {
    mockFetch({ 'GET /readyz': () => errorResponse(503, 'unavailable', 'no infer worker with a model') });
    renderApp();
    await waitFor(() => expect(screen.getByTestId('ready-state')).toHaveTextContent('Not ready'));
    expect(screen.getByTestId('ready-state')).toHaveAttribute('title', expect.stringContaining('no infer worker'));
  });

  it('switches tabs by click and arrow keys, and keeps the tab in the hash', async () => {
    mockFetch({
      'GET /readyz': () => jsonResponse({ ready: true, model: 'abc' }),
      'GET /api/model_info': () => jsonResponse(modelInfo()),
      'GET /api/sample_predictions': () => jsonResponse({ model: 'abc', samples: [] }),
    });
    renderApp();
    await userEvent.click(screen.getByRole('tab', { name: 'Model' }));
    expect(window.location.hash).toBe('#/model');
    expect(screen.getByRole('tab', { name: 'Model' })).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByRole('tab', { name: 'Draw' })).toHaveAttribute('aria-selected', 'false');
    expect(await screen.findByTestId('model-accuracy')).toBeInTheDocument();
    expect(screen.getByRole('tabpanel')).toHaveAttribute('aria-labelledby', screen.getByRole('tab', { name: 'Model' }).id);

    expect(screen.getByRole('tab', { name: 'Model' })).toHaveFocus();
    await userEvent.keyboard('{ArrowLeft}');
    expect(screen.getByRole('tab', { name: 'Samples' })).toHaveFocus();
    expect(screen.getByRole('tab', { name: 'Samples' })).toHaveAttribute('aria-selected', 'true');
    expect(window.location.hash).toBe('#/samples');

    await userEvent.keyboard('{End}');
    expect(screen.getByRole('tab', { name: 'Workers' })).toHaveFocus();
    await userEvent.keyboard('{ArrowRight}');
    expect(screen.getByRole('tab', { name: 'Draw' })).toHaveFocus(); // wraps around
    expect(screen.getAllByRole('tab').filter((t) => t.tabIndex === 0)).toHaveLength(1);
  });

  it('opens the tab named in the hash', () => {
    mockFetch({});
    window.location.hash = '#/upload';
    renderApp();
    expect(screen.getByRole('tab', { name: 'Upload' })).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByTestId('upload-drop')).toBeInTheDocument();
  });

  it('maps hashes to tabs, unknown ones to Draw', () => {
    expect(tabFromHash('#/train')).toBe('train');
    expect(tabFromHash('#workers')).toBe('workers');
    expect(tabFromHash('#/nope')).toBe('draw');
    expect(tabFromHash('')).toBe('draw');
  });
});
