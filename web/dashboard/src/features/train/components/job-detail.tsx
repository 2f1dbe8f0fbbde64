import { useEffect, useRef, useState } from 'react';

import { EpochCurves } from '@/components/charts/epoch-curves';
import { useNotify } from '@/components/ui/notifications';
import { getJob } from '@/features/train/api/train-api';
import { STATE_LABEL } from '@/features/train/utils/state-label';
import { useQuery } from '@/hooks/use-query';
import { dateTime, duration, fixed, percent, shortSha } from '@/lib/format';
import { serveModel } from '@/lib/serve-model';

interface JobDetailProps {
  id: string;
  /** Bumped when the run changed (an epoch finished, it ended): fetch again. */
  version: number;
}

/** One run's summary and its per-epoch curves (GET /api/jobs/{id}). */
export function JobDetail({ id, version }: JobDetailProps) {
  const { notify, notifyError } = useNotify();
  const [serving, setServing] = useState(false);
  const { data: job, reload } = useQuery((signal) => getJob(id, signal), {
    onError: (e) => notifyError(`Could not load run ${id}`, e, 'job-detail'),
  });

  const shownVersion = useRef(version);
  useEffect(() => {
    if (version === shownVersion.current) return;
    shownVersion.current = version;
    reload();
  }, [version, reload]);

  if (!job) return <p className="muted">Loading…</p>;
  const result = job.result;
  const serve = () => {
    setServing(true);
    serveModel({ run: job.id })
      .then(() =>
        notify({ kind: 'success', title: 'Model announced', message: `Infer workers are loading run ${job.id}'s model.` }),
      )
      .catch((e: unknown) => notifyError(`Could not serve run ${job.id}'s model`, e, 'serve'))
      .finally(() => setServing(false));
  };
  return (
    <div className="job-detail" data-testid="job-detail" data-job-id={job.id}>
      <p className="small">
        <span className={`badge badge--${job.state}`}>{STATE_LABEL[job.state] ?? job.state}</span>{' '}
        {job.experiment} · created {dateTime(job.created)} · {job.epochs_done} of {job.epochs_planned} epochs
        {result ? (
          <>
            {' '}
            · test accuracy <strong>{percent(result.test_accuracy, 2)}</strong>, loss {fixed(result.test_loss, 4)} ·{' '}
            {duration(result.elapsed_seconds)} · stopped because {result.stopped_because} · model{' '}
            <code>{shortSha(result.sha256)}</code>
          </>
        ) : null}
      </p>
      {job.state === 'finished' ? (
        <p>
          <button type="button" className="button" onClick={serve} disabled={serving} data-testid="job-serve">
            {serving ? 'Announcing…' : 'Serve this model'}
          </button>
        </p>
      ) : null}
      {job.error ? <p className="live-run__error">{job.error}</p> : null}
      {job.epochs && job.epochs.length > 0 ? (
        <EpochCurves epochs={job.epochs} testId="job-curves" />
      ) : (
        <p className="muted">No finished epoch recorded.</p>
      )}
    </div>
  );
}
