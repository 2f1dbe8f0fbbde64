interface ProbabilityChartProps {
  /** One probability per class, 0..1. */
  probabilities: readonly number[];
  /** Labels under the bars; defaults to 0..9. */
  labels?: readonly string[];
}

/** Index of the largest value (the first one on ties); -1 for an empty list. */
export function argMax(values: readonly number[]): number {
  let best = -1;
  let bestValue = -Infinity;
  values.forEach((value, index) => {
    if (value > bestValue) {
      best = index;
      bestValue = value;
    }
  });
  return best;
}

/** "97%", "0.4%", "<0.1%", "0%": readable at a glance, honest for small values. */
export function probabilityLabel(p: number): string {
  if (!Number.isFinite(p) || p <= 0) return '0%';
  const pct = p * 100;
  if (pct < 0.1) return '<0.1%';
  if (pct < 10) return `${pct.toFixed(1)}%`;
  return `${Math.round(pct)}%`;
}

const WIDTH = 400;
const HEIGHT = 160;
const TOP = 22;
const BOTTOM = 24;
const SLOT = WIDTH / 10;
const BAR = SLOT * 0.62;

/** Bar chart of the class probabilities; the top class is highlighted (colour and bold label). */
export function ProbabilityChart({ probabilities, labels }: ProbabilityChartProps) {
  const top = argMax(probabilities);
  const plot = HEIGHT - TOP - BOTTOM;
  const names = labels ?? probabilities.map((_, i) => String(i));
  const summary = probabilities.map((p, i) => `${names[i] ?? i}: ${probabilityLabel(p)}`).join(', ');
  return (
    <svg
      className="prob-chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={`Probabilities: ${summary}`}
      data-testid="prob-chart"
    >
      <line x1={0} x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} className="prob-chart__axis" />
      {probabilities.map((p, i) => {
        const value = Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
        const h = Math.max(value * plot, value > 0 ? 1 : 0);
        const x = i * SLOT + (SLOT - BAR) / 2;
        const isTop = i === top;
        return (
          <g
            key={i}
            data-testid={`prob-bar-${i}`}
            data-top={isTop ? 'true' : 'false'}
            data-value={value}
            className={isTop ? 'prob-chart__bar prob-chart__bar--top' : 'prob-chart__bar'}
          >
            <title>{`${names[i] ?? i}: ${probabilityLabel(p)}`}</title>
            <rect x={i * SLOT + 2} y={TOP} width={SLOT - 4} height={plot} className="prob-chart__track" rx={3} />
            <rect x={x} y={HEIGHT - BOTTOM - h} width={BAR} height={h} rx={3} className="prob-chart__fill" />
            <text x={i * SLOT + SLOT / 2} y={TOP - 7} textAnchor="middle" className="prob-chart__pct">
              {probabilityLabel(p)}
            </text>
            <text x={i * SLOT + SLOT / 2} y={HEIGHT - 6} textAnchor="middle" className="prob-chart__label">
              {names[i] ?? i}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
