import { useCallback, useEffect, useRef, useState, type PointerEvent as ReactPointerEvent } from 'react';

import { drawStrokes, toCanvasPoint, type Stroke } from '@/features/predict/utils/stroke-path';

/** Logical canvas size (CSS px at full width) and ink width. */
export const CANVAS_SIZE = 280;
export const LINE_WIDTH = 20;
const MAX_PIXEL_RATIO = 3;

interface UseDrawingOptions {
  /** The drawing changed (a point was added, a stroke undone, the canvas cleared). */
  onChange: (strokeCount: number, reason: 'draw' | 'end' | 'undo' | 'clear') => void;
}

/**
 * Pointer drawing (mouse, touch, pen) on a canvas: strokes are kept in logical coordinates so
 * that undo can redraw them and the canvas can be any CSS size; the backing store is scaled for
 * devicePixelRatio.
 */
export function useDrawing({ onChange }: UseDrawingOptions) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const strokes = useRef<Stroke[]>([]);
  const activePointer = useRef<number | null>(null);
  const [strokeCount, setStrokeCount] = useState(0);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const [pixelRatio] = useState(() =>
    Math.min(MAX_PIXEL_RATIO, Math.max(1, typeof window === 'undefined' ? 1 : window.devicePixelRatio || 1)),
  );

  const render = useCallback(() => {
    const canvas = canvasRef.current;
    const context = canvas?.getContext('2d');
    if (!canvas || !context) return;
    drawStrokes(context, strokes.current, { scale: canvas.width / CANVAS_SIZE, size: CANVAS_SIZE, lineWidth: LINE_WIDTH });
  }, []);

  useEffect(() => {
    render();
  }, [render]);

  const pointFrom = (event: { clientX: number; clientY: number }) => {
    const canvas = canvasRef.current;
    const rect = canvas ? canvas.getBoundingClientRect() : { left: 0, top: 0, width: CANVAS_SIZE, height: CANVAS_SIZE };
    return toCanvasPoint(event.clientX, event.clientY, rect, CANVAS_SIZE);
  };

  const onPointerDown = (event: ReactPointerEvent<HTMLCanvasElement>) => {
    if (event.pointerType === 'mouse' && event.button !== 0) return;
    if (activePointer.current !== null) return; // a second finger does not draw
    event.preventDefault();
    activePointer.current = event.pointerId;
    try {
      event.currentTarget.setPointerCapture?.(event.pointerId);
    } catch {
      // Capture can fail for a pointer that is already gone; drawing still works.
    }
    strokes.current = [...strokes.current, [pointFrom(event)]];
    setStrokeCount(strokes.current.length);
    render();
    onChangeRef.current(strokes.current.length, 'draw');
  };

  const onPointerMove = (event: ReactPointerEvent<HTMLCanvasElement>) => {
    if (event.pointerId !== activePointer.current) return;
    const stroke = strokes.current[strokes.current.length - 1];
    if (!stroke) return;
    const native = event.nativeEvent;
    const samples = typeof native.getCoalescedEvents === 'function' ? native.getCoalescedEvents() : [];
    const list = samples.length > 0 ? samples : [native];
    let added = false;
    for (const sample of list) {
      const point = pointFrom(sample);
      const last = stroke[stroke.length - 1];
      if (last && Math.hypot(point.x - last.x, point.y - last.y) < 1) continue;
      stroke.push(point);
      added = true;
    }
    if (!added) return;
    render();
    onChangeRef.current(strokes.current.length, 'draw');
  };

  const endStroke = (event: ReactPointerEvent<HTMLCanvasElement>) => {
    if (event.pointerId !== activePointer.current) return;
    activePointer.current = null;
    onChangeRef.current(strokes.current.length, 'end');
  };

  const undo = useCallback(() => {
    if (strokes.current.length === 0) return;
    activePointer.current = null;
    strokes.current = strokes.current.slice(0, -1);
    setStrokeCount(strokes.current.length);
    render();
    onChangeRef.current(strokes.current.length, 'undo');
  }, [render]);

  const clear = useCallback(() => {
    activePointer.current = null;
    strokes.current = [];
    setStrokeCount(0);
    render();
    onChangeRef.current(0, 'clear');
  }, [render]);

  /** The drawing as a PNG data URL (transparent background, black ink). */
  const toDataUrl = useCallback((): string => canvasRef.current?.toDataURL('image/png') ?? '', []);

  return {
    canvasRef,
    pixelRatio,
    strokeCount,
    undo,
    clear,
    toDataUrl,
    handlers: {
      onPointerDown,
      onPointerMove,
      onPointerUp: endStroke,
      onPointerCancel: endStroke,
      onLostPointerCapture: endStroke,
    },
  };
}
