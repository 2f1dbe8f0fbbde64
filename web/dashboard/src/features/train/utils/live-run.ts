// The state of the current (or latest) training run, folded from train.* events and seeded
// from GET /api/jobs when the dashboard opens during a run.

import type { EpochRecord, GatewayEvent, Job, JobState, TrainProgress } from '@/types/api';

export interface TrainPoint {
  /** Fractional epoch: epoch + step / steps. */
  x: number;
  loss: number;
  accuracy: number;
}

export interface EpochPoint {
  /** Epochs done (epoch + 1). */
  x: number;
  testAccuracy: number;
  testLoss: number;
}

export interface LiveRun {
  run: string;
  experiment: string | null;
  state: JobState;
  epochs: number;
  progress: TrainProgress | null;
  train: TrainPoint[];
  test: EpochPoint[];
  note: string | null;
  error: string | null;
  testAccuracy: number | null;
}

/** Live curves keep at most this many train points (older ones thinned). */
export const MAX_TRAIN_POINTS = 1500;

export type TrainEvent = GatewayEvent<
  'train.started' | 'train.progress' | 'train.epoch' | 'train.note' | 'train.finished' | 'train.failed' | 'train.cancelled'
>;

export function emptyRun(run: string, experiment: string | null = null, epochs = 0): LiveRun {
  return {
    run,
    experiment,
    state: 'running',
    epochs,
    progress: null,
    train: [],
    test: [],
    note: null,
    error: null,
    testAccuracy: null,
  };
}

function thin(points: TrainPoint[]): TrainPoint[] {
  if (points.length <= MAX_TRAIN_POINTS) return points;
  return points.filter((_, i) => i % 2 === 0 || i === points.length - 1);
}

function epochPoint(record: EpochRecord): EpochPoint {
  return { x: record.epoch + 1, testAccuracy: record.test_accuracy, testLoss: record.test_loss };
}

function addEpoch(list: EpochPoint[], point: EpochPoint): EpochPoint[] {
  return [...list.filter((p) => p.x !== point.x), point].sort((a, b) => a.x - b.x);
}

/** Overall fraction done, 0..1, from a progress record. */
export function progressFraction(progress: TrainProgress | null, epochs: number): number {
  if (!progress) return 0;
  const total = progress.epochs || epochs;
  if (total <= 0) return 0;
  const within = progress.steps > 0 ? progress.step / progress.steps : 0;
  return Math.min(1, Math.max(0, (progress.epoch + within) / total));
}

/** The run after `event`; an event of another run starts following that run. */
export function applyTrainEvent(current: LiveRun | null, event: TrainEvent): LiveRun {
  const data = event.data;
  const same = current !== null && current.run === data.run;
  switch (event.topic) {
    case 'train.started':
      return emptyRun(event.data.run, event.data.experiment, event.data.epochs);
    case 'train.progress': {
      const base = same ? current : emptyRun(event.data.run, null, event.data.epochs);
      const { run: _run, ...progress } = event.data;
      const x = progress.epoch + (progress.steps > 0 ? progress.step / progress.steps : 0);
      const last = base.train[base.train.length - 1];
      const train =
        last && x <= last.x ? base.train : thin([...base.train, { x, loss: progress.loss, accuracy: progress.accuracy }]);
      return { ...base, state: 'running', epochs: progress.epochs || base.epochs, progress, train };
    }
    case 'train.epoch': {
      const base = same ? current : emptyRun(event.data.run, null, event.data.epochs);
      return {
        ...base,
        epochs: event.data.epochs || base.epochs,
        test: addEpoch(base.test, epochPoint(event.data)),
        testAccuracy: event.data.test_accuracy,
      };
    }
    case 'train.note': {
      const base = same ? current : emptyRun(event.data.run);
      return { ...base, note: event.data.text };
    }
    case 'train.finished': {
      const base = same ? current : emptyRun(event.data.run, null, event.data.epochs);
      return { ...base, state: 'finished', testAccuracy: event.data.test_accuracy, error: null };
    }
    case 'train.failed':
    case 'train.cancelled': {
      const base = same ? current : emptyRun(event.data.run);
      return { ...base, state: event.topic === 'train.failed' ? 'failed' : 'cancelled', error: event.data.error };
    }
  }
}

/** A run as GET /api/jobs(/id) describes it, keeping what `current` already knows of it. */
export function runFromJob(job: Job, current: LiveRun | null): LiveRun {
  const base = current && current.run === job.id ? current : emptyRun(job.id, job.experiment, job.epochs_planned);
  let test = base.test;
  // Only GET /api/jobs/{id} carries the records; be strict about what is iterated.
  for (const record of Array.isArray(job.epochs) ? job.epochs : []) test = addEpoch(test, epochPoint(record));
  return {
    ...base,
    experiment: job.experiment,
    state: job.state,
    epochs: job.epochs_planned || base.epochs,
    progress: job.progress ?? base.progress,
    test,
    error: job.error ?? base.error,
    testAccuracy: job.test_accuracy ?? base.testAccuracy,
  };
}
