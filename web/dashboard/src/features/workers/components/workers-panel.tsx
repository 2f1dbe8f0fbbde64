import { Card } from '@/components/ui/card';
import { useNotify } from '@/components/ui/notifications';
import { getWorkers } from '@/features/workers/api/get-workers';
import { useDocumentVisible } from '@/hooks/use-document-visible';
import { useEvents } from '@/hooks/use-events';
import { useInterval } from '@/hooks/use-interval';
import { useQuery } from '@/hooks/use-query';
import { GAP_TOPIC } from '@/lib/event-bus';
import { clock, integer } from '@/lib/format';

/** Refresh period while the tab is shown. */
export const WORKERS_REFRESH_MS = 3000;

/** The broker's services: workers, load, queue and health; refreshed every 3 s while shown. */
export function WorkersPanel() {
  const { notifyError, dismiss } = useNotify();
  const visible = useDocumentVisible();
  const { data, error, loading, reload } = useQuery(
    async (signal) => {
      const reply = await getWorkers(signal);
      dismiss('workers');
      return reply;
    },
    { onError: (e) => notifyError('Could not load workers', e, 'workers') },
  );

  useInterval(reload, visible ? WORKERS_REFRESH_MS : null);
  useEvents(
    ['workers.changed', GAP_TOPIC],
    (_event, meta) => {
      if (!meta.backlog) reload();
    },
    { onGap: reload },
  );

  return (
    <Card
      title="Workers"
      actions={
        <button type="button" className="button" onClick={reload} disabled={loading}>
          Refresh
        </button>
      }
    >
      {data ? (
        <>
          <div className="table-scroll">
            <table className="table" data-testid="workers-table">
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col" className="num">
                    Workers
                  </th>
                  <th scope="col" className="num">
                    Idle
                  </th>
                  <th scope="col" className="num">
                    Busy
                  </th>
                  <th scope="col" className="num">
                    Queued
                  </th>
                  <th scope="col">State</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {data.services.length === 0 ? (
                  <tr>
                    <td colSpan={7} className="muted">
                      No service has registered a worker.
                    </td>
                  </tr>
                ) : null}
                {data.services.map((service) => (
                  <tr key={service.name} data-testid="worker-row" data-service={service.name} data-state={service.state}>
                    <th scope="row">
                      <code>{service.name}</code>
                    </th>
                    <td className="num">{integer(service.workers)}</td>
                    <td className="num">{integer(service.idle)}</td>
                    <td className="num">{integer(service.busy)}</td>
                    <td className="num">{integer(service.queued)}</td>
                    <td>
                      <span className={`badge badge--${service.state}`}>{service.state}</span>
                    </td>
                    <td className="wrap">{service.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted small">
            Updated {clock(data.updated)} · refreshes every {WORKERS_REFRESH_MS / 1000} s
            {error ? ' · last refresh failed' : ''}
          </p>
        </>
      ) : (
        <p className="muted">{error ? 'Worker status is not available right now.' : 'Loading…'}</p>
      )}
    </Card>
  );
}
