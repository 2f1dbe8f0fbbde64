// The gateway's JSON, as web/API.md describes it. This file is the only mirror of those shapes:
// change both together.

// ---- Errors ------------------------------------------------------------------------------

export type ApiErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'method_not_allowed'
  | 'failed_precondition'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'resource_exhausted'
  | 'internal'
  | 'unavailable'
  | 'deadline_exceeded';

/** Every error body, whatever the route. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode | string; message: string };
}

// ---- Inference ---------------------------------------------------------------------------

/** POST /api/predict, 200, a digit was found. */
export interface PredictionFound {
  found: true;
  digit: number;
  label: string;
  confidence: number;
  /** One per class (10), summing to 1. */
  probabilities: number[];
  /** The 28x28 image the model saw: 784 integers 0..255, row-major, 0 = background, 255 = ink. */
  input: number[];
  /** sha256 of the model file that answered. */
  model: string;
  latency_ms: number;
}

/** POST /api/predict, 200, blank or uniform image: not an error. */
export interface PredictionNotFound {
  found: false;
  message: string;
  digit: null;
  label: null;
  confidence: null;
  probabilities: null;
  input: number[];
  model: string;
  latency_ms: number;
}

export type Prediction = PredictionFound | PredictionNotFound;

/** JSON body of POST /api/predict. */
export interface PredictJsonRequest {
  /** A data URL (canvas.toDataURL()) or plain base64 of PNG/JPEG bytes. */
  image: string;
}

export interface SamplePrediction {
  index: number;
  label: number;
  predicted: number;
  confidence: number;
  correct: boolean;
  /** 784 integers 0..255, as Prediction.input. */
  image: number[];
}

/** GET /api/sample_predictions?n=12 */
export interface SamplePredictionsResponse {
  model: string;
  samples: SamplePrediction[];
}

// ---- Model -------------------------------------------------------------------------------

/** One finished epoch (0-based `epoch`). */
export interface EpochRecord {
  epoch: number;
  epochs: number;
  train_loss: number;
  train_accuracy: number;
  test_loss: number;
  test_accuracy: number;
  lr: number;
  images_per_second: number;
  elapsed_seconds: number;
  validation_loss?: number;
  validation_accuracy?: number;
}

export interface ModelMetrics {
  test_accuracy: number;
  test_loss: number;
  test_count: number;
  epochs: number;
  train_seconds: number;
  stopped_because: string;
}

