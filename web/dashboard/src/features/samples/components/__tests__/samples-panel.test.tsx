import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { SamplesPanel } from '@/features/samples/components/samples-panel';
import { callsTo, jsonResponse, mockFetch } from '@/testing/fetch-mock';
import { sample } from '@/testing/fixtures';
import { renderWithProviders } from '@/testing/render';

describe('SamplesPanel', () => {
  it('asks for 12 samples and marks the wrong ones in text, not only colour', async () => {
    const fetchMock = mockFetch({
      'GET /api/sample_predictions': () =>
        jsonResponse({ model: '116ced25ffff', samples: [sample(1, 3, 3, 0.99), sample(4176, 2, 7, 0.939), sample(5, 1, 1)] }),
    });
    renderWithProviders(<SamplesPanel />);
    const cards = await screen.findAllByTestId('sample-card');
    expect(cards).toHaveLength(3);
    expect(callsTo(fetchMock, 'GET', '/api/sample_predictions')[0]?.[0].searchParams.get('n')).toBe('12');

    const wrong = cards.filter((c) => c.getAttribute('data-correct') === 'false');
    expect(wrong).toHaveLength(1);
    expect(wrong[0]).toHaveClass('sample-card--wrong');
    expect(within(wrong[0]!).getByText('✗ wrong')).toBeInTheDocument();
    expect(wrong[0]).toHaveTextContent('93.9%');
    expect(cards[0]).toHaveAttribute('data-correct', 'true');
    expect(within(cards[0]!).getByText('✓ correct')).toBeInTheDocument();
    expect(screen.getByText(/1 wrong/)).toBeInTheDocument();
  });

  it('loads new samples on refresh', async () => {
    let round = 0;
    const fetchMock = mockFetch({
      'GET /api/sample_predictions': () => {
        round += 1;
        return jsonResponse({ model: 'm', samples: [sample(round * 100, 1, 1)] });
      },
    });
    renderWithProviders(<SamplesPanel />);
    expect(await screen.findByText('#100')).toBeInTheDocument();
    await userEvent.click(screen.getByTestId('samples-refresh'));
    await waitFor(() => expect(screen.getByText('#200')).toBeInTheDocument());
    expect(callsTo(fetchMock, 'GET', '/api/sample_predictions')).toHaveLength(2);
  });
});
