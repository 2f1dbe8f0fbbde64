import { Card } from '@/components/ui/card';
import { useNotify } from '@/components/ui/notifications';
import { SampleCard } from '@/features/samples/components/sample-card';
import { getSamplePredictions } from '@/features/samples/api/get-samples';
import { useEvents } from '@/hooks/use-events';
import { useQuery } from '@/hooks/use-query';
import { shortSha } from '@/lib/format';

import './samples-panel.css';

export const SAMPLE_COUNT = 12;

/** Random test images with the serving model's predictions; wrong ones stand out. */
export function SamplesPanel() {
  const { notifyError } = useNotify();
  const { data, loading, error, reload } = useQuery((signal) => getSamplePredictions(SAMPLE_COUNT, signal), {
    onError: (e) => notifyError('Could not load sample predictions', e, 'samples'),
  });

  // A newly loaded model answers differently: show its predictions.
  useEvents(['model.loaded'], (_event, meta) => {
    if (!meta.backlog) reload();
  });

  const samples = data?.samples ?? [];
  const wrong = samples.filter((s) => !s.correct).length;

  return (
    <Card
      title="Sample predictions"
      actions={
        <button type="button" className="button" onClick={reload} disabled={loading} data-testid="samples-refresh">
          {loading ? 'Loading…' : 'New samples'}
        </button>
      }
    >
      {data ? (
        <p className="muted small" aria-live="polite">
          {samples.length} random test images · {wrong === 0 ? 'all correct' : `${wrong} wrong`} · model{' '}
          <code>{shortSha(data.model)}</code>
        </p>
      ) : null}
      {!data && error ? <p className="muted">Sample predictions are not available right now.</p> : null}
      {!data && !error ? <p className="muted">Loading…</p> : null}
      <ul className="samples-grid" aria-busy={loading}>
        {samples.map((sample, i) => (
          <SampleCard key={`${sample.index}-${i}`} sample={sample} />
        ))}
      </ul>
    </Card>
  );
}
