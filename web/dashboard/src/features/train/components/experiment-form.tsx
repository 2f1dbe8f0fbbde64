import { useMemo, useState, type FormEvent } from 'react';

import { buildOverrides, draftFromSettings, type Draft } from '@/features/train/utils/overrides';
import type { Experiment, SettingValue } from '@/types/api';

interface ExperimentFormProps {
  experiments: readonly Experiment[];
  /** Why Start is disabled (a run in progress, a request in flight), or null. */
  blockedReason: string | null;
  onStart: (experiment: string, overrides: Record<string, SettingValue>) => void;
}

function fieldId(key: string): string {
  return `setting-${key.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
}

/** Pick an experiment, edit its settings; Start sends only the changed ones as overrides. */
export function ExperimentForm({ experiments, blockedReason, onStart }: ExperimentFormProps) {
  const [name, setName] = useState(experiments[0]?.name ?? '');
  const experiment = experiments.find((e) => e.name === name) ?? experiments[0];
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const settings = useMemo(() => experiment?.settings ?? {}, [experiment]);
  const draft = (experiment && drafts[experiment.name]) || draftFromSettings(settings);
  const { overrides, errors } = buildOverrides(settings, draft);
  const changed = Object.keys(overrides).length;
  const invalid = Object.keys(errors).length > 0;

  if (!experiment) return <p className="muted">The train stage offers no experiments.</p>;

  const setValue = (key: string, value: string | boolean) =>
    setDrafts((all) => ({ ...all, [experiment.name]: { ...draft, [key]: value } }));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (invalid || blockedReason) return;
    onStart(experiment.name, overrides);
  };

  return (
    <form className="experiment-form" onSubmit={submit} noValidate>
      <div className="field">
        <label htmlFor="train-experiment">Experiment</label>
        <select
          id="train-experiment"
          data-testid="train-experiment"
          value={experiment.name}
          onChange={(e) => setName(e.currentTarget.value)}
        >
          {experiments.map((e) => (
            <option key={e.name} value={e.name}>
              {e.name}
            </option>
          ))}
        </select>
        <span className="muted small">
          model <code>{experiment.model}</code> · dataset <code>{experiment.dataset}</code>
        </span>
      </div>

      <fieldset className="settings">
        <legend>Settings</legend>
        {Object.entries(settings).map(([key, original]) => {
          const id = fieldId(key);
          const value = draft[key];
          const isChanged = key in overrides;
          const error = errors[key];
          if (typeof original === 'boolean') {
            return (
              <div key={key} className={`field field--check${isChanged ? ' field--changed' : ''}`}>
                <input
                  id={id}
                  type="checkbox"
                  checked={value === true}
                  data-setting={key}
                  onChange={(e) => setValue(key, e.currentTarget.checked)}
                />
                <label htmlFor={id}>
                  <code>{key}</code>
                  {isChanged ? <span className="changed-mark"> · changed</span> : null}
                </label>
              </div>
            );
          }
          const numeric = typeof original === 'number';
          return (
            <div key={key} className={`field${isChanged ? ' field--changed' : ''}`}>
              <label htmlFor={id}>
                <code>{key}</code>
                {isChanged ? <span className="changed-mark"> · changed (was {String(original)})</span> : null}
              </label>
              <input
                id={id}
                type={numeric ? 'number' : 'text'}
                inputMode={numeric ? 'decimal' : undefined}
                step={numeric ? (Number.isInteger(original) ? 1 : 'any') : undefined}
                value={typeof value === 'string' ? value : String(value ?? '')}
                data-setting={key}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? `${id}-error` : undefined}
                onChange={(e) => setValue(key, e.currentTarget.value)}
              />
              {error ? (
                <span id={`${id}-error`} className="field__error">
                  {error}
                </span>
              ) : null}
              {key === 'data.limit' ? <span className="muted tiny">0 = all training images</span> : null}
            </div>
          );
        })}
      </fieldset>

      <div className="button-row">
        <button
          type="submit"
          className="button button--primary"
          data-testid="train-start"
          disabled={invalid || blockedReason !== null}
          title={blockedReason ?? undefined}
        >
          Start training
        </button>
        <button
          type="button"
          className="button"
          disabled={changed === 0}
          onClick={() => setDrafts((all) => ({ ...all, [experiment.name]: draftFromSettings(settings) }))}
        >
          Reset settings
        </button>
        <span className="muted small" data-testid="train-overrides">
          {changed === 0 ? 'Defaults' : `${changed} setting${changed === 1 ? '' : 's'} changed`}
        </span>
      </div>
      {blockedReason ? <p className="muted small">{blockedReason}</p> : null}
    </form>
  );
}
