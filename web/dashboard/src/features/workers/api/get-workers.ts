import { api } from '@/lib/api-client';
import type { WorkersResponse } from '@/types/api';

/** GET /api/workers: per service, its workers, their load and one worker's health. */
export function getWorkers(signal?: AbortSignal): Promise<WorkersResponse> {
  return api.get<WorkersResponse>('/api/workers', { signal, timeoutMs: 5000 });
}
