import { useCallback, useEffect, useRef, useState } from 'react';

import { useNotify } from '@/components/ui/notifications';
import { predictDrawing } from '@/features/predict/api/predict-drawing';
import { LatestOnly } from '@/features/predict/utils/latest-only';
import { isAbortError } from '@/lib/api-client';
import type { Prediction } from '@/types/api';

/** Least time between two prediction requests while drawing. */
export const MIN_REQUEST_INTERVAL_MS = 60;

/** Live prediction of the drawing: one request in flight, then the latest drawing. */
export function useLivePredict() {
  const { notifyError, dismiss } = useNotify();
  const [prediction, setPrediction] = useState<Prediction | null>(null);
  const [pending, setPending] = useState(false);
  const notifyRef = useRef({ notifyError, dismiss });
  notifyRef.current = { notifyError, dismiss };

  const schedulerRef = useRef<LatestOnly<string, Prediction> | null>(null);
  if (schedulerRef.current === null) {
    schedulerRef.current = new LatestOnly<string, Prediction>(
      (dataUrl, signal) => predictDrawing(dataUrl, signal),
      {
        onResult: (result) => {
          setPrediction(result);
          notifyRef.current.dismiss('predict');
        },
        onError: (error) => {
          if (!isAbortError(error)) notifyRef.current.notifyError('Prediction failed', error, 'predict');
        },
        onBusyChange: setPending,
      },
      MIN_REQUEST_INTERVAL_MS,
    );
  }
  const scheduler = schedulerRef.current;

  useEffect(() => () => scheduler.reset(), [scheduler]);

  const submit = useCallback((read: () => string) => scheduler.submit(read), [scheduler]);
  const reset = useCallback(() => {
    scheduler.reset();
    setPrediction(null);
  }, [scheduler]);

  return { prediction, pending, submit, reset };
}
