import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';

import { PredictionResult } from '@/components/prediction/prediction-result';
import type { Prediction } from '@/types/api';

const input = new Array<number>(784).fill(0);

const found: Prediction = {
  found: true,
  digit: 7,
  label: '7',
  confidence: 0.9993,
  probabilities: [0, 0, 0, 0, 0, 0, 0.0007, 0.9993, 0, 0],
  input,
  model: '116ced25aaaa',
  latency_ms: 1.94,
};

describe('PredictionResult', () => {
  it('shows the digit, its confidence, ten bars, the 28x28 input and the latency', () => {
    render(<PredictionResult prediction={found} placeholder="Draw" />);
    expect(screen.getByTestId('predict-digit')).toHaveTextContent('7');
    expect(screen.getByTestId('predict-confidence')).toHaveTextContent('99.9%');
    expect(screen.getByTestId('prob-bar-7')).toHaveAttribute('data-top', 'true');
    expect(screen.getByTestId('prob-bar-9')).toBeInTheDocument();
    expect(screen.getByTestId('model-input')).toHaveAttribute('width', '28');
    expect(screen.getByTestId('predict-latency')).toHaveTextContent('1.9 ms');
  });

  it('shows "No digit found" and no guess when found is false', () => {
    render(
      <PredictionResult
        prediction={{
          found: false,
          message: 'no digit found: blank image',
          digit: null,
          label: null,
          confidence: null,
          probabilities: null,
          input,
          model: 'x',
          latency_ms: 1,
        }}
        placeholder="Draw"
      />,
    );
    expect(screen.getByTestId('predict-none')).toHaveTextContent('No digit found — draw a digit');
    expect(screen.getByText('no digit found: blank image')).toBeInTheDocument();
    expect(screen.queryByTestId('predict-digit')).toBeNull();
    expect(screen.queryByTestId('prob-bar-0')).toBeNull();
  });

  it('shows the placeholder before any prediction', () => {
    render(<PredictionResult prediction={null} placeholder="Draw a digit" />);
    expect(screen.getByText('Draw a digit')).toBeInTheDocument();
  });
});
