// Live prediction while drawing: at most one request in flight; whatever is drawn meanwhile is
// sent once the answer is in, as one request with the latest drawing (older ones are skipped).

export interface LatestOnlyHandlers<R> {
  onResult: (result: R) => void;
  onError: (error: unknown) => void;
  /** In flight or not, for a "recognising…" hint. */
  onBusyChange?: (busy: boolean) => void;
}

export class LatestOnly<I, R> {
  private pending: (() => I) | null = null;
  private busy = false;
  private generation = 0;
  private controller: AbortController | null = null;
  private lastStart = -Infinity;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * @param run sends one input; the signal is aborted by reset().
   * @param minIntervalMs least time between the starts of two requests (0: none).
   */
  constructor(
    private readonly run: (input: I, signal: AbortSignal) => Promise<R>,
    private readonly handlers: LatestOnlyHandlers<R>,
    private readonly minIntervalMs = 0,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * Asks for `read()` to be sent: now when idle, else after the request in flight answers.
   * `read` is called only when the request starts, so it sees the drawing as it is then.
   */
  submit(read: () => I): void {
    this.pending = read;
    if (!this.busy) this.start();
  }

  /** Whether a request is in flight (or waiting for its start slot). */
  get inFlight(): boolean {
    return this.busy;
  }

  /** Drops the pending input and ignores the answer of the request in flight (canvas cleared). */
  reset(): void {
    this.generation += 1;
    this.pending = null;
    this.controller?.abort();
    this.controller = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.setBusy(false);
  }

  private setBusy(busy: boolean): void {
    if (busy === this.busy) return;
    this.busy = busy;
    this.handlers.onBusyChange?.(busy);
  }

  private start(): void {
    if (!this.pending) {
      this.setBusy(false);
      return;
    }
    this.setBusy(true);
    const wait = this.lastStart + this.minIntervalMs - this.now();
    if (wait > 0) {
      const generation = this.generation;
      this.timer = setTimeout(() => {
        this.timer = null;
        if (generation === this.generation) this.send();
      }, wait);
      return;
    }
    this.send();
  }

  private send(): void {
    const read = this.pending;
    if (!read) {
      this.setBusy(false);
      return;
    }
    this.pending = null;
    this.lastStart = this.now();
    const generation = this.generation;
    const controller = new AbortController();
    this.controller = controller;
    let request: Promise<R>;
    try {
      request = this.run(read(), controller.signal);
    } catch (error) {
      request = Promise.reject(error);
    }
    request.then(
      (result) => {
        if (generation !== this.generation) return;
        this.handlers.onResult(result);
        this.finish();
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.handlers.onError(error);
        this.finish();
      },
    );
  }

  private finish(): void {
    this.controller = null;
    this.start();
  }
}
