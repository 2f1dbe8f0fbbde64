import { useId } from 'react';

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  label: string;
  /** A CSS colour (use the palette variables: var(--series-1) ...). */
  color: string;
  points: readonly Point[];
  dashed?: boolean;
}

interface LineChartProps {
  title: string;
  series: readonly Series[];
  xLabel: string;
  yFormat?: (value: number) => string;
  /** Fixed y range (e.g. [0, 1] for accuracy); computed from the data when left out. */
  yDomain?: readonly [number, number];
  /** Minimum x range (e.g. [0, epochs]) so a live curve does not stretch. */
  xDomain?: readonly [number, number];
  testId?: string;
}

const WIDTH = 360;
const HEIGHT = 200;
const PAD = { left: 46, right: 12, top: 12, bottom: 32 };

/** Round tick values covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 4): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toFixed(10)));
  }
  return ticks;
}

/** The SVG path of `points` in the chart's pixel space. */
export function linePath(points: readonly Point[], sx: (x: number) => number, sy: (y: number) => number): string {
  return points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`)
    .join(' ');
}

function extent(values: number[], fallback: readonly [number, number]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [fallback[0], fallback[1]];
  return [Math.min(...finite), Math.max(...finite)];
}

/** A small multi-series line chart (SVG), with axes, ticks and a legend. */
export function LineChart({ title, series, xLabel, yFormat = (v) => String(v), yDomain, xDomain, testId }: LineChartProps) {
  const titleId = useId();
  const all = series.flatMap((s) => s.points);
  const clean = all.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  let [x0, x1] = extent(clean.map((p) => p.x), [0, 1]);
  if (xDomain) {
    x0 = Math.min(x0, xDomain[0]);
    x1 = Math.max(x1, xDomain[1]);
  }
  if (x0 === x1) x1 = x0 + 1;
  let [y0, y1] = yDomain ? [yDomain[0], yDomain[1]] : extent(clean.map((p) => p.y), [0, 1]);
  if (!yDomain) {
    const pad = (y1 - y0) * 0.08 || Math.abs(y1) * 0.1 || 1;
    y0 = Math.max(y0 >= 0 ? 0 : -Infinity, y0 - pad);
    y1 += pad;
  }
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * innerW;
  const sy = (y: number) => PAD.top + (1 - (y - y0) / (y1 - y0)) * innerH;
  const yTicks = niceTicks(y0, y1, 4);
  const xTicks = niceTicks(x0, x1, 5);

  return (
    <figure className="line-chart" data-testid={testId}>
      <figcaption id={titleId} className="line-chart__title">
        {title}
      </figcaption>
      {clean.length === 0 ? (
        <p className="muted line-chart__empty">No data yet</p>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={titleId}>
          {yTicks.map((t) => (
            <g key={`y${t}`}>
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={sy(t)} y2={sy(t)} className="line-chart__grid" />
              <text x={PAD.left - 6} y={sy(t) + 4} textAnchor="end" className="line-chart__tick">
                {yFormat(t)}
              </text>
            </g>
          ))}
          {xTicks.map((t) => (
            <text key={`x${t}`} x={sx(t)} y={HEIGHT - PAD.bottom + 14} textAnchor="middle" className="line-chart__tick">
              {t}
            </text>
          ))}
          <text x={PAD.left + innerW / 2} y={HEIGHT - 3} textAnchor="middle" className="line-chart__axis-label">
            {xLabel}
          </text>
          <line x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={HEIGHT - PAD.bottom} className="line-chart__axis" />
          <line
            x1={PAD.left}
            x2={WIDTH - PAD.right}
            y1={HEIGHT - PAD.bottom}
            y2={HEIGHT - PAD.bottom}
            className="line-chart__axis"
          />
          {series.map((s) => {
            const points = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
            if (points.length === 0) return null;
            return (
              <g key={s.label} data-series={s.label}>
                <path
                  d={linePath(points, sx, sy)}
                  fill="none"
                  stroke={s.color}
                  strokeWidth={2}
                  strokeDasharray={s.dashed ? '5 4' : undefined}
                  strokeLinejoin="round"
                  strokeLinecap="round"
                />
                {points.length <= 60
                  ? points.map((p, i) => (
                      <circle key={i} cx={sx(p.x)} cy={sy(p.y)} r={2.5} fill={s.color}>
                        <title>{`${s.label}: ${yFormat(p.y)} at ${xLabel.toLowerCase()} ${Number(p.x.toFixed(2))}`}</title>
                      </circle>
                    ))
                  : null}
              </g>
            );
          })}
        </svg>
      )}
      <ul className="legend">
        {series.map((s) => (
          <li key={s.label}>
            <span
              className={`legend__swatch${s.dashed ? ' legend__swatch--dashed' : ''}`}
              style={{ borderColor: s.color }}
              aria-hidden="true"
            />
            {s.label}
          </li>
        ))}
      </ul>
    </figure>
  );
}
