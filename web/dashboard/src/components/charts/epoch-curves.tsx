import { fixed, percent } from '@/lib/format';
import type { EpochRecord } from '@/types/api';

import { LineChart, type Series } from '@/components/charts/line-chart';

interface EpochCurvesProps {
  epochs: readonly EpochRecord[];
  testId?: string;
}

function series(
  epochs: readonly EpochRecord[],
  label: string,
  color: string,
  pick: (e: EpochRecord) => number | undefined,
  dashed = false,
): Series | null {
  const points = epochs
    .map((e) => ({ x: e.epoch + 1, y: pick(e) }))
    .filter((p): p is { x: number; y: number } => typeof p.y === 'number' && Number.isFinite(p.y));
  return points.length > 0 ? { label, color, points, dashed } : null;
}

const present = (list: (Series | null)[]): Series[] => list.filter((s): s is Series => s !== null);

/** Loss and accuracy per epoch (train, test and, when held out, validation). */
export function EpochCurves({ epochs, testId }: EpochCurvesProps) {
  const loss = present([
    series(epochs, 'Train loss', 'var(--series-1)', (e) => e.train_loss),
    series(epochs, 'Test loss', 'var(--series-2)', (e) => e.test_loss),
    series(epochs, 'Validation loss', 'var(--series-3)', (e) => e.validation_loss, true),
  ]);
  const accuracy = present([
    series(epochs, 'Train accuracy', 'var(--series-1)', (e) => e.train_accuracy),
    series(epochs, 'Test accuracy', 'var(--series-2)', (e) => e.test_accuracy),
    series(epochs, 'Validation accuracy', 'var(--series-3)', (e) => e.validation_accuracy, true),
  ]);
  const planned = epochs[0]?.epochs ?? 1;
  return (
    <div className="chart-pair" data-testid={testId}>
      <LineChart title="Loss per epoch" series={loss} xLabel="Epoch" yFormat={(v) => fixed(v, 2)} xDomain={[1, planned]} />
      <LineChart
        title="Accuracy per epoch"
        series={accuracy}
        xLabel="Epoch"
        yFormat={(v) => percent(v, 1)}
        xDomain={[1, planned]}
      />
    </div>
  );
}
