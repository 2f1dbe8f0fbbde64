import { api } from '@/lib/api-client';
import type { Prediction } from '@/types/api';

/** POST /api/predict as multipart/form-data with the image in the field `file`. */
export function predictFile(file: File, signal?: AbortSignal): Promise<Prediction> {
  const form = new FormData();
  form.append('file', file, file.name);
  return api.post<Prediction>('/api/predict', { body: form, signal, timeoutMs: 20_000 });
}
