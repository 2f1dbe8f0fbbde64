import { useEffect, useRef, useState, type DragEvent, type KeyboardEvent } from 'react';

import { PredictionResult } from '@/components/prediction/prediction-result';
import { Card } from '@/components/ui/card';
import { useNotify } from '@/components/ui/notifications';
import { predictFile } from '@/features/upload/api/predict-file';
import { ACCEPTED_TYPES, isAcceptedImage } from '@/features/upload/utils/accept';
import { isAbortError } from '@/lib/api-client';
import { bytes } from '@/lib/format';
import type { Prediction } from '@/types/api';

import './upload-panel.css';

/** Object URL of `file` for the preview, revoked when it changes (no-op where unsupported). */
function usePreviewUrl(file: File | null): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!file || typeof URL.createObjectURL !== 'function') {
      setUrl(null);
      return undefined;
    }
    const objectUrl = URL.createObjectURL(file);
    setUrl(objectUrl);
    return () => URL.revokeObjectURL(objectUrl);
  }, [file]);
  return url;
}

/** Upload a PNG or JPEG (drop it or pick it) and see what the model makes of it. */
export function UploadPanel() {
  const { notifyError, notify } = useNotify();
  const inputRef = useRef<HTMLInputElement>(null);
  const controllerRef = useRef<AbortController | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [prediction, setPrediction] = useState<Prediction | null>(null);
  const [pending, setPending] = useState(false);
  const [dragging, setDragging] = useState(false);
  const preview = usePreviewUrl(file);

  useEffect(() => () => controllerRef.current?.abort(), []);

  const send = (next: File) => {
    if (!isAcceptedImage(next)) {
      notify({
        kind: 'error',
        key: 'upload',
        title: 'Not a PNG or JPEG',
        message: `${next.name || 'The file'} is ${next.type || 'of an unknown type'}: choose a PNG or JPEG image.`,
      });
      return;
    }
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setFile(next);
    setPrediction(null);
    setPending(true);
    predictFile(next, controller.signal).then(
      (result) => {
        if (controller.signal.aborted) return;
        setPrediction(result);
        setPending(false);
      },
      (error: unknown) => {
        if (controller.signal.aborted || isAbortError(error)) return;
        setPending(false);
        notifyError('Upload failed', error, 'upload');
      },
    );
  };

  const openPicker = () => inputRef.current?.click();

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    const dropped = event.dataTransfer?.files?.[0];
    if (dropped) send(dropped);
  };

  const onZoneKey = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      openPicker();
    }
  };

  return (
    <div className="upload-layout">
      <Card title="Upload an image">
        <div
          className={`dropzone${dragging ? ' dropzone--active' : ''}`}
          data-testid="upload-drop"
          role="button"
          tabIndex={0}
          aria-label="Drop a PNG or JPEG image here, or press Enter to choose a file"
          onClick={openPicker}
          onKeyDown={onZoneKey}
          onDragEnter={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragOver={(e) => {
            e.preventDefault();
            if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          {preview ? (
            <img className="dropzone__preview" src={preview} alt={`Uploaded image ${file?.name ?? ''}`} data-testid="upload-preview" />
          ) : (
            <span className="dropzone__icon" aria-hidden="true">
              ⤒
            </span>
          )}
          <span className="dropzone__text">
            <strong>Drop an image here</strong> or <span className="link-like">choose a file</span>
          </span>
          <span className="muted small">PNG or JPEG, one digit, any size</span>
        </div>
        <input
          ref={inputRef}
          className="visually-hidden"
          type="file"
          accept={ACCEPTED_TYPES.join(',')}
          data-testid="upload-input"
          aria-label="Choose an image file"
          tabIndex={-1}
          onChange={(event) => {
            const chosen = event.currentTarget.files?.[0];
            if (chosen) send(chosen);
            event.currentTarget.value = ''; // choosing the same file again sends it again
          }}
        />
        {file ? (
          <p className="muted small upload-file" data-testid="upload-file">
            {file.name} · {bytes(file.size)}
          </p>
        ) : null}
      </Card>
      <Card title="Result">
        <PredictionResult prediction={prediction} pending={pending} placeholder="Upload an image to see the prediction." />
      </Card>
    </div>
  );
}
