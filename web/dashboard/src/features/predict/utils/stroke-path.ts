// Strokes of the drawing canvas as path commands: quadratic curves through the midpoints of
// successive pointer positions, which turns jagged pointer samples into a smooth line.

export interface Point {
  x: number;
  y: number;
}

export type Stroke = Point[];

export type PathCommand =
  | { op: 'move'; x: number; y: number }
  | { op: 'line'; x: number; y: number }
  | { op: 'quad'; cx: number; cy: number; x: number; y: number }
  | { op: 'dot'; x: number; y: number };

const mid = (a: Point, b: Point): Point => ({ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });

/** The commands that draw one stroke; a single point is a dot (a tap). */
export function strokeCommands(points: readonly Point[]): PathCommand[] {
  const first = points[0];
  if (!first) return [];
  if (points.length === 1) return [{ op: 'dot', x: first.x, y: first.y }];
  const commands: PathCommand[] = [{ op: 'move', x: first.x, y: first.y }];
  if (points.length === 2) {
    const second = points[1] as Point;
    commands.push({ op: 'line', x: second.x, y: second.y });
    return commands;
  }
  const m0 = mid(first, points[1] as Point);
  commands.push({ op: 'line', x: m0.x, y: m0.y });
  for (let i = 1; i < points.length - 1; i += 1) {
    const control = points[i] as Point;
    const end = mid(control, points[i + 1] as Point);
    commands.push({ op: 'quad', cx: control.x, cy: control.y, x: end.x, y: end.y });
  }
  const last = points[points.length - 1] as Point;
  commands.push({ op: 'line', x: last.x, y: last.y });
  return commands;
}

/** The part of CanvasRenderingContext2D the drawing uses (a mock in tests). */
export type DrawingContext = Pick<
  CanvasRenderingContext2D,
  | 'setTransform'
  | 'clearRect'
  | 'beginPath'
  | 'moveTo'
  | 'lineTo'
  | 'quadraticCurveTo'
  | 'arc'
  | 'stroke'
  | 'fill'
  | 'lineWidth'
  | 'lineCap'
  | 'lineJoin'
  | 'strokeStyle'
  | 'fillStyle'
>;

export interface DrawOptions {
  /** Backing-store pixels per logical pixel (devicePixelRatio). */
  scale: number;
  /** Logical size of the square canvas. */
  size: number;
  lineWidth: number;
  color?: string;
}

/** Clears the canvas (transparent) and draws every stroke in black ink. */
export function drawStrokes(context: DrawingContext, strokes: readonly Stroke[], options: DrawOptions): void {
  const { scale, size, lineWidth, color = '#000000' } = options;
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.clearRect(0, 0, size * scale, size * scale);
  context.setTransform(scale, 0, 0, scale, 0, 0);
  context.lineWidth = lineWidth;
  context.lineCap = 'round';
  context.lineJoin = 'round';
  context.strokeStyle = color;
  context.fillStyle = color;
  for (const stroke of strokes) {
    const commands = strokeCommands(stroke);
    context.beginPath();
    let filled = false;
    for (const c of commands) {
      if (c.op === 'move') context.moveTo(c.x, c.y);
      else if (c.op === 'line') context.lineTo(c.x, c.y);
      else if (c.op === 'quad') context.quadraticCurveTo(c.cx, c.cy, c.x, c.y);
      else {
        context.arc(c.x, c.y, lineWidth / 2, 0, Math.PI * 2);
        filled = true;
      }
    }
    if (filled) context.fill();
    else if (commands.length > 0) context.stroke();
  }
}

/** Pointer position in logical canvas coordinates, whatever the canvas's CSS size. */
export function toCanvasPoint(
  clientX: number,
  clientY: number,
  rect: { left: number; top: number; width: number; height: number },
  size: number,
): Point {
  const width = rect.width || size;
  const height = rect.height || size;
  const x = ((clientX - rect.left) / width) * size;
  const y = ((clientY - rect.top) / height) * size;
  return { x: Math.min(size, Math.max(0, x)), y: Math.min(size, Math.max(0, y)) };
}
