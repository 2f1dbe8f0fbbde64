import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { EpochCurves } from '@/components/charts/epoch-curves';
import { LineChart, linePath, niceTicks } from '@/components/charts/line-chart';
import type { EpochRecord } from '@/types/api';

const record = (epoch: number, trainLoss: number, testAcc: number): EpochRecord => ({
  epoch,
  epochs: 3,
  train_loss: trainLoss,
  train_accuracy: 0.9,
  test_loss: trainLoss / 2,
  test_accuracy: testAcc,
  lr: 0.001,
  images_per_second: 2000,
  elapsed_seconds: 10 * (epoch + 1),
});

describe('LineChart', () => {
  it('draws one path per series with data and a legend entry for each', () => {
    const { container } = render(
      <LineChart
        title="Loss"
        xLabel="Epoch"
        series={[
          { label: 'Train loss', color: 'red', points: [{ x: 0, y: 1 }, { x: 1, y: 0.5 }] },
          { label: 'Test loss', color: 'blue', points: [{ x: 1, y: 0.4 }] },
        ]}
      />,
    );
    expect(container.querySelectorAll('path')).toHaveLength(2);
    expect(screen.getByText('Train loss')).toBeInTheDocument();
    expect(screen.getByRole('img', { name: 'Loss' })).toBeInTheDocument();
  });

  it('says so when there is nothing to draw', () => {
    render(<LineChart title="Accuracy" xLabel="Epoch" series={[{ label: 'a', color: 'red', points: [] }]} />);
    expect(screen.getByText('No data yet')).toBeInTheDocument();
  });
});

describe('linePath / niceTicks', () => {
  it('builds an SVG path through the scaled points', () => {
    expect(linePath([{ x: 0, y: 0 }, { x: 1, y: 2 }], (x) => x * 10, (y) => 100 - y)).toBe('M0.0,100.0 L10.0,98.0');
  });

  it('picks round ticks', () => {
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(0, 30, 5)).toEqual([0, 10, 20, 30]);
  });
});

describe('EpochCurves', () => {
  it('plots train and test per epoch, 1-based', () => {
    const { container } = render(<EpochCurves epochs={[record(0, 1, 0.9), record(1, 0.5, 0.95)]} />);
    expect(screen.getByText('Loss per epoch')).toBeInTheDocument();
    expect(screen.getByText('Accuracy per epoch')).toBeInTheDocument();
    // loss chart: train + test; accuracy chart: train + test; no validation series
    expect(container.querySelectorAll('g[data-series]')).toHaveLength(4);
    expect(screen.queryByText('Validation loss')).toBeNull();
  });
});
