export interface CellShade {
  /** 0..1 intensity of the cell's colour. */
  intensity: number;
  diagonal: boolean;
}

/**
 * Shades for a confusion matrix: a diagonal cell by its share of the row (recall), an
 * off-diagonal one by its count against the largest off-diagonal count, so that the few
 * mistakes of a good model are still visible.
 */
export function confusionShades(matrix: readonly (readonly number[])[]): CellShade[][] {
  let maxOff = 0;
  matrix.forEach((row, i) =>
    row.forEach((count, j) => {
      if (i !== j && count > maxOff) maxOff = count;
    }),
  );
  return matrix.map((row, i) => {
    const total = row.reduce((sum, c) => sum + c, 0);
    return row.map((count, j) => {
      if (i === j) return { diagonal: true, intensity: total > 0 ? count / total : 0 };
      return { diagonal: false, intensity: maxOff > 0 ? count / maxOff : 0 };
    });
  });
}
