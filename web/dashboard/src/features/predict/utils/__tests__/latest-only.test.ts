import { describe, expect, it, vi } from 'vitest';

import { LatestOnly } from '@/features/predict/utils/latest-only';

/** A request function whose answers the test releases one by one. */
function controlledRun() {
  const calls: { input: string; signal: AbortSignal; resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
  const run = vi.fn(
    (input: string, signal: AbortSignal) =>
      new Promise<string>((resolve, reject) => {
        calls.push({ input, signal, resolve, reject });
      }),
  );
  return { run, calls };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('LatestOnly', () => {
  it('keeps at most one request in flight and then sends only the latest drawing', async () => {
    const { run, calls } = controlledRun();
    const results: string[] = [];
    const scheduler = new LatestOnly(run, { onResult: (r) => results.push(r), onError: () => undefined });
    let drawing = 'd1';
    const read = () => drawing;

    scheduler.submit(read);
    expect(run).toHaveBeenCalledTimes(1);
    drawing = 'd2';
    scheduler.submit(read);
    drawing = 'd3';
    scheduler.submit(read);
    expect(run).toHaveBeenCalledTimes(1); // still waiting for the first answer
    expect(scheduler.inFlight).toBe(true);

    calls[0]!.resolve('r1');
    await flush();
    expect(results).toEqual(['r1']);
    expect(run).toHaveBeenCalledTimes(2);
    expect(calls[1]!.input).toBe('d3'); // d2 was never sent

    calls[1]!.resolve('r3');
    await flush();
    expect(results).toEqual(['r1', 'r3']);
    expect(run).toHaveBeenCalledTimes(2);
    expect(scheduler.inFlight).toBe(false);
  });

  it('reads the drawing only when the request starts', async () => {
    const { run, calls } = controlledRun();
    const scheduler = new LatestOnly(run, { onResult: () => undefined, onError: () => undefined });
    const read = vi.fn(() => 'x');
    scheduler.submit(() => 'first');
    scheduler.submit(read);
    scheduler.submit(read);
    expect(read).not.toHaveBeenCalled();
    calls[0]!.resolve('r');
    await flush();
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('goes on with the latest drawing after an error', async () => {
    const { run, calls } = controlledRun();
    const errors: unknown[] = [];
    const scheduler = new LatestOnly(run, { onResult: () => undefined, onError: (e) => errors.push(e) });
    scheduler.submit(() => 'a');
    scheduler.submit(() => 'b');
    calls[0]!.reject(new Error('503'));
    await flush();
    expect(errors).toHaveLength(1);
    expect(calls[1]!.input).toBe('b');
  });

  it('drops the pending drawing and the answer in flight on reset (canvas cleared)', async () => {
    const { run, calls } = controlledRun();
    const results: string[] = [];
    const scheduler = new LatestOnly(run, { onResult: (r) => results.push(r), onError: () => undefined });
    scheduler.submit(() => 'a');
    scheduler.submit(() => 'b');
    scheduler.reset();
    expect(calls[0]!.signal.aborted).toBe(true);
    calls[0]!.resolve('late');
    await flush();
    expect(results).toEqual([]);
    expect(run).toHaveBeenCalledTimes(1);

    scheduler.submit(() => 'c');
    expect(calls[1]!.input).toBe('c');
  });

  it('spaces request starts by the minimum interval', async () => {
    vi.useFakeTimers();
    let now = 0;
    const { run, calls } = controlledRun();
    const scheduler = new LatestOnly(run, { onResult: () => undefined, onError: () => undefined }, 100, () => now);
    scheduler.submit(() => 'a');
    now = 10;
    calls[0]!.resolve('r');
    scheduler.submit(() => 'b');
    await vi.advanceTimersByTimeAsync(0);
    expect(run).toHaveBeenCalledTimes(1); // answered after 10 ms: waits until 100 ms after the start
    now = 100;
    await vi.advanceTimersByTimeAsync(90);
    expect(run).toHaveBeenCalledTimes(2);
    expect(calls[1]!.input).toBe('b');
  });
});
