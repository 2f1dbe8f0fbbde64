// The 28x28 images of the API (784 integers 0..255, row-major, 0 = background, 255 = ink) as
// RGBA pixels: dark ink on a light background, the way the digit was drawn.

export const IMAGE_SIDE = 28;
export const IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE;

/** Ink colour (RGB) at full intensity and the paper colour at zero. */
export interface Palette {
  ink: readonly [number, number, number];
  paper: readonly [number, number, number];
}

export const DEFAULT_PALETTE: Palette = { ink: [17, 24, 39], paper: [255, 255, 255] };

function clampByte(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(255, Math.max(0, Math.round(value)));
}

/**
 * RGBA bytes (side*side*4) for `values`: each value blends paper (0) to ink (255), alpha 255.
 * Missing values (a short array) are background; extra values are ignored.
 */
export function intensitiesToRgba(
  values: readonly number[],
  palette: Palette = DEFAULT_PALETTE,
  side: number = IMAGE_SIDE,
): Uint8ClampedArray {
  const count = side * side;
  const rgba = new Uint8ClampedArray(count * 4);
  for (let i = 0; i < count; i += 1) {
    const t = clampByte(values[i] ?? 0) / 255;
    for (let c = 0; c < 3; c += 1) {
      const paper = palette.paper[c] ?? 255;
      const ink = palette.ink[c] ?? 0;
      rgba[i * 4 + c] = Math.round(paper + (ink - paper) * t);
    }
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

/** True when `values` has exactly one entry per pixel of a 28x28 image. */
export function isDigitImage(values: readonly number[] | null | undefined): values is number[] {
  return Array.isArray(values) && values.length === IMAGE_PIXELS;
}
