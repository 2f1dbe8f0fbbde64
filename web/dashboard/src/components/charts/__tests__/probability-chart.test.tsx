import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { argMax, ProbabilityChart, probabilityLabel } from '@/components/charts/probability-chart';

const probabilities = [0.001, 0.002, 0.01, 0.03, 0.005, 0.002, 0.0, 0.93, 0.015, 0.005];

describe('ProbabilityChart', () => {
  it('draws ten labelled bars and highlights only the largest', () => {
    render(<ProbabilityChart probabilities={probabilities} />);
    const bars = Array.from({ length: 10 }, (_, i) => screen.getByTestId(`prob-bar-${i}`));
    expect(bars).toHaveLength(10);
    expect(bars.filter((b) => b.getAttribute('data-top') === 'true')).toEqual([bars[7]]);
    expect(bars[7]).toHaveClass('prob-chart__bar--top');
    expect(bars[7]).toHaveTextContent('93%');
    expect(bars[7]).toHaveTextContent('7');
    expect(bars[3]).toHaveTextContent('3.0%');
    expect(bars[6]).toHaveTextContent('0%');
  });

  it('makes bar heights proportional to the probabilities', () => {
    render(<ProbabilityChart probabilities={[0.5, 0.25, 0, 0, 0, 0, 0, 0, 0, 0.25]} />);
    const height = (i: number) =>
      Number(screen.getByTestId(`prob-bar-${i}`).querySelector('.prob-chart__fill')?.getAttribute('height'));
    expect(height(0)).toBeCloseTo(2 * height(1));
    expect(height(9)).toBeCloseTo(height(1));
    expect(height(2)).toBe(0);
  });

  it('summarises all classes for screen readers', () => {
    render(<ProbabilityChart probabilities={probabilities} />);
    expect(screen.getByRole('img')).toHaveAccessibleName(expect.stringContaining('7: 93%'));
  });
});

describe('argMax / probabilityLabel', () => {
  it('finds the first largest value', () => {
    expect(argMax([0.1, 0.4, 0.4, 0.1])).toBe(1);
    expect(argMax([])).toBe(-1);
  });

  it('formats small and large probabilities readably', () => {
    expect(probabilityLabel(0.9993)).toBe('100%');
    expect(probabilityLabel(0.0004)).toBe('<0.1%');
    expect(probabilityLabel(0.0123)).toBe('1.2%');
    expect(probabilityLabel(0)).toBe('0%');
  });
});
