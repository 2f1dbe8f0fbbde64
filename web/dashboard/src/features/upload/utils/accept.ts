export const ACCEPTED_TYPES = ['image/png', 'image/jpeg'] as const;

/** PNG or JPEG, by MIME type or (when the browser gives none) by file name. */
export function isAcceptedImage(file: { type: string; name: string }): boolean {
  if (file.type) return (ACCEPTED_TYPES as readonly string[]).includes(file.type);
  return /\.(png|jpe?g)$/i.test(file.name);
}
