import { api } from '@/lib/api-client';
import type { Prediction, PredictJsonRequest } from '@/types/api';

/** POST /api/predict with the canvas as a PNG data URL. */
export function predictDrawing(dataUrl: string, signal?: AbortSignal): Promise<Prediction> {
  const body: PredictJsonRequest = { image: dataUrl };
  return api.post<Prediction>('/api/predict', { json: body, signal, timeoutMs: 10_000 });
}
