// The experiment form: its draft values (numbers kept as typed text) and the overrides sent to
// POST /api/train, which hold only the settings the user changed.

import type { SettingValue } from '@/types/api';

export type Draft = Record<string, string | boolean>;

export function draftFromSettings(settings: Record<string, SettingValue>): Draft {
  const draft: Draft = {};
  for (const [key, value] of Object.entries(settings)) {
    draft[key] = typeof value === 'boolean' ? value : String(value);
  }
  return draft;
}

export interface OverridesResult {
  overrides: Record<string, SettingValue>;
  /** Key path -> what is wrong with the typed value; overrides are not to be sent while any. */
  errors: Record<string, string>;
}

/** Compares the draft with the experiment's settings; changed values become overrides. */
export function buildOverrides(settings: Record<string, SettingValue>, draft: Draft): OverridesResult {
  const overrides: Record<string, SettingValue> = {};
  const errors: Record<string, string> = {};
  for (const [key, original] of Object.entries(settings)) {
    const edited = draft[key];
    if (edited === undefined) continue;
    if (typeof original === 'boolean') {
      const value = edited === true || edited === 'true';
      if (value !== original) overrides[key] = value;
    } else if (typeof original === 'number') {
      const text = String(edited).trim();
      const value = text === '' ? Number.NaN : Number(text);
      if (!Number.isFinite(value)) {
        errors[key] = 'Enter a number';
        continue;
      }
      if (value !== original) overrides[key] = value;
    } else {
      const value = String(edited);
      if (value !== original) overrides[key] = value;
    }
  }
  return { overrides, errors };
}
