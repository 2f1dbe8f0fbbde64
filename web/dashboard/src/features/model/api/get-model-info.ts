import { api } from '@/lib/api-client';
import type { ModelInfo } from '@/types/api';

/** GET /api/model_info: what the serving model's file says about itself. */
export function getModelInfo(signal?: AbortSignal): Promise<ModelInfo> {
  return api.get<ModelInfo>('/api/model_info', { signal });
}