export interface ClassMetrics {
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ConfidentMistake {
  index: number;
  label: number;
  predicted: number;
  confidence: number;
}

export interface ModelEvaluation {
  accuracy: number;
  loss: number;
  count: number;
  correct: number;
  classes: ClassMetrics[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  most_confident_wrong: ConfidentMistake[];
}

/** GET /api/model_info */
export interface ModelInfo {
  model: string;
  sha256: string;
  size_bytes: number;
  architecture: string;
  parameters: number;
  trainable_parameters: number;
  class_names: string[];
  dataset: string;
  run: string;
  created: string;
  metrics: ModelMetrics | null;
  evaluation: ModelEvaluation | null;
  curves: EpochRecord[] | null;
}

// ---- Training ----------------------------------------------------------------------------

export type SettingValue = number | string | boolean;

export interface Experiment {
  name: string;
  model: string;
  dataset: string;
  /** Main knobs (key path -> current value); any may be sent back as an override. */
  settings: Record<string, SettingValue>;
}

/** GET /api/experiments */
export interface ExperimentsResponse {
  experiments: Experiment[];
}

/** POST /api/train body. */
export interface TrainRequest {
  experiment: string;
  overrides?: Record<string, SettingValue>;
}

export type JobState = 'running' | 'finished' | 'failed' | 'cancelled' | 'interrupted';

export interface TrainProgress {
  /** 0-based epoch being trained. */
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  accuracy: number;
  lr: number;
  images_per_second: number;
  eta_seconds: number;
}

export interface JobResult {
  test_accuracy: number;
  test_loss: number;
  epochs: number;
  elapsed_seconds: number;
  stopped_because: string;
  sha256: string;
}

export interface Job {
  id: string;
  experiment: string;
  state: JobState;
  created: string;
  epochs_planned: number;
  epochs_done: number;
  progress?: TrainProgress | null;
  /** Last epoch's, or the final result's; null before epoch 1. */
  test_accuracy: number | null;
  /** Finished only. */
  result?: JobResult | null;
  /** Failed / cancelled only. */
  error?: string | null;
  /** GET /api/jobs/{id} only. */
  epochs?: EpochRecord[];
}

/** GET /api/jobs, newest first. */
export interface JobsResponse {
  jobs: Job[];
}

/** POST /api/train (202) and POST /api/jobs/{id}/cancel (202). */
export interface JobReply {
  job: Job;
}

// ---- Live events -------------------------------------------------------------------------

export interface TrainStartedData {
  run: string;
  experiment: string;
  epochs: number;
  resumed: boolean;
}
export type TrainProgressData = TrainProgress & { run: string };
export type TrainEpochData = EpochRecord & { run: string };
export interface TrainNoteData {
  run: string;
  text: string;
}
export interface TrainFinishedData {
  run: string;
  test_accuracy: number;
  test_loss: number;
  epochs: number;
  elapsed_seconds: number;
  sha256: string;
  path: string;
}
export interface TrainEndedData {
  run: string;
  error: string;
}
export interface ModelPublishedData {
  run: string;
  path: string;
  sha256: string;
  test_accuracy: number;
  dataset: string;
  architecture: string;
}
export interface ModelLoadedData {
  sha256: string;
  model: string;
  run: string;
}
export interface ModelLoadFailedData {
  path: string;
  error: string;
}
export interface WorkersChangedData {
  service: string;
  workers: number;
  previous: number;
}

/** Topic -> data. */
export interface EventDataByTopic {
  'train.started': TrainStartedData;
  'train.progress': TrainProgressData;
  'train.epoch': TrainEpochData;
  'train.note': TrainNoteData;
  'train.finished': TrainFinishedData;
  'train.failed': TrainEndedData;
  'train.cancelled': TrainEndedData;
  'model.published': ModelPublishedData;
  'model.loaded': ModelLoadedData;
  'model.load_failed': ModelLoadFailedData;
  'workers.changed': WorkersChangedData;
}

export type EventTopic = keyof EventDataByTopic;

export type GatewayEvent<T extends EventTopic = EventTopic> = {
  [K in T]: { seq: number; time: string; topic: K; data: EventDataByTopic[K] };
}[T];

/** GET /api/events?after=N&timeout_ms=25000 */
export interface EventsResponse {
  events: GatewayEvent[];
  next: number;
  /** True when events after N were dropped from the gateway's buffer: reload state. */
  gap?: boolean;
}

// ---- Operations --------------------------------------------------------------------------

export type ServiceState = 'starting' | 'ready' | 'degraded' | 'failed' | 'unknown';

export interface ServiceStatus {
  name: string;
  workers: number;
  idle: number;
  busy: number;
  queued: number;
  in_flight: number;
  state: ServiceState | string;
  detail: string;
}

/** GET /api/workers */
export interface WorkersResponse {
  services: ServiceStatus[];
  updated: string;
}

/** GET /readyz, 200. (503 is an ApiErrorBody with code `unavailable`.) */
export interface ReadyResponse {
  ready: boolean;
  model?: string;
}

/** GET /healthz */
export interface HealthResponse {
  status: string;
}

// ---- Serving a model ---------------------------------------------------------------------

/** POST /api/serve: a finished run's model, or a file in the models folder. */
export type ServeRequest = { run: string } | { model: string };

/** 202 from POST /api/serve: what was announced (model.published); model.loaded follows. */
export interface ServeReply {
  published: {
    run: string;
    path: string;
    sha256: string;
    dataset: string;
    architecture: string;
    test_accuracy: number | null;
  };
}
