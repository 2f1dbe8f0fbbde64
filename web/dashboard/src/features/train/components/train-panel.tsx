import { useEffect, useRef, useState } from 'react';

import { Card } from '@/components/ui/card';
import { Notice } from '@/components/ui/notice';
import { useNotify } from '@/components/ui/notifications';
import { cancelJob, getExperiments, getJob, getJobs, startTraining } from '@/features/train/api/train-api';
import { ExperimentForm } from '@/features/train/components/experiment-form';
import { JobDetail } from '@/features/train/components/job-detail';
import { JobList } from '@/features/train/components/job-list';
import { LiveRunView } from '@/features/train/components/live-run-view';
import { useLiveRun } from '@/features/train/hooks/use-live-run';
import { useQuery } from '@/hooks/use-query';
import { describeError, isAbortError, isApiError } from '@/lib/api-client';
import type { SettingValue } from '@/types/api';

import './train-panel.css';

interface StartProblem {
  title: string;
  message: string;
}

/** Why a start was refused, in words (409: a run is already going on). */
export function startProblem(error: unknown): StartProblem {
  if (isApiError(error) && error.status === 409) {
    return { title: 'A training run is already in progress', message: `${error.message.replace(/\.$/, '')}. Wait for it to end, or cancel it.` };
  }
  if (isApiError(error) && (error.status === 400 || error.status === 404)) {
    return { title: 'The experiment refused these settings', message: error.message };
  }
  return { title: 'Could not start training', message: describeError(error) };
}

/** Start runs, follow the current one live, browse past runs. */
export function TrainPanel() {
  const { notifyError, notify } = useNotify();
  const experiments = useQuery(getExperiments, {
    onError: (e) => notifyError('Could not load experiments', e, 'experiments'),
  });
  const jobs = useQuery(getJobs, { onError: (e) => notifyError('Could not load training runs', e, 'jobs') });
  const reloadJobs = jobs.reload;
  const [detailVersion, setDetailVersion] = useState(0);
  const { live, seed } = useLiveRun(() => {
    reloadJobs();
    setDetailVersion((v) => v + 1);
  });
  const [selected, setSelected] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const [cancelling, setCancelling] = useState<string | null>(null);
  const [problem, setProblem] = useState<StartProblem | null>(null);
  const liveRef = useRef(live);
  liveRef.current = live;

  // Align the live view with the runs list: a run going on that the events did not show (the
  // dashboard opened mid-run and the backlog was short) or a state the events missed.
  useEffect(() => {
    const list = jobs.data?.jobs;
    if (!list) return undefined;
    const current = liveRef.current;
    const running = list.find((j) => j.state === 'running');
    const controller = new AbortController();
    if (running && (current === null || current.run !== running.id)) {
      seed(running);
      getJob(running.id, controller.signal).then(seed, () => undefined);
    } else if (current) {
      const known = list.find((j) => j.id === current.run);
      if (known && known.state !== current.state) seed(known);
    }
    return () => controller.abort();
  }, [jobs.data, seed]);

  useEffect(() => {
    if (live?.state !== 'running') setCancelling(null);
  }, [live?.state]);

  const start = (experiment: string, overrides: Record<string, SettingValue>) => {
    setStarting(true);
    setProblem(null);
    startTraining(experiment, overrides).then(
      ({ job }) => {
        setStarting(false);
        seed(job);
        setSelected(null);
        reloadJobs();
        notify({ kind: 'success', title: 'Training started', message: `Run ${job.id} (${job.experiment})` });
      },
      (error: unknown) => {
        setStarting(false);
        if (isAbortError(error)) return;
        setProblem(startProblem(error));
        reloadJobs();
      },
    );
  };

  const cancel = () => {
    if (!live) return;
    const id = live.run;
    setCancelling(id);
    cancelJob(id).then(
      () => undefined,
      (error: unknown) => {
        setCancelling(null);
        if (isApiError(error) && error.status === 409) {
          notify({ kind: 'info', title: 'That run is not running any more', message: error.message });
          reloadJobs();
        } else {
          notifyError('Could not cancel the run', error);
        }
      },
    );
  };

  const running = live?.state === 'running';
  const blockedReason = starting ? 'Starting…' : running ? 'A run is in progress: wait for it or cancel it.' : null;

  return (
    <div className="stack">
      <div className="train-grid">
        <Card title="New training run">
          {problem ? (
            <Notice kind="warning" title={problem.title} onDismiss={() => setProblem(null)} testId="train-notice">
              {problem.message}
            </Notice>
          ) : null}
          {experiments.data ? (
            <ExperimentForm experiments={experiments.data.experiments} blockedReason={blockedReason} onStart={start} />
          ) : (
            <p className="muted">{experiments.error ? 'Experiments are not available right now.' : 'Loading…'}</p>
          )}
        </Card>
        <Card title={running ? 'Current run' : 'Latest run'}>
          {live ? (
            <LiveRunView live={live} cancelling={cancelling === live.run} onCancel={cancel} />
          ) : (
            <p className="muted" data-testid="train-idle">
              No run in progress. Start one to follow it here.
            </p>
          )}
        </Card>
      </div>

      <Card
        title="Runs"
        actions={
          <button type="button" className="button" onClick={reloadJobs} disabled={jobs.loading}>
            {jobs.loading ? 'Loading…' : 'Refresh'}
          </button>
        }
      >
        {jobs.data ? (
          <JobList jobs={jobs.data.jobs} selected={selected} onSelect={setSelected} />
        ) : (
          <p className="muted">{jobs.error ? 'Runs are not available right now.' : 'Loading…'}</p>
        )}
      </Card>

      {selected ? (
        <Card
          title={`Run ${selected}`}
          actions={
            <button type="button" className="button" onClick={() => setSelected(null)}>
              Close
            </button>
          }
        >
          <JobDetail key={selected} id={selected} version={detailVersion} />
        </Card>
      ) : null}
    </div>
  );
}
