import { ProbabilityChart } from '@/components/charts/probability-chart';
import { DigitImage } from '@/components/digit-image';
import { fixed, percent } from '@/lib/format';
import { isDigitImage } from '@/lib/pixels';
import type { Prediction } from '@/types/api';

import './prediction-result.css';

interface PredictionResultProps {
  prediction: Prediction | null;
  /** A request is in flight (the result shown may be for an older drawing). */
  pending?: boolean;
  /** Shown before any prediction. */
  placeholder: string;
}

/** The answer of POST /api/predict: digit, confidence, probabilities, the 28x28 the model saw. */
export function PredictionResult({ prediction, pending = false, placeholder }: PredictionResultProps) {
  if (!prediction) {
    return (
      <div className="result result--idle" data-testid="predict-result" data-state="idle" aria-busy={pending}>
        <p className="result__placeholder">{pending ? 'Recognising…' : placeholder}</p>
      </div>
    );
  }

  const inputImage = isDigitImage(prediction.input) ? (
    <figure className="result__input">
      <DigitImage
        values={prediction.input}
        size={112}
        label="The 28 by 28 image the model saw"
        testId="model-input"
      />
      <figcaption>What the model saw (28×28)</figcaption>
    </figure>
  ) : null;

  const latency = (
    <p className="result__latency muted" data-testid="predict-latency">
      {fixed(prediction.latency_ms, 1)} ms{pending ? ' · updating…' : ''}
    </p>
  );

  if (!prediction.found) {
    return (
      <div className="result result--none" data-testid="predict-result" data-state="none" aria-busy={pending}>
        <div className="result__headline" role="status">
          <p className="result__none" data-testid="predict-none">
            No digit found — draw a digit
          </p>
          <p className="muted result__message">{prediction.message}</p>
          {latency}
        </div>
        {inputImage}
      </div>
    );
  }

  return (
    <div className="result" data-testid="predict-result" data-state="found" aria-busy={pending}>
      <div className="result__headline" role="status" aria-label={`Prediction ${prediction.label}, ${percent(prediction.confidence)} confidence`}>
        <span className="result__caption">Prediction</span>
        <span className="result__digit" data-testid="predict-digit">
          {prediction.label}
        </span>
        <span className="result__confidence" data-testid="predict-confidence">
          {percent(prediction.confidence, 1)}
        </span>
        <span className="muted">confidence</span>
        {latency}
      </div>
      <div className="result__chart">
        <ProbabilityChart probabilities={prediction.probabilities} />
      </div>
      {inputImage}
    </div>
  );
}
