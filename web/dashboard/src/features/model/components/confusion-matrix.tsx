import { confusionShades } from '@/features/model/utils/confusion';

interface ConfusionMatrixProps {
  /** confusion[true][predicted] counts. */
  matrix: readonly (readonly number[])[];
  labels: readonly string[];
}

const CELL = 38;
const LEFT = 58;
const TOP = 52;

function fill(diagonal: boolean, intensity: number): string {
  if (intensity <= 0) return 'var(--cm-empty)';
  // Diagonal: blue (correct), off-diagonal: red (mistakes); stronger = more.
  const lightness = 96 - Math.min(1, intensity) * (diagonal ? 56 : 50);
  return diagonal ? `hsl(222 70% ${lightness}%)` : `hsl(2 78% ${lightness}%)`;
}

/** 10x10 heat map of true (rows) against predicted (columns), with the count in each cell. */
export function ConfusionMatrix({ matrix, labels }: ConfusionMatrixProps) {
  const n = matrix.length;
  const shades = confusionShades(matrix);
  const width = LEFT + n * CELL + 4;
  const height = TOP + n * CELL + 4;
  return (
    <svg
      className="confusion"
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label="Confusion matrix: rows are the true digit, columns the predicted digit"
      data-testid="confusion-matrix"
    >
      <text x={LEFT + (n * CELL) / 2} y={14} textAnchor="middle" className="confusion__axis">
        Predicted →
      </text>
      <text
        x={14}
        y={TOP + (n * CELL) / 2}
        textAnchor="middle"
        className="confusion__axis"
        transform={`rotate(-90 14 ${TOP + (n * CELL) / 2})`}
      >
        True →
      </text>
      {labels.slice(0, n).map((label, j) => (
        <text key={`c${j}`} x={LEFT + j * CELL + CELL / 2} y={TOP - 8} textAnchor="middle" className="confusion__label">
          {label}
        </text>
      ))}
      {labels.slice(0, n).map((label, i) => (
        <text key={`r${i}`} x={LEFT - 10} y={TOP + i * CELL + CELL / 2 + 4} textAnchor="end" className="confusion__label">
          {label}
        </text>
      ))}
      {matrix.map((row, i) =>
        row.map((count, j) => {
          const shade = shades[i]?.[j] ?? { diagonal: i === j, intensity: 0 };
          const dark = shade.intensity > 0.55;
          return (
            <g
              key={`${i}-${j}`}
              data-testid="confusion-cell"
              data-true={i}
              data-predicted={j}
              data-diagonal={shade.diagonal ? 'true' : 'false'}
            >
              <title>{`true ${labels[i] ?? i}, predicted ${labels[j] ?? j}: ${count}`}</title>
              <rect
                x={LEFT + j * CELL}
                y={TOP + i * CELL}
                width={CELL - 2}
                height={CELL - 2}
                rx={3}
                fill={fill(shade.diagonal, shade.intensity)}
                className={shade.diagonal ? 'confusion__cell confusion__cell--diagonal' : 'confusion__cell'}
              />
              <text
                x={LEFT + j * CELL + (CELL - 2) / 2}
                y={TOP + i * CELL + (CELL - 2) / 2 + 4}
                textAnchor="middle"
                className={`confusion__count${dark ? ' confusion__count--light' : ''}${
                  count === 0 ? ' confusion__count--zero' : ''
                }`}
              >
                {count}
              </text>
            </g>
          );
        }),
      )}
    </svg>
  );
}
