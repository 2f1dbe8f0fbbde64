import { STATE_LABEL } from '@/features/train/utils/state-label';
import { dateTime, percent } from '@/lib/format';
import type { Job } from '@/types/api';

interface JobListProps {
  jobs: readonly Job[];
  selected: string | null;
  onSelect: (id: string) => void;
}

/** Past and present runs, newest first; a row opens that run's curves. */
export function JobList({ jobs, selected, onSelect }: JobListProps) {
  if (jobs.length === 0) return <p className="muted">No training runs yet.</p>;
  return (
    <div className="table-scroll">
      <table className="table table--clickable" data-testid="job-table">
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">State</th>
            <th scope="col">Experiment</th>
            <th scope="col" className="num">
              Epochs
            </th>
            <th scope="col" className="num">
              Test accuracy
            </th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr
              key={job.id}
              data-testid="job-row"
              data-job-id={job.id}
              data-state={job.state}
              aria-selected={selected === job.id}
              className={selected === job.id ? 'row--selected' : undefined}
              onClick={() => onSelect(job.id)}
            >
              <th scope="row">
                <button type="button" className="link-button" onClick={() => onSelect(job.id)}>
                  {job.id}
                </button>
              </th>
              <td>
                <span className={`badge badge--${job.state}`}>{STATE_LABEL[job.state] ?? job.state}</span>
              </td>
              <td>{job.experiment}</td>
              <td className="num">
                {job.epochs_done} / {job.epochs_planned}
              </td>
              <td className="num">{percent(job.test_accuracy, 2)}</td>
              <td>
                <time dateTime={job.created}>{dateTime(job.created)}</time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
