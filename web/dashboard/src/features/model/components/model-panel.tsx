import { EpochCurves } from '@/components/charts/epoch-curves';
import { Card, Stat } from '@/components/ui/card';
import { useNotify } from '@/components/ui/notifications';
import { getModelInfo } from '@/features/model/api/get-model-info';
import { ClassMetricsTable } from '@/features/model/components/class-metrics-table';
import { ConfusionMatrix } from '@/features/model/components/confusion-matrix';
import { useEvents } from '@/hooks/use-events';
import { useQuery } from '@/hooks/use-query';
import { GAP_TOPIC } from '@/lib/event-bus';
import { useState } from 'react';

import { bytes, dateTime, duration, fixed, integer, percent, shortSha } from '@/lib/format';
import { SHIPPED_MODEL, serveModel } from '@/lib/serve-model';
import type { ModelInfo } from '@/types/api';

import './model-panel.css';

function Summary({ info }: { info: ModelInfo }) {
  const accuracy = info.evaluation?.accuracy ?? info.metrics?.test_accuracy ?? null;
  const loss = info.evaluation?.loss ?? info.metrics?.test_loss ?? null;
  return (
    <dl className="stats">
      <Stat label="Test accuracy" value={percent(accuracy, 2)} testId="model-accuracy" />
      <Stat label="Test loss" value={fixed(loss, 4)} testId="model-loss" />
      <Stat
        label="Parameters"
        value={integer(info.parameters)}
        hint={`${integer(info.trainable_parameters)} trainable`}
        testId="model-parameters"
      />
      <Stat label="File size" value={bytes(info.size_bytes)} testId="model-size" />
      <Stat label="Architecture" value={info.architecture} testId="model-architecture" />
      <Stat label="Dataset" value={info.dataset} testId="model-dataset" />
      <Stat label="Trained" value={<time dateTime={info.created}>{dateTime(info.created)}</time>} testId="model-created" />
      <Stat label="SHA-256" value={<code title={info.sha256}>{shortSha(info.sha256)}</code>} testId="model-sha" />
    </dl>
  );
}

function Details({ info }: { info: ModelInfo }) {
  const m = info.metrics;
  return (
    <p className="muted small model-details">
      <code>{info.model}</code> · run <code>{info.run || '—'}</code>
      {m ? (
        <>
          {' '}
          · {m.epochs} epochs in {duration(m.train_seconds)} · stopped because {m.stopped_because} · tested on{' '}
          {integer(m.test_count)} images
        </>
      ) : null}
      {info.evaluation ? (
        <>
          {' '}
          · {integer(info.evaluation.correct)} of {integer(info.evaluation.count)} correct
        </>
      ) : null}
    </p>
  );
}

/** The serving model: metrics, per-class table, confusion matrix, training curves. */
export function ModelPanel() {
  const { notify, notifyError } = useNotify();
  const [restoring, setRestoring] = useState(false);
  const { data: info, loading, error, reload } = useQuery(getModelInfo, {
    onError: (e) => notifyError('Could not load model information', e, 'model'),
  });

  useEvents(
    ['model.loaded', GAP_TOPIC],
    (_event, meta) => {
      if (!meta.backlog) reload();
    },
    { onGap: reload },
  );

  const restore = () => {
    setRestoring(true);
    serveModel({ model: SHIPPED_MODEL })
      .then(() => notify({ kind: 'success', title: 'Model announced', message: 'Infer workers are loading the shipped model.' }))
      .catch((e: unknown) => notifyError('Could not serve the shipped model', e, 'serve'))
      .finally(() => setRestoring(false));
  };
  const refresh = (
    <div className="button-row">
      {info && info.model !== SHIPPED_MODEL ? (
        <button type="button" className="button" onClick={restore} disabled={restoring} data-testid="model-restore">
          {restoring ? 'Announcing…' : 'Serve the shipped model'}
        </button>
      ) : null}
      <button type="button" className="button" onClick={reload} disabled={loading} data-testid="model-refresh">
        {loading ? 'Loading…' : 'Refresh'}
      </button>
    </div>
  );

  if (!info) {
    return (
      <Card title="Serving model" actions={refresh}>
        <p className="muted">{error ? 'Model information is not available right now.' : 'Loading…'}</p>
      </Card>
    );
  }

  const evaluation = info.evaluation;
  const labels = info.class_names.length > 0 ? info.class_names : Array.from({ length: 10 }, (_, i) => String(i));

  return (
    <div className="stack">
      <Card title="Serving model" actions={refresh}>
        <Summary info={info} />
        <Details info={info} />
      </Card>
      {evaluation ? (
        <div className="model-grid">
          <Card title="Per-class metrics">
            <ClassMetricsTable classes={evaluation.classes} />
          </Card>
          <Card title="Confusion matrix">
            <div className="confusion-wrap">
              <ConfusionMatrix matrix={evaluation.confusion} labels={labels} />
            </div>
            <p className="muted small">
              Rows: true digit; columns: predicted. Blue diagonal = correct (shade: share of the row); red =
              mistakes.
            </p>
          </Card>
        </div>
      ) : (
        <Card title="Evaluation">
          <p className="muted">This model file carries no test evaluation.</p>
        </Card>
      )}
      <Card title="Training curves">
        {info.curves && info.curves.length > 0 ? (
          <EpochCurves epochs={info.curves} testId="model-curves" />
        ) : (
          <p className="muted">This model file carries no training curves.</p>
        )}
      </Card>
      {evaluation && evaluation.most_confident_wrong.length > 0 ? (
        <Card title="Most confident mistakes">
          <div className="table-scroll">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Test image</th>
                  <th scope="col" className="num">
                    True
                  </th>
                  <th scope="col" className="num">
                    Predicted
                  </th>
                  <th scope="col" className="num">
                    Confidence
                  </th>
                </tr>
              </thead>
              <tbody>
                {evaluation.most_confident_wrong.map((w) => (
                  <tr key={w.index}>
                    <td>#{w.index}</td>
                    <td className="num">{w.label}</td>
                    <td className="num">{w.predicted}</td>
                    <td className="num">{percent(w.confidence, 1)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      ) : null}
    </div>
  );
}
