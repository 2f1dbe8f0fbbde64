import { describe, expect, it } from 'vitest';

import { IMAGE_PIXELS, intensitiesToRgba, isDigitImage } from '@/lib/pixels';

describe('intensitiesToRgba', () => {
  const palette = { ink: [0, 0, 0], paper: [255, 255, 255] } as const;

  it('maps 784 values to 28x28 RGBA, 0 = paper, 255 = ink, opaque', () => {
    const values = new Array<number>(IMAGE_PIXELS).fill(0);
    values[0] = 255;
    values[29] = 128; // row 1, column 1
    const rgba = intensitiesToRgba(values, palette);
    expect(rgba).toHaveLength(IMAGE_PIXELS * 4);
    expect(Array.from(rgba.slice(0, 4))).toEqual([0, 0, 0, 255]);
    expect(Array.from(rgba.slice(29 * 4, 29 * 4 + 4))).toEqual([127, 127, 127, 255]);
    expect(Array.from(rgba.slice(4, 8))).toEqual([255, 255, 255, 255]);
    expect(Array.from(rgba.slice(-4))).toEqual([255, 255, 255, 255]);
  });

  it('clamps out-of-range values and treats missing ones as background', () => {
    const rgba = intensitiesToRgba([300, -5, Number.NaN], palette);
    expect(rgba[0]).toBe(0);
    expect(rgba[4]).toBe(255);
    expect(rgba[8]).toBe(255);
    expect(rgba[12]).toBe(255); // index 3 is missing
  });

  it('blends between the palette colours', () => {
    const rgba = intensitiesToRgba([255, 0], { ink: [17, 24, 39], paper: [255, 255, 255] });
    expect(Array.from(rgba.slice(0, 3))).toEqual([17, 24, 39]);
    expect(Array.from(rgba.slice(4, 7))).toEqual([255, 255, 255]);
  });
});

describe('isDigitImage', () => {
  it('accepts exactly 784 values', () => {
    expect(isDigitImage(new Array<number>(784).fill(0))).toBe(true);
    expect(isDigitImage(new Array<number>(783).fill(0))).toBe(false);
    expect(isDigitImage(null)).toBe(false);
  });
});
