// POST /api/serve, shared by the Train view (serve a run's model) and the Model view (serve
// the shipped model again): the train stage checks the model and announces it; every infer
// worker of its dataset swaps it in and a model.loaded event follows.
import { api } from '@/lib/api-client';
import { withToken } from '@/lib/auth-token';
import type { ServeReply, ServeRequest } from '@/types/api';

/** The model file the product ships (models/digitpipe-mnist.safetensors). */
export const SHIPPED_MODEL = 'digitpipe-mnist.safetensors';

export function serveModel(target: ServeRequest, signal?: AbortSignal): Promise<ServeReply> {
  return withToken((headers) => api.post<ServeReply>('/api/serve', { json: target, signal, headers }));
}
