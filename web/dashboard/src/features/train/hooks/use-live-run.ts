import { useCallback, useRef, useState } from 'react';

import { applyTrainEvent, runFromJob, type LiveRun } from '@/features/train/utils/live-run';
import { useEvents } from '@/hooks/use-events';
import { GAP_TOPIC } from '@/lib/event-bus';
import type { Job } from '@/types/api';

const LIST_CHANGING = new Set(['train.started', 'train.epoch', 'train.finished', 'train.failed', 'train.cancelled']);

/**
 * The current or latest run, from train.* events: the remembered backlog first (so a run that
 * was going on when the dashboard opened shows its curves), then live events. `onRunsChanged`
 * is called when the list of runs is out of date (a run started, ended, finished an epoch, or
 * the event stream had a gap).
 */
export function useLiveRun(onRunsChanged: () => void) {
  const [live, setLive] = useState<LiveRun | null>(null);
  const changedRef = useRef(onRunsChanged);
  changedRef.current = onRunsChanged;

  useEvents(
    [
      'train.started',
      'train.progress',
      'train.epoch',
      'train.note',
      'train.finished',
      'train.failed',
      'train.cancelled',
      GAP_TOPIC,
    ],
    (event, meta) => {
      setLive((current) => applyTrainEvent(current, event));
      if (!meta.backlog && LIST_CHANGING.has(event.topic)) changedRef.current();
    },
    { replay: true, onGap: () => changedRef.current() },
  );

  /** Merges what the jobs routes say about a run (state, progress, per-epoch records). */
  const seed = useCallback((job: Job) => setLive((current) => runFromJob(job, current)), []);

  return { live, seed };
}
