import { api } from '@/lib/api-client';
import type { SamplePredictionsResponse } from '@/types/api';

/** GET /api/sample_predictions?n=N: random test images with label and prediction. */
export function getSamplePredictions(n: number, signal?: AbortSignal): Promise<SamplePredictionsResponse> {
  return api.get<SamplePredictionsResponse>('/api/sample_predictions', { query: { n }, signal });
}
