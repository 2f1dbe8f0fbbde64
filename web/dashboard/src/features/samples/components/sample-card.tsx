import { DigitImage } from '@/components/digit-image';
import { percent } from '@/lib/format';
import type { SamplePrediction } from '@/types/api';

/** One test image: true label, prediction, confidence; a wrong one is marked in text and colour. */
export function SampleCard({ sample }: { sample: SamplePrediction }) {
  const { correct } = sample;
  return (
    <li
      className={`sample-card${correct ? '' : ' sample-card--wrong'}`}
      data-testid="sample-card"
      data-correct={correct ? 'true' : 'false'}
    >
      <DigitImage
        values={sample.image}
        size={84}
        label={`Test image ${sample.index}, true label ${sample.label}`}
      />
      <dl className="sample-card__facts">
        <div>
          <dt>True</dt>
          <dd>{sample.label}</dd>
        </div>
        <div>
          <dt>Predicted</dt>
          <dd className="sample-card__predicted">{sample.predicted}</dd>
        </div>
        <div>
          <dt>Confidence</dt>
          <dd>{percent(sample.confidence, 1)}</dd>
        </div>
      </dl>
      <span className={`badge ${correct ? 'badge--ok' : 'badge--bad'}`}>{correct ? '✓ correct' : '✗ wrong'}</span>
      <span className="muted tiny">#{sample.index}</span>
    </li>
  );
}
