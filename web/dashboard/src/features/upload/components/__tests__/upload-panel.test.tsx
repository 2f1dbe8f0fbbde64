import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { UploadPanel } from '@/features/upload/components/upload-panel';
import { callsTo, errorResponse, jsonResponse, mockFetch } from '@/testing/fetch-mock';
import { blankImage } from '@/testing/fixtures';
import { renderWithProviders } from '@/testing/render';

const prediction = {
  found: true,
  digit: 3,
  label: '3',
  confidence: 0.97,
  probabilities: [0, 0, 0.01, 0.97, 0, 0.02, 0, 0, 0, 0],
  input: blankImage(),
  model: 'abc',
  latency_ms: 3.2,
};

const png = () => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], 'three.png', { type: 'image/png' });

describe('UploadPanel', () => {
  it('sends the chosen file as multipart/form-data in the field `file` and shows the result', async () => {
    const fetchMock = mockFetch({ 'POST /api/predict': () => jsonResponse(prediction) });
    renderWithProviders(<UploadPanel />);
    const input = screen.getByTestId('upload-input');
    expect(input).toHaveAttribute('accept', 'image/png,image/jpeg');
    const file = png();
    await userEvent.upload(input, file);

    await waitFor(() => expect(callsTo(fetchMock, 'POST', '/api/predict')).toHaveLength(1));
    const body = callsTo(fetchMock, 'POST', '/api/predict')[0]?.[1]?.body;
    expect(body).toBeInstanceOf(FormData);
    expect((body as FormData).get('file')).toBeInstanceOf(File);
    expect(((body as FormData).get('file') as File).name).toBe('three.png');
    expect(await screen.findByTestId('predict-digit')).toHaveTextContent('3');
    expect(screen.getByTestId('predict-confidence')).toHaveTextContent('97.0%');
    expect(screen.getByTestId('upload-file')).toHaveTextContent('three.png');
  });

  it('accepts a dropped file', async () => {
    const fetchMock = mockFetch({ 'POST /api/predict': () => jsonResponse(prediction) });
    renderWithProviders(<UploadPanel />);
    fireEvent.drop(screen.getByTestId('upload-drop'), { dataTransfer: { files: [png()] } });
    await waitFor(() => expect(callsTo(fetchMock, 'POST', '/api/predict')).toHaveLength(1));
    expect(await screen.findByTestId('predict-digit')).toHaveTextContent('3');
  });

  it('refuses other file types without a request', async () => {
    const fetchMock = mockFetch({});
    renderWithProviders(<UploadPanel />);
    fireEvent.drop(screen.getByTestId('upload-drop'), {
      dataTransfer: { files: [new File(['GIF89a'], 'anim.gif', { type: 'image/gif' })] },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent('Not a PNG or JPEG');
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("shows the gateway's error for a bad image", async () => {
    mockFetch({
      'POST /api/predict': () => errorResponse(400, 'invalid_argument', 'image: not a PNG or JPEG (first bytes 47 49 46 38)'),
    });
    renderWithProviders(<UploadPanel />);
    await userEvent.upload(screen.getByTestId('upload-input'), png());
    expect(await screen.findByRole('alert')).toHaveTextContent('image: not a PNG or JPEG (first bytes 47 49 46 38)');
  });

  it('opens the file picker from the keyboard', async () => {
    mockFetch({});
    renderWithProviders(<UploadPanel />);
    const input = screen.getByTestId('upload-input') as HTMLInputElement;
    let opened = 0;
    input.addEventListener('click', () => (opened += 1));
    screen.getByTestId('upload-drop').focus();
    await userEvent.keyboard('{Enter}');
    expect(opened).toBe(1);
  });
});
