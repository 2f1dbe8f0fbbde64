import { integer, percent } from '@/lib/format';
import type { ClassMetrics } from '@/types/api';

/** Precision, recall, F1 and support per class. */
export function ClassMetricsTable({ classes }: { classes: readonly ClassMetrics[] }) {
  const worstF1 = Math.min(...classes.map((c) => c.f1));
  const bestF1 = Math.max(...classes.map((c) => c.f1));
  return (
    <div className="table-scroll">
      <table className="table" data-testid="class-metrics">
        <caption className="visually-hidden">Per-class precision, recall, F1 and support</caption>
        <thead>
          <tr>
            <th scope="col">Class</th>
            <th scope="col" className="num">
              Precision
            </th>
            <th scope="col" className="num">
              Recall
            </th>
            <th scope="col" className="num">
              F1
            </th>
            <th scope="col" className="num">
              Support
            </th>
          </tr>
        </thead>
        <tbody>
          {classes.map((c) => (
            <tr key={c.name} className={c.f1 === worstF1 && worstF1 < bestF1 ? 'row--attention' : undefined}
              title={c.f1 === worstF1 && worstF1 < bestF1 ? 'Lowest F1' : undefined}>
              <th scope="row">{c.name}</th>
              <td className="num">{percent(c.precision, 2)}</td>
              <td className="num">{percent(c.recall, 2)}</td>
              <td className="num">{percent(c.f1, 2)}</td>
              <td className="num">{integer(c.support)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
