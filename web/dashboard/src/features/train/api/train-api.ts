import { api } from '@/lib/api-client';
import { withToken } from '@/lib/auth-token';
import type { ExperimentsResponse, Job, JobReply, JobsResponse, SettingValue, TrainRequest } from '@/types/api';

/** GET /api/experiments */
export function getExperiments(signal?: AbortSignal): Promise<ExperimentsResponse> {
  return api.get<ExperimentsResponse>('/api/experiments', { signal });
}

/** POST /api/train; `overrides` is left out when empty. 409 while a run is in progress. */
export function startTraining(
  experiment: string,
  overrides: Record<string, SettingValue>,
  signal?: AbortSignal,
): Promise<JobReply> {
  const body: TrainRequest = { experiment };
  if (Object.keys(overrides).length > 0) body.overrides = overrides;
  // A gateway serving the network asks for its token (auth-token.ts).
  return withToken((headers) => api.post<JobReply>('/api/train', { json: body, signal, headers }));
}

/** GET /api/jobs, newest first. */
export function getJobs(signal?: AbortSignal): Promise<JobsResponse> {
  return api.get<JobsResponse>('/api/jobs', { signal });
}

/** GET /api/jobs/{id}, with its per-epoch records. */
export function getJob(id: string, signal?: AbortSignal): Promise<Job> {
  return api.get<Job>(`/api/jobs/${encodeURIComponent(id)}`, { signal });
}

/** POST /api/jobs/{id}/cancel; `train.cancelled` follows as an event. */
export function cancelJob(id: string, signal?: AbortSignal): Promise<JobReply> {
  return withToken((headers) =>
    api.post<JobReply>(`/api/jobs/${encodeURIComponent(id)}/cancel`, { signal, headers }),
  );
}
