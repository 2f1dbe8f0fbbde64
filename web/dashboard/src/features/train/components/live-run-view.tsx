import { LineChart } from '@/components/charts/line-chart';
import { progressFraction, type LiveRun } from '@/features/train/utils/live-run';
import { STATE_LABEL } from '@/features/train/utils/state-label';
import { duration, fixed, integer, percent } from '@/lib/format';

interface LiveRunViewProps {
  live: LiveRun;
  cancelling: boolean;
  onCancel: () => void;
}

/** Progress, numbers and live curves of the current (or latest) run, with Cancel. */
export function LiveRunView({ live, cancelling, onCancel }: LiveRunViewProps) {
  const { progress } = live;
  const fraction = live.state === 'finished' ? 1 : progressFraction(progress, live.epochs);
  const epochs = progress?.epochs || live.epochs;
  const running = live.state === 'running';

  return (
    <div className="live-run">
      <div className="live-run__head">
        <div>
          <span className={`badge badge--${live.state}`} data-testid="train-state" data-state={live.state}>
            {STATE_LABEL[live.state] ?? live.state}
          </span>{' '}
          <code className="live-run__id">{live.run}</code>
          {live.experiment ? <span className="muted small"> · {live.experiment}</span> : null}
        </div>
        {running ? (
          <button
            type="button"
            className="button button--danger"
            onClick={onCancel}
            disabled={cancelling}
            data-testid="train-cancel"
          >
            {cancelling ? 'Cancelling…' : 'Cancel run'}
          </button>
        ) : null}
      </div>

      <div
        className="progress"
        role="progressbar"
        aria-label="Training progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(fraction * 100)}
        aria-valuetext={
          progress
            ? `Epoch ${progress.epoch + 1} of ${epochs}, step ${progress.step} of ${progress.steps}`
            : `${Math.round(fraction * 100)}%`
        }
        data-testid="train-progress"
        data-fraction={fraction.toFixed(4)}
      >
        <div className={`progress__bar progress__bar--${live.state}`} style={{ width: `${fraction * 100}%` }} />
      </div>

      <dl className="stats stats--compact">
        <div className="stat">
          <dt className="stat__label">Epoch</dt>
          <dd className="stat__value">{progress ? `${progress.epoch + 1} / ${epochs}` : `— / ${epochs || '—'}`}</dd>
        </div>
        <div className="stat">
          <dt className="stat__label">Step</dt>
          <dd className="stat__value">{progress ? `${integer(progress.step)} / ${integer(progress.steps)}` : '—'}</dd>
        </div>
        <div className="stat">
          <dt className="stat__label">Loss</dt>
          <dd className="stat__value" data-testid="train-loss">
            {fixed(progress?.loss, 4)}
          </dd>
        </div>
        <div className="stat">
          <dt className="stat__label">Train accuracy</dt>
          <dd className="stat__value">{percent(progress?.accuracy, 2)}</dd>
        </div>
        <div className="stat">
          <dt className="stat__label">Test accuracy</dt>
          <dd className="stat__value" data-testid="train-test-accuracy">
            {percent(live.testAccuracy, 2)}
          </dd>
        </div>
        <div className="stat">
          <dt className="stat__label">Images/s</dt>
          <dd className="stat__value">{integer(progress?.images_per_second)}</dd>
        </div>
        <div className="stat">
          <dt className="stat__label">ETA</dt>
          <dd className="stat__value">{running ? duration(progress?.eta_seconds) : '—'}</dd>
        </div>
      </dl>

      {live.note ? <p className="muted small">Note: {live.note}</p> : null}
      {live.error ? (
        <p className="live-run__error" role="status">
          {live.error}
        </p>
      ) : null}

      <div className="chart-pair">
        <LineChart
          title="Loss"
          xLabel="Epoch"
          yFormat={(v) => fixed(v, 2)}
          xDomain={[0, epochs || 1]}
          series={[
            { label: 'Train loss', color: 'var(--series-1)', points: live.train.map((p) => ({ x: p.x, y: p.loss })) },
            { label: 'Test loss', color: 'var(--series-2)', points: live.test.map((p) => ({ x: p.x, y: p.testLoss })) },
          ]}
          testId="train-loss-chart"
        />
        <LineChart
          title="Accuracy"
          xLabel="Epoch"
          yFormat={(v) => percent(v, 0)}
          xDomain={[0, epochs || 1]}
          series={[
            {
              label: 'Train accuracy',
              color: 'var(--series-1)',
              points: live.train.map((p) => ({ x: p.x, y: p.accuracy })),
            },
            {
              label: 'Test accuracy',
              color: 'var(--series-2)',
              points: live.test.map((p) => ({ x: p.x, y: p.testAccuracy })),
            },
          ]}
          testId="train-accuracy-chart"
        />
      </div>
    </div>
  );
}
