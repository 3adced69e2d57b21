/**
 * The lifecycle the relay and the consumer share: `run(signal?)` starts the loop once (a second call returns
 * the same promise), `stop()` aborts it and resolves when it has finished (a second call, the same promise).
 * Aborting the caller's signal and calling `stop()` are the same thing.
 */
export interface Lifecycle {
  run(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

export function lifecycle(loop: (signal: AbortSignal) => Promise<void>): Lifecycle {
  const stopper = new AbortController();
  let running: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  return {
    run(signal) {
      return (running ??= loop(signal ? AbortSignal.any([signal, stopper.signal]) : stopper.signal));
    },
    stop() {
      return (stopping ??= (async () => {
        stopper.abort();
        await running?.catch(() => {});
      })());
    },
  };
}
