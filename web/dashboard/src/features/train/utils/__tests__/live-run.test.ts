import { describe, expect, it } from 'vitest';

import { applyTrainEvent, progressFraction, runFromJob, type TrainEvent } from '@/features/train/utils/live-run';
import { job } from '@/testing/fixtures';

let seq = 0;
const ev = <T extends TrainEvent['topic']>(topic: T, data: Extract<TrainEvent, { topic: T }>['data']) =>
  ({ seq: ++seq, time: '', topic, data }) as TrainEvent;

const progress = (run: string, epoch: number, step: number) =>
  ev('train.progress', {
    run,
    epoch,
    epochs: 3,
    step,
    steps: 100,
    loss: 1 / (epoch + step / 100 + 1),
    accuracy: 0.9,
    lr: 0.001,
    images_per_second: 5000,
    eta_seconds: 10,
  });

describe('applyTrainEvent', () => {
  it('follows a run from start through progress and epochs to its end', () => {
    let run = applyTrainEvent(null, ev('train.started', { run: 'r1', experiment: 'quick', epochs: 3, resumed: false }));
    expect(run).toMatchObject({ run: 'r1', experiment: 'quick', state: 'running', epochs: 3 });

    run = applyTrainEvent(run, progress('r1', 0, 50));
    run = applyTrainEvent(run, progress('r1', 0, 100));
    run = applyTrainEvent(run, progress('r1', 0, 100)); // same position: no duplicate point
    expect(run.train.map((p) => p.x)).toEqual([0.5, 1]);
    expect(run.progress?.step).toBe(100);

    run = applyTrainEvent(
      run,
      ev('train.epoch', {
        run: 'r1',
        epoch: 0,
        epochs: 3,
        train_loss: 0.4,
        train_accuracy: 0.9,
        test_loss: 0.1,
        test_accuracy: 0.97,
        lr: 0.001,
        images_per_second: 5000,
        elapsed_seconds: 9,
      }),
    );
    expect(run.test).toEqual([{ x: 1, testAccuracy: 0.97, testLoss: 0.1 }]);
    expect(run.testAccuracy).toBe(0.97);

    run = applyTrainEvent(run, ev('train.cancelled', { run: 'r1', error: 'cancelled by request' }));
    expect(run).toMatchObject({ state: 'cancelled', error: 'cancelled by request' });
  });

  it('switches to another run when its events arrive', () => {
    let run = applyTrainEvent(null, progress('old', 2, 100));
    run = applyTrainEvent(run, progress('new', 0, 10));
    expect(run.run).toBe('new');
    expect(run.train).toHaveLength(1);
  });
});

describe('progressFraction', () => {
  it('counts finished epochs and the steps of the current one', () => {
    const p = { epoch: 1, epochs: 4, step: 50, steps: 100, loss: 0, accuracy: 0, lr: 0, images_per_second: 0, eta_seconds: 0 };
    expect(progressFraction(p, 4)).toBeCloseTo(0.375);
    expect(progressFraction(null, 4)).toBe(0);
  });
});

describe('runFromJob', () => {
  it('takes state, progress and epochs from the job, keeping live points of the same run', () => {
    const live = applyTrainEvent(null, progress('quick-20261124-150102', 0, 20));
    const merged = runFromJob(job({ state: 'running', result: null, epochs_done: 0 }), live);
    expect(merged.train).toHaveLength(1);
    expect(merged.state).toBe('running');
    expect(runFromJob(job(), live).state).toBe('finished');
  });
});
