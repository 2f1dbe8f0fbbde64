import { render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { DigitImage, paintDigit } from '@/components/digit-image';

function mockContext() {
  const image = { data: new Uint8ClampedArray(28 * 28 * 4), width: 28, height: 28 };
  return {
    image,
    context: {
      createImageData: vi.fn(() => image),
      putImageData: vi.fn(),
    },
  };
}

describe('DigitImage', () => {
  it('paints the 784 values into a 28x28 canvas shown scaled up and pixelated', () => {
    const { context, image } = mockContext();
    vi.spyOn(HTMLCanvasElement.prototype, 'getContext').mockReturnValue(context as unknown as CanvasRenderingContext2D);
    const values = new Array<number>(784).fill(0);
    values[0] = 255;
    render(<DigitImage values={values} size={112} label="input" testId="model-input" />);

    const canvas = screen.getByTestId('model-input');
    expect(canvas).toHaveAttribute('width', '28');
    expect(canvas).toHaveAttribute('height', '28');
    expect(canvas).toHaveStyle({ width: '112px', height: '112px' });
    expect(canvas).toHaveClass('digit-image');
    expect(context.putImageData).toHaveBeenCalledWith(image, 0, 0);
    expect(image.data[3]).toBe(255); // opaque
    expect(image.data[0]).toBeLessThan(50); // first pixel is ink (dark)
    expect(image.data[4]).toBe(255); // second pixel is paper (white)
  });

  it('copes with a canvas that has no 2D context', () => {
    const canvas = document.createElement('canvas');
    expect(paintDigit(canvas, new Array<number>(784).fill(0))).toBe(false);
  });
});
