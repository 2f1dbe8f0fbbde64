import { describe, expect, it, vi } from 'vitest';

import { drawStrokes, strokeCommands, toCanvasPoint, type DrawingContext } from '@/features/predict/utils/stroke-path';

describe('strokeCommands', () => {
  it('draws quadratic curves through the midpoints of successive points', () => {
    const commands = strokeCommands([
      { x: 0, y: 0 },
      { x: 10, y: 0 },
      { x: 20, y: 10 },
      { x: 30, y: 10 },
    ]);
    expect(commands).toEqual([
      { op: 'move', x: 0, y: 0 },
      { op: 'line', x: 5, y: 0 },
      { op: 'quad', cx: 10, cy: 0, x: 15, y: 5 },
      { op: 'quad', cx: 20, cy: 10, x: 25, y: 10 },
      { op: 'line', x: 30, y: 10 },
    ]);
  });

  it('makes a tap a dot and two points a line', () => {
    expect(strokeCommands([{ x: 3, y: 4 }])).toEqual([{ op: 'dot', x: 3, y: 4 }]);
    expect(strokeCommands([{ x: 0, y: 0 }, { x: 1, y: 1 }])).toEqual([
      { op: 'move', x: 0, y: 0 },
      { op: 'line', x: 1, y: 1 },
    ]);
    expect(strokeCommands([])).toEqual([]);
  });
});

describe('drawStrokes', () => {
  it('clears to transparent and strokes with round caps at the device scale', () => {
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
      lineWidth: 1,
      lineCap: 'butt',
      lineJoin: 'miter',
      strokeStyle: '',
      fillStyle: '',
    } as unknown as DrawingContext & Record<string, ReturnType<typeof vi.fn>>;
    drawStrokes(context, [[{ x: 1, y: 1 }, { x: 2, y: 2 }, { x: 3, y: 1 }], [{ x: 9, y: 9 }]], {
      scale: 2,
      size: 280,
      lineWidth: 20,
    });
    expect(context.clearRect).toHaveBeenCalledWith(0, 0, 560, 560);
    expect(context.setTransform).toHaveBeenLastCalledWith(2, 0, 0, 2, 0, 0);
    expect(context.lineCap).toBe('round');
    expect(context.lineWidth).toBe(20);
    expect(context.strokeStyle).toBe('#000000');
    expect(context.quadraticCurveTo).toHaveBeenCalledTimes(1);
    expect(context.stroke).toHaveBeenCalledTimes(1);
    expect(context.arc).toHaveBeenCalledWith(9, 9, 10, 0, Math.PI * 2);
    expect(context.fill).toHaveBeenCalledTimes(1);
  });
});

describe('toCanvasPoint', () => {
  it('maps client coordinates to the logical canvas whatever its CSS size', () => {
    expect(toCanvasPoint(150, 100, { left: 10, top: 20, width: 140, height: 140 }, 280)).toEqual({ x: 280, y: 160 });
    expect(toCanvasPoint(0, 0, { left: 10, top: 20, width: 140, height: 140 }, 280)).toEqual({ x: 0, y: 0 });
  });
});
