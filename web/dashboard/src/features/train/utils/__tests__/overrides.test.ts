import { describe, expect, it } from 'vitest';

import { buildOverrides, draftFromSettings } from '@/features/train/utils/overrides';
import { quickExperiment } from '@/testing/fixtures';

const settings = quickExperiment.settings;

describe('buildOverrides', () => {
  it('is empty for an untouched form', () => {
    expect(buildOverrides(settings, draftFromSettings(settings))).toEqual({ overrides: {}, errors: {} });
  });

  it('holds only the changed settings, typed like the originals', () => {
    const draft = {
      ...draftFromSettings(settings),
      'training.epochs': '1',
      'data.limit': '6400',
      'optimizer.lr': '0.0030', // same number, other spelling: not a change
      'augmentation.enabled': true,
    };
    expect(buildOverrides(settings, draft)).toEqual({
      overrides: { 'training.epochs': 1, 'data.limit': 6400, 'augmentation.enabled': true },
      errors: {},
    });
  });

  it('reports a number field that is not a number and leaves it out', () => {
    const draft = { ...draftFromSettings(settings), seed: '', 'training.batch_size': 'abc', 'training.epochs': '2' };
    const { overrides, errors } = buildOverrides(settings, draft);
    expect(overrides).toEqual({ 'training.epochs': 2 });
    expect(Object.keys(errors).sort()).toEqual(['seed', 'training.batch_size']);
  });

  it('keeps string settings as strings', () => {
    const s = { 'model.name': 'quick' };
    expect(buildOverrides(s, { 'model.name': 'best' }).overrides).toEqual({ 'model.name': 'best' });
    expect(buildOverrides(s, { 'model.name': 'quick' }).overrides).toEqual({});
  });
});
