import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { ConfusionMatrix } from '@/features/model/components/confusion-matrix';
import { confusionShades } from '@/features/model/utils/confusion';
import { confusionMatrix } from '@/testing/fixtures';

const labels = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

describe('ConfusionMatrix', () => {
  it('draws 100 cells, each with its count, rows true and columns predicted', () => {
    const matrix = confusionMatrix();
    matrix[4]![9] = 12;
    render(<ConfusionMatrix matrix={matrix} labels={labels} />);
    const svg = screen.getByTestId('confusion-matrix');
    const cells = within(svg as unknown as HTMLElement).getAllByTestId('confusion-cell');
    expect(cells).toHaveLength(100);
    const cell = cells.find((c) => c.getAttribute('data-true') === '4' && c.getAttribute('data-predicted') === '9');
    const shown = (c: Element | undefined) => c?.querySelector('text')?.textContent;
    expect(shown(cell)).toBe('12');
    expect(shown(cells[0])).toBe('970');
    expect(shown(cells[99])).toBe('979');
    expect(screen.getByText('Predicted →')).toBeInTheDocument();
    expect(screen.getByText('True →')).toBeInTheDocument();
  });

  it('marks the diagonal apart from the mistakes', () => {
    render(<ConfusionMatrix matrix={confusionMatrix()} labels={labels} />);
    const cells = screen.getAllByTestId('confusion-cell');
    const diagonal = cells.filter((c) => c.getAttribute('data-diagonal') === 'true');
    expect(diagonal).toHaveLength(10);
    expect(diagonal.every((c) => c.getAttribute('data-true') === c.getAttribute('data-predicted'))).toBe(true);
    expect(diagonal[0]?.querySelector('rect')).toHaveClass('confusion__cell--diagonal');
    expect(cells[1]?.querySelector('rect')).not.toHaveClass('confusion__cell--diagonal');
  });
});

describe('confusionShades', () => {
  it('shades the diagonal by recall and mistakes by the largest mistake', () => {
    const shades = confusionShades([
      [8, 2],
      [1, 9],
    ]);
    expect(shades[0]?.[0]).toEqual({ diagonal: true, intensity: 0.8 });
    expect(shades[0]?.[1]).toEqual({ diagonal: false, intensity: 1 });
    expect(shades[1]?.[0]).toEqual({ diagonal: false, intensity: 0.5 });
  });
});
