import { useEffect, useRef } from 'react';

import { IMAGE_SIDE, intensitiesToRgba } from '@/lib/pixels';

interface DigitImageProps {
  /** 784 values 0..255 (0 = background, 255 = ink), row-major. */
  values: readonly number[];
  /** CSS size in px of the (square) scaled-up image. */
  size?: number;
  label: string;
  testId?: string;
  className?: string;
}

/** Draws `values` into a 28x28 canvas into a drawing context; false when there is none. */
export function paintDigit(canvas: HTMLCanvasElement, values: readonly number[]): boolean {
  const context = canvas.getContext('2d');
  if (!context) return false; // no 2D context (jsdom, a lost context): nothing to draw
  const image = context.createImageData(IMAGE_SIDE, IMAGE_SIDE);
  image.data.set(intensitiesToRgba(values));
  context.putImageData(image, 0, 0);
  return true;
}

/** A 28x28 image of the API scaled up with crisp (pixelated) edges. */
export function DigitImage({ values, size = 112, label, testId, className }: DigitImageProps) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current) paintDigit(ref.current, values);
  }, [values]);
  return (
    <canvas
      ref={ref}
      className={`digit-image${className ? ` ${className}` : ''}`}
      width={IMAGE_SIDE}
      height={IMAGE_SIDE}
      style={{ width: size, height: size }}
      role="img"
      aria-label={label}
      data-testid={testId}
    />
  );
}
