import { useCallback, useEffect } from 'react';

import { PredictionResult } from '@/components/prediction/prediction-result';
import { Card } from '@/components/ui/card';
import { CANVAS_SIZE, useDrawing } from '@/features/predict/hooks/use-drawing';
import { useLivePredict } from '@/features/predict/hooks/use-live-predict';

import './draw-panel.css';

function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}

/** Draw a digit; the prediction follows the pen. */
export function DrawPanel() {
  const { prediction, pending, submit, reset } = useLivePredict();

  const drawing = useDrawing({
    onChange: (strokes) => {
      if (strokes === 0) reset();
      else submit(drawing.toDataUrl);
    },
  });
  const { undo, clear, strokeCount } = drawing;

  const onKeyDown = useCallback(
    (event: KeyboardEvent) => {
      if (isTypingTarget(event.target) || event.altKey) return;
      if ((event.ctrlKey || event.metaKey) && !event.shiftKey && event.key.toLowerCase() === 'z') {
        event.preventDefault();
        undo();
      } else if ((event.key === 'Delete' || event.key === 'Escape') && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        clear();
      }
    },
    [undo, clear],
  );

  useEffect(() => {
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [onKeyDown]);

  const backing = Math.round(CANVAS_SIZE * drawing.pixelRatio);

  return (
    <div className="draw-layout">
      <Card title="Draw a digit" className="draw-card">
        <div className="draw-surface">
          <canvas
            ref={drawing.canvasRef}
            className="draw-canvas"
            width={backing}
            height={backing}
            tabIndex={0}
            aria-label="Drawing area: draw one digit with a mouse, finger or pen. Ctrl+Z undoes the last stroke, Delete or Escape clears."
            aria-describedby="draw-hint"
            data-testid="draw-canvas"
            data-strokes={strokeCount}
            {...drawing.handlers}
          />
        </div>
        <div className="button-row">
          <button
            type="button"
            className="button"
            onClick={undo}
            disabled={strokeCount === 0}
            data-testid="undo-button"
            aria-keyshortcuts="Control+Z"
          >
            Undo
          </button>
          <button
            type="button"
            className="button"
            onClick={clear}
            disabled={strokeCount === 0}
            data-testid="clear-button"
            aria-keyshortcuts="Delete Escape"
          >
            Clear
          </button>
        </div>
        <p id="draw-hint" className="muted small">
          Draw one digit, large and centred. <kbd>Ctrl</kbd>+<kbd>Z</kbd> undo · <kbd>Del</kbd> or{' '}
          <kbd>Esc</kbd> clear
        </p>
      </Card>
      <Card title="Result" className="result-card">
        <PredictionResult
          prediction={strokeCount === 0 ? null : prediction}
          pending={pending}
          placeholder="Draw a digit: the prediction updates as you draw."
        />
      </Card>
    </div>
  );
}
