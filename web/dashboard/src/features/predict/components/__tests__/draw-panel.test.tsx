import { act, fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import { DrawPanel } from '@/features/predict/components/draw-panel';
import { callsTo, jsonResponse, mockFetch } from '@/testing/fetch-mock';
import { blankImage } from '@/testing/fixtures';
import { renderWithProviders } from '@/testing/render';

const seven = {
  found: true,
  digit: 7,
  label: '7',
  confidence: 0.95,
  probabilities: [0, 0, 0, 0, 0, 0, 0.05, 0.95, 0, 0],
  input: blankImage(),
  model: 'abc',
  latency_ms: 2,
};

function drawStroke(canvas: HTMLElement, points: [number, number][]) {
  const [first, ...rest] = points;
  fireEvent.pointerDown(canvas, { pointerId: 1, pointerType: 'mouse', button: 0, clientX: first![0], clientY: first![1] });
  for (const [x, y] of rest) fireEvent.pointerMove(canvas, { pointerId: 1, pointerType: 'mouse', clientX: x, clientY: y });
  fireEvent.pointerUp(canvas, { pointerId: 1, pointerType: 'mouse', clientX: rest.at(-1)![0], clientY: rest.at(-1)![1] });
}

describe('DrawPanel', () => {
  it('sends the drawing as a PNG data URL in JSON and shows the prediction', async () => {
    const fetchMock = mockFetch({ 'POST /api/predict': () => jsonResponse(seven) });
    renderWithProviders(<DrawPanel />);
    const canvas = screen.getByTestId('draw-canvas');
    expect(canvas).toHaveClass('draw-canvas');
    expect(screen.getByTestId('undo-button')).toBeDisabled();

    drawStroke(canvas, [
      [40, 40],
      [120, 40],
      [80, 200],
    ]);
    expect(canvas).toHaveAttribute('data-strokes', '1');
    await waitFor(() => expect(screen.getByTestId('predict-digit')).toHaveTextContent('7'));
    const calls = callsTo(fetchMock, 'POST', '/api/predict');
    expect(calls.length).toBeGreaterThanOrEqual(1);
    const init = calls[0]?.[1];
    expect((init?.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(init?.body))).toEqual({ image: 'data:image/png;base64,iVBORw0KGgo=' });
    expect(HTMLCanvasElement.prototype.toDataURL).toHaveBeenCalledWith('image/png');
  });

  it('undoes strokes and clears with buttons and keyboard shortcuts', async () => {
    mockFetch({ 'POST /api/predict': () => jsonResponse(seven) });
    renderWithProviders(<DrawPanel />);
    const canvas = screen.getByTestId('draw-canvas');
    drawStroke(canvas, [
      [10, 10],
      [50, 50],
    ]);
    drawStroke(canvas, [
      [60, 60],
      [90, 90],
    ]);
    expect(canvas).toHaveAttribute('data-strokes', '2');
    await waitFor(() => expect(screen.getByTestId('predict-digit')).toBeInTheDocument());

    await userEvent.click(screen.getByTestId('undo-button'));
    expect(canvas).toHaveAttribute('data-strokes', '1');

    await userEvent.keyboard('{Control>}z{/Control}');
    expect(canvas).toHaveAttribute('data-strokes', '0');
    expect(screen.queryByTestId('predict-digit')).toBeNull(); // an empty canvas shows no guess

    drawStroke(canvas, [
      [10, 10],
      [50, 50],
    ]);
    await userEvent.keyboard('{Escape}');
    expect(canvas).toHaveAttribute('data-strokes', '0');

    drawStroke(canvas, [
      [10, 10],
      [50, 50],
    ]);
    await userEvent.click(screen.getByTestId('clear-button'));
    expect(canvas).toHaveAttribute('data-strokes', '0');
    expect(screen.getByText(/the prediction updates as you draw/)).toBeInTheDocument();
  });

  it('ignores the right mouse button and a second pointer', () => {
    mockFetch({ 'POST /api/predict': () => jsonResponse(seven) });
    renderWithProviders(<DrawPanel />);
    const canvas = screen.getByTestId('draw-canvas');
    fireEvent.pointerDown(canvas, { pointerId: 1, pointerType: 'mouse', button: 2, clientX: 5, clientY: 5 });
    expect(canvas).toHaveAttribute('data-strokes', '0');
    fireEvent.pointerDown(canvas, { pointerId: 3, pointerType: 'touch', button: 0, clientX: 5, clientY: 5 });
    fireEvent.pointerDown(canvas, { pointerId: 4, pointerType: 'touch', button: 0, clientX: 9, clientY: 9 });
    expect(canvas).toHaveAttribute('data-strokes', '1');
  });

  it('redraws with a real context when there is one', () => {
    const context = {
      setTransform: vi.fn(),
      clearRect: vi.fn(),
      beginPath: vi.fn(),
      moveTo: vi.fn(),
      lineTo: vi.fn(),
      quadraticCurveTo: vi.fn(),
      arc: vi.fn(),
      stroke: vi.fn(),
      fill: vi.fn(),
    };
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(context as unknown as CanvasRenderingContext2D);
    mockFetch({ 'POST /api/predict': () => jsonResponse(seven) });
    renderWithProviders(<DrawPanel />);
    act(() =>
      drawStroke(screen.getByTestId('draw-canvas'), [
        [10, 10],
        [20, 30],
        [40, 50],
      ]),
    );
    expect(context.quadraticCurveTo).toHaveBeenCalled();
    expect(context.stroke).toHaveBeenCalled();
  });
});
