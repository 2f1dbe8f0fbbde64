// Gateway replies shaped as web/API.md shows them, for tests.

import type { Experiment, Job, ModelInfo, SamplePrediction } from '@/types/api';

export const blankImage = (): number[] => new Array<number>(784).fill(0);

export function confusionMatrix(): number[][] {
  return Array.from({ length: 10 }, (_, i) => Array.from({ length: 10 }, (_, j) => (i === j ? 970 + i : (i + j) % 3)));
}

export function modelInfo(overrides: Partial<ModelInfo> = {}): ModelInfo {
  return {
    model: 'digitpipe-mnist.safetensors',
    sha256: '116ced25aa11bb22cc33dd44ee55ff66116ced25aa11bb22cc33dd44ee55a961',
    size_bytes: 2368936,
    architecture: 'best',
    parameters: 1234567,
    trainable_parameters: 1230000,
    class_names: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    dataset: 'mnist',
    run: 'best-20261124-113228',
    created: '2026-11-24T11:46:32Z',
    metrics: {
      test_accuracy: 0.9967,
      test_loss: 0.0097,
      test_count: 10000,
      epochs: 30,
      train_seconds: 841.5,
      stopped_because: 'epochs',
    },
    evaluation: {
      accuracy: 0.9967,
      loss: 0.0097,
      count: 10000,
      correct: 9967,
      classes: Array.from({ length: 10 }, (_, i) => ({
        name: String(i),
        precision: 0.99 + i / 1000,
        recall: 0.995,
        f1: 0.993,
        support: 980 + i,
      })),
      confusion: confusionMatrix(),
      most_confident_wrong: [{ index: 9729, label: 5, predicted: 6, confidence: 0.996 }],
    },
    curves: [
      {
        epoch: 0,
        epochs: 2,
        train_loss: 1.01,
        train_accuracy: 0.67,
        test_loss: 0.09,
        test_accuracy: 0.9695,
        lr: 0.0003,
        images_per_second: 2185.9,
        elapsed_seconds: 29,
      },
      {
        epoch: 1,
        epochs: 2,
        train_loss: 0.2,
        train_accuracy: 0.95,
        test_loss: 0.05,
        test_accuracy: 0.985,
        lr: 0.0003,
        images_per_second: 2185.9,
        elapsed_seconds: 58,
      },
    ],
    ...overrides,
  };
}

export function sample(index: number, label: number, predicted: number, confidence = 0.9): SamplePrediction {
  return { index, label, predicted, confidence, correct: label === predicted, image: blankImage() };
}

export const quickExperiment: Experiment = {
  name: 'quick',
  model: 'quick',
  dataset: 'mnist',
  settings: {
    'training.epochs': 3,
    'training.batch_size': 128,
    'optimizer.lr': 0.003,
    'data.limit': 0,
    seed: 1,
    'augmentation.enabled': false,
  },
};

export const bestExperiment: Experiment = {
  name: 'best',
  model: 'best',
  dataset: 'mnist',
  settings: { 'training.epochs': 30, 'augmentation.enabled': true },
};

export function job(overrides: Partial<Job> = {}): Job {
  return {
    id: 'quick-20261124-150102',
    experiment: 'quick',
    state: 'finished',
    created: '2026-11-24T15:01:02Z',
    epochs_planned: 3,
    epochs_done: 3,
    progress: null,
    test_accuracy: 0.9916,
    result: {
      test_accuracy: 0.9916,
      test_loss: 0.027,
      epochs: 3,
      elapsed_seconds: 27.3,
      stopped_because: 'epochs',
      sha256: 'abcdef0123456789',
    },
    ...overrides,
  };
}
